/*
 * The feeds panel (#feeds-panel): each feed the service follows and how polling it goes (GET /v1/feeds), and a
 * "Pause" / "Resume" button per feed (PATCH /v1/feeds/{id} {"enabled": false | true}). Hidden while the
 * service follows no feed (or refuses the request); polled with the board, at most every 5 s.
 * The change goes with the API key the corrections use (api.js's apiKey); a 401 asks for it in the story
 * panel's key form (panel.js's askKey) and the change is made once it is entered. Other refusals show the
 * service's message in #feeds-error. Everything from the service goes in as text.
 */
import { ApiError, apiKey, getFeeds, patchFeed, refusal } from "./api.js";
import { config } from "./config.js";
import { $, el, syncChildren, timeEl } from "./dom.js";
import { askKey } from "./panel.js";

const FEED_STATUS = { ok: "OK", error: "Error", pending: "Pending", disabled: "Disabled" };
// seq: a change answered by PATCH counts up, so a GET /v1/feeds asked before it does not draw older data
const feedsPoll = { last: 0, busy: false, seq: 0, feeds: [] };
const rows = new Map(); // feed id → { sig, li }: a feed whose data did not change keeps its row (and focus)
const changing = new Set(); // feed ids whose PATCH is under way

const isEnabled = (f) => (typeof f.enabled === "boolean" ? f.enabled : f.status !== "disabled");

function renderFeed(f) {
  const id = String(f.id);
  const status = FEED_STATUS[f.status] ? f.status : "pending";
  const enabled = isEnabled(f);
  const meta = [`${Number(f.items_stored) || 0} stored`];
  const sourceId = `feed-source-${id}`;
  const li = el(
    "li",
    { class: "feed", dataset: { feedId: id, status }, title: String(f.url || "") },
    el("span", { class: "feed-status", dataset: { status } }, FEED_STATUS[status]),
    el("span", { class: "feed-source", id: sourceId }, f.source || f.url || "?"),
  );
  const fetched = timeEl(f.last_fetch_at, "feed-time");
  li.append(el("span", { class: "feed-meta" }, meta.join(" · "), fetched ? " · fetched " : " · never fetched", fetched));
  const why = status === "disabled" ? f.disabled_reason || f.last_error : status === "error" ? f.last_error : null;
  if (why) li.append(el("span", { class: "feed-error" }, why));
  li.append(
    el(
      "button",
      {
        type: "button",
        class: "button button-small feed-toggle",
        dataset: { feedId: id, action: enabled ? "pause" : "resume" },
        "aria-describedby": sourceId,
        "aria-disabled": changing.has(id) ? "true" : null,
        title: enabled ? "Stop polling this feed" : "Poll this feed again, at once",
      },
      enabled ? "Pause" : "Resume",
    ),
  );
  return li;
}

const toggleButton = (id) => document.querySelector(`#feeds-list button.feed-toggle[data-feed-id="${CSS.escape(String(id))}"]`);

/** Draw these feeds; a row whose feed did not change stays as it is, and the focus stays on its feed. */
function drawFeeds(feeds) {
  const panel = $("#feeds-panel");
  const list = $("#feeds-list");
  const active = document.activeElement;
  const focused = active instanceof Element && list.contains(active) ? active.closest("li.feed") : null;
  // a feed an editor paused is not failing: it is counted apart
  const paused = feeds.filter((f) => f.paused === true).length;
  const failing = feeds.filter((f) => f.paused !== true && (f.status === "error" || f.status === "disabled")).length;
  feedsPoll.feeds = feeds;
  panel.dataset.total = String(feeds.length);
  panel.dataset.failing = String(failing);
  $("#feeds-summary").textContent =
    `${feeds.length} feed${feeds.length === 1 ? "" : "s"} · ${failing} failing` + (paused ? ` · ${paused} paused` : "");
  const seen = new Set();
  const wanted = feeds.map((f) => {
    const id = String(f.id);
    const sig = JSON.stringify(f);
    seen.add(id);
    const row = rows.get(id);
    if (row && row.sig === sig) return row.li;
    const li = renderFeed(f);
    rows.set(id, { sig, li });
    return li;
  });
  for (const id of [...rows.keys()]) if (!seen.has(id)) rows.delete(id);
  syncChildren(list, wanted);
  panel.hidden = feeds.length === 0;
  // the row the focus was in was redrawn: the focus goes to its feed's new button
  if (focused && !focused.isConnected) {
    const button = toggleButton(focused.dataset.feedId);
    if (button) button.focus();
  }
}

