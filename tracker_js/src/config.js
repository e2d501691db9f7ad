// Page configuration from <script type="application/json" id="vernier-config">, read once. Invalid
// parts are ignored (fail open: a broken config never breaks the page or the tracker). Conversions
// are kept as configured ({name, url} or {name, selector, value_attr?, currency?, on?}); a selector
// the browser cannot parse drops its conversion here rather than throwing on every check.
const num = (v, lo, hi, dflt) => (v >= lo && v <= hi ? v : dflt);
export const str = (v) => typeof v == 'string' && v; // a non-empty string (truthy)

export function readConfig(doc) {
  let raw;
  try {
    raw = JSON.parse(doc.getElementById('vernier-config').textContent);
  } catch (e) {
    /* absent or not JSON: defaults */
  }
  raw = raw || {};
  return {
    conversions: [].concat(raw.conversions).filter((c) => {
      try {
        return str(c.name) && (str(c.url) || (str(c.selector) && (doc.querySelector(c.selector), true)));
      } catch (e) {
        return false;
      }
    }),
    idleMs: num(raw.engaged_idle_ms, 1000, 600000, 5000),
    flushMs: num(raw.flush_ms, 1000, 60000, 5000),
  };
}
