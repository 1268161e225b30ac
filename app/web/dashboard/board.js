/*
 * The board: one column per topic, each headed by its display name, after "New, not yet grouped" (stories no
 * topic holds yet), which comes FIRST. A column's count is the server's (n_stories / unassigned_total); "N more"
 * under it loads the next page (paging.js), so paging reaches every story the count announces.
 * Cards never jump while the editor reads: stories already on the board keep their column order for good (a
 * story that gets a new version is updated in place, not moved to the top); new stories go to the START of
 * their column, highlighted, and new topics to the start of the board (after "New, not yet grouped").
 * Whether a new answer goes on the board now or waits while the editor reads is hold.js's call.
 */
import { cachedStory, isGrowing } from "./cards.js";
import { config, UNASSIGNED, UNASSIGNED_LABEL } from "./config.js";
import { $, el, flash, langBadge, syncChildren } from "./dom.js";
import { applyFilters, updateSourceOptions } from "./filters.js";
import { count, fold, parseTime, plural } from "./format.js";
import { updateNewSince } from "./seen.js";
import { state } from "./state.js";

// The board's model: columns in display order, each with the ids of its cards in display order.
export const columns = new Map(); // column id -> column (see newColumn)
export let columnOrder = []; // column ids, "unassigned" first (reassigned here only)
export const storyData = new Map(); // story id -> the latest data known for a card on the board
export const storyEls = new Map(); // story id -> { sig, el } (board cards)

export const columnLabel = (col) => (col.unassigned ? UNASSIGNED_LABEL : (col.head && col.head.label) || `Topic ${col.id}`);

function topicHeader(col) {
  const topic = col.head || {};
  const keywords = (topic.keywords || []).slice(0, 6);
  const langs = topic.languages || [];
  const nHeadlines = Number(topic.n_headlines) || 0;
  const countText = plural(col.total, "story", "stories") + (nHeadlines && !col.unassigned ? ` · ${plural(nHeadlines, "headline", "headlines")}` : "");
  return el(
    "header",
    { class: "topic-head" },
    el(
      "h2",
      {
        class: "topic-label",
        id: `topic-${col.id}-label`,
        title: col.unassigned ? "Stories that arrived since the last topic refit, or that no topic fits: newest first" : null,
      },
      columnLabel(col),
    ),
    col.distinct.length ? el("span", { class: "topic-sublabel", title: "Several topics share this label" }, col.distinct.join(" · ")) : null,
    el("span", { class: "topic-count" }, countText),
    langs.length || keywords.length
      ? el(
          "div",
          { class: "topic-tags" },
          langs.length ? el("div", { class: "topic-langs", "aria-label": "Languages" }, langs.map(langBadge)) : null,
          keywords.length
            ? el("ul", { class: "topic-keywords", "aria-label": "Keywords", title: keywords.join(", ") }, keywords.map((k) => el("li", { class: "keyword" }, k)))
            : null,
        )
      : null,
  );
}

/** Keywords of `topic` that no other topic with the same label has (none when its label is unique):
 *  the API's labels are unique display names, but an older service's were not. */
function distinctKeywords(topic, topics) {
  const same = topics.filter((t) => t !== topic && (t.label || "") === (topic.label || ""));
  if (!same.length) return [];
  const taken = new Set(same.flatMap((t) => (t.keywords || []).map(fold)));
  const own = (topic.keywords || []).filter((k) => !taken.has(fold(k))).slice(0, 2);
  return own.length ? own : [`#${topic.id}`];
}

// ---- the board's model: columns that keep their order ----------------------------------------------
function newColumn(id, unassigned) {
  const section = el("section", {
    class: "topic" + (unassigned ? " topic-unassigned" : ""),
    dataset: { topicId: id },
    "aria-labelledby": `topic-${id}-label`,
  });
  const list = el("ol", { class: "story-list" });
  const more = el("button", { type: "button", class: "button topic-more", dataset: { topicId: id } });
  const foot = el("div", { class: "topic-foot", hidden: true }, more);
  section.append(el("header"), list, el("p", { class: "topic-empty", hidden: true }, "No stories yet."), foot);
  return { id, unassigned, head: null, total: 0, ids: [], distinct: [], fresh: null, section, list, more, foot, headerSig: null, loading: false, error: false };
}

