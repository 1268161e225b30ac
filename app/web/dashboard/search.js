/*
 * Search: the server's, in every language (GET /v1/stories?q=: every word, accents and case folded). Debounced
 * 250 ms; a new keystroke aborts the previous request. The results replace the board, as one list with the
 * server's total and "N more"; clearing the box brings the board back. Language, source and time window
 * filter the results on the server.
 */
import { getStories } from "./api.js";
import { columnLabel, columns } from "./board.js";
import { cachedStory, isGrowing } from "./cards.js";
import { config, UNASSIGNED, UNASSIGNED_LABEL, WINDOWS_MS } from "./config.js";
import { $, syncChildren } from "./dom.js";
import { applyFilters, readFilters, updateCount, writeFiltersToUrl } from "./filters.js";
import { count, plural } from "./format.js";
import { isReading, showHeld, showUpdates } from "./hold.js";
import { state } from "./state.js";

const SEARCH_DELAY_MS = 250;

export const search = { active: false, q: "", stories: [], total: 0, error: "", controller: null, seq: 0, timer: null };
const searchEls = new Map(); // story id -> { sig, el } (search results)

function searchParams(f, offset) {
  const params = new URLSearchParams({ q: f.q.trim(), limit: String(config.pageSize), offset: String(offset) });
  if (f.lang) params.set("lang", f.lang);
  if (f.source) params.set("source", f.source);
  const span = WINDOWS_MS[f.window] ?? Infinity;
  if (span !== Infinity) params.set("since", new Date(Date.now() + state.serverOffsetMs - span).toISOString());
  return params;
}

/** Ask the server (a new question aborts the one in flight); `more` asks the next page of the same one. */
export async function runSearch(more = false) {
  clearTimeout(search.timer);
  const f = readFilters();
  const q = f.q.trim();
  writeFiltersToUrl(f);
  if (search.controller) search.controller.abort();
  search.controller = null;
  if (!q) {
    endSearch();
    return;
  }
  if (q !== search.q) more = false; // "N more" of a question since changed: ask the new one from the start
  const seq = ++search.seq;
  const controller = new AbortController();
  search.controller = controller;
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, config.timeoutMs);
  const section = $("#search-results");
  if (!search.active) {
    search.active = true;
    search.stories = [];
    search.total = 0;
    search.q = q;
    $("#board").hidden = true;
    section.hidden = false;
    showHeld(0);
  }
  section.dataset.state = "loading";
  section.setAttribute("aria-busy", "true");
  $("#search-more").disabled = true;
  try {
    const offset = more ? search.stories.length : 0;
    const body = await getStories(searchParams(f, offset), controller.signal);
    if (seq !== search.seq) return;
    const page = Array.isArray(body.stories) ? body.stories : [];
    if (more) {
      const have = new Set(search.stories.map((s) => String(s.id)));
      search.stories.push(...page.filter((s) => !have.has(String(s.id))));
    } else {
      search.stories = page;
    }
    search.total = count(body.total, search.stories.length);
    search.q = q;
    search.error = "";
  } catch (err) {
    if (seq !== search.seq) return; // a newer question took over
    if (q !== search.q) {
      search.stories = []; // not the answers to another question
      search.total = 0;
      search.q = q;
    }
    search.error = timedOut ? "No answer in time." : err && err.name === "AbortError" ? "Cancelled." : `Search failed: ${(err && err.message) || "cannot connect"}`;
  } finally {
    clearTimeout(timer);
    if (seq === search.seq) search.controller = null;
  }
  if (seq === search.seq && search.active) drawSearch();
}

/** Typing: ask after a pause. */
export function scheduleSearch() {
  clearTimeout(search.timer);
  if (!$("#filter-search").value.trim()) {
    runSearch(); // clearing the box brings the board back at once
    return;
  }
  search.timer = setTimeout(runSearch, SEARCH_DELAY_MS);
}

/** Back to the board (and what was held while searching goes on it). */
export function endSearch() {
  clearTimeout(search.timer);
  if (search.controller) search.controller.abort();
  search.controller = null;
  search.seq++;
  const wasActive = search.active;
  search.active = false;
  search.stories = [];
  search.total = 0;
  search.error = "";
  const section = $("#search-results");
  section.hidden = true;
  section.dataset.state = "idle";
  section.setAttribute("aria-busy", "false");
  $("#search-list").replaceChildren();
  searchEls.clear();
  $("#board").hidden = false;
  if (wasActive && state.pending && !isReading()) showUpdates();
  applyFilters();
}

export function drawSearch() {
  const section = $("#search-results");
  section.dataset.state = search.error ? "error" : "done";
  section.dataset.query = search.q;
  section.dataset.total = String(search.total);
  section.setAttribute("aria-busy", "false");
  $("#search-title").textContent = `Headlines with “${search.q}”`;
  $("#search-count").textContent = plural(search.total, "story", "stories");
  const errorBox = $("#search-error");
  errorBox.hidden = !search.error;
  errorBox.textContent = search.error;
  const topRecent = search.stories.reduce((m, s) => Math.max(m, Number(s.recent_count) || 0), 0);
  const ids = new Set();
  const cards = search.stories.map((s) => {
    ids.add(String(s.id));
    const cid = s.topic_id == null ? UNASSIGNED : String(s.topic_id);
    const col = columns.get(cid);
    const label = col ? columnLabel(col) : s.topic_id == null ? UNASSIGNED_LABEL : `Topic ${s.topic_id}`;
    return cachedStory(searchEls, s, isGrowing(s, topRecent), cid, label);
  });
  syncChildren($("#search-list"), cards);
  for (const id of [...searchEls.keys()]) if (!ids.has(id)) searchEls.delete(id);
  $("#search-empty").hidden = Boolean(search.stories.length || search.error);
  $("#search-empty").textContent = `No headline contains every word of “${search.q}”${readFilters().lang || readFilters().source || readFilters().window !== "all" ? " with these filters" : ""}.`;
  const remaining = Math.max(0, search.total - search.stories.length);
  const more = $("#search-more");
  more.hidden = remaining === 0;
  more.disabled = false;
  more.dataset.remaining = String(remaining);
  more.textContent = `${remaining} more`;
  updateCount();
}
