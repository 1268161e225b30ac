/*
 * The API client: every request the dashboard makes, to the public API only.
 *   GET /v1/clusters                  polled with If-None-Match (a 304 changes nothing): every topic with its
 *                                     newest stories and n_stories, the stories not in a topic yet and
 *                                     unassigned_total
 *   GET /v1/stories?topic_id=&offset=&limit=   a topic's next page ("N more"); ?unassigned=true for the
 *                                     "New, not yet grouped" column
 *   GET /v1/stories?q=&lang=&source=&since=    the search box: server-side, every word, accents and case folded
 *   GET /v1/stories?since=&until=&limit=1      how many stories are new since the editor last looked (totals only)
 *   GET /v1/stories/{id}, POST /v1/corrections/*   the story panel and the editors' corrections
 *   GET /v1/feeds                     the feeds panel: each followed feed's health
 *   PATCH /v1/feeds/{id}              the feeds panel's Pause / Resume ({"enabled": false | true})
 * The API key for corrections and feed changes is asked when first needed and kept in sessionStorage (this tab
 * only, never localStorage); a 401 forgets it. Reads send it too when one is known (a service may protect reads).
 */
import { config } from "./config.js";
import { state } from "./state.js";

const KEY_STORAGE = "ticker.apiKey";

// The key lives in sessionStorage: this tab only, gone with it. Where storage is refused, this page only.
let memoryKey = null;
export const apiKey = {
  get() {
    try {
      return sessionStorage.getItem(KEY_STORAGE) || null;
    } catch {
      return memoryKey;
    }
  },
  set(key) {
    try {
      sessionStorage.setItem(KEY_STORAGE, key);
    } catch {
      memoryKey = key;
    }
  },
  forget() {
    memoryKey = null;
    try {
      sessionStorage.removeItem(KEY_STORAGE);
    } catch {
      /* nothing was stored */
    }
  },
};

/** Headers for reads: the API key too when one is known (a service may protect reads). */
export function readHeaders() {
  const headers = { Accept: "application/json" };
  const key = apiKey.get();
  if (key) headers["X-API-Key"] = key;
  return headers;
}

/** What the service said when it refused: its `detail` (a string, or a 422's list of errors). */
export async function refusal(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    /* not JSON */
  }
  const detail = body && body.detail;
  if (typeof detail === "string" && detail.trim()) return detail;
  if (Array.isArray(detail)) {
    const msgs = detail
      .map((d) => (d && typeof d === "object" ? d.msg : d))
      .filter((m) => m != null && String(m).trim())
      .map(String);
    if (msgs.length) return msgs.join(" · ");
  }
  return `The service answered ${response.status}.`;
}

/** The service refused: `status`, and its reason (see refusal) as the message. */
export class ApiError extends Error {
  constructor(message, status) {
    super(message);
    this.name = "ApiError";
    this.status = status;
  }
}

/** GET a JSON body. Rejects with an ApiError when the service refuses; a network error, an abort or an
 *  unreadable body rejects as fetch and JSON do. */
async function getJson(path, signal) {
  const response = await fetch(path, { headers: readHeaders(), cache: "no-store", signal });
  if (!response.ok) throw new ApiError(await refusal(response), response.status);
  return response.json();
}

/** GET /v1/clusters, asking only for a change since the last 200 (If-None-Match: its ETag). Resolves to
 *  { status: 304 } when nothing changed, { status, ok: false } when refused (the body drained), else
 *  { status, ok: true, text, data } (and its ETag is kept). Rejects on a network error, an abort, or a body
 *  that is no JSON (SyntaxError). */
export async function getClusters(signal) {
  const url = new URL("/v1/clusters", location.origin);
  if (config.storiesPerTopic) url.searchParams.set("stories_per_topic", String(config.storiesPerTopic));
  if (config.unassignedLimit) url.searchParams.set("unassigned_limit", String(config.unassignedLimit));
  const headers = readHeaders();
  if (state.etag) headers["If-None-Match"] = state.etag;
  const response = await fetch(url, { headers, cache: "no-store", signal });
  if (response.status === 304) {
    await response.arrayBuffer(); // drain the empty body so the request completes cleanly
    return { status: 304, ok: false };
  }
  if (!response.ok) {
    await response.arrayBuffer().catch(() => null);
    return { status: response.status, ok: false };
  }
  const text = await response.text();
  const data = JSON.parse(text);
  state.etag = response.headers.get("ETag");
  return { status: response.status, ok: true, text, data };
}

/** GET /v1/stories with these URLSearchParams: { stories, total, ... }. */
export const getStories = (params, signal) => getJson(`/v1/stories?${params}`, signal);

/** GET /v1/feeds: { feeds }. */
export const getFeeds = () => getJson("/v1/feeds");

/** GET /v1/stories/{id}: { story, redirected }. A merged story's id answers 307: fetch follows it to the story
 *  it was merged into (redirected is then true). */
export async function getStory(id, limit) {
  const response = await fetch(`/v1/stories/${encodeURIComponent(id)}?limit=${limit}`, { headers: readHeaders(), cache: "no-store" });
  if (!response.ok) throw new ApiError(await refusal(response), response.status);
  return { story: await response.json(), redirected: response.redirected };
}

/** POST a correction (JSON `body`, if any) with the key. Resolves to the Response, whatever its status;
 *  rejects when the service cannot be reached. */
export function postCorrection(path, body, key) {
  const headers = { Accept: "application/json", "X-API-Key": key };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  return fetch(path, {
    method: "POST",
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    cache: "no-store",
  });
}

/** PATCH /v1/feeds/{id} with this JSON `body`, and the key when one is known (a service without
 *  TICKER_API_KEY takes feed changes without it). Resolves to the Response, whatever its status; rejects
 *  when the service cannot be reached. */
export function patchFeed(id, body, key) {
  const headers = { Accept: "application/json", "Content-Type": "application/json" };
  if (key) headers["X-API-Key"] = key;
  return fetch(`/v1/feeds/${encodeURIComponent(id)}`, { method: "PATCH", headers, body: JSON.stringify(body), cache: "no-store" });
}