const topicTotal = (t) => count(t.n_stories, count(t.size, (t.stories || []).length));

/** What the board would show with `data`, the cards already there keeping their column and their order:
 *  a column's new stories go first, a new topic goes first (after "New, not yet grouped"). Touches no DOM.
 *  A card is dropped when the data puts it in another column, or when it should be in its column's first
 *  page and is not; a card loaded with "N more", older than that page, stays. */
export function planBoard(data) {
  const topics = Array.isArray(data.topics) ? data.topics : [];
  const unassigned = Array.isArray(data.unassigned) ? data.unassigned : [];
  const pages = new Map();
  pages.set(UNASSIGNED, { unassigned: true, head: { id: UNASSIGNED }, total: count(data.unassigned_total, unassigned.length), stories: unassigned });
  for (const t of topics) {
    const { stories: _omit, ...head } = t;
    pages.set(String(t.id), { unassigned: false, head, total: topicTotal(t), stories: t.stories || [] });
  }
  const owner = new Map(); // story id -> the column the data puts it in
  const byId = new Map();
  for (const [cid, page] of pages) {
    for (const s of page.stories) {
      const id = String(s.id);
      if (owner.has(id)) continue;
      owner.set(id, cid);
      byId.set(id, s);
    }
  }
  const freshTopics = topics.map((t) => String(t.id)).filter((cid) => !columns.has(cid));
  const kept = columnOrder.filter((cid) => cid !== UNASSIGNED && pages.has(cid));
  const plan = { order: [], cols: new Map(), byId, updates: 0 };
  for (const cid of [UNASSIGNED, ...freshTopics, ...kept]) {
    const page = pages.get(cid);
    const before = columns.has(cid) ? columns.get(cid).ids : [];
    const pageIds = page.stories.map((s) => String(s.id)).filter((id) => owner.get(id) === cid);
    const inPage = new Set(pageIds);
    const had = new Set(before);
    const complete = page.stories.length >= page.total;
    const oldest = page.stories.reduce((m, s) => Math.min(m, parseTime(s.last_seen) ?? Infinity), Infinity);
    const keep = before.filter((id) => {
      if (inPage.has(id)) return true;
      if (owner.has(id) || complete) return false;
      const seen = parseTime(storyData.get(id)?.last_seen);
      return seen != null && seen <= oldest;
    });
    const added = pageIds.filter((id) => !had.has(id));
    const ids = [...added, ...keep];
    if (cid === UNASSIGNED && !ids.length && !page.total) continue;
    plan.order.push(cid);
    plan.cols.set(cid, { unassigned: page.unassigned, head: page.head, total: page.total, ids, fresh: columns.has(cid) ? new Set(added) : null });
  }
  // How many changes the editor would see: cards that appear, go, move, or change; columns that come or go.
  const where = (cols, get) => {
    const out = new Map();
    for (const [cid, col] of cols) for (const id of get(col)) out.set(id, cid);
    return out;
  };
  const now = where(columns, (c) => c.ids);
  const next = where(plan.cols, (c) => c.ids);
  for (const [id, cid] of next) {
    if (now.get(id) !== cid || (byId.has(id) && JSON.stringify(byId.get(id)) !== JSON.stringify(storyData.get(id)))) plan.updates++;
  }
  for (const id of now.keys()) if (!next.has(id)) plan.updates++;
  for (const cid of plan.order) if (!columns.has(cid)) plan.updates++;
  for (const cid of columns.keys()) if (!plan.cols.has(cid)) plan.updates++;
  return plan;
}

