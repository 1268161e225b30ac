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
 * keystroke aborts the older request) and shows a box right after the input:
 *   .ticker-dedup-box[data-state="idle|checking|duplicate|clear|error"]   (role=status, always present once attached)
 *     .ticker-dedup-warning      only when the service says duplicate; lists the matches that back it
 *                                (the decided story's headlines, or any at or over the threshold):
 *       .ticker-dedup-match[data-story-id][data-headline-id]  > .ticker-dedup-lang, .ticker-dedup-title,
 *                     (.ticker-dedup-related when the match belongs to another story than the decided one)
 *                     .ticker-dedup-meta > .ticker-dedup-source, .ticker-dedup-score ("score 0.91"), .ticker-dedup-type,
 *                     .ticker-dedup-why (what the score is made of: "meaning 0.61 · names +0.37 · figures +0.28")
 *     .ticker-dedup-ok           neutral "no similar story" state
 *     .ticker-dedup-error        the service could not be asked
 * API: window.TickerDedup.check(title, {lang}?) → Promise<check JSON>; .attach(input); .config.
 * Every value from the service is rendered as text (textContent), never as HTML.
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

  const MATCH_LABELS = { exact: "exact repeat", near: "rewrite", translation: "translation", related: "another story" };
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
.ticker-dedup-related{opacity:.7}
.ticker-dedup-score{font-size:.8em;font-weight:700;font-variant-numeric:tabular-nums;color:#7a3e00}
.ticker-dedup-why{grid-column:2;font-size:.75em;color:#5b6475;font-variant-numeric:tabular-nums}
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
  function renderMatch(match, result) {
    const li = el("li", "ticker-dedup-match");
    li.dataset.storyId = String(match.story_id ?? "");
    li.dataset.headlineId = String(match.headline_id ?? "");
    const lang = String(match.lang || "?").toLowerCase();
    const badge = el("span", "ticker-dedup-lang", lang.toUpperCase());
    const title = el("span", "ticker-dedup-title", match.title || "(untitled)");
    title.lang = lang === "?" ? "" : lang;
    title.dir = RTL.has(lang) ? "rtl" : "auto";
    // the API names the match type once, for the story it decided on
    const sameStory = result.story_id != null && match.story_id === result.story_id;
    // other stories over the threshold are shown too, but as what they are: related, not the duplicate
    const type = match.match || (sameStory ? result.match : "related");
    if (!sameStory) li.classList.add("ticker-dedup-related");
    const meta = el("span", "ticker-dedup-meta");
    if (match.source) meta.append(el("span", "ticker-dedup-source", match.source));
    if (typeof match.score === "number") meta.append(el("span", "ticker-dedup-score", `score ${match.score.toFixed(2)}`));
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

  function showResult(box, result) {
    if (!result || !result.duplicate) {
      show(box, "clear", el("p", "ticker-dedup-ok", "No similar story found."));
      return;
    }
    // Only headlines that back the warning: the decided story's, or any scoring over the threshold.
    // The API's top 5 also carries weaker neighbours; listing them under "similar" would cry wolf.
    const threshold = typeof result.threshold === "number" ? result.threshold : -Infinity;
    const matches = (Array.isArray(result.matches) ? result.matches : [])
      .filter((m) => (result.story_id != null && m.story_id === result.story_id) || (typeof m.score === "number" && m.score >= threshold))
      .slice(0, config.maxMatches);
    const warning = el("div", "ticker-dedup-warning");
    warning.setAttribute("role", "alert");
    const n = matches.filter((m) => m.story_id === result.story_id).length;
    warning.append(
      el(
        "p",
        "ticker-dedup-warning-title",
        n ? `Possible duplicate: ${n} headline${n === 1 ? "" : "s"} of this story already published` : "Possible duplicate of a published story",
      ),
    );
    if (matches.length) {
      const list = el("ul", "ticker-dedup-list");
      list.append(...matches.map((m) => renderMatch(m, result)));
      warning.append(list);
    }
    show(box, "duplicate", warning);
  }

  const attached = new WeakMap(); // input -> controller state

  function attach(input) {
    if (!input || attached.has(input)) return attached.get(input);
    injectStyles();
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

  window.TickerDedup = { check, attach, config, version: "1" };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
