/*
 * Ticker desk — live dashboard of stories grouped by topic. Plain ES2020, no framework, no build step.
 * It uses the public API only: GET /v1/clusters (polled with If-None-Match; a 304 changes nothing);
 * the story panel reads GET /v1/stories/{id} and posts editors' corrections to /v1/corrections/*.
 *
 * SECURITY: data (headlines, sources, keywords, labels) is only ever inserted as text
 * (textContent / createTextNode via el()); no innerHTML anywhere. Links come only from http(s) URLs.
 * The API key for corrections is asked when first needed and kept in sessionStorage (this tab only,
 * never localStorage); a 401 forgets it.
 *
 * Configuration (URL query, else <body data-*>):
 *   ?interval=5     poll period in seconds (body data-poll-interval; default 5, minimum 1)
 *   ?stories=10     stories_per_topic asked from the API (default: the server's)
 *   ?growing=3      recent_count (headlines in the last hour) from which a story is "growing"
 * Filters are mirrored in the URL too (?lang=fr&source=Le360&window=24h&q=sahara) so a view can be shared.
 *
 * ---- Hooks for browser tests (stable; please keep) ------------------------------------------------
 *   #status                text "Connecting…" | "Live" | "Offline" | "Error 4xx";  data-state="connecting|live|offline|error"
 *   #last-updated          "updated HH:MM:SS" (local time of the last 200 with data); data-updated-at = ISO time
 *   #offline-banner        [hidden] unless the last poll failed (network error, timeout, 5xx, 4xx); #offline-detail says why
 *   #refresh               button: poll now
 *   #filter-lang           <select> "" | fr | es | en | ar  (a story matches if any of its versions has that language)
 *   #filter-source         <select> "" | one source (options built from the data; a story matches if any version has it)
 *   #filter-window         <select> 1h | 6h | 24h | 7d | all   (story last_seen vs the server's generated_at clock)
 *   #filter-search         <input type=search> all words must appear in some version's title (case/accent-insensitive)
 *   #filter-reset          button: clear all filters
 *   #filter-count          "N of M stories"
 *   #board                 container of the columns; aria-busy until the first data arrives
 *   #board-empty           message shown when there is nothing to show
 *   section.topic[data-topic-id]       one column per topic; the unassigned column has data-topic-id="unassigned"
 *                                      [hidden] when filters leave it no story; data-visible-count = stories shown
 *     .topic-label, .topic-count, .topic-langs .lang-badge, .topic-keywords .keyword, .topic-empty
 *     .topic-sublabel      only when several topics share a label: the keywords that tell this one apart
 *   li.story[data-story-id]            one story; data-size, data-recent, data-languages="fr ar", data-topic-id
 *                                      [hidden] when filtered out; .story-growing when it grows fast; .story-new when just arrived
 *     .story-title         canonical headline (lang + dir="auto"; Arabic gets dir="rtl")
 *     .lang-badge          data-lang="fr" text "FR" (in the story head, in each version, in the topic head)
 *     .story-size          "×N" times seen (story.size)
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
 *   window.TickerDashboard  { refresh(): Promise, applyFilters(), fold(text), openStory(id): Promise, state }
 */