export function applyPlan(plan, data) {
  const first = !state.shown;
  state.shown = data;
  for (const [id, s] of plan.byId) storyData.set(id, s);
  const appeared = [];
  for (const cid of plan.order) {
    const p = plan.cols.get(cid);
    let col = columns.get(cid);
    if (!col) {
      col = newColumn(cid, p.unassigned);
      columns.set(cid, col);
      if (!first) appeared.push(col);
    }
    col.head = p.head;
    col.total = p.total;
    col.ids = p.ids;
    col.fresh = p.fresh;
    col.error = false;
  }
  for (const cid of [...columns.keys()]) if (!plan.cols.has(cid)) columns.delete(cid);
  columnOrder = plan.order;
  drawBoard();
  for (const col of appeared) flash(col.section, "topic-new");
}

// ---- drawing --------------------------------------------------------------------------------------
function drawColumn(col, topRecent) {
  const headerSig = JSON.stringify([col.head, col.total, col.distinct]);
  if (headerSig !== col.headerSig) {
    col.section.firstChild.replaceWith(topicHeader(col));
    col.headerSig = headerSig;
  }
  col.section.dataset.total = String(col.total);
  col.section.dataset.loaded = String(col.ids.length);
  if (col.head && col.head.category) col.section.dataset.category = String(col.head.category);
  else delete col.section.dataset.category;
  const fresh = col.fresh;
  col.fresh = null;
  syncChildren(
    col.list,
    col.ids.map((id) => {
      const story = storyData.get(id);
      const node = cachedStory(storyEls, story, isGrowing(story, topRecent), col.id);
      if (fresh && fresh.has(id)) flash(node, "story-new");
      return node;
    }),
  );
  drawMore(col);
}

/** The column's "N more" button: how many are left, or that it is loading, or that it failed. */
export function drawMore(col) {
  const remaining = Math.max(0, col.total - col.ids.length);
  const button = col.more;
  col.foot.hidden = remaining === 0;
  button.dataset.remaining = String(remaining);
  button.disabled = col.loading;
  button.setAttribute("aria-busy", String(col.loading));
  const text = col.loading ? "Loading…" : col.error ? `Could not load: retry ${remaining} more` : `${remaining} more`;
  if (button.textContent !== text) button.textContent = text;
  button.setAttribute("aria-label", `${text} (${columnLabel(col)})`);
  button.title = `Load the next ${Math.min(remaining, config.pageSize)} of the ${remaining} stories not shown`;
}

/** Draw every column from the model, touching only what differs. */
export function drawBoard() {
  // A story redrawn (its data changed) or moved to another column loses the focus: give it back after.
  const focused = document.activeElement;
  const focusedStory = focused instanceof Element ? focused.closest("#board li.story") : null;

  const cols = columnOrder.map((cid) => columns.get(cid));
  const heads = cols.filter((c) => !c.unassigned).map((c) => c.head);
  let topRecent = 0;
  for (const col of cols) for (const id of col.ids) topRecent = Math.max(topRecent, Number(storyData.get(id)?.recent_count) || 0);
  const onBoard = new Set(cols.flatMap((c) => c.ids));
  for (const col of cols) {
    col.distinct = col.unassigned ? [] : distinctKeywords(col.head, heads);
    drawColumn(col, topRecent);
  }
  const board = $("#board");
  syncChildren(board, [$("#board-empty"), ...cols.map((c) => c.section)]);
  if (focusedStory && document.activeElement !== focused) {
    const again = focused.isConnected ? focused : storyEls.get(focusedStory.dataset.storyId)?.el.querySelector(".story-open");
    if (again && onBoard.has(focusedStory.dataset.storyId)) again.focus({ preventScroll: true });
  }
  for (const id of [...storyEls.keys()]) if (!onBoard.has(id)) storyEls.delete(id);
  for (const id of [...storyData.keys()]) if (!onBoard.has(id)) storyData.delete(id);
  board.setAttribute("aria-busy", "false");

  updateSourceOptions([...onBoard].map((id) => storyData.get(id)));
  applyFilters();
  updateNewSince();
}
