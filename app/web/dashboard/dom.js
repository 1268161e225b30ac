/*
 * Small DOM helpers that only ever insert text.
 * SECURITY: data (headlines, sources, keywords, labels) is attacker-controlled. It goes into the page only as
 * text (textContent / createTextNode via el()); no innerHTML anywhere. Links come only from http(s) URLs
 * (safeUrl).
 */
import { parseTime, relativeTime } from "./format.js";

const LANG_NAMES = { fr: "French", es: "Spanish", en: "English", ar: "Arabic" };
const FLASH_MS = 8000;

export const $ = (sel) => document.querySelector(sel);

/** el("span", {class: "x", dataset: {a: 1}}, "text", child) — strings always become text nodes. */
export function el(tag, attrs, ...children) {
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

/** The URL when it is http(s), else null: no javascript:, data: or other scheme ever becomes a link. */
export const safeUrl = (url) => {
  try {
    const parsed = new URL(url, location.href);
    return parsed.protocol === "http:" || parsed.protocol === "https:" ? parsed.href : null;
  } catch {
    return null;
  }
};

/** Children in this exact order, touching the DOM only where it differs (keeps scroll and focus). */
export function syncChildren(parent, wanted) {
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

/** Highlight what just arrived, for a while. */
export function flash(node, cls) {
  node.classList.add(cls);
  setTimeout(() => node.classList.remove(cls), FLASH_MS);
}

/** <time> "5 min ago" (kept current by refreshRelativeTimes), or null without a readable time. */
export function timeEl(iso, cls) {
  const ms = parseTime(iso);
  if (ms == null) return null;
  return el(
    "time",
    { class: cls, datetime: new Date(ms).toISOString(), title: new Date(ms).toLocaleString(), dataset: { rel: "" } },
    relativeTime(ms),
  );
}

export function refreshRelativeTimes() {
  const now = Date.now();
  for (const t of document.querySelectorAll("time[data-rel]")) {
    const ms = Date.parse(t.getAttribute("datetime"));
    if (Number.isFinite(ms)) {
      const text = relativeTime(ms, now);
      if (t.textContent !== text) t.textContent = text;
    }
  }
}

export function langBadge(lang) {
  const code = (lang || "?").toLowerCase();
  return el(
    "span",
    { class: "lang-badge", dataset: { lang: code }, title: LANG_NAMES[code] || code, "aria-label": LANG_NAMES[code] || code },
    code.toUpperCase(),
  );
}
