/*
 * Ticker dedup — CMS plugin. Include it on an editor page:
 *
 *   <script src="https://host/plugin.js"
 *           data-selector="#headline"            (headline input; default input[name=title])
 *           data-endpoint="https://host"          (service base URL; default: where this script came from)
 *           data-api-key="..."                    (sent as X-API-Key; optional)
 *           data-lang-selector="#lang"            (optional: element whose value is the headline language)
 *           data-debounce="400" data-min-length="10"></script>
 *
 * As the editor types, it calls POST {endpoint}/v1/dedup/check {"title", "lang"?} (debounced; a newer
 * keystroke aborts the older request) and shows a box right after the input (which gets dir="auto", so an
 * Arabic headline reads right to left):
 *   .ticker-dedup-box[data-state="idle|checking|duplicate|possible|clear|error"]   (role=status, always present once attached)
 *     .ticker-dedup-warning[data-verdict]   when the verdict is duplicate or possible:
 *       .ticker-dedup-warning-title  the verdict in words, with the calibrated confidence ("Already ran: … (confidence 99 %)")
 *       .ticker-dedup-story          the whole story, from the answer's `story`: "Ran in FR, ES, EN, AR · 9 headlines · 7 outlets"
 *       .ticker-dedup-versions       the story's headlines by language: every language of the story (`story.versions`,
 *                                    in the order they ran; without it, the languages of the top matches):
 *         .ticker-dedup-version[data-lang] > .ticker-dedup-version-lang ("FR · 2"), .ticker-dedup-list > .ticker-dedup-match
 *           (the story's top matches in that language; none among them: its earliest headline in it,
 *           .ticker-dedup-match.ticker-dedup-story-version, "first in this language")
 *       .ticker-dedup-related-group  other stories' headlines, apart: "Related, not the same story"
 *       .ticker-dedup-match[data-story-id][data-headline-id]  > .ticker-dedup-lang, .ticker-dedup-title,
 *                     .ticker-dedup-meta > .ticker-dedup-ran ("Ran 37 min ago on le360"), a.ticker-dedup-link
 *                     ("link": only for http/https URLs), .ticker-dedup-copies ("same text ×3"), .ticker-dedup-type,
 *                     .ticker-dedup-why (what the score is made of: "meaning 0.61 · names +0.37 · figures +0.28")
 *     .ticker-dedup-ok           neutral "new" state
 *     .ticker-dedup-error        the service could not be asked
 * API: window.TickerDedup.check(title, {lang}?) → Promise<check JSON>; .attach(input); .config.
 * Every value from the service is rendered as text (textContent), never as HTML; a URL becomes a link only
 * when it parses as http: or https:.
 */
