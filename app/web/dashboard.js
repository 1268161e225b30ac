/*
 * Ticker desk — live dashboard of stories grouped by topic. Plain ES2020 modules, no framework, no build step,
 * the public API only. This file starts the page: it wires the controls to the modules in dashboard/, each
 * with one job, and exposes window.TickerDashboard.
 *   dashboard/api.js        the API client: every request, the ETag/304 poll, refusals, the API key
 *   dashboard/config.js     configuration from the URL / <body data-*>, shared constants
 *   dashboard/state.js      the page's shared state (window.TickerDashboard.state)
 *   dashboard/format.js     text, number and time formatting (pure)
 *   dashboard/dom.js        text-only DOM building, http(s)-only links, <time> and language badges
 *   dashboard/cards.js      story cards (board and search results)
 *   dashboard/board.js      the topic columns: their model (cards keep their place) and drawing
 *   dashboard/hold.js       a poll's changes held while the editor reads: "N updates — Show"
 *   dashboard/paging.js     "N more" under a column
 *   dashboard/filters.js    language / source / time filters, "X of Y stories", filters in the URL
 *   dashboard/search.js     the server-side search that replaces the board
 *   dashboard/seen.js       "N new since you looked" (localStorage)
 *   dashboard/feeds.js      the feeds panel, and its Pause / Resume (PATCH /v1/feeds/{id})
 *   dashboard/polling.js    the poll, its cadence, and the status it shows
 *   dashboard/panel.js      the story panel: opening, loading, corrections, focus
 *   dashboard/panel-view.js what the story panel shows
 * Some modules import each other (board, filters, search and seen redraw one another); none calls into another
 * while it loads, so the order they load in does not matter: init() below starts everything.
 *
 * SECURITY: data (headlines, sources, keywords, labels) is only ever inserted as text
 * (textContent / createTextNode via el()); no innerHTML anywhere. Links come only from http(s) URLs.
 * The API key for corrections and feed changes is asked when first needed (a feed change: when the service
 * answers 401) in the story panel's key form and kept in sessionStorage (this tab only, never localStorage);
 * a 401 forgets it. localStorage holds only "ticker.lookedAt" (a time).
 *
 * ---- Hooks for browser tests (stable; please keep) ------------------------------------------------
 *   #status                text "Connecting…" | "Live" | "Offline" | "Error 4xx";  data-state="connecting|live|offline|error"
 *   #last-updated          "updated HH:MM:SS" (local time of the last 200 with data); data-updated-at = ISO time
 *   #new-since             "N new since you looked"; data-count = N (the server's count), data-marked = "new" cards
 *                          on the page, data-looked-at = ISO time of the last look
 *   #mark-seen             button: the editor has looked (now = the time of the data on screen)
 *   #offline-banner        [hidden] unless the last poll failed (network error, timeout, 5xx, 4xx); #offline-detail says why
 *   #refresh               button: poll now (and show what was held)
 *   #filter-lang           <select> "" | fr | es | en | ar  (a story matches if any of its versions has that language)
 *   #filter-source         <select> "" | one source (options built from the data; a story matches if any version has it)
 *   #filter-window         <select> 1h | 6h | 24h | 7d | all   (story last_seen vs the server's generated_at clock)
 *   #filter-search         <input type=search> server-side search (GET /v1/stories?q=)
 *   #filter-reset          button: clear all filters (and the search)
 *   #filter-count          "X of Y stories"; data-shown = X, data-total = Y (server totals; the search's total when searching)
 *   #updates               [hidden] unless a poll's changes are held while the editor reads; data-count;
 *                          #updates-text "N updates", #updates-show button "Show"
 *   #search-results        [hidden] unless searching; data-state="loading|done|error", data-query, data-total;
 *                          #search-title, #search-count "N stories", #search-list > li.story (cards as on the board,
 *                          plus .story-topic: the column the story is in), #search-more "N more", #search-empty,
 *                          #search-error (role=alert)
 *   #board                 container of the columns; aria-busy until the first data arrives; [hidden] while searching
 *   #board-empty           message shown when there is nothing to show
 *   section.topic[data-topic-id]       one column; the unassigned one ("New, not yet grouped") has data-topic-id="unassigned"
 *                                      and comes first. data-total = the server's count, data-loaded = cards loaded,
 *                                      data-visible-count = cards shown, data-category = the topic's category;
 *                                      [hidden] when filters leave it no story; .topic-new for a while when it appeared
 *     .topic-label, .topic-count ("N stories · M headlines"), .topic-langs .lang-badge, .topic-keywords .keyword, .topic-empty
 *     .topic-sublabel      only when several topics share a label: the keywords that tell this one apart
 *     button.topic-more    "N more" (N = data-remaining = total − loaded); [hidden] at 0; disabled + aria-busy while loading
 *   li.story[data-story-id]            one story; data-size, data-recent, data-languages="fr ar", data-topic-id,
 *                                      data-n-sources, data-first-seen, data-last-seen
 *                                      [hidden] when filtered out; .story-growing when it grows fast;
 *                                      .story-new for a while after it arrived; .story-unseen when new since the editor looked
 *     .unseen-badge        "new" on .story-unseen cards
 *     .story-title         canonical headline (lang + dir="auto"; Arabic gets dir="rtl")
 *     .lang-badge          data-lang="fr" text "FR" (in the story head, in each version, in the topic head)
 *     .story-size          "×N" times seen (story.size)
 *     .story-outlets       "N outlets": distinct sources (story.n_sources)
 *     .growing-badge       "▲ N in 1h" only on growing stories
 *     .story-sources       sources joined by " · "
 *     time.story-time      last_seen (datetime attribute = ISO)
 *     .story-versions > li.story-version[data-headline-id] > .lang-badge, .version-title, .version-meta > .version-source, time.version-time
 *     button.story-open    opens the story panel (a click anywhere on the card that is not a link does too)
 *   dialog#story-panel     the story panel (modal; Escape or #panel-close closes it, focus returns to the card)
 *                          [data-story-id] = story shown, [data-requested-id] = story opened; aria-busy while loading
 *     #panel-title         "Story N" (focused on open)
 *     #panel-status        role=status: "Loading…", or empty
 *     #panel-merged        shown when the story opened was merged: data-merged-from, data-merged-into
 *     #panel-error         role=alert: the service's refusal (its detail, or each msg of a 422), or why it failed
 *     #panel-result        after a correction: #panel-result-text, #panel-undo (hidden once undone);
 *                          data-correction-id, data-kind (merge | move | undo)
 *     #panel-key-form      asks the API key (input #panel-key) when a correction needs it and none is known, or when
 *                          a feed change was refused with a 401: the panel then shows only this form, has
 *                          [data-key-only] and "API key" as its title, and closes once the key is entered
 *     #panel-canonical     canonical headline (dir="auto", lang); #panel-summary: "N headlines — FR ES — sources"
 *     #panel-merge-form    #panel-merge-into (target story id) + #panel-merge ("Merge into…")
 *     #panel-versions > li.panel-version[data-headline-id][data-canonical?]
 *                          .panel-version-title (a[rel="noopener noreferrer"] for http(s) URLs, else span; dir="auto"),
 *                          time.panel-version-time[data-kind=published|received], .panel-version-source, .lang-badge,
 *                          .panel-version-match[data-match], .panel-version-similarity[data-similarity], button.panel-move
 *     #panel-more          "Showing N of M headlines" when the story has more than one page
 *   #feeds-panel           [hidden] while the service follows no feed (or GET /v1/feeds is refused); data-total,
 *                          data-failing; #feeds-summary "N feeds · M failing"; #feeds-list > li.feed[data-feed-id]
 *                          [data-status=ok|error|pending|disabled] > .feed-status (OK | Error | Pending | Disabled),
 *                          .feed-source, .feed-meta ("N stored · fetched <time>"), .feed-error (the last error, only
 *                          while failing or disabled: a paused feed's "paused by an operator"),
 *                          button.feed-toggle[data-feed-id][data-action=pause|resume] "Pause" (enabled feeds) |
 *                          "Resume" (disabled ones), aria-disabled while its PATCH is under way.
 *                          #feeds-error (role=alert) [hidden] unless a change was refused: the service's message.
 *                          Polled with the board, at most every 5 s.
 *   window.TickerDashboard  { refresh(force): Promise, applyFilters(), fold(text), openStory(id): Promise, markSeen(),
 *                             loadMore(columnId): Promise, search(): Promise, showUpdates(), state, config }
 */
