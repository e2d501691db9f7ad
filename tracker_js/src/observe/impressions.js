// Impressions: a personalised element counts once per decision when ≥ 50 % of it has been in view
// for 1 s without interruption while the page is visible. IntersectionObserver does the geometry
// off the main thread; nothing here reads layout.
import { SLOT, slotInfo } from '../dom.js';

export const VISIBLE_RATIO = 0.5;
export const DWELL_MS = 1000;

export function impressions({ env, emit, on, safe, onStop }) {
  const { w, d } = env;
  if (!w.IntersectionObserver) return;
  const counted = new Set(); // decision ids
  const inView = new Map(); // observed element -> ≥ 50 % in view now
  const timers = new Map(); // element -> its running 1 s timer
  const disarm = (el) => {
    w.clearTimeout(timers.get(el));
    timers.delete(el);
  };
  const arm = (el) => {
    if (timers.has(el) || d.hidden) return;
    timers.set(
      el,
      w.setTimeout(
        safe(() => {
          const info = slotInfo(el);
          timers.delete(el);
          inView.delete(el);
          io.unobserve(el);
          if (!counted.has(info.decision)) emit('impression', info);
          counted.add(info.decision);
        }),
        DWELL_MS,
      ),
    );
  };
  const io = new w.IntersectionObserver(
    safe((entries) => {
      for (const { target, isIntersecting, intersectionRatio } of entries) {
        if (!inView.has(target)) continue;
        const visible = isIntersecting && intersectionRatio >= VISIBLE_RATIO;
        inView.set(target, visible);
        visible ? arm(target) : disarm(target);
      }
    }),
    { threshold: VISIBLE_RATIO },
  );
  on(d, 'visibilitychange', () => inView.forEach((visible, el) => (visible && !d.hidden ? arm(el) : disarm(el))));
  onStop(() => {
    timers.forEach((_, el) => disarm(el));
    io.disconnect();
  });
  return {
    /** A new page view: observe the personalised elements now in the document. */
    page() {
      for (const el of d.querySelectorAll(SLOT)) {
        const { slot, variant, decision } = slotInfo(el);
        if (slot && variant && decision && !counted.has(decision) && !inView.has(el)) {
          inView.set(el, false);
          io.observe(el);
        }
      }
    },
  };
}
