// Small helpers over the markup contract (DESIGN §5). They read attributes only — nothing here
// forces layout — so they are safe inside click and mouseover handlers.
export const SLOT = '[data-vernier-slot]:not([data-vernier-slot=""])';
export const NAME_CHARS = 64;
export const SHORT_CHARS = 256;
export const LONG_CHARS = 2048;
export const MAX_MS = 3600000;

/**
 * `s` cut to at most `max` UTF-16 units without splitting a surrogate pair (so also at most `max`
 * code points, which is what the collector counts, and never a lone surrogate).
 */
export const clip = (s, max) => s.slice(0, max).replace(/[\ud800-\udbff]$/, '');

/** A non-empty attribute value clipped to 64 chars, or undefined (absent fields are omitted). */
export const attr = (el, name) => clip(el.getAttribute(name) || '', NAME_CHARS) || undefined;

/** `{slot, variant, decision}` of a personalised element (missing ones undefined). */
export const slotInfo = (el) => ({
  slot: attr(el, 'data-vernier-slot'),
  variant: attr(el, 'data-vernier-variant'),
  decision: attr(el, 'data-vernier-decision'),
});

/** The enclosing personalised element of `node`, or null. */
export const slotOf = (node) => node.closest && node.closest(SLOT);

/** "a#id.cls1.cls2": tag, id and up to two classes; never text, href or values. */
export const describe = (el) => {
  const id = el.getAttribute('id');
  const cls = (el.getAttribute('class') || '').trim().split(/\s+/).slice(0, 2).join('.');
  return clip(el.tagName.toLowerCase() + (id ? '#' + id : '') + (cls ? '.' + cls : ''), SHORT_CHARS);
};
