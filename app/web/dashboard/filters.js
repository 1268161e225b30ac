/*
 * The filters: language, source and time window hide the board's cards here (the search asks the server with
 * them, see search.js), "X of Y stories" above the board, and the filters mirrored in the URL
 * (?lang=fr&source=Le360&window=24h&q=sahara) so a view can be shared.
 */
import { columnOrder, columns } from "./board.js";
import { storyLanguages, storySources } from "./cards.js";
import { query, WINDOWS_MS } from "./config.js";
import { $, el } from "./dom.js";
import { parseTime, plural } from "./format.js";
import { search } from "./search.js";
import { state } from "./state.js";

export function readFilters() {
  return {
    lang: $("#filter-lang").value,
    source: $("#filter-source").value,
    window: $("#filter-window").value || "all",
    q: $("#filter-search").value,
  };
}

function storyMatches(story, f, cutoff) {
  if (f.lang && !storyLanguages(story).includes(f.lang)) return false;
  if (f.source && !storySources(story).includes(f.source)) return false;
  if (cutoff > -Infinity) {
    const seen = parseTime(story.last_seen) ?? parseTime(story.canonical && story.canonical.published_at);
    if (seen == null || seen < cutoff) return false;
  }
  return true;
}

/** Language, source and time window on the board's cards (the search asks the server with them). */
export function applyFilters() {
  const f = readFilters();
  const span = WINDOWS_MS[f.window] ?? Infinity;
  const cutoff = span === Infinity ? -Infinity : Date.now() + state.serverOffsetMs - span;
  const active = Boolean(f.lang || f.source || span !== Infinity);

  let shown = 0;
  let total = 0;
  for (const cid of columnOrder) {
    const col = columns.get(cid);
    let visible = 0;
    for (const li of col.list.children) {
      const ok = storyMatches(li.__story, f, cutoff);
      li.hidden = !ok;
      visible += ok ? 1 : 0;
    }
    total += col.total;
    shown += visible;
    col.section.dataset.visibleCount = String(visible);
    col.section.hidden = active && visible === 0;
    const note = col.section.querySelector(".topic-empty");
    note.hidden = visible > 0;
    note.textContent = active ? "No story loaded here matches the filters." : "No stories yet.";
  }
  state.boardCount = { shown, total };
  updateCount();
  const empty = $("#board-empty");
  empty.hidden = shown > 0;
  if (state.shown) empty.textContent = total ? "No story matches these filters." : "No stories yet.";
  writeFiltersToUrl(f);
}

/** "X of Y stories": the board's, or the search's while searching. */
export function updateCount() {
  const out = $("#filter-count");
  const { shown, total } = search.active ? { shown: search.stories.length, total: search.total } : state.boardCount || {};
  if (!state.shown && !search.active) {
    out.textContent = "";
    return;
  }
  out.textContent = `${shown} of ${plural(total, "story", "stories")}`;
  out.dataset.shown = String(shown);
  out.dataset.total = String(total);
}

/** The source filter's options: every source on the board (and the editor's choice, even without a story). */
export function updateSourceOptions(stories) {
  const select = $("#filter-source");
  const current = select.value;
  const sources = new Set();
  for (const s of stories) if (s) for (const src of storySources(s)) sources.add(src);
  if (current) sources.add(current); // keep the editor's choice even if it has no story right now
  const sorted = [...sources].sort((a, b) => a.localeCompare(b, "fr", { sensitivity: "base" }));
  const existing = [...select.options].slice(1).map((o) => o.value);
  if (existing.join("\u0000") === sorted.join("\u0000")) return;
  select.replaceChildren(select.options[0], ...sorted.map((src) => el("option", { value: src }, src)));
  select.value = current;
}

export function writeFiltersToUrl(f) {
  const params = new URLSearchParams(location.search);
  for (const [key, value] of Object.entries(f)) {
    if (value && !(key === "window" && value === "all")) params.set(key, value);
    else params.delete(key);
  }
  const qs = params.toString();
  const url = location.pathname + (qs ? `?${qs}` : "") + location.hash;
  if (url !== location.pathname + location.search + location.hash) history.replaceState(null, "", url);
}

export function readFiltersFromUrl() {
  const set = (sel, value) => {
    const node = $(sel);
    if (value == null) return;
    if (node.tagName === "SELECT" && ![...node.options].some((o) => o.value === value)) {
      node.append(el("option", { value }, value)); // a source not loaded yet
    }
    node.value = value;
  };
  set("#filter-lang", query.get("lang"));
  set("#filter-source", query.get("source"));
  if (query.get("window") in WINDOWS_MS) set("#filter-window", query.get("window"));
  set("#filter-search", query.get("q"));
}
