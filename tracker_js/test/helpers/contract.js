// A small validator of request bodies against ../../events.contract.json (and the stricter types of
// proxy/records/events.py: names are 1..64 chars, ts ≤ 1e14). It checks itself against the
// contract's valid_examples and invalid_examples in contract.test.js.
import { readFileSync } from 'node:fs';

export const contract = JSON.parse(
  readFileSync(new URL('../../events.contract.json', import.meta.url), 'utf8'),
);
const L = contract.limits;
const ID = new RegExp(`^[A-Za-z0-9_-]{${L.min_id_chars},${L.max_id_chars}}$`);

const ZONE = new RegExp(`^[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+){0,2}$`);
const str = (max, min = 0) => (v) => typeof v === 'string' && v.length >= min && v.length <= max;
const name = str(L.max_name_chars, 1);
const short = str(L.max_short_string_chars);
const long = str(L.max_string_chars);
const int = (lo, hi) => (v) => Number.isInteger(v) && v >= lo && v <= hi;
const num = (lo, hi) => (v) => typeof v === 'number' && Number.isFinite(v) && v >= lo && v <= hi;
const props = (v) =>
  v !== null &&
  typeof v === 'object' &&
  !Array.isArray(v) &&
  Object.keys(v).length <= L.max_custom_props &&
  Object.entries(v).every(
    ([k, x]) =>
      name(k) &&
      (short(x) || typeof x === 'boolean' || (typeof x === 'number' && Number.isFinite(x))),
  );

// [validator, required]
const TYPES = {
  pageview: { url: [long, 1], ref: [long], title: [short], tz: [(v) => str(L.max_zone_chars, 1)(v) && ZONE.test(v)] },
  impression: { slot: [name, 1], variant: [name, 1], decision: [name, 1] },
  click: { target: [short, 1], slot: [name], variant: [name], decision: [name] },
  scroll: { depth: [num(0, 1), 1] },
  engaged: { ms: [int(0, L.max_engaged_ms), 1] },
  hover: { slot: [name, 1], ms: [int(0, L.max_engaged_ms), 1], variant: [name], decision: [name] },
  form: { action: [(v) => v === 'focus' || v === 'submit', 1], form: [name, 1] },
  conversion: { name: [name, 1], value: [num(0, L.max_value)], currency: [(v) => /^[A-Za-z]{3}$/.test(v)] },
  custom: { name: [name, 1], props: [props] },
  trigger: { slot: [name, 1], variant: [name, 1], decision: [name, 1], trigger: [name, 1] },
};
export const TYPE_NAMES = Object.keys(TYPES);

/** Problems with one event (empty: valid). */
export function eventErrors(ev) {
  if (!ev || typeof ev !== 'object' || Array.isArray(ev)) return ['not an object'];
  const spec = TYPES[ev.type];
  if (!spec) return [`unknown type ${ev.type}`];
  const errors = [];
  if (typeof ev.id !== 'string' || !ID.test(ev.id)) errors.push(`bad id ${ev.id}`);
  if (!int(0, 1e14)(ev.ts)) errors.push(`bad ts ${ev.ts}`);
  for (const key of Object.keys(ev)) {
    if (key === 'id' || key === 'type' || key === 'ts') continue;
    if (!spec[key]) errors.push(`unknown field ${key}`);
    else if (ev[key] !== null && !spec[key][0](ev[key])) errors.push(`bad ${key}: ${JSON.stringify(ev[key])}`);
  }
  for (const [key, [, required]] of Object.entries(spec)) {
    if (required && (ev[key] === undefined || ev[key] === null)) errors.push(`missing ${key}`);
  }
  return errors;
}

/** Problems with one batch object (empty: valid). */
export function batchErrors(batch) {
  if (!batch || typeof batch !== 'object' || Array.isArray(batch)) return ['not an object'];
  const errors = [];
  for (const key of Object.keys(batch)) if (!['v', 'page', 'events'].includes(key)) errors.push(`unknown field ${key}`);
  if (batch.v !== 1) errors.push('v must be 1');
  if (typeof batch.page !== 'string' || !ID.test(batch.page)) errors.push('bad page id');
  const events = batch.events;
  if (!Array.isArray(events) || events.length < 1 || events.length > L.max_events_per_batch) {
    errors.push('events must be an array of 1..' + L.max_events_per_batch);
  } else {
    events.forEach((ev, i) => eventErrors(ev).forEach((e) => errors.push(`events[${i}]: ${e}`)));
  }
  return errors;
}

/** Problems with one request body (a string as sent). */
export function bodyErrors(body) {
  if (typeof body !== 'string') return ['body is not a string'];
  if (Buffer.byteLength(body) > L.max_body_bytes) return ['body too large'];
  let batch;
  try {
    batch = JSON.parse(body);
  } catch (e) {
    return ['not JSON'];
  }
  return batchErrors(batch);
}
