/*
 * "N new since you looked". The time the editor last looked is kept in localStorage ("ticker.lookedAt", this
 * browser, every tab; the only thing the dashboard keeps there) and is set ONLY by the "Mark as seen" button
 * (to the time of the data on screen), or on the very first visit (to then). Leaving or reloading the page does
 * not change it, so the markers survive a reload. A story is new when its first_seen (its first headline's
 * publication time, else its arrival) is at or after that time, to the second; the header's N is the server's
 * count (two totals of /v1/stories), the "new" badges mark the loaded cards.
 */
import { getStories } from "./api.js";
import { columns, drawBoard, storyData } from "./board.js";
import { isUnseen } from "./cards.js";
import { $ } from "./dom.js";
import { parseTime, when } from "./format.js";
import { drawSearch, search } from "./search.js";
import { state } from "./state.js";

export const LOOKED_KEY = "ticker.lookedAt";

export function readLooked() {
  try {
    return parseTime(localStorage.getItem(LOOKED_KEY));
  } catch {
    return state.lookedAt; // storage refused: this page only
  }
}

export function writeLooked(ms) {
  state.lookedAt = Math.floor(ms / 1000) * 1000;
  try {
    localStorage.setItem(LOOKED_KEY, new Date(state.lookedAt).toISOString());
  } catch {
    /* this page only */
  }
  countNew();
}

/** The editor has looked: what is on screen is seen (stories held back, or arrived since, stay new).
 *  generated_at is to the second, and a story on screen was first seen before it: + 1 s. */
export function markSeen() {
  const generated = parseTime(state.shown && state.shown.generated_at);
  writeLooked(generated != null ? generated + 1000 : Date.now() + state.serverOffsetMs);
  state.newCount = null;
  redraw();
}

/** The cards again, their "new" badges with them. */
export function redraw() {
  drawBoard();
  if (search.active) drawSearch();
}

/** The server's count of stories first seen at or after lookedAt: those seen since it, less those among
 *  them first seen before it (last_seen >= first_seen, so this is exact). */
export async function countNew() {
  const looked = state.lookedAt;
  if (looked == null) return;
  const seq = ++state.newSeq;
  const total = async (params) => {
    const n = Number((await getStories(new URLSearchParams({ limit: "1", ...params }))).total);
    if (!Number.isFinite(n)) throw new Error("no total");
    return n;
  };
  try {
    const since = new Date(looked).toISOString();
    const [seenSince, olderSeenSince] = await Promise.all([total({ since }), total({ since, until: new Date(looked - 1).toISOString() })]);
    if (seq !== state.newSeq) return;
    state.newCount = Math.max(0, seenSince - olderSeenSince);
  } catch {
    if (seq !== state.newSeq) return;
    state.newCount = null; // the cards' count stands in
  }
  updateNewSince();
}

export function updateNewSince() {
  const out = $("#new-since");
  const button = $("#mark-seen");
  if (state.lookedAt == null) {
    out.hidden = true;
    button.hidden = true;
    return;
  }
  let marked = 0;
  for (const col of columns.values()) for (const id of col.ids) if (storyData.has(id) && isUnseen(storyData.get(id))) marked++;
  const n = state.newCount ?? marked;
  const text = `${n} new since you looked`;
  if (out.textContent !== text) out.textContent = text;
  out.dataset.count = String(n);
  out.dataset.marked = String(marked);
  out.dataset.lookedAt = new Date(state.lookedAt).toISOString();
  out.dataset.state = n ? "new" : "none";
  out.title = `Stories first seen since ${when(state.lookedAt)} (kept in this browser)`;
  out.hidden = false;
  button.hidden = false;
}
