// Clicks on links, buttons and other controls, and any click inside a personalised element
// (attributed to the enclosing [data-vernier-slot]). The target is described by tag, id and class
// only — never text, href or values.
import { describe, slotInfo, slotOf } from '../dom.js';

const CONTROL = 'a,button,input,select,textarea,summary,label,[role=button]';

export function clicks({ d, emit, on }) {
  on(
    d,
    'click',
    (e) => {
      const t = e.target;
      const control = t.closest && t.closest(CONTROL);
      const slot = slotOf(t);
      if (control || slot) emit('click', { ...(slot && slotInfo(slot)), target: describe(control || t) });
    },
    true,
  );
}
