/*
 * Text, number and time formatting: pure functions, no DOM.
 */

/** Search key: case-, accent- and (Arabic) diacritic-insensitive. */
export function fold(text) {
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
export const clock = (d) => `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
export const parseTime = (iso) => {
  const t = iso ? Date.parse(iso) : NaN;
  return Number.isFinite(t) ? t : null;
};

export function relativeTime(ms, now = Date.now()) {
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

export const plural = (n, one, many) => `${n} ${n === 1 ? one : many}`;
export const when = (ms) => new Date(ms).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
/** A count from the API: a finite number >= 0, else the fallback. */
export const count = (value, fallback) => {
  const n = Number(value);
  return value != null && Number.isFinite(n) && n >= 0 ? n : fallback;
};
