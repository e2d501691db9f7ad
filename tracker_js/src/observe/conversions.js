// Configured conversions (vernier-config): by URL (`url` equal to the path, or to path and query),
// by the presence of an element matching `selector` (its `value_attr` attribute giving the value),
// or, with `"on": "click"`, by a click inside an element matching `selector`. Each counts once per
// page view.
import { conversionFields } from '../values.js';

export function conversions({ w, d, emit, on, cfg }) {
  const list = cfg.conversions;
  let done;
  const fire = (c, el) => {
    if (done.has(c.name)) return;
    done.add(c.name);
    // no element, no value_attr or no number there: NaN, which conversionFields leaves out
    emit('conversion', conversionFields(c.name, { value: parseFloat(el && el.getAttribute(c.value_attr)), currency: c.currency }));
  };
  const check = () => {
    const path = w.location.pathname;
    for (const c of list) {
      if (c.url) (c.url == path || c.url == path + w.location.search) && fire(c);
      else if (c.on != 'click') {
        const el = d.querySelector(c.selector);
        if (el) fire(c, el);
      }
    }
  };
  on(
    d,
    'click',
    (e) => {
      for (const c of list) {
        const el = c.on == 'click' && !c.url && e.target.closest && e.target.closest(c.selector);
        if (el) fire(c, el);
      }
    },
    true,
  );
  return {
    page() {
      done = new Set();
      check();
    },
    // content rendered after load (client-side apps) is found at the next timed flush; not when
    // closing a page view, whose location may already be the next page's
    collect(closing) {
      if (!closing) check();
    },
  };
}
