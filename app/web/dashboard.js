/*
 * Ticker desk — live dashboard of stories grouped by topic. Plain ES2020, no framework, no build step.
 * It uses the public API only:
 *   GET /v1/clusters                  polled with If-None-Match (a 304 changes nothing): every topic with its
 *                                     newest stories and n_stories, the stories not in a topic yet and
 *                                     unassigned_total
 *   GET /v1/stories?topic_id=&offset=&limit=   a topic's next page ("N more"); ?unassigned=true for the
 *                                     "New, not yet grouped" column
 *   GET /v1/stories?q=&lang=&source=&since=    the search box: server-side, every word, accents and case folded
 *   GET /v1/stories?since=&until=&limit=1      how many stories are new since the editor last looked (totals only)
 *   GET /v1/stories/{id}, POST /v1/corrections/*   the story panel and the editors' corrections
 *   GET /v1/feeds                     the feeds panel: each followed feed's health
 *
 * What the editor sees, and the rules behind it:
 *  - Columns: "New, not yet grouped" (stories no topic holds yet) FIRST, then one column per topic, headed by
 *    its display name. A column's count is the server's (n_stories / unassigned_total); "N more" under it
 *    loads the next page, so paging reaches every story the count announces. "X of Y stories" above the
 *    board: X cards shown (after the filters), Y the server's total (every column's count added up).
 *  - Cards never jump while the editor reads. Stories already on the board keep their column order for good
 *    (a story that gets a new version is updated in place, not moved to the top); new stories go to the
 *    START of their column, highlighted, and new topics to the start of the board (after "New, not yet
 *    grouped"). While the pointer is over the board, or the keyboard focus is in it, a poll changes nothing:
 *    the page shows "N updates — Show" instead, and applies them when the editor clicks Show, presses
 *    Refresh, or no longer points at / focuses the board (checked at each poll). Focus and scroll are kept.
 *  - "N new since you looked": the time the editor last looked is kept in localStorage ("ticker.lookedAt",
 *    this browser, every tab) and is set ONLY by the "Mark as seen" button (to the time of the data on
 *    screen), or on the very first visit (to then). Leaving or reloading the page does not change it, so the
 *    markers survive a reload. A story is new when its first_seen (its first headline's publication time,
 *    else its arrival) is at or after that time, to the second; the header's N is the server's count
 *    (two totals of /v1/stories), the "new" badges mark the loaded cards.
 *  - Search asks the server (debounced 250 ms; a new keystroke aborts the previous request): the results
 *    replace the board, as one list with the server's total and "N more"; clearing the box brings the board
 *    back. Language, source and time window filter the results on the server, and the board's cards here.
 *
 * SECURITY: data (headlines, sources, keywords, labels) is only ever inserted as text
 * (textContent / createTextNode via el()); no innerHTML anywhere. Links come only from http(s) URLs.
 * The API key for corrections is asked when first needed and kept in sessionStorage (this tab only,
 * never localStorage); a 401 forgets it. localStorage holds only "ticker.lookedAt" (a time).
 *
 * Configuration (URL query, else <body data-*>):
 *   ?interval=5     poll period in seconds (body data-poll-interval; default 5, minimum 1)
 *   ?stories=10     stories_per_topic asked from the API (default: the server's)
 *   ?unassigned=30  unassigned_limit asked from the API (default: the server's)
 *   ?page=20        stories per "N more" page, and per page of search results
 *   ?growing=3      recent_count (headlines in the last hour) from which a story is "growing"
 * Filters are mirrored in the URL too (?lang=fr&source=Le360&window=24h&q=sahara) so a view can be shared.
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
 *     #panel-key-form      asks the API key (input #panel-key) when a correction needs it and none is known
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
 *                          while failing or disabled). Polled with the board, at most every 5 s.
 *   window.TickerDashboard  { refresh(force): Promise, applyFilters(), fold(text), openStory(id): Promise, markSeen(),
 *                             loadMore(columnId): Promise, search(): Promise, showUpdates(), state, config }
 */
