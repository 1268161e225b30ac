/*
 * "N more" under a column: its next page from the server (GET /v1/stories?topic_id= / ?unassigned=true),
 * appended, so nothing above it moves.
 */
import { getStories } from "./api.js";
import { columns, drawBoard, drawMore, storyData, storyEls } from "./board.js";
import { config } from "./config.js";
import { count } from "./format.js";

/** "N more": the column's next page, appended (nothing above it moves). */
export async function loadMore(columnId) {
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
      const body = await getStories(params);
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
