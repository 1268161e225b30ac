/*
 * The feeds panel (#feeds-panel): each feed the service follows and how polling it goes (GET /v1/feeds).
 * Hidden while the service follows no feed (or refuses the request); polled with the board, at most every 5 s.
 */
import { ApiError, getFeeds } from "./api.js";
import { config } from "./config.js";
import { $, el, timeEl } from "./dom.js";

const FEED_STATUS = { ok: "OK", error: "Error", pending: "Pending", disabled: "Disabled" };
const feedsPoll = { last: 0, busy: false };

function renderFeed(f) {
  const status = FEED_STATUS[f.status] ? f.status : "pending";
  const meta = [`${Number(f.items_stored) || 0} stored`];
  const li = el(
    "li",
    { class: "feed", dataset: { feedId: String(f.id), status }, title: String(f.url || "") },
    el("span", { class: "feed-status", dataset: { status } }, FEED_STATUS[status]),
    el("span", { class: "feed-source" }, f.source || f.url || "?"),
  );
  const fetched = timeEl(f.last_fetch_at, "feed-time");
  li.append(el("span", { class: "feed-meta" }, meta.join(" · "), fetched ? " · fetched " : " · never fetched", fetched));
  const why = status === "disabled" ? f.disabled_reason || f.last_error : status === "error" ? f.last_error : null;
  if (why) li.append(el("span", { class: "feed-error" }, why));
  return li;
}

/** Ask for the feeds, unless asked less than a poll period (and 5 s) ago; `force` asks now. */
export async function pollFeeds(force = false) {
  const now = Date.now();
  if (feedsPoll.busy || (!force && now - feedsPoll.last < Math.max(config.intervalMs, 5000))) return;
  feedsPoll.busy = true;
  feedsPoll.last = now;
  const panel = $("#feeds-panel");
  try {
    const data = await getFeeds();
    const feeds = Array.isArray(data.feeds) ? data.feeds : [];
    const failing = feeds.filter((f) => f.status === "error" || f.status === "disabled").length;
    panel.dataset.total = String(feeds.length);
    panel.dataset.failing = String(failing);
    $("#feeds-summary").textContent = `${feeds.length} feed${feeds.length === 1 ? "" : "s"} · ${failing} failing`;
    $("#feeds-list").replaceChildren(...feeds.map(renderFeed));
    panel.hidden = feeds.length === 0;
  } catch (err) {
    // refused: hidden when there is nothing this page may show; otherwise (a network error too: the board's
    // status already says the service is unreachable) the panel keeps what it showed
    if (err instanceof ApiError && (err.status === 401 || err.status === 404)) panel.hidden = true;
  } finally {
    feedsPoll.busy = false;
  }
}
