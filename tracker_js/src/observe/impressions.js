// Impressions: a personalised element counts once per decision when ≥ 50 % of it has been in view
// for 1 s without interruption while the page is visible. IntersectionObserver does the geometry
// off the main thread; nothing here reads layout.
import { SLOT, slotInfo } from '../dom.js';

export const VISIBLE_RATIO = 0.5;
export const DWELL_MS = 1000;

export function impressions({ w, d, emit, on, safe, onStop }) {
  if (!w.IntersectionObserver) return;
  const counted = new Set(); // decision ids
  const timers = new Map(); // observed element -> its running 1 s timer (undefined: none)
  const disarm = (el) => timers.set(el, w.clearTimeout(timers.get(el)));
  const count = (el) => {
    const info = slotInfo(el);
    timers.delete(el);
    io.unobserve(el);
    if (!counted.has(info.decision)) emit('impression', info);
    counted.add(info.decision);
  };
  const io = new w.IntersectionObserver(
    safe((entries) => {
      // not intersecting is a ratio of 0; a late entry of a counted element counts nothing again
      for (const { target, intersectionRatio } of entries) {
        if (intersectionRatio < VISIBLE_RATIO) disarm(target);
        else if (!timers.get(target) && !d.hidden) timers.set(target, w.setTimeout(safe(count), DWELL_MS, target));
      }
    }),
    { threshold: VISIBLE_RATIO },
  );
  // hidden: nothing counts; visible again: observing anew reports where each element is now
  on(d, 'visibilitychange', () =>
    timers.forEach((_, el) => {
      disarm(el);
      if (!d.hidden) io.unobserve(el), io.observe(el);
    }),
  );
  onStop(() => {
    timers.forEach((_, el) => disarm(el));
    io.disconnect();
  });
  const watch = (el) => {
    const { slot, variant, decision } = slotInfo(el);
    if (slot && variant && decision && !timers.has(el)) {
      timers.set(el);
      io.observe(el);
    }
  };
  return {
    /** A new page view: observe the personalised elements now in the document. */
    page() {
      d.querySelectorAll(SLOT).forEach(watch);
    },
    /** An element put in by an in-page trigger (observe/triggers.js). */
    slot: watch,
  };
}
