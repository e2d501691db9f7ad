// In-page triggers (README "In-page triggers"). Vernier renders a variant into the page as
// <template data-vernier-trigger … data-vernier-when='{"after_ms": …}'> right after its slot's
// element; when the condition holds on this page view, the template's element replaces the
// slot's, the template goes, and a `trigger` event says so. The condition is time — the page
// visible, and with `hover` the pointer over a match too — cancelled by the page's max scroll
// depth reaching `max_scroll` or by a click inside a `without_click` match. A trigger's timer is
// armed for its remaining time only, so nothing runs while the visitor just reads.
//
// This module is not in t.js but the second asset, triggers.js (an ES module), which t.js
// imports only when the page has a template and starts on the page view that loaded it.
import { MAX_MS, SLOT, attr, slotInfo } from '../dom.js';

export const TEMPLATE = 'template[data-vernier-trigger]';
const num = (v, hi) => typeof v == 'number' && v > 0 && v <= hi;

/** A template's trigger, or undefined when anything about it is malformed (it is then ignored). */
export function readTrigger(d, tpl) {
  try {
    const { after_ms, hover, max_scroll, without_click } = JSON.parse(tpl.getAttribute('data-vernier-when'));
    // absent or null: no such condition; a selector the browser cannot parse throws here
    const sel = (s) => s == null || (typeof s == 'string' && (d.querySelector(s), true));
    const t = { tpl, ...slotInfo(tpl), trigger: attr(tpl, 'data-vernier-trigger'), after_ms, hover, max_scroll, without_click, ms: 0 };
    if (
      t.slot && t.variant && t.decision && t.trigger &&
      num(after_ms, MAX_MS) && (max_scroll == null || num(max_scroll, 1)) &&
      sel(hover) && sel(without_click) &&
      tpl.content.firstElementChild
    ) {
      return t;
    }
  } catch (e) {
    /* not JSON, not an object, a bad selector, no content: ignored */
  }
}

/** The observer (same shape as those in t.js); arms the templates in the document now. */
export function triggers({ w, d, now, emit, on, safe, onStop, each, t0 }) {
  let list = []; // this page view's pending triggers
  let queued = false;
  const drop = (t) => {
    w.clearTimeout(t.timer);
    list = list.filter((x) => x != t);
  };
  const fire = (t) => {
    drop(t);
    // templates carry the slot attributes too: the live element is the first that is not one
    const live = [].find.call(d.querySelectorAll(SLOT), (el) => el.tagName != 'TEMPLATE' && attr(el, 'data-vernier-slot') == t.slot);
    const el = t.tpl.content.firstElementChild.cloneNode(true);
    t.tpl.remove();
    if (live) {
      live.replaceWith(el);
      emit('trigger', { slot: t.slot, variant: t.variant, decision: t.decision, trigger: t.trigger });
      each('slot', el); // observed like any personalised element (observe/impressions.js)
    }
  };
  // Credit the time counted since the last change; then count on (a timer for the rest) or pause.
  const sync = () =>
    list.forEach((t) => {
      const n = now();
      if (t.since) t.ms += n - t.since;
      w.clearTimeout(t.timer);
      t.since = !d.hidden && (!t.hover || t.over) && n;
      if (t.since) t.timer = w.setTimeout(safe(fire), t.after_ms - t.ms, t);
    });
  // the pointer is now on `el` (null: outside the page); recount only when a hover state changed
  const point = (el) => {
    let changed = false;
    list.forEach((t) => {
      const over = !!(t.hover && el && el.closest && el.closest(t.hover));
      if (over !== t.over) (t.over = over), (changed = true);
    });
    if (changed) sync();
  };
  // max scroll depth as the `scroll` event has it (observe/scroll.js): the viewport's bottom over
  // the page's height, read in a frame after scrolling
  const measure = () => {
    queued = false;
    const height = d.documentElement.scrollHeight;
    const depth = height > 0 ? (w.scrollY + w.innerHeight) / height : 1;
    list.forEach((t) => t.max_scroll != null && depth >= t.max_scroll && drop(t));
  };
  const schedule = () => {
    if (!queued && list[0]) w.requestAnimationFrame(safe(measure)), (queued = true);
  };
  on(w, 'scroll', schedule);
  on(d, 'mouseover', (e) => point(e.target));
  on(d, 'mouseout', (e) => point(e.relatedTarget));
  on(d, 'visibilitychange', sync);
  on(d, 'click', (e) => list.forEach((t) => t.without_click && e.target.closest && e.target.closest(t.without_click) && drop(t)), true);
  onStop(() => list.forEach(drop));

  for (const tpl of d.querySelectorAll(TEMPLATE)) {
    const t = readTrigger(d, tpl);
    // visible time counts from the script's start, as the page view does
    if (t) list.push(t), (t.since = !t.hover && !d.hidden && t0);
  }
  measure(); // now, not in a frame: the depth reached before this loaded may cancel some at once
  const hovered = d.querySelectorAll(':hover'); // the pointer may rest on a match already
  point(hovered[hovered.length - 1]);
  sync();
  return {
    /** A new page view (client-side navigation, back/forward restore): cancel what is pending. */
    page() {
      list.forEach(drop);
    },
  };
}
