/*
 * Polling: GET /v1/clusters every config.intervalMs (a 304 changes nothing), the feeds with it, and the status
 * the header shows (#status, #last-updated, #offline-banner). Refresh polls at once.
 */
import { getClusters } from "./api.js";
import { config } from "./config.js";
import { $, refreshRelativeTimes } from "./dom.js";
import { pollFeeds } from "./feeds.js";
import { clock, parseTime } from "./format.js";
import { isReading, receive, showUpdates } from "./hold.js";
import { countNew } from "./seen.js";
import { state } from "./state.js";

function setStatus(kind, text, detail) {
  const status = $("#status");
  status.dataset.state = kind;
  if (status.textContent !== text) status.textContent = text;
  const banner = $("#offline-banner");
  const failing = kind === "offline" || kind === "error";
  banner.hidden = !failing;
  if (failing) $("#offline-detail").textContent = detail || "";
  state.online = !failing;
}

/** One poll (the one in flight, when there is one). */
async function poll() {
  if (state.inFlight) return state.inFlight;
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), config.timeoutMs);
  const retryText = `Retrying every ${config.intervalMs / 1000} s.`;

  state.inFlight = (async () => {
    try {
      const answer = await getClusters(controller.signal);
      if (answer.status === 304) {
        if (state.online !== true) setStatus("live", "Live");
        return;
      }
      if (answer.status >= 500) {
        setStatus("offline", "Offline", `The service answered ${answer.status}. ${retryText}`);
        return;
      }
      if (!answer.ok) {
        setStatus("error", `Error ${answer.status}`, `The service refused the request (${answer.status}). ${retryText}`);
        return;
      }
      const { text, data } = answer;
      const generated = parseTime(data.generated_at);
      state.serverOffsetMs = generated == null ? 0 : generated - Date.now();
      setStatus("live", "Live");
      const now = new Date();
      const updated = $("#last-updated");
      updated.textContent = `updated ${clock(now)}`;
      updated.dataset.updatedAt = now.toISOString();
      if (text !== state.rawText) {
        state.rawText = text;
        receive(data);
        countNew();
      }
    } catch (err) {
      const why = err && err.name === "AbortError" ? "No answer in time." : err instanceof SyntaxError ? "Unreadable answer." : "Cannot connect.";
      setStatus("offline", "Offline", `${why} ${retryText}`);
    } finally {
      clearTimeout(timer);
      // what was held while the editor read goes on the board once they stop
      if (state.pending && !isReading()) showUpdates();
      refreshRelativeTimes();
    }
  })();
  try {
    await state.inFlight;
  } finally {
    state.inFlight = null;
  }
}

function schedule(delayMs = config.intervalMs) {
  clearTimeout(state.timer);
  state.timer = setTimeout(async () => {
    await poll();
    pollFeeds();
    schedule();
  }, delayMs);
}

/** Poll now; `force` (the Refresh button, a correction) also puts on the board what was held. */
export async function refresh(force = false) {
  clearTimeout(state.timer);
  await poll();
  if (force === true) showUpdates();
  schedule();
}
