// Engaged time: the page is visible AND the user did something (mouse, key, touch, wheel, scroll)
// within the last idleMs. Activity at time t makes [t, t + idleMs) engaged; time is credited lazily
// up to min(now, activeUntil), so handlers only store a timestamp. Reported as `engaged` events of
// the time since the last one: on lifecycle ends (hidden, pagehide, SPA navigation) or once 15 s
// have accumulated, so an open tab does not send an event every flush.
import { MAX_MS } from '../dom.js';

export const ENGAGED_REPORT_MS = 15000;
const ACTIVITY = ['mousemove', 'keydown', 'touchstart', 'wheel', 'scroll'];

export function engaged({ w, d, now, emit, on, cfg, t0 }) {
  let visible = !d.hidden;
  let mark = t0; // the script's start, not the (later) attach
  let activeUntil = visible ? mark + cfg.idleMs : 0; // loading the page counts as activity
  let total = 0;

  const credit = (t) => {
    if (visible) total += Math.max(0, Math.min(t, activeUntil) - mark);
    mark = t;
  };
  const activity = () => {
    const t = now();
    credit(t);
    activeUntil = t + cfg.idleMs;
  };
  for (const type of ACTIVITY) on(w, type, activity);
  on(d, 'visibilitychange', () => {
    const t = now();
    credit(t);
    visible = !d.hidden;
    if (visible) activeUntil = t + cfg.idleMs; // coming back to the tab is activity
  });
  return {
    collect(force) {
      credit(now());
      if (total < (force ? 1 : ENGAGED_REPORT_MS)) return;
      emit('engaged', { ms: Math.min(MAX_MS, total) });
      total = 0;
    },
  };
}