/** The service's refusal, or why a change failed, in the panel (empty: hidden). */
function feedsError(text) {
  const box = $("#feeds-error");
  box.textContent = text || "";
  box.hidden = !text;
}

/** Redraw with one feed as PATCH answered it. */
function applyFeed(feed) {
  feedsPoll.seq++;
  const id = String(feed.id);
  const known = feedsPoll.feeds.some((f) => String(f.id) === id);
  drawFeeds(known ? feedsPoll.feeds.map((f) => (String(f.id) === id ? feed : f)) : [...feedsPoll.feeds, feed]);
}

/** While its PATCH is under way a feed's button says so (aria-disabled: it keeps the focus) and does nothing. */
function setChanging(id, on) {
  if (on) changing.add(id);
  else changing.delete(id);
  const button = toggleButton(id);
  if (!button) return;
  if (on) button.setAttribute("aria-disabled", "true");
  else button.removeAttribute("aria-disabled");
}

/** Pause (`enabled` false) or resume a feed: PATCH with the key when one is known; a 401 asks for it. */
async function setEnabled(id, enabled) {
  if (changing.has(id)) return;
  const key = apiKey.get();
  setChanging(id, true);
  feedsError("");
  let response;
  try {
    response = await patchFeed(id, { enabled }, key);
  } catch {
    feedsError("Cannot connect to the service: the feed may not have been changed.");
    return;
  } finally {
    setChanging(id, false);
  }
  if (response.status === 401) {
    const why = await refusal(response);
    if (key) {
      apiKey.forget();
      feedsError(`The key was refused: ${why}`);
    }
    askKey(
      () => setEnabled(id, enabled),
      key ? "That key was refused. Enter the service's API key again." : "Pausing or resuming a feed needs the service's API key.",
      () => toggleButton(id),
    );
    return;
  }
  if (!response.ok) {
    feedsError(await refusal(response));
    return;
  }
  let feed = null;
  try {
    feed = await response.json();
  } catch {
    /* changed, but unreadable: ask for the feeds */
  }
  if (feed && typeof feed === "object" && String(feed.id) === id) applyFeed(feed);
  else pollFeeds(true);
}

/** The panel's error line, and its buttons. */
export function initFeeds() {
  const panel = $("#feeds-panel");
  panel.append(el("p", { id: "feeds-error", class: "feeds-error", role: "alert", hidden: true }));
  $("#feeds-list").addEventListener("click", (e) => {
    const button = e.target instanceof Element && e.target.closest("button.feed-toggle");
    if (!button || button.getAttribute("aria-disabled") === "true") return;
    setEnabled(button.dataset.feedId, button.dataset.action === "resume");
  });
}

/** Ask for the feeds, unless asked less than a poll period (and 5 s) ago; `force` asks now. */
export async function pollFeeds(force = false) {
  const now = Date.now();
  if (feedsPoll.busy || (!force && now - feedsPoll.last < Math.max(config.intervalMs, 5000))) return;
  feedsPoll.busy = true;
  feedsPoll.last = now;
  const seq = feedsPoll.seq;
  const panel = $("#feeds-panel");
  try {
    const data = await getFeeds();
    if (seq !== feedsPoll.seq) return; // a change was answered meanwhile: this list may be older
    drawFeeds(Array.isArray(data.feeds) ? data.feeds : []);
  } catch (err) {
    // refused: hidden when there is nothing this page may show; otherwise (a network error too: the board's
    // status already says the service is unreachable) the panel keeps what it showed
    if (err instanceof ApiError && (err.status === 401 || err.status === 404)) panel.hidden = true;
  } finally {
    feedsPoll.busy = false;
  }
}
