// Fields of the events a page names itself: vernier.track (conversion) and vernier.event (custom).
// Bad input is dropped or clipped here so that every event sent fits the contract.
import { clip, NAME_CHARS, SHORT_CHARS } from './dom.js';

export const MAX_VALUE = 1e9;
export const MAX_PROPS = 20;

export function conversionFields(name, props) {
  const { value, currency } = props || {};
  return name && typeof name == 'string'
    ? {
        name: clip(name, NAME_CHARS),
        value: value >= 0 && value <= MAX_VALUE && typeof value == 'number' ? value : undefined,
        currency: /^[A-Za-z]{3}$/.test(currency) ? currency.toUpperCase() : undefined,
      }
    : null;
}

export function customFields(name, props) {
  if (!name || typeof name != 'string') return null;
  const out = {};
  let n = 0;
  for (const [key, v] of typeof props == 'object' && props ? Object.entries(props) : []) {
    const type = typeof v;
    if (n < MAX_PROPS && key && key.length <= NAME_CHARS && (type == 'string' || type == 'boolean' || isFinite(v) && type == 'number')) {
      out[key] = type == 'string' ? clip(v, SHORT_CHARS) : v;
      n++;
    }
  }
  return { name: clip(name, NAME_CHARS), props: n ? out : undefined };
}