(() => {
  "use strict";

  const LANG_NAMES = { fr: "French", es: "Spanish", en: "English", ar: "Arabic" };
  const RTL_LANGS = new Set(["ar", "fa", "he", "ur"]);
  const WINDOWS_MS = { "1h": 3600e3, "6h": 6 * 3600e3, "24h": 24 * 3600e3, "7d": 7 * 24 * 3600e3, all: Infinity };
  const UNASSIGNED = "unassigned";

  // ---- configuration ------------------------------------------------------------------------------
  const query = new URLSearchParams(location.search);
  const numberParam = (name, fallback, min) => {
    const raw = query.get(name) ?? document.body.dataset[name === "interval" ? "pollInterval" : name];
    const value = Number(raw);
    return raw != null && raw !== "" && Number.isFinite(value) && value >= min ? value : fallback;
  };
  const config = {
    intervalMs: numberParam("interval", 5, 1) * 1000,
    storiesPerTopic: numberParam("stories", 0, 1) || null,
    growingAt: numberParam("growing", 3, 1),
  };
  // a hung connection must surface as "offline" rather than leave the page silently stale
  config.timeoutMs = Math.max(4000, 2 * config.intervalMs);

  // ---- state --------------------------------------------------------------------------------------
  const state = {
    data: null, // last /v1/clusters body
    rawText: "", // to skip re-rendering an identical 200
    etag: null,
    serverOffsetMs: 0, // server clock (generated_at) minus ours, for time windows
    knownStoryIds: null, // Set after the first render, to flag new arrivals
    inFlight: null,
    timer: null,
    online: null,
  };
  const storyEls = new Map(); // story id -> { sig, el }
  const topicEls = new Map(); // topic id -> { section, headerSig, list }

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

  /** Fold all titles once per story data, not once per keystroke. */
  const searchKeys = new WeakMap();
  function storySearchKey(story) {
    let key = searchKeys.get(story);
    if (key == null) {
      key = allVersions(story).map((v) => fold(v.title)).join(" \u0000 ");
      searchKeys.set(story, key);
    }
    return key;
  }

  function isGrowing(story, topRecent) {
    const recent = Number(story.recent_count) || 0;
    return recent >= config.growingAt || (recent >= 2 && recent === topRecent);
  }

  // ---- rendering ----------------------------------------------------------------------------------
  function renderStory(story, growing, topicId) {
    const canonical = story.canonical || {};
    const langs = storyLanguages(story);
    const sources = storySources(story);
    const recent = Number(story.recent_count) || 0;
    const size = Number(story.size) || 1;
    const versions = (story.versions || []).filter((v) => v && v.headline_id !== canonical.headline_id);

    const li = el("li", {
      class: "story" + (growing ? " story-growing" : ""),
      dataset: {
        storyId: String(story.id),
        topicId: String(topicId),
        size: String(size),
        recent: String(recent),
        languages: langs.join(" "),
        lastSeen: story.last_seen || "",
      },
    });
    li.append(
      el("div", { class: "story-head" }, langBadge(canonical.lang), titleEl("span", "story-title", canonical.title, canonical.lang, canonical.url)),
      el(
        "div",
        { class: "story-meta" },
        el("span", { class: "story-size", title: `Seen ${size} time${size === 1 ? "" : "s"}` }, `×${size}`),
        growing ? el("span", { class: "growing-badge", title: "Headlines in the last hour" }, `▲ ${recent} in 1h`) : null,
        sources.length ? el("span", { class: "story-sources" }, sources.join(" · ")) : null,
        timeEl(story.last_seen || canonical.published_at, "story-time"),
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

  /** Reuse a story's element when its data did not change, so the page does not flicker or lose focus. */
  function storyElement(story, growing, topicId, seen) {
    const sig = JSON.stringify([story, growing, topicId]);
    const id = String(story.id);
    seen.add(id);
    const cached = storyEls.get(id);
    if (cached && cached.sig === sig) return cached.el;
    const node = renderStory(story, growing, topicId);
    node.__story = story;
    if (state.knownStoryIds && !state.knownStoryIds.has(id)) {
      node.classList.add("story-new");
      setTimeout(() => node.classList.remove("story-new"), 8000);
    }
    storyEls.set(id, { sig, el: node });
    return node;
  }

  function topicHeader(topic, isUnassigned, storyCount, distinct) {
    const labelId = `topic-${topic.id}-label`;
    const keywords = (topic.keywords || []).slice(0, 6);
    const langs = topic.languages || [];
    const nHeadlines = Number(topic.n_headlines) || 0;
    const count = isUnassigned
      ? `${storyCount} stor${storyCount === 1 ? "y" : "ies"}`
      : `${topic.size ?? storyCount} stor${(topic.size ?? storyCount) === 1 ? "y" : "ies"}` +
        (nHeadlines ? ` · ${nHeadlines} headlines` : "");
    return el(
      "header",
      { class: "topic-head" },
      el("h2", { class: "topic-label", id: labelId }, topic.label || (isUnassigned ? "Unassigned" : `Topic ${topic.id}`)),
      distinct.length ? el("span", { class: "topic-sublabel", title: "Several topics share this label" }, distinct.join(" · ")) : null,
      el("span", { class: "topic-count" }, count),
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
   *  three columns all called "Sahara & diplomacy" must still be told apart at a glance. */
  function distinctKeywords(topic, topics) {
    const same = topics.filter((t) => t !== topic && (t.label || "") === (topic.label || ""));
    if (!same.length) return [];
    const taken = new Set(same.flatMap((t) => (t.keywords || []).map(fold)));
    const own = (topic.keywords || []).filter((k) => !taken.has(fold(k))).slice(0, 2);
    return own.length ? own : [`#${topic.id}`];
  }

  function renderTopic(topic, isUnassigned, topRecent, seen, distinct = []) {
    const topicId = isUnassigned ? UNASSIGNED : String(topic.id);
    const stories = topic.stories || [];
    let entry = topicEls.get(topicId);
    if (!entry) {
      const section = el("section", {
        class: "topic" + (isUnassigned ? " topic-unassigned" : ""),
        dataset: { topicId },
        "aria-labelledby": `topic-${topicId}-label`,
      });
      entry = { section, headerSig: null, list: el("ol", { class: "story-list" }) };
      section.append(el("header"), entry.list, el("p", { class: "topic-empty", hidden: true }, "No stories yet."));
      topicEls.set(topicId, entry);
    }
    const { stories: _omit, ...head } = topic;
    const headerSig = JSON.stringify([head, stories.length, distinct]);
    if (headerSig !== entry.headerSig) {
      entry.section.firstChild.replaceWith(topicHeader({ ...topic, id: topicId }, isUnassigned, stories.length, distinct));
      entry.headerSig = headerSig;
    }
    syncChildren(entry.list, stories.map((s) => storyElement(s, isGrowing(s, topRecent), topicId, seen)));
    return entry.section;
  }

  function render(data) {
    const topics = Array.isArray(data.topics) ? data.topics : [];
    const unassigned = Array.isArray(data.unassigned) ? data.unassigned : [];
    const everyStory = topics.flatMap((t) => t.stories || []).concat(unassigned);
    const topRecent = everyStory.reduce((m, s) => Math.max(m, Number(s.recent_count) || 0), 0);

    // A story redrawn (its data changed) or moved to another column loses the focus: give it back after.
    const focused = document.activeElement;
    const focusedStory = focused instanceof Element ? focused.closest("#board li.story") : null;

    const seen = new Set();
    const sections = topics.map((t) => renderTopic(t, false, topRecent, seen, distinctKeywords(t, topics)));
    if (unassigned.length) sections.push(renderTopic({ label: "Unassigned", stories: unassigned }, true, topRecent, seen));

    // Columns and stories that did not change stay where they are; only differences touch the DOM.
    const board = $("#board");
    syncChildren(board, [$("#board-empty"), ...sections]);
    if (focusedStory && document.activeElement !== focused) {
      const again = focused.isConnected
        ? focused
        : storyEls.get(focusedStory.dataset.storyId)?.el.querySelector(".story-open");
      if (again && seen.has(focusedStory.dataset.storyId)) again.focus({ preventScroll: true });
    }
    const liveTopics = new Set(sections.map((sec) => sec.dataset.topicId));
    for (const id of [...topicEls.keys()]) if (!liveTopics.has(id)) topicEls.delete(id);
    for (const id of [...storyEls.keys()]) if (!seen.has(id)) storyEls.delete(id);
    state.knownStoryIds = seen;
    board.setAttribute("aria-busy", "false");

    updateSourceOptions(everyStory);
    applyFilters();
  }

  function updateSourceOptions(stories) {
    const select = $("#filter-source");
    const current = select.value;
    const sources = new Set();
    for (const s of stories) for (const src of storySources(s)) sources.add(src);
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

  function storyMatches(story, f, words, cutoff) {
    if (f.lang && !storyLanguages(story).includes(f.lang)) return false;
    if (f.source && !storySources(story).includes(f.source)) return false;
    if (cutoff > -Infinity) {
      const seen = parseTime(story.last_seen) ?? parseTime(story.canonical && story.canonical.published_at);
      if (seen == null || seen < cutoff) return false;
    }
    if (words.length) {
      const key = storySearchKey(story);
      if (!words.every((w) => key.includes(w))) return false;
    }
    return true;
  }

  function applyFilters() {
    const f = readFilters();
    const words = fold(f.q).split(" ").filter(Boolean);
    const span = WINDOWS_MS[f.window] ?? Infinity;
    const cutoff = span === Infinity ? -Infinity : Date.now() + state.serverOffsetMs - span;
    const active = Boolean(f.lang || f.source || words.length || span !== Infinity);

    let shown = 0;
    let total = 0;
    for (const section of document.querySelectorAll("#board section.topic")) {
      let visible = 0;
      for (const li of section.querySelectorAll("li.story")) {
        const ok = storyMatches(li.__story, f, words, cutoff);
        li.hidden = !ok;
        visible += ok ? 1 : 0;
      }
      total += section.querySelectorAll("li.story").length;
      shown += visible;
      section.dataset.visibleCount = String(visible);
      section.hidden = active && visible === 0;
      const note = section.querySelector(".topic-empty");
      note.hidden = visible > 0;
      note.textContent = active ? "No story here matches the filters." : "No stories yet.";
    }
    $("#filter-count").textContent = state.data ? `${shown} of ${total} stories` : "";
    const empty = $("#board-empty");
    empty.hidden = shown > 0;
    if (state.data) empty.textContent = total ? "No story matches these filters." : "No stories yet.";
    writeFiltersToUrl(f);
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

  // ---- polling ------------------------------------------------------------------------------------
  async function poll() {
    if (state.inFlight) return state.inFlight;
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), config.timeoutMs);
    const url = new URL("/v1/clusters", location.origin);
    if (config.storiesPerTopic) url.searchParams.set("stories_per_topic", String(config.storiesPerTopic));
    const headers = { Accept: "application/json" };
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
          state.data = data;
          render(data);
        }
      } catch (err) {
        const why = err && err.name === "AbortError" ? "No answer in time." : err instanceof SyntaxError ? "Unreadable answer." : "Cannot connect.";
        setStatus("offline", "Offline", `${why} ${retryText}`);
      } finally {
        clearTimeout(timer);
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
      schedule();
    }, delayMs);
  }

  async function refresh() {
    clearTimeout(state.timer);
    await poll();
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

  const plural = (n, one, many) => `${n} ${n === 1 ? one : many}`;
  const when = (ms) => new Date(ms).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });

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
    const back = (panel.opener && panel.opener.isConnected && panel.opener) || card(id) || card(shown) || $("#board");
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
    await Promise.all([loadPanelStory(), refresh()]);
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
    // A click on a card opens its story; links inside it still go where they go.
    $("#board").addEventListener("click", (e) => {
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
    const form = $("#filters");
    let searchTimer = null;
    form.addEventListener("submit", (e) => e.preventDefault());
    form.addEventListener("change", applyFilters);
    $("#filter-search").addEventListener("input", () => {
      clearTimeout(searchTimer);
      searchTimer = setTimeout(applyFilters, 120);
    });
    form.addEventListener("reset", (e) => {
      e.preventDefault();
      $("#filter-lang").value = "";
      $("#filter-source").value = "";
      $("#filter-window").value = "all";
      $("#filter-search").value = "";
      applyFilters();
    });
    $("#refresh").addEventListener("click", refresh);
    initPanel();
    document.addEventListener("keydown", (e) => {
      const typing = e.target instanceof HTMLElement && e.target.closest("input, textarea, select, [contenteditable]");
      if (e.key === "/" && !typing && !e.ctrlKey && !e.metaKey && !e.altKey && !$("#story-panel").open) {
        e.preventDefault();
        $("#filter-search").focus();
      }
    });
    // Background tabs are throttled anyway: catch up as soon as the editor looks again.
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible") refresh();
    });
    refresh();
  }

  window.TickerDashboard = { refresh, applyFilters, fold, openStory, state, config };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
