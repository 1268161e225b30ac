/*
 * What the story panel (dialog#story-panel) shows: the story's every version (time, source, link, language,
 * how it joined, similarity), and the panel's error and result lines. Rendering only: loading the story and
 * the corrections are panel.js's. Headlines go in as text; a version links only to an http(s) URL.
 */
import { storyLanguages, storySources } from "./cards.js";
import { $, el, langBadge, safeUrl } from "./dom.js";
import { parseTime, plural, when } from "./format.js";

/** The service's refusal, or why a request failed (empty: hidden). */
export function panelError(text) {
  const box = $("#panel-error");
  box.textContent = text || "";
  box.hidden = !text;
}

/** After a correction: what was done, and Undo when it can be undone (empty: hidden). */
export function panelResult(text, correction, undoable) {
  const box = $("#panel-result");
  box.hidden = !text;
  $("#panel-result-text").textContent = text || "";
  box.dataset.correctionId = correction ? String(correction.id) : "";
  box.dataset.kind = correction ? (undoable ? correction.kind : "undo") : "";
  $("#panel-undo").hidden = !undoable;
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

/** The story in the panel; `mergedFrom`: the id the editor opened, when it was merged into this one. */
export function renderPanelStory(story, mergedFrom) {
  const dialog = $("#story-panel");
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