(() => {
  "use strict";

  const LANG_NAMES = { fr: "French", es: "Spanish", en: "English", ar: "Arabic" };
  const RTL_LANGS = new Set(["ar", "fa", "he", "ur"]);
  const WINDOWS_MS = { "1h": 3600e3, "6h": 6 * 3600e3, "24h": 24 * 3600e3, "7d": 7 * 24 * 3600e3, all: Infinity };
  const UNASSIGNED = "unassigned";
  const UNASSIGNED_LABEL = "New, not yet grouped";
  const LOOKED_KEY = "ticker.lookedAt";
  const SEARCH_DELAY_MS = 250;
  const FLASH_MS = 8000;

  // ---- configuration ------------------------------------------------------------------------------
  const query = new URLSearchParams(location.search);
  const numberParam = (name, fallback, min) => {
    const raw = query.get(name) ?? document.body.dataset[name === "interval" ? "pollInterval" : name];
    const value = Number(raw);
    return raw != null && raw !== "" && Number.isFinite(value) && value >= min ? value : fallback;
  };
  const config = {
    intervalMs: numberParam("interval", 5, 1) * 1000,
    storiesPerTopic: Math.min(200, numberParam("stories", 0, 1)) || null,
    unassignedLimit: Math.min(500, numberParam("unassigned", 0, 1)) || null,
    pageSize: Math.min(200, Math.floor(numberParam("page", 20, 1))),
    growingAt: numberParam("growing", 3, 1),
  };
  // a hung connection must surface as "offline" rather than leave the page silently stale
  config.timeoutMs = Math.max(4000, 2 * config.intervalMs);

  // ---- state --------------------------------------------------------------------------------------
  const state = {
    data: null, // last /v1/clusters body received
    shown: null, // the body the board shows (data, unless held while the editor reads)
    pending: null, // a body held while the editor reads
    rawText: "", // to skip re-handling an identical 200
    etag: null,
    serverOffsetMs: 0, // server clock (generated_at) minus ours, for time windows
    lookedAt: null, // ms (server clock): stories first seen at or after it are "new since you looked"
    newCount: null, // the server's count of them; null until known
    newSeq: 0,
    boardCount: null, // { shown, total } of the board's last filtering
    inFlight: null,
    timer: null,
    online: null,
  };
  // The board's model: columns in display order, each with the ids of its cards in display order.
  const columns = new Map(); // column id -> column (see newColumn)
  let columnOrder = []; // column ids, "unassigned" first
  const storyData = new Map(); // story id -> the latest data known for a card on the board
  const storyEls = new Map(); // story id -> { sig, el } (board cards)
  const searchEls = new Map(); // story id -> { sig, el } (search results)
  // ---- small DOM helpers (text only) -------------------------------------------------------------
  const $ = (sel) => document.querySelector(sel);

  /** el("span", {class: "x", dataset: {a: 1}}, "text", child) — strings always become text nodes. */
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value == null || value === false) continue;
      if (key === "dataset") Object.assign(node.dataset, value);
      else if (key === "class") node.className = value;
      else node.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of children.flat()) {
      if (child == null || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  const safeUrl = (url) => {
    try {
      const parsed = new URL(url, location.href);
      return parsed.protocol === "http:" || parsed.protocol === "https:" ? parsed.href : null;
    } catch {
      return null;
    }
  };

  /** Search key: case-, accent- and (Arabic) diacritic-insensitive. */
  function fold(text) {
    return String(text ?? "")
      .normalize("NFKD")
      .replace(/\p{M}+/gu, "") // accents, Arabic harakat and hamza marks
      .replace(/\u0640/g, "") // tatweel
      .replace(/[\u0622\u0623\u0625\u0671]/g, "\u0627") // alef variants → alef
      .replace(/\u0649/g, "\u064a") // alef maqsura → yeh
      .replace(/\u0629/g, "\u0647") // teh marbuta → heh
      .replace(/[’‘`´]/g, "'")
      .toLowerCase()
      .replace(/\s+/g, " ")
      .trim();
  }

  const pad = (n) => String(n).padStart(2, "0");
  const clock = (d) => `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  const parseTime = (iso) => {
    const t = iso ? Date.parse(iso) : NaN;
    return Number.isFinite(t) ? t : null;
  };

  function relativeTime(ms, now = Date.now()) {
    const s = Math.round((now - ms) / 1000);
    if (s < 45) return "just now";
    const m = Math.round(s / 60);
    if (m < 60) return `${m} min ago`;
    const h = Math.round(m / 60);
    if (h < 24) return `${h} h ago`;
    const d = Math.round(h / 24);
    if (d < 8) return `${d} d ago`;
    return new Date(ms).toLocaleDateString(undefined, { day: "numeric", month: "short", year: "numeric" });
  }

  function timeEl(iso, cls) {
    const ms = parseTime(iso);
    if (ms == null) return null;
    return el(
      "time",
      { class: cls, datetime: new Date(ms).toISOString(), title: new Date(ms).toLocaleString(), dataset: { rel: "" } },
      relativeTime(ms),
    );
  }

  function langBadge(lang) {
    const code = (lang || "?").toLowerCase();
    return el(
      "span",
      { class: "lang-badge", dataset: { lang: code }, title: LANG_NAMES[code] || code, "aria-label": LANG_NAMES[code] || code },
      code.toUpperCase(),
    );
  }

  /** Headline text carries its language; Arabic is set right-to-left, the rest lets the browser decide. */
  function titleEl(tag, cls, title, lang, url) {
    const code = (lang || "").toLowerCase();
    const attrs = { class: cls, lang: code || null, dir: RTL_LANGS.has(code) ? "rtl" : "auto" };
    const href = url && safeUrl(url);
    if (href) Object.assign(attrs, { href, target: "_blank", rel: "noopener noreferrer" });
    return el(href ? "a" : tag, attrs, title || "(untitled)");
  }

  // ---- story model helpers -------------------------------------------------------------------------
  const allVersions = (story) => [story.canonical || {}, ...(story.versions || []), ...(story.headlines || [])];

  function storyLanguages(story) {
    const langs = new Set((story.languages || []).map((l) => String(l).toLowerCase()));
    for (const v of allVersions(story)) if (v.lang) langs.add(String(v.lang).toLowerCase());
    return [...langs];
  }

  function storySources(story) {
    const sources = new Set(story.sources || []);
    for (const v of allVersions(story)) if (v.source) sources.add(v.source);
    return [...sources];
  }

  function isGrowing(story, topRecent) {
    const recent = Number(story.recent_count) || 0;
    return recent >= config.growingAt || (recent >= 2 && recent === topRecent);
  }

  const plural = (n, one, many) => `${n} ${n === 1 ? one : many}`;
  const when = (ms) => new Date(ms).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
  const count = (value, fallback) => {
    const n = Number(value);
    return value != null && Number.isFinite(n) && n >= 0 ? n : fallback;
  };

  /** Distinct outlets of a story: the server's n_sources, else the sources the card knows of. */
  const outletCount = (story) => count(story.n_sources, storySources(story).length);

  function isUnseen(story) {
    const t = parseTime(story.first_seen);
    return state.lookedAt != null && t != null && t >= state.lookedAt;
  }

  /** Headers for reads: the API key too when one is known (a service may protect reads). */
  function readHeaders() {
    const headers = { Accept: "application/json" };
    const key = apiKey.get();
    if (key) headers["X-API-Key"] = key;
    return headers;
  }

  // ---- rendering ----------------------------------------------------------------------------------
  function renderStory(story, growing, topicId, unseen, topicLabel) {
    const canonical = story.canonical || {};
    const langs = storyLanguages(story);
    const sources = storySources(story);
    const outlets = outletCount(story);
    const recent = Number(story.recent_count) || 0;
    const size = Number(story.size) || 1;
    const versions = (story.versions || []).filter((v) => v && v.headline_id !== canonical.headline_id);

    const li = el("li", {
      class: "story" + (growing ? " story-growing" : "") + (unseen ? " story-unseen" : ""),
      dataset: {
        storyId: String(story.id),
        topicId: String(topicId),
        size: String(size),
        recent: String(recent),
        languages: langs.join(" "),
        nSources: String(outlets),
        firstSeen: story.first_seen || "",
        lastSeen: story.last_seen || "",
      },
    });
    li.append(
      el("div", { class: "story-head" }, langBadge(canonical.lang), titleEl("span", "story-title", canonical.title, canonical.lang, canonical.url)),
      el(
        "div",
        { class: "story-meta" },
        unseen
          ? el("span", { class: "unseen-badge", title: `First seen after you last looked (${when(state.lookedAt)})` }, "new")
          : null,
        el("span", { class: "story-size", title: `Seen ${size} time${size === 1 ? "" : "s"}` }, `×${size}`),
        el("span", { class: "story-outlets", title: sources.length ? `Outlets: ${sources.join(", ")}` : "Distinct outlets" }, plural(outlets, "outlet", "outlets")),
        growing ? el("span", { class: "growing-badge", title: "Headlines in the last hour" }, `▲ ${recent} in 1h`) : null,
        sources.length ? el("span", { class: "story-sources" }, sources.join(" · ")) : null,
        timeEl(story.last_seen || canonical.published_at, "story-time"),
        topicLabel ? el("span", { class: "story-topic", title: "The column this story is in" }, topicLabel) : null,
        el(
          "button",
          {
            type: "button",
            class: "story-open",
            "aria-haspopup": "dialog",
            "aria-controls": "story-panel",
            "aria-label": `Versions of story ${story.id}: ${canonical.title || "(untitled)"}`,
          },
          "Versions",
        ),
      ),
    );
    if (versions.length) {
      li.append(
        el(
          "ul",
          { class: "story-versions", "aria-label": "Other versions" },
          versions.map((v) =>
            el(
              "li",
              { class: "story-version", dataset: { headlineId: String(v.headline_id ?? "") } },
              langBadge(v.lang),
              titleEl("span", "version-title", v.title, v.lang, v.url),
              el(
                "span",
                { class: "version-meta" },
                v.source ? el("span", { class: "version-source" }, v.source) : null,
                timeEl(v.published_at || v.received_at, "version-time"),
              ),
            ),
          ),
        ),
      );
    }
    return li;
  }

  /** A card, reused while its data did not change, so the page does not flicker or lose focus. */
  function cachedStory(cache, story, growing, topicId, topicLabel) {
    const unseen = isUnseen(story);
    const sig = JSON.stringify([story, growing, topicId, unseen, topicLabel || null]);
    const id = String(story.id);
    const cached = cache.get(id);
    if (cached && cached.sig === sig) return cached.el;
    const node = renderStory(story, growing, topicId, unseen, topicLabel);
    node.__story = story;
    if (cached && cached.el.classList.contains("story-new")) node.classList.add("story-new");
    cache.set(id, { sig, el: node });
    return node;
  }

  /** Highlight what just arrived, for a while. */
  function flash(node, cls) {
    node.classList.add(cls);
    setTimeout(() => node.classList.remove(cls), FLASH_MS);
  }

  const columnLabel = (col) => (col.unassigned ? UNASSIGNED_LABEL : (col.head && col.head.label) || `Topic ${col.id}`);

  function topicHeader(col) {
    const topic = col.head || {};
    const keywords = (topic.keywords || []).slice(0, 6);
    const langs = topic.languages || [];
    const nHeadlines = Number(topic.n_headlines) || 0;
    const countText = plural(col.total, "story", "stories") + (nHeadlines && !col.unassigned ? ` · ${plural(nHeadlines, "headline", "headlines")}` : "");
    return el(
      "header",
      { class: "topic-head" },
      el(
        "h2",
        {
          class: "topic-label",
          id: `topic-${col.id}-label`,
          title: col.unassigned ? "Stories that arrived since the last topic refit, or that no topic fits: newest first" : null,
        },
        columnLabel(col),
      ),
      col.distinct.length ? el("span", { class: "topic-sublabel", title: "Several topics share this label" }, col.distinct.join(" · ")) : null,
      el("span", { class: "topic-count" }, countText),
      langs.length || keywords.length
        ? el(
            "div",
            { class: "topic-tags" },
            langs.length ? el("div", { class: "topic-langs", "aria-label": "Languages" }, langs.map(langBadge)) : null,
            keywords.length
              ? el("ul", { class: "topic-keywords", "aria-label": "Keywords", title: keywords.join(", ") }, keywords.map((k) => el("li", { class: "keyword" }, k)))
              : null,
          )
        : null,
    );
  }

  /** Children in this exact order, touching the DOM only where it differs (keeps scroll and focus). */
  function syncChildren(parent, wanted) {
    let cursor = parent.firstChild;
    for (const node of wanted) {
      if (node === cursor) cursor = cursor.nextSibling;
      else parent.insertBefore(node, cursor);
    }
    while (cursor) {
      const next = cursor.nextSibling;
      cursor.remove();
      cursor = next;
    }
  }

  /** Keywords of `topic` that no other topic with the same label has (none when its label is unique):
   *  the API's labels are unique display names, but an older service's were not. */
  function distinctKeywords(topic, topics) {
    const same = topics.filter((t) => t !== topic && (t.label || "") === (topic.label || ""));
    if (!same.length) return [];
    const taken = new Set(same.flatMap((t) => (t.keywords || []).map(fold)));
    const own = (topic.keywords || []).filter((k) => !taken.has(fold(k))).slice(0, 2);
    return own.length ? own : [`#${topic.id}`];
  }

  // ---- the board's model: columns that keep their order ----------------------------------------------
  function newColumn(id, unassigned) {
    const section = el("section", {
      class: "topic" + (unassigned ? " topic-unassigned" : ""),
      dataset: { topicId: id },
      "aria-labelledby": `topic-${id}-label`,
    });
    const list = el("ol", { class: "story-list" });
    const more = el("button", { type: "button", class: "button topic-more", dataset: { topicId: id } });
    const foot = el("div", { class: "topic-foot", hidden: true }, more);
    section.append(el("header"), list, el("p", { class: "topic-empty", hidden: true }, "No stories yet."), foot);
    return { id, unassigned, head: null, total: 0, ids: [], distinct: [], fresh: null, section, list, more, foot, headerSig: null, loading: false, error: false };
  }

  const topicTotal = (t) => count(t.n_stories, count(t.size, (t.stories || []).length));

  /** What the board would show with `data`, the cards already there keeping their column and their order:
   *  a column's new stories go first, a new topic goes first (after "New, not yet grouped"). Touches no DOM.
   *  A card is dropped when the data puts it in another column, or when it should be in its column's first
   *  page and is not; a card loaded with "N more", older than that page, stays. */
  function planBoard(data) {
    const topics = Array.isArray(data.topics) ? data.topics : [];
    const unassigned = Array.isArray(data.unassigned) ? data.unassigned : [];
    const pages = new Map();
    pages.set(UNASSIGNED, { unassigned: true, head: { id: UNASSIGNED }, total: count(data.unassigned_total, unassigned.length), stories: unassigned });
    for (const t of topics) {
      const { stories: _omit, ...head } = t;
      pages.set(String(t.id), { unassigned: false, head, total: topicTotal(t), stories: t.stories || [] });
    }
    const owner = new Map(); // story id -> the column the data puts it in
    const byId = new Map();
    for (const [cid, page] of pages) {
      for (const s of page.stories) {
        const id = String(s.id);
        if (owner.has(id)) continue;
        owner.set(id, cid);
        byId.set(id, s);
      }
    }
    const freshTopics = topics.map((t) => String(t.id)).filter((cid) => !columns.has(cid));
    const kept = columnOrder.filter((cid) => cid !== UNASSIGNED && pages.has(cid));
    const plan = { order: [], cols: new Map(), byId, updates: 0 };
    for (const cid of [UNASSIGNED, ...freshTopics, ...kept]) {
      const page = pages.get(cid);
      const before = columns.has(cid) ? columns.get(cid).ids : [];
      const pageIds = page.stories.map((s) => String(s.id)).filter((id) => owner.get(id) === cid);
      const inPage = new Set(pageIds);
      const had = new Set(before);
      const complete = page.stories.length >= page.total;
      const oldest = page.stories.reduce((m, s) => Math.min(m, parseTime(s.last_seen) ?? Infinity), Infinity);
      const keep = before.filter((id) => {
        if (inPage.has(id)) return true;
        if (owner.has(id) || complete) return false;
        const seen = parseTime(storyData.get(id)?.last_seen);
        return seen != null && seen <= oldest;
      });
      const added = pageIds.filter((id) => !had.has(id));
      const ids = [...added, ...keep];
      if (cid === UNASSIGNED && !ids.length && !page.total) continue;
      plan.order.push(cid);
      plan.cols.set(cid, { unassigned: page.unassigned, head: page.head, total: page.total, ids, fresh: columns.has(cid) ? new Set(added) : null });
    }
    // How many changes the editor would see: cards that appear, go, move, or change; columns that come or go.
    const where = (cols, get) => {
      const out = new Map();
      for (const [cid, col] of cols) for (const id of get(col)) out.set(id, cid);
      return out;
    };
    const now = where(columns, (c) => c.ids);
    const next = where(plan.cols, (c) => c.ids);
    for (const [id, cid] of next) {
      if (now.get(id) !== cid || (byId.has(id) && JSON.stringify(byId.get(id)) !== JSON.stringify(storyData.get(id)))) plan.updates++;
    }
    for (const id of now.keys()) if (!next.has(id)) plan.updates++;
    for (const cid of plan.order) if (!columns.has(cid)) plan.updates++;
    for (const cid of columns.keys()) if (!plan.cols.has(cid)) plan.updates++;
    return plan;
  }

  function applyPlan(plan, data) {
    const first = !state.shown;
    state.shown = data;
    for (const [id, s] of plan.byId) storyData.set(id, s);
    const appeared = [];
    for (const cid of plan.order) {
      const p = plan.cols.get(cid);
      let col = columns.get(cid);
      if (!col) {
        col = newColumn(cid, p.unassigned);
        columns.set(cid, col);
        if (!first) appeared.push(col);
      }
      col.head = p.head;
      col.total = p.total;
      col.ids = p.ids;
      col.fresh = p.fresh;
      col.error = false;
    }
    for (const cid of [...columns.keys()]) if (!plan.cols.has(cid)) columns.delete(cid);
    columnOrder = plan.order;
    drawBoard();
    for (const col of appeared) flash(col.section, "topic-new");
  }

  function drawColumn(col, topRecent) {
    const headerSig = JSON.stringify([col.head, col.total, col.distinct]);
    if (headerSig !== col.headerSig) {
      col.section.firstChild.replaceWith(topicHeader(col));
      col.headerSig = headerSig;
    }
    col.section.dataset.total = String(col.total);
    col.section.dataset.loaded = String(col.ids.length);
    if (col.head && col.head.category) col.section.dataset.category = String(col.head.category);
    else delete col.section.dataset.category;
    const fresh = col.fresh;
    col.fresh = null;
    syncChildren(
      col.list,
      col.ids.map((id) => {
        const story = storyData.get(id);
        const node = cachedStory(storyEls, story, isGrowing(story, topRecent), col.id);
        if (fresh && fresh.has(id)) flash(node, "story-new");
        return node;
      }),
    );
    drawMore(col);
  }

  function drawMore(col) {
    const remaining = Math.max(0, col.total - col.ids.length);
    const button = col.more;
    col.foot.hidden = remaining === 0;
    button.dataset.remaining = String(remaining);
    button.disabled = col.loading;
    button.setAttribute("aria-busy", String(col.loading));
    const text = col.loading ? "Loading…" : col.error ? `Could not load: retry ${remaining} more` : `${remaining} more`;
    if (button.textContent !== text) button.textContent = text;
    button.setAttribute("aria-label", `${text} (${columnLabel(col)})`);
    button.title = `Load the next ${Math.min(remaining, config.pageSize)} of the ${remaining} stories not shown`;
  }

  /** Draw every column from the model, touching only what differs. */
  function drawBoard() {
    // A story redrawn (its data changed) or moved to another column loses the focus: give it back after.
    const focused = document.activeElement;
    const focusedStory = focused instanceof Element ? focused.closest("#board li.story") : null;

    const cols = columnOrder.map((cid) => columns.get(cid));
    const heads = cols.filter((c) => !c.unassigned).map((c) => c.head);
    let topRecent = 0;
    for (const col of cols) for (const id of col.ids) topRecent = Math.max(topRecent, Number(storyData.get(id)?.recent_count) || 0);
    const onBoard = new Set(cols.flatMap((c) => c.ids));
    for (const col of cols) {
      col.distinct = col.unassigned ? [] : distinctKeywords(col.head, heads);
      drawColumn(col, topRecent);
    }
    const board = $("#board");
    syncChildren(board, [$("#board-empty"), ...cols.map((c) => c.section)]);
    if (focusedStory && document.activeElement !== focused) {
      const again = focused.isConnected ? focused : storyEls.get(focusedStory.dataset.storyId)?.el.querySelector(".story-open");
      if (again && onBoard.has(focusedStory.dataset.storyId)) again.focus({ preventScroll: true });
    }
    for (const id of [...storyEls.keys()]) if (!onBoard.has(id)) storyEls.delete(id);
    for (const id of [...storyData.keys()]) if (!onBoard.has(id)) storyData.delete(id);
    board.setAttribute("aria-busy", "false");

    updateSourceOptions([...onBoard].map((id) => storyData.get(id)));
    applyFilters();
    updateNewSince();
  }

  /** "N more": the column's next page, appended (nothing above it moves). */
  async function loadMore(columnId) {
    const col = columns.get(String(columnId));
    if (!col || col.loading) return;
    const hadFocus = document.activeElement === col.more;
    col.loading = true;
    col.error = false;
    drawMore(col);
    const added = [];
    try {
      let offset = col.ids.length;
      for (let tries = 0; tries < 3; tries++) {
        const params = new URLSearchParams({ limit: String(config.pageSize), offset: String(offset) });
        if (col.unassigned) params.set("unassigned", "true");
        else params.set("topic_id", col.id);
        const response = await fetch(`/v1/stories?${params}`, { headers: readHeaders(), cache: "no-store" });
        if (!response.ok) throw new Error(`answered ${response.status}`);
        const body = await response.json();
        const page = Array.isArray(body.stories) ? body.stories : [];
        if (!columns.has(col.id)) return; // the topic went while we asked
        // a story already shown here is not shown twice; one shown in another column moves here
        for (const s of page) {
          const id = String(s.id);
          if (col.ids.includes(id)) continue;
          for (const other of columns.values()) if (other !== col) other.ids = other.ids.filter((x) => x !== id);
          storyData.set(id, s);
          col.ids.push(id);
          added.push(id);
        }
        col.total = count(body.total, col.total);
        offset += page.length;
        // stories that arrived meanwhile shift the pages: ask the next one when this one brought nothing new
        if (added.length || !page.length || offset >= col.total) break;
      }
    } catch {
      col.error = true;
    } finally {
      col.loading = false;
    }
    drawBoard();
    // the keyboard goes on with the first story loaded (the button may be gone: nothing left to load)
    if (hadFocus && added.length) storyEls.get(added[0])?.el.querySelector(".story-open")?.focus({ preventScroll: true });
  }

  // ---- holding updates while the editor reads -------------------------------------------------------
  /** The editor is reading the board: the pointer is over it (or over the updates bar), or the keyboard's
   *  focus is in it (focus left by a mouse click does not count: the pointer says where a mouse user reads). */
  function isReading() {
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

  function showHeld(n) {
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
  function receive(data) {
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

  function showUpdates() {
    if (state.pending) apply(state.pending);
  }

  function updateSourceOptions(stories) {
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

  // ---- filtering ----------------------------------------------------------------------------------
  function readFilters() {
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
  function applyFilters() {
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

  function updateCount() {
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

  function writeFiltersToUrl(f) {
    const params = new URLSearchParams(location.search);
    for (const [key, value] of Object.entries(f)) {
      if (value && !(key === "window" && value === "all")) params.set(key, value);
      else params.delete(key);
    }
    const search = params.toString();
    const url = location.pathname + (search ? `?${search}` : "") + location.hash;
    if (url !== location.pathname + location.search + location.hash) history.replaceState(null, "", url);
  }

  function readFiltersFromUrl() {
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

  // ---- search: the server's, in every language ------------------------------------------------------
  const search = { active: false, q: "", stories: [], total: 0, error: "", controller: null, seq: 0, timer: null };

  function searchParams(f, offset) {
    const params = new URLSearchParams({ q: f.q.trim(), limit: String(config.pageSize), offset: String(offset) });
    if (f.lang) params.set("lang", f.lang);
    if (f.source) params.set("source", f.source);
    const span = WINDOWS_MS[f.window] ?? Infinity;
    if (span !== Infinity) params.set("since", new Date(Date.now() + state.serverOffsetMs - span).toISOString());
    return params;
  }

  /** Ask the server (a new question aborts the one in flight); `more` asks the next page of the same one. */
  async function runSearch(more = false) {
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
      const response = await fetch(`/v1/stories?${searchParams(f, offset)}`, { headers: readHeaders(), cache: "no-store", signal: controller.signal });
      if (!response.ok) throw new Error(await refusal(response));
      const body = await response.json();
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

  function scheduleSearch() {
    clearTimeout(search.timer);
    if (!$("#filter-search").value.trim()) {
      runSearch(); // clearing the box brings the board back at once
      return;
    }
    search.timer = setTimeout(runSearch, SEARCH_DELAY_MS);
  }

  function endSearch() {
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

  function drawSearch() {
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

  // ---- "N new since you looked" --------------------------------------------------------------------
  function readLooked() {
    try {
      return parseTime(localStorage.getItem(LOOKED_KEY));
    } catch {
      return state.lookedAt; // storage refused: this page only
    }
  }

  function writeLooked(ms) {
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
  function markSeen() {
    const generated = parseTime(state.shown && state.shown.generated_at);
    writeLooked(generated != null ? generated + 1000 : Date.now() + state.serverOffsetMs);
    state.newCount = null;
    redraw();
  }

  function redraw() {
    drawBoard();
    if (search.active) drawSearch();
  }

  /** The server's count of stories first seen at or after lookedAt: those seen since it, less those among
   *  them first seen before it (last_seen >= first_seen, so this is exact). */
  async function countNew() {
    const looked = state.lookedAt;
    if (looked == null) return;
    const seq = ++state.newSeq;
    const total = async (params) => {
      const response = await fetch(`/v1/stories?${new URLSearchParams({ limit: "1", ...params })}`, { headers: readHeaders(), cache: "no-store" });
      if (!response.ok) throw new Error(String(response.status));
      const n = Number((await response.json()).total);
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

  function updateNewSince() {
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

  // ---- status -------------------------------------------------------------------------------------
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

  function refreshRelativeTimes() {
    const now = Date.now();
    for (const t of document.querySelectorAll("time[data-rel]")) {
      const ms = Date.parse(t.getAttribute("datetime"));
      if (Number.isFinite(ms)) {
        const text = relativeTime(ms, now);
        if (t.textContent !== text) t.textContent = text;
      }
    }
  }

  // ---- feeds panel: each followed feed's health (GET /v1/feeds) ------------------------------------
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

  async function pollFeeds(force = false) {
    const now = Date.now();
    if (feedsPoll.busy || (!force && now - feedsPoll.last < Math.max(config.intervalMs, 5000))) return;
    feedsPoll.busy = true;
    feedsPoll.last = now;
    const panel = $("#feeds-panel");
    try {
      const response = await fetch("/v1/feeds", { headers: readHeaders(), cache: "no-store" });
      if (!response.ok) {
        await response.arrayBuffer().catch(() => null);
        if (response.status === 401 || response.status === 404) panel.hidden = true;
        return;
      }
      const data = await response.json();
      const feeds = Array.isArray(data.feeds) ? data.feeds : [];
      const failing = feeds.filter((f) => f.status === "error" || f.status === "disabled").length;
      panel.dataset.total = String(feeds.length);
      panel.dataset.failing = String(failing);
      $("#feeds-summary").textContent = `${feeds.length} feed${feeds.length === 1 ? "" : "s"} · ${failing} failing`;
      $("#feeds-list").replaceChildren(...feeds.map(renderFeed));
      panel.hidden = feeds.length === 0;
    } catch {
      /* the board's status already says the service is unreachable; the panel keeps what it showed */
    } finally {
      feedsPoll.busy = false;
    }
  }

  // ---- polling ------------------------------------------------------------------------------------
  async function poll() {
    if (state.inFlight) return state.inFlight;
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), config.timeoutMs);
    const url = new URL("/v1/clusters", location.origin);
    if (config.storiesPerTopic) url.searchParams.set("stories_per_topic", String(config.storiesPerTopic));
    if (config.unassignedLimit) url.searchParams.set("unassigned_limit", String(config.unassignedLimit));
    const headers = readHeaders();
    if (state.etag) headers["If-None-Match"] = state.etag;
    const retryText = `Retrying every ${config.intervalMs / 1000} s.`;

    state.inFlight = (async () => {
      try {
        const response = await fetch(url, { headers, cache: "no-store", signal: controller.signal });
        if (response.status === 304) {
          await response.arrayBuffer(); // drain the empty body so the request completes cleanly
          if (state.online !== true) setStatus("live", "Live");
          return;
        }
        if (!response.ok) await response.arrayBuffer().catch(() => null);
        if (response.status >= 500) {
          setStatus("offline", "Offline", `The service answered ${response.status}. ${retryText}`);
          return;
        }
        if (!response.ok) {
          setStatus("error", `Error ${response.status}`, `The service refused the request (${response.status}). ${retryText}`);
          return;
        }
        const text = await response.text();
        const data = JSON.parse(text);
        state.etag = response.headers.get("ETag");
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
  async function refresh(force = false) {
    clearTimeout(state.timer);
    await poll();
    if (force === true) showUpdates();
    schedule();
  }

  // ---- story panel: every version of one story, and editors' corrections ---------------------------
  const KEY_STORAGE = "ticker.apiKey";
  const PANEL_PAGE = 200;
  const panel = {
    requestedId: null, // the story the editor opened: reloaded after each correction
    story: null, // the story shown (where the requested one went, when it was merged)
    opener: null, // the element focus goes back to
    loadSeq: 0, // answers to an older load are dropped
    pending: null, // the correction waiting for the API key
    busy: false,
  };

  // The key lives in sessionStorage: this tab only, gone with it. Where storage is refused, this page only.
  let memoryKey = null;
  const apiKey = {
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

  /** What the service said when it refused: its `detail` (a string, or a 422's list of errors). */
  async function refusal(response) {
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

  function panelError(text) {
    const box = $("#panel-error");
    box.textContent = text || "";
    box.hidden = !text;
  }

  function panelResult(text, correction, undoable) {
    const box = $("#panel-result");
    box.hidden = !text;
    $("#panel-result-text").textContent = text || "";
    box.dataset.correctionId = correction ? String(correction.id) : "";
    box.dataset.kind = correction ? (undoable ? correction.kind : "undo") : "";
    $("#panel-undo").hidden = !undoable;
  }

  function askForKey(action, why) {
    panel.pending = action;
    const form = $("#panel-key-form");
    $("#panel-key-label").textContent = why || "Corrections need the service's API key.";
    form.hidden = false;
    $("#panel-key").value = "";
    $("#panel-key").focus();
  }


  function panelVersion(h, story) {
    const id = String(h.headline_id);
    const code = (h.lang || "").toLowerCase();
    const href = h.url && safeUrl(h.url);
    const titleId = `panel-h-${id}`;
    const published = parseTime(h.published_at);
    const ms = published ?? parseTime(h.received_at);
    const similarity = Number(h.similarity);
    const canonical = story.canonical && story.canonical.headline_id === h.headline_id;
    const alone = (Number(story.size) || 0) <= 1;
    return el(
      "li",
      { class: "panel-version", dataset: canonical ? { headlineId: id, canonical: "" } : { headlineId: id } },
      el(
        href ? "a" : "span",
        {
          class: "panel-version-title",
          id: titleId,
          lang: code || null,
          dir: "auto",
          href,
          target: href ? "_blank" : null,
          rel: href ? "noopener noreferrer" : null,
        },
        h.title || "(untitled)",
      ),
      el(
        "div",
        { class: "panel-version-meta" },
        ms == null
          ? null
          : el(
              "time",
              {
                class: "panel-version-time",
                datetime: new Date(ms).toISOString(),
                title: published != null ? "Published" : "Received (no publication time given)",
                dataset: { kind: published != null ? "published" : "received" },
              },
              when(ms),
            ),
        el("span", { class: "panel-version-source" }, h.source || "unknown source"),
        langBadge(h.lang),
        canonical ? el("span", { class: "panel-version-lead" }, "canonical") : null,
        el(
          "span",
          { class: "panel-version-match", title: "How it joined the story", dataset: { match: h.match || "" } },
          h.match || "first",
        ),
        el(
          "span",
          {
            class: "panel-version-similarity",
            title: "Similarity to the canonical headline",
            dataset: { similarity: Number.isFinite(similarity) ? String(similarity) : "" },
          },
          Number.isFinite(similarity) ? `sim ${similarity.toFixed(3)}` : "sim —",
        ),
      ),
      el(
        "button",
        {
          type: "button",
          class: "button button-small panel-move",
          dataset: { headlineId: id },
          "aria-describedby": titleId,
          disabled: alone,
          title: alone ? "The story's only headline: there is nothing to split" : "Move this headline out to a new story",
        },
        "Move out",
      ),
    );
  }

  function renderPanelStory(story, mergedFrom) {
    const dialog = $("#story-panel");
    panel.story = story;
    dialog.dataset.storyId = String(story.id);
    $("#panel-title").textContent = `Story ${story.id}`;

    const merged = $("#panel-merged");
    merged.hidden = mergedFrom == null;
    merged.dataset.mergedFrom = mergedFrom ?? "";
    merged.dataset.mergedInto = mergedFrom == null ? "" : String(story.id);
    merged.textContent = mergedFrom == null ? "" : `Story ${mergedFrom} was merged into story ${story.id}: this is story ${story.id}.`;

    const canonical = story.canonical || {};
    const code = (canonical.lang || "").toLowerCase();
    const lead = $("#panel-canonical");
    lead.textContent = canonical.title || "(untitled)";
    if (code) lead.setAttribute("lang", code);
    else lead.removeAttribute("lang");
    lead.setAttribute("dir", "auto");

    const headlines = Array.isArray(story.headlines) ? story.headlines : [];
    const size = Number(story.size) || headlines.length;
    $("#panel-summary").textContent = [
      plural(size, "headline", "headlines"),
      storyLanguages(story).map((l) => l.toUpperCase()).join(" "),
      storySources(story).join(" · "),
    ]
      .filter(Boolean)
      .join(" — ");
    $("#panel-versions").replaceChildren(...headlines.map((h) => panelVersion(h, story)));
    const more = $("#panel-more");
    more.hidden = headlines.length >= size;
    more.textContent = more.hidden ? "" : `Showing ${headlines.length} of ${size} headlines.`;
    $("#panel-story").hidden = false;
  }

  /** (Re)load the story the editor opened. A merged story's id answers 307: fetch follows it to the story
   *  it was merged into, which is shown, saying so. */
  async function loadPanelStory() {
    const id = panel.requestedId;
    if (id == null) return;
    const seq = ++panel.loadSeq;
    const dialog = $("#story-panel");
    dialog.setAttribute("aria-busy", "true");
    $("#panel-status").textContent = "Loading…";
    const headers = { Accept: "application/json" };
    const key = apiKey.get();
    if (key) headers["X-API-Key"] = key; // for a service that protects reads too
    try {
      const response = await fetch(`/v1/stories/${encodeURIComponent(id)}?limit=${PANEL_PAGE}`, { headers, cache: "no-store" });
      if (seq !== panel.loadSeq) return;
      if (!response.ok) {
        const why = await refusal(response);
        if (seq !== panel.loadSeq) return;
        panel.story = null;
        delete dialog.dataset.storyId;
        $("#panel-story").hidden = true;
        $("#panel-merged").hidden = true;
        panelError(response.status === 404 ? `Story ${id} no longer exists (${why}).` : why);
        return;
      }
      const story = await response.json();
      if (seq !== panel.loadSeq) return;
      renderPanelStory(story, response.redirected && String(story.id) !== id ? id : null);
    } catch {
      if (seq === panel.loadSeq) panelError("Cannot connect to the service.");
    } finally {
      if (seq === panel.loadSeq) {
        dialog.setAttribute("aria-busy", "false");
        $("#panel-status").textContent = "";
      }
    }
  }

  function openStory(storyId, opener) {
    const dialog = $("#story-panel");
    panel.requestedId = String(storyId);
    panel.story = null;
    panel.pending = null;
    panel.opener = opener || (document.activeElement !== document.body ? document.activeElement : null);
    dialog.dataset.requestedId = panel.requestedId;
    delete dialog.dataset.storyId;
    $("#panel-title").textContent = `Story ${storyId}`;
    $("#panel-story").hidden = true;
    $("#panel-merged").hidden = true;
    $("#panel-key-form").hidden = true;
    $("#panel-merge-into").value = "";
    panelError("");
    panelResult("");
    if (!dialog.open) dialog.showModal();
    $("#panel-title").focus();
    return loadPanelStory();
  }

  /** Close the panel, and give the focus back at once (the dialog's close event comes a task later). */
  function closeStory() {
    const dialog = $("#story-panel");
    if (dialog.open) dialog.close();
    onPanelClosed();
  }

  function onPanelClosed() {
    if (panel.requestedId == null) return; // done already
    const id = panel.requestedId;
    const shown = panel.story && String(panel.story.id);
    panel.loadSeq++;
    panel.requestedId = null;
    panel.pending = null;
    // Back to the card that opened the panel; the board may have redrawn it meanwhile.
    const card = (sid) => sid && document.querySelector(`li.story[data-story-id="${CSS.escape(sid)}"]:not([hidden]) .story-open`);
    const back = (panel.opener && panel.opener.isConnected && panel.opener) || card(id) || card(shown) || (search.active ? $("#filter-search") : $("#board"));
    panel.opener = null;
    back.focus();
  }

  /** A correction: POST with the key (asked first when none is known); then the panel and the board reload. */
  async function correct(action) {
    if (panel.busy) return;
    const key = apiKey.get();
    if (!key) {
      askForKey(action);
      return;
    }
    panel.pending = null;
    panel.busy = true;
    panelError("");
    const dialog = $("#story-panel");
    dialog.setAttribute("aria-busy", "true");
    const headers = { Accept: "application/json", "X-API-Key": key };
    if (action.body !== undefined) headers["Content-Type"] = "application/json";
    let response;
    try {
      response = await fetch(action.path, {
        method: "POST",
        headers,
        body: action.body === undefined ? undefined : JSON.stringify(action.body),
        cache: "no-store",
      });
    } catch {
      panelError("Cannot connect to the service: the correction may not have been made.");
      return;
    } finally {
      panel.busy = false;
      dialog.setAttribute("aria-busy", "false");
    }
    if (response.status === 401) {
      const why = await refusal(response);
      apiKey.forget();
      panelError(`The key was refused: ${why}`);
      askForKey(action, "That key was refused. Enter the service's API key again.");
      return;
    }
    if (!response.ok) {
      panelError(await refusal(response));
      return;
    }
    let correction = null;
    try {
      correction = await response.json();
    } catch {
      /* done, but unreadable: still reload */
    }
    panelResult(action.done(correction || {}), correction, action.undoable && correction != null);
    const focusLost = !dialog.contains(document.activeElement) || document.activeElement === document.body;
    // the editor's own change shows at once, held updates included
    await Promise.all([loadPanelStory(), refresh(true), search.active ? runSearch() : null]);
    if (focusLost || !document.activeElement || !document.activeElement.isConnected || !dialog.contains(document.activeElement)) {
      $("#panel-result-text").focus();
    }
  }

  function moveOut(headlineId) {
    return correct({
      path: "/v1/corrections/move",
      body: { headline_ids: [headlineId], to_story_id: null },
      undoable: true,
      done: (c) => `Headline ${headlineId} moved out` + (c.effect && c.effect.opened != null ? ` to new story ${c.effect.opened}.` : "."),
    });
  }

  function mergeInto(raw) {
    const text = String(raw || "").trim();
    const into = /^\d+$/.test(text) ? Number(text) : NaN;
    if (!panel.story) return null;
    if (!Number.isSafeInteger(into)) {
      panelError("Enter the id of the story to merge this one into (a number).");
      $("#panel-merge-into").focus();
      return null;
    }
    const from = panel.story.id;
    return correct({
      path: "/v1/corrections/merge",
      body: { story_id: from, into },
      undoable: true,
      done: () => {
        $("#panel-merge-into").value = "";
        return `Story ${from} merged into story ${into}.`;
      },
    });
  }

  function undo() {
    const id = $("#panel-result").dataset.correctionId;
    if (!id) return null;
    return correct({ path: `/v1/corrections/${encodeURIComponent(id)}/undo`, undoable: false, done: () => `Correction ${id} undone.` });
  }

  function initPanel() {
    const dialog = $("#story-panel");
    // A click on a card (on the board or in the search results) opens its story; links inside it still go where they go.
    $("#main").addEventListener("click", (e) => {
      const target = e.target instanceof Element ? e.target : null;
      const li = target && target.closest("li.story");
      if (!li) return;
      const button = target.closest(".story-open");
      if (!button && target.closest("a[href], button, input, select, textarea")) return;
      if (!button && String(window.getSelection() || "").trim()) return; // selecting text is not a click
      openStory(li.dataset.storyId, li.querySelector(".story-open"));
    });
    $("#panel-close").addEventListener("click", closeStory);
    // Escape closes through closeStory, so the focus is back on the card as soon as the panel is gone.
    dialog.addEventListener("keydown", (e) => {
      if (e.key !== "Escape" || e.defaultPrevented) return;
      e.preventDefault();
      closeStory();
    });
    dialog.addEventListener("close", onPanelClosed);
    // a click on the backdrop (the dialog itself, outside its body) closes it
    dialog.addEventListener("click", (e) => {
      if (e.target === dialog) closeStory();
    });
    $("#panel-versions").addEventListener("click", (e) => {
      const button = e.target instanceof Element && e.target.closest("button.panel-move");
      if (button && !button.disabled) moveOut(Number(button.dataset.headlineId));
    });
    $("#panel-merge-form").addEventListener("submit", (e) => {
      e.preventDefault();
      mergeInto($("#panel-merge-into").value);
    });
    $("#panel-undo").addEventListener("click", undo);
    $("#panel-key-form").addEventListener("submit", (e) => {
      e.preventDefault();
      const key = $("#panel-key").value.trim();
      if (!key) {
        $("#panel-key").focus();
        return;
      }
      apiKey.set(key);
      $("#panel-key").value = "";
      $("#panel-key-form").hidden = true;
      const action = panel.pending;
      panel.pending = null;
      if (action) correct(action);
    });
  }

  // ---- wiring -------------------------------------------------------------------------------------
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
})();