import { config } from "./dashboard/config.js";
import { $ } from "./dashboard/dom.js";
import { initFeeds, pollFeeds } from "./dashboard/feeds.js";
import { applyFilters, readFiltersFromUrl } from "./dashboard/filters.js";
import { fold } from "./dashboard/format.js";
import { isReading, showUpdates } from "./dashboard/hold.js";
import { loadMore } from "./dashboard/paging.js";
import { initPanel, openStory } from "./dashboard/panel.js";
import { refresh } from "./dashboard/polling.js";
import { endSearch, runSearch, scheduleSearch, search } from "./dashboard/search.js";
import { countNew, LOOKED_KEY, markSeen, readLooked, redraw } from "./dashboard/seen.js";
import { state } from "./dashboard/state.js";

function init() {
  readFiltersFromUrl();
  state.lookedAt = readLooked();
  const form = $("#filters");
  const searchBox = $("#filter-search");
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    runSearch(); // Enter: no need to wait for the pause
  });
  form.addEventListener("change", (e) => {
    if (e.target === searchBox) return; // typing is handled below
    applyFilters();
    if (search.active) runSearch();
  });
  searchBox.addEventListener("input", scheduleSearch);
  form.addEventListener("reset", (e) => {
    e.preventDefault();
    $("#filter-lang").value = "";
    $("#filter-source").value = "";
    $("#filter-window").value = "all";
    searchBox.value = "";
    endSearch();
  });
  $("#refresh").addEventListener("click", () => {
    refresh(true);
    if (search.active) runSearch();
  });
  $("#board").addEventListener("click", (e) => {
    const more = e.target instanceof Element && e.target.closest("button.topic-more");
    if (more && !more.disabled) loadMore(more.dataset.topicId);
  });
  $("#search-more").addEventListener("click", () => runSearch(true));
  $("#updates-show").addEventListener("click", () => {
    showUpdates();
    $("#board").focus({ preventScroll: true }); // the button is gone: the focus goes to the board
  });
  $("#mark-seen").addEventListener("click", markSeen);
  // another tab marked as seen: this one follows
  window.addEventListener("storage", (e) => {
    if (e.key !== LOOKED_KEY) return;
    state.lookedAt = readLooked();
    state.newCount = null;
    redraw();
    countNew();
  });
  initPanel();
  initFeeds();
  document.addEventListener("keydown", (e) => {
    const typing = e.target instanceof HTMLElement && e.target.closest("input, textarea, select, [contenteditable]");
    if (e.key === "/" && !typing && !e.ctrlKey && !e.metaKey && !e.altKey && !$("#story-panel").open) {
      e.preventDefault();
      searchBox.focus();
    }
  });
  // Background tabs are throttled anyway: catch up as soon as the editor looks again.
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") refresh();
  });
  if (searchBox.value.trim()) runSearch();
  refresh();
  pollFeeds(true);
}

window.TickerDashboard = {
  refresh,
  pollFeeds,
  applyFilters,
  fold,
  openStory,
  markSeen,
  loadMore,
  search: runSearch,
  showUpdates,
  isReading,
  state,
  config,
};
if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
else init();