(() => {
  "use strict";

  const script = document.currentScript;
  const data = (script && script.dataset) || {};
  const scriptOrigin = (() => {
    try {
      return script && script.src ? new URL(script.src, location.href).origin : location.origin;
    } catch {
      return location.origin;
    }
  })();
  const positiveInt = (raw, fallback) => {
    const n = Number.parseInt(raw, 10);
    return Number.isFinite(n) && n >= 0 ? n : fallback;
  };

  const config = {
    selector: data.selector || "input[name=title]",
    endpoint: (data.endpoint || scriptOrigin).replace(/\/+$/, ""),
    apiKey: data.apiKey || "",
    langSelector: data.langSelector || "",
    debounceMs: positiveInt(data.debounce, 400),
    minLength: positiveInt(data.minLength, 10),
    timeoutMs: positiveInt(data.timeout, 8000),
    maxMatches: positiveInt(data.maxMatches, 5),
  };

  const MATCH_LABELS = {
    exact: "exact repeat", near: "rewrite", translation: "translation", related: "another story",
    version: "first in this language",
  };
  // the pair score's addends (the API's `terms`), in the words an editor reads them
  const TERM_LABELS = [
    ["exact", "same text"], ["cosine", "meaning"], ["cross_lang", "language pair"], ["entity", "names"],
    ["number", "figures"], ["lexical", "words"], ["gram", "spelling"], ["conflict", "figures differ"],
    ["time", "days apart"],
  ];

  function why(terms) {
    if (!terms || typeof terms !== "object") return "";
    const parts = [];
    for (const [key, label] of TERM_LABELS) {
      const v = terms[key];
      if (typeof v !== "number" || Math.abs(v) < 0.005) continue;
      const shown = key === "cosine" || key === "exact" ? v.toFixed(2) : `${v > 0 ? "+" : "−"}${Math.abs(v).toFixed(2)}`;
      parts.push(`${label} ${shown}`);
    }
    return parts.join(" · ");
  }
  const RTL = new Set(["ar", "fa", "he", "ur"]);

  function el(tag, cls, text) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text != null) node.textContent = String(text);
    return node;
  }

  function injectStyles() {
    if (document.getElementById("ticker-dedup-style")) return;
    const style = document.createElement("style");
    style.id = "ticker-dedup-style";
    style.textContent = `
.ticker-dedup-box{font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:.4rem 0 .6rem;color:#1d2330}
.ticker-dedup-box[data-state=idle]{display:none}
.ticker-dedup-note{color:#5b6475;font-size:.85em}
.ticker-dedup-ok{color:#1b6b36;font-size:.9em}
.ticker-dedup-ok::before{content:"✓ "}
.ticker-dedup-error{color:#8a1c1c;font-size:.9em}
.ticker-dedup-warning{border:1px solid #e0a040;border-left:5px solid #d97706;background:#fff7e6;border-radius:8px;padding:.55rem .75rem}
.ticker-dedup-warning-title{font-weight:700;color:#7a3e00;margin:0 0 .35rem}
.ticker-dedup-list{list-style:none;margin:0;padding:0;display:grid;gap:.35rem}
.ticker-dedup-match{display:grid;grid-template-columns:auto minmax(0,1fr);align-items:baseline;gap:.05rem .5rem}
.ticker-dedup-title{font-weight:600;overflow-wrap:anywhere}
.ticker-dedup-meta{grid-column:2;display:flex;flex-wrap:wrap;gap:0 .6rem}
.ticker-dedup-lang{font-size:.7em;font-weight:700;padding:.05rem .35rem;border-radius:4px;background:#e8eaef;color:#2b3240}
.ticker-dedup-source,.ticker-dedup-type{font-size:.8em;color:#5b6475}
.ticker-dedup-warning[data-verdict=possible]{border-color:#c9b458;border-left-color:#a18a16;background:#fffbea}
.ticker-dedup-versions,.ticker-dedup-related-group{display:grid;gap:.45rem}
.ticker-dedup-version-lang,.ticker-dedup-related-title{font-size:.75em;font-weight:700;color:#5b6475;margin:0 0 .15rem;text-transform:uppercase;letter-spacing:.03em}
.ticker-dedup-related-group{margin-top:.55rem;padding-top:.45rem;border-top:1px dashed #d8c9a8}
.ticker-dedup-related{opacity:.75}
.ticker-dedup-ran,.ticker-dedup-copies{font-size:.8em;color:#3d4554}
.ticker-dedup-link{font-size:.8em}
.ticker-dedup-why{grid-column:2;font-size:.75em;color:#5b6475;font-variant-numeric:tabular-nums}
.ticker-dedup-story{font-size:.85em;color:#3d4554;margin:0 0 .4rem}
`;
    (document.head || document.documentElement).append(style);
  }

  /** Ask the service; resolves with its JSON, rejects on network error, timeout, abort or non-2xx. */
  async function check(title, options = {}) {
    const body = { title: String(title ?? "") };
    if (options.lang) body.lang = options.lang;
    const headers = { "Content-Type": "application/json", Accept: "application/json" };
    if (config.apiKey) headers["X-API-Key"] = config.apiKey;

    const controller = new AbortController();
    const onAbort = () => controller.abort();
    if (options.signal) {
      if (options.signal.aborted) controller.abort();
      else options.signal.addEventListener("abort", onAbort, { once: true });
    }
    const timer = setTimeout(() => controller.abort(), config.timeoutMs);
    try {
      const response = await fetch(`${config.endpoint}/v1/dedup/check`, {
        method: "POST",
        headers,
        body: JSON.stringify(body),
        signal: controller.signal,
        credentials: "omit",
        cache: "no-store",
      });
      if (!response.ok) {
        let detail = "";
        try {
          const err = await response.json();
          detail = typeof err.detail === "string" ? err.detail : "";
        } catch {
          /* not JSON */
        }
        const error = new Error(`dedup check failed: HTTP ${response.status}${detail ? ` (${detail})` : ""}`);
        error.status = response.status;
        throw error;
      }
      return await response.json();
    } finally {
      clearTimeout(timer);
      if (options.signal) options.signal.removeEventListener("abort", onAbort);
    }
  }

  // ---- the box next to one input -------------------------------------------------------------------
  const VERDICT_WORDS = {
    duplicate: "Already ran: this story has been published",
    possible: "Possibly the same story: check before publishing",
    new: "New: no similar story found.",
  };

  /** "37 min ago", "3 h ago", "2 days ago" from an ISO time (null when it does not parse). */
  function ago(iso, now = Date.now()) {
    const t = Date.parse(iso || "");
    if (!Number.isFinite(t)) return null;
    const minutes = Math.floor((now - t) / 60000);
    if (minutes < 1) return "just now";
    if (minutes < 60) return `${minutes} min ago`;
    const hours = Math.floor(minutes / 60);
    if (hours < 48) return `${hours} h ago`;
    return `${Math.floor(hours / 24)} days ago`;
  }

  /** The URL as a string when it is an absolute http(s) URL, else null (javascript:, data:, relative...). */
  function safeUrl(raw) {
    if (typeof raw !== "string" || !raw) return null;
    try {
      const url = new URL(raw);
      return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
    } catch {
      return null;
    }
  }

  /** "Ran 37 min ago on le360" (the time it was published, else when the service received it). */
  function ranText(match) {
    const when = ago(match.published_at || match.received_at);
    const where = match.source ? ` on ${match.source}` : "";
    return when ? `Ran ${when}${where}` : match.source ? `Ran on ${match.source}` : "";
  }

  /** One headline; ``kind`` "version": the story's earliest in its language, not among the top matches. */
  function renderMatch(match, result, sameStory, kind) {
    const li = el("li", "ticker-dedup-match");
    li.dataset.storyId = String(match.story_id ?? "");
    li.dataset.headlineId = String(match.headline_id ?? "");
    const lang = String(match.lang || "?").toLowerCase();
    const badge = el("span", "ticker-dedup-lang", lang.toUpperCase());
    const title = el("span", "ticker-dedup-title", match.title || "(untitled)");
    title.lang = lang === "?" ? "" : lang;
    title.dir = RTL.has(lang) ? "rtl" : "auto";
    if (typeof match.score === "number") title.title = `score ${match.score.toFixed(2)} (threshold ${Number(result.threshold).toFixed(2)})`;
    // same text, another language, or a rewrite; another story's headline is named as such
    const matchLang = String(match.lang || "").toLowerCase();
    const inputLang = String(result.lang || "").toLowerCase();
    const type = kind
      ? kind
      : !sameStory
      ? "related"
      : match.terms && match.terms.exact
        ? "exact"
        : matchLang && inputLang && matchLang !== inputLang
          ? "translation"
          : "near";
    if (!sameStory) li.classList.add("ticker-dedup-related");
    if (kind === "version") li.classList.add("ticker-dedup-story-version");
    const meta = el("span", "ticker-dedup-meta");
    const ran = ranText(match);
    if (ran) meta.append(el("span", "ticker-dedup-ran", ran));
    const href = safeUrl(match.url);
    if (href) {
      const a = el("a", "ticker-dedup-link", "link");
      a.href = href;
      a.target = "_blank";
      a.rel = "noopener noreferrer";
      meta.append(a);
    }
    if (match.copies > 1) meta.append(el("span", "ticker-dedup-copies", `same text ×${match.copies}`));
    if (type) meta.append(el("span", "ticker-dedup-type", MATCH_LABELS[type] || type));
    li.append(badge, title, meta);
    const reasons = why(match.terms);
    if (reasons) li.append(el("span", "ticker-dedup-why", reasons));
    return li;
  }

  function show(box, stateName, ...children) {
    box.dataset.state = stateName;
    box.replaceChildren(...children);
  }

  function verdictOf(result) {
    if (!result) return "new";
    if (result.verdict === "duplicate" || result.verdict === "possible" || result.verdict === "new") return result.verdict;
    return result.duplicate ? "duplicate" : "new"; // an older service without verdicts
  }

  function showResult(box, result) {
    const verdict = verdictOf(result);
    if (verdict === "new") {
      show(box, "clear", el("p", "ticker-dedup-ok", VERDICT_WORDS.new));
      return;
    }
    const matches = Array.isArray(result.matches) ? result.matches : [];
    const about = result.story_id ?? result.closest_story_id;
    const isSame = (m) => (typeof m.same_story === "boolean" ? m.same_story : about != null && m.story_id === about);
    const same = matches.filter(isSame).slice(0, config.maxMatches);
    const related = (Array.isArray(result.related) ? result.related : matches.filter((m) => !isSame(m))).slice(0, config.maxMatches);

    const warning = el("div", "ticker-dedup-warning");
    warning.dataset.verdict = verdict;
    warning.setAttribute("role", "alert");
    const pct = typeof result.confidence === "number" ? ` (confidence ${Math.round(result.confidence * 100)} %)` : "";
    warning.append(el("p", "ticker-dedup-warning-title", `${VERDICT_WORDS[verdict]}${pct}`));

    // the whole story (its every language), when the service sends it: the top matches may all be one language
    const story =
      result.story && typeof result.story === "object" && result.story.id === about && Array.isArray(result.story.versions)
        ? result.story
        : null;
    if (story) {
      const langs = (Array.isArray(story.languages) && story.languages.length ? story.languages : story.versions.map((v) => v.lang))
        .filter(Boolean)
        .map((l) => String(l).toUpperCase());
      const count = (n, what) => (typeof n === "number" ? [`${n} ${what}${n === 1 ? "" : "s"}`] : []);
      const parts = [`Ran in ${langs.join(", ")}`, ...count(story.size, "headline"), ...count(story.n_sources, "outlet")];
      const summary = el("p", "ticker-dedup-story", parts.join(" · "));
      summary.dataset.storyId = String(story.id);
      warning.append(summary);
    }
    // by language: the story's languages in the order they ran, then any other of the top matches'; in each,
    // the top matches in that language (in the service's order), else the story's earliest headline in it
    const byLang = new Map();
    const group = (lang) => {
      const key = String(lang || "?").toLowerCase();
      if (!byLang.has(key)) byLang.set(key, { matches: [], first: null });
      return byLang.get(key);
    };
    if (story) {
      for (const v of story.versions) {
        if (v && typeof v === "object" && !group(v.lang).first) group(v.lang).first = v;
      }
    }
    for (const m of same) group(m.lang).matches.push(m);
    if (byLang.size) {
      const versions = el("div", "ticker-dedup-versions");
      for (const [lang, { matches: shown, first }] of byLang) {
        const items = shown.length
          ? shown.map((m) => renderMatch(m, result, true))
          : [renderMatch({ ...first, story_id: story.id }, result, true, "version")];
        const section = el("section", "ticker-dedup-version");
        section.dataset.lang = lang;
        section.append(el("p", "ticker-dedup-version-lang", `${lang.toUpperCase()} · ${items.length}`));
        const list = el("ul", "ticker-dedup-list");
        list.append(...items);
        section.append(list);
        versions.append(section);
      }
      warning.append(versions);
    }
    if (related.length) {
      const group = el("section", "ticker-dedup-related-group");
      group.append(el("p", "ticker-dedup-related-title", "Related, not the same story"));
      const list = el("ul", "ticker-dedup-list");
      list.append(...related.map((m) => renderMatch(m, result, false)));
      group.append(list);
      warning.append(group);
    }
    show(box, verdict, warning);
  }

  const attached = new WeakMap(); // input -> controller state

  function attach(input) {
    if (!input || attached.has(input)) return attached.get(input);
    injectStyles();
    // an Arabic headline is typed right to left, a French one left to right
    if (!input.hasAttribute("dir")) input.setAttribute("dir", "auto");
    const box = el("div", "ticker-dedup-box");
    box.setAttribute("role", "status");
    box.setAttribute("aria-live", "polite");
    box.id = `ticker-dedup-${Math.random().toString(36).slice(2, 9)}`;
    box.dataset.state = "idle";
    input.insertAdjacentElement("afterend", box);
    const describedBy = (input.getAttribute("aria-describedby") || "").split(/\s+/).filter(Boolean);
    input.setAttribute("aria-describedby", [...describedBy, box.id].join(" "));

    const st = { box, timer: null, controller: null, lastTitle: null };

    const run = async () => {
      const title = input.value.trim();
      if (title.length < config.minLength) {
        if (st.controller) st.controller.abort();
        st.lastTitle = null;
        show(box, "idle");
        return;
      }
      const langEl = config.langSelector ? document.querySelector(config.langSelector) : null;
      const lang = langEl && "value" in langEl ? String(langEl.value || "").trim() : "";
      const key = `${lang}\u0000${title}`;
      if (key === st.lastTitle) return;
      if (st.controller) st.controller.abort(); // the older answer would be about an older headline
      const controller = new AbortController();
      st.controller = controller;
      st.lastTitle = key;
      box.dataset.state = "checking";
      if (!box.firstChild) box.append(el("p", "ticker-dedup-note", "Checking for similar stories…"));
      try {
        const result = await check(title, { lang: lang || undefined, signal: controller.signal });
        if (st.controller === controller) showResult(box, result);
      } catch (err) {
        if (st.controller !== controller) return; // superseded by a newer keystroke
        st.lastTitle = null; // let the next keystroke retry
        const why = err && err.name === "AbortError" ? "the service did not answer in time" : "the service is unreachable";
        show(box, "error", el("p", "ticker-dedup-error", `Duplicate check unavailable: ${err && err.status ? `HTTP ${err.status}` : why}.`));
      } finally {
        if (st.controller === controller) st.controller = null;
      }
    };

    const schedule = () => {
      clearTimeout(st.timer);
      st.timer = setTimeout(run, config.debounceMs);
    };
    input.addEventListener("input", schedule);
    if (config.langSelector) {
      document.addEventListener("change", (e) => {
        if (e.target instanceof Element && e.target.matches(config.langSelector)) schedule();
      });
    }
    st.run = run;
    attached.set(input, st);
    if (input.value) schedule();
    return st;
  }

  function scan(root = document) {
    for (const input of root.querySelectorAll(config.selector)) attach(input);
  }

  function init() {
    scan();
    // CMS editors often render the form after load: attach to inputs that appear later, too.
    new MutationObserver((records) => {
      for (const r of records) {
        for (const node of r.addedNodes) {
          if (!(node instanceof Element)) continue;
          if (node.matches(config.selector)) attach(node);
          else if (node.firstElementChild) scan(node);
        }
      }
    }).observe(document.documentElement, { childList: true, subtree: true });
  }

  window.TickerDedup = { check, attach, config, ago, safeUrl, version: "2" };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
