/*
 * Story cards (li.story), on the board and in the search results alike, and what a card says about a story:
 * its languages, sources, outlets, whether it grows fast, whether it is new since the editor looked.
 * Every headline, source and keyword goes in as text (el()); links only from http(s) URLs.
 */
import { config } from "./config.js";
import { el, langBadge, safeUrl, timeEl } from "./dom.js";
import { count, parseTime, plural, when } from "./format.js";
import { state } from "./state.js";

const RTL_LANGS = new Set(["ar", "fa", "he", "ur"]);

// ---- story model helpers -------------------------------------------------------------------------
const allVersions = (story) => [story.canonical || {}, ...(story.versions || []), ...(story.headlines || [])];

export function storyLanguages(story) {
  const langs = new Set((story.languages || []).map((l) => String(l).toLowerCase()));
  for (const v of allVersions(story)) if (v.lang) langs.add(String(v.lang).toLowerCase());
  return [...langs];
}

export function storySources(story) {
  const sources = new Set(story.sources || []);
  for (const v of allVersions(story)) if (v.source) sources.add(v.source);
  return [...sources];
}

export function isGrowing(story, topRecent) {
  const recent = Number(story.recent_count) || 0;
  return recent >= config.growingAt || (recent >= 2 && recent === topRecent);
}

/** Distinct outlets of a story: the server's n_sources, else the sources the card knows of. */
const outletCount = (story) => count(story.n_sources, storySources(story).length);

/** First seen at or after the time the editor last looked (see seen.js). */
export function isUnseen(story) {
  const t = parseTime(story.first_seen);
  return state.lookedAt != null && t != null && t >= state.lookedAt;
}

// ---- rendering ----------------------------------------------------------------------------------
/** Headline text carries its language; Arabic is set right-to-left, the rest lets the browser decide. */
function titleEl(tag, cls, title, lang, url) {
  const code = (lang || "").toLowerCase();
  const attrs = { class: cls, lang: code || null, dir: RTL_LANGS.has(code) ? "rtl" : "auto" };
  const href = url && safeUrl(url);
  if (href) Object.assign(attrs, { href, target: "_blank", rel: "noopener noreferrer" });
  return el(href ? "a" : tag, attrs, title || "(untitled)");
}

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

/** A card, reused while its data did not change, so the page does not flicker or lose focus.
 *  `cache`: story id -> { sig, el } (one for the board, one for the search results). */
export function cachedStory(cache, story, growing, topicId, topicLabel) {
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
