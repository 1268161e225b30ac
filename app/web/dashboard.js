/*
 * Ticker desk — live dashboard of stories grouped by topic. Plain ES2020, no framework, no build step.
 * It uses the public API only: GET /v1/clusters (polled with If-None-Match; a 304 changes nothing).
 *
 * SECURITY: data (headlines, sources, keywords, labels) is only ever inserted as text
 * (textContent / createTextNode via el()); no innerHTML anywhere. Links come only from http(s) URLs.
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
 *   window.TickerDashboard  { refresh(): Promise, applyFilters(), fold(text), state }
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

    const seen = new Set();
    const sections = topics.map((t) => renderTopic(t, false, topRecent, seen, distinctKeywords(t, topics)));
    if (unassigned.length) sections.push(renderTopic({ label: "Unassigned", stories: unassigned }, true, topRecent, seen));

    // Columns and stories that did not change stay where they are; only differences touch the DOM.
    const board = $("#board");
    syncChildren(board, [$("#board-empty"), ...sections]);
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
    document.addEventListener("keydown", (e) => {
      const typing = e.target instanceof HTMLElement && e.target.closest("input, textarea, select, [contenteditable]");
      if (e.key === "/" && !typing && !e.ctrlKey && !e.metaKey && !e.altKey) {
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

  window.TickerDashboard = { refresh, applyFilters, fold, state, config };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
