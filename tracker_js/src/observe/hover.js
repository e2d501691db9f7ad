// Hover dwell on personalised elements: from the pointer entering a [data-vernier-slot] element to
// it leaving (moves between the element's descendants are not leaving). Dwells under 250 ms are
// the pointer passing by and are not reported.
import { MAX_MS, slotInfo, slotOf } from '../dom.js';

export const MIN_HOVER_MS = 250;

export function hover({ d, now, emit, on }) {
  let current;
  let since;
  const end = () => {
    const ms = now() - since;
    if (current && ms >= MIN_HOVER_MS) emit('hover', { ...slotInfo(current), ms: Math.min(MAX_MS, ms) });
    current = null;
  };
  on(d, 'mouseover', (e) => {
    const slot = slotOf(e.target);
    if (slot == current) return;
    end();
    current = slot;
    since = now();
  });
  on(d, 'mouseout', (e) => current && !current.contains(e.relatedTarget) && end());
  return {
    collect(force) {
      if (force) end();
    },
  };
}
