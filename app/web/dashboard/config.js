/*
 * Dashboard configuration, read once at load: the URL query, else <body data-*>. And the few constants
 * several modules share.
 *   ?interval=5     poll period in seconds (body data-poll-interval; default 5, minimum 1)
 *   ?stories=10     stories_per_topic asked from the API (default: the server's)
 *   ?unassigned=30  unassigned_limit asked from the API (default: the server's)
 *   ?page=20        stories per "N more" page, and per page of search results
 *   ?growing=3      recent_count (headlines in the last hour) from which a story is "growing"
 * Filters are mirrored in the URL too (?lang=fr&source=Le360&window=24h&q=sahara): see filters.js.
 */

export const WINDOWS_MS = { "1h": 3600e3, "6h": 6 * 3600e3, "24h": 24 * 3600e3, "7d": 7 * 24 * 3600e3, all: Infinity };
export const UNASSIGNED = "unassigned";
export const UNASSIGNED_LABEL = "New, not yet grouped";

/** The page's query as it was at load (the filters read their first values from it). */
export const query = new URLSearchParams(location.search);

const numberParam = (name, fallback, min) => {
  const raw = query.get(name) ?? document.body.dataset[name === "interval" ? "pollInterval" : name];
  const value = Number(raw);
  return raw != null && raw !== "" && Number.isFinite(value) && value >= min ? value : fallback;
};

export const config = {
  intervalMs: numberParam("interval", 5, 1) * 1000,
  storiesPerTopic: Math.min(200, numberParam("stories", 0, 1)) || null,
  unassignedLimit: Math.min(500, numberParam("unassigned", 0, 1)) || null,
  pageSize: Math.min(200, Math.floor(numberParam("page", 20, 1))),
  growingAt: numberParam("growing", 3, 1),
};
// a hung connection must surface as "offline" rather than leave the page silently stale
config.timeoutMs = Math.max(4000, 2 * config.intervalMs);
