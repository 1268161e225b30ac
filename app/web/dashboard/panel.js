/*
 * The story panel (dialog#story-panel): opening a story from its card, loading it (GET /v1/stories/{id}), the
 * editors' corrections (POST /v1/corrections/move, /merge, /{id}/undo) behind the API key, asked when first
 * needed (#panel-key-form), and the focus back on the card when it closes. What it shows: panel-view.js.
 * askKey() opens the panel with that key form only, for a change made elsewhere (the feeds panel's Pause /
 * Resume): one way to ask the key, one place to keep it (api.js's apiKey).
 */
import { apiKey, ApiError, getStory, postCorrection, refusal } from "./api.js";
import { $ } from "./dom.js";
import { panelError, panelResult, renderPanelStory } from "./panel-view.js";
import { refresh } from "./polling.js";
import { runSearch, search } from "./search.js";

const PANEL_PAGE = 200;
const panel = {
  requestedId: null, // the story the editor opened: reloaded after each correction
  story: null, // the story shown (where the requested one went, when it was merged)
  opener: null, // the element focus goes back to
  loadSeq: 0, // answers to an older load are dropped
  pending: null, // what runs once the API key is entered (a correction, or askKey's change)
  keyOnly: null, // the panel only asks the key (askKey): { focusBack } gives the element focus goes back to
  busy: false,
};

function askForKey(then, why) {
  panel.pending = then;
  const form = $("#panel-key-form");
  $("#panel-key-label").textContent = why || "Corrections need the service's API key.";
  form.hidden = false;
  $("#panel-key").value = "";
  $("#panel-key").focus();
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
  try {
    // with the key too when one is known, for a service that protects reads
    const { story, redirected } = await getStory(id, PANEL_PAGE);
    if (seq !== panel.loadSeq) return;
    panel.story = story;
    renderPanelStory(story, redirected && String(story.id) !== id ? id : null);
  } catch (err) {
    if (seq !== panel.loadSeq) return;
    if (!(err instanceof ApiError)) {
      panelError("Cannot connect to the service.");
      return;
    }
    panel.story = null;
    delete dialog.dataset.storyId;
    $("#panel-story").hidden = true;
    $("#panel-merged").hidden = true;
    panelError(err.status === 404 ? `Story ${id} no longer exists (${err.message}).` : err.message);
  } finally {
    if (seq === panel.loadSeq) {
      dialog.setAttribute("aria-busy", "false");
      $("#panel-status").textContent = "";
    }
  }
}

export function openStory(storyId, opener) {
  const dialog = $("#story-panel");
  panel.requestedId = String(storyId);
  panel.story = null;
  panel.pending = null;
  panel.keyOnly = null;
  delete dialog.dataset.keyOnly;
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
  if (panel.keyOnly) {
    const back = panel.keyOnly.focusBack();
    panel.keyOnly = null;
    panel.pending = null;
    delete $("#story-panel").dataset.keyOnly;
    if (back && back.isConnected) back.focus();
    return;
  }
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
    askForKey(() => correct(action));
    return;
  }
  panel.pending = null;
  panel.busy = true;
  panelError("");
  const dialog = $("#story-panel");
  dialog.setAttribute("aria-busy", "true");
  let response;
  try {
    response = await postCorrection(action.path, action.body, key);
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
    askForKey(() => correct(action), "That key was refused. Enter the service's API key again.");
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

/** Ask the API key for a change made outside a story (the feeds panel) in the panel's own key form: the panel
 *  opens with that form only (dialog[data-key-only]); once a key is entered (and kept, as for corrections) it
 *  closes and `then` runs. `focusBack()` gives the element the focus goes back to when it closes (a redraw
 *  may have replaced the one clicked). Closing it without a key changes nothing. */
export function askKey(then, why, focusBack) {
  const dialog = $("#story-panel");
  panel.loadSeq++; // a story still loading is not shown
  panel.requestedId = null;
  panel.story = null;
  panel.opener = null;
  panel.keyOnly = { focusBack: focusBack || (() => null) };
  dialog.dataset.keyOnly = "";
  delete dialog.dataset.requestedId;
  delete dialog.dataset.storyId;
  dialog.setAttribute("aria-busy", "false");
  $("#panel-status").textContent = "";
  $("#panel-title").textContent = "API key";
  $("#panel-story").hidden = true;
  $("#panel-merged").hidden = true;
  panelError("");
  panelResult("");
  if (!dialog.open) dialog.showModal();
  askForKey(() => {
    closeStory();
    then();
  }, why);
}

export function initPanel() {
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
    const then = panel.pending;
    panel.pending = null;
    if (then) then();
  });
}

