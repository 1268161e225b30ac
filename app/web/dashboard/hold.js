/*
 * Holding updates while the editor reads. While the pointer is over the board, or the keyboard focus is in
 * it, a poll changes nothing: the page shows "N updates — Show" instead (#updates), and applies them when the
 * editor clicks Show, presses Refresh, or no longer points at / focuses the board (checked at each poll).
 * Focus and scroll are kept.
 */
import { applyPlan, planBoard } from "./board.js";
import { $ } from "./dom.js";
import { parseTime, plural } from "./format.js";
import { updateNewSince, writeLooked } from "./seen.js";
import { state } from "./state.js";

/** The editor is reading the board: the pointer is over it (or over the updates bar), or the keyboard's
 *  focus is in it (focus left by a mouse click does not count: the pointer says where a mouse user reads). */
export function isReading() {
  const board = $("#board");
  const bar = $("#updates");
  if (board.hidden || $("#story-panel").open) return false;
  if (board.matches(":hover") || bar.matches(":hover")) return true;
  const active = document.activeElement;
  return (
    active instanceof Element &&
    active !== board &&
    (board.contains(active) || bar.contains(active)) &&
    active.matches(":focus-visible")
  );
}

/** "N updates" in the bar, or the bar hidden at 0. */
export function showHeld(n) {
  const bar = $("#updates");
  bar.hidden = !n;
  bar.dataset.count = String(n || 0);
  const text = n ? plural(n, "update", "updates") : "";
  if ($("#updates-text").textContent !== text) $("#updates-text").textContent = text;
}

function apply(data) {
  applyPlan(planBoard(data), data);
  state.pending = null;
  showHeld(0);
  if (state.lookedAt == null) {
    // first visit: what is on screen now is what the editor has seen
    const generated = parseTime(data.generated_at);
    writeLooked(generated != null ? generated + 1000 : Date.now() + state.serverOffsetMs);
    updateNewSince();
  }
}

/** A new body: on the board now, or held (with "N updates — Show") while the editor reads. */
export function receive(data) {
  state.data = data;
  if (!state.shown || !isReading()) {
    apply(data);
    return;
  }
  const plan = planBoard(data);
  if (!plan.updates) {
    applyPlan(plan, data);
    state.pending = null;
    showHeld(0);
    return;
  }
  state.pending = data;
  showHeld(plan.updates);
}

/** Put what was held on the board. */
export function showUpdates() {
  if (state.pending) apply(state.pending);
}
