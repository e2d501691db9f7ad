// Client-side navigations: history.pushState / replaceState / popstate that change the path or the
// query start a new page view (new page id). Hash-only changes do not. The wrappers call the
// original first and let its exceptions through unchanged, so the page sees no difference.
export function spa({ w, on, safe, onStop, navigate }) {
  const h = w.history;
  const loc = w.location;
  const where = () => loc.pathname + loc.search;
  let last = where();
  const check = safe(() => {
    const previous = last;
    if ((last = where()) != previous) navigate(loc.origin + previous);
  });
  for (const method of ['pushState', 'replaceState']) {
    const original = h[method];
    const wrapped = function () {
      const result = original.apply(this, arguments);
      check();
      return result;
    };
    h[method] = wrapped;
    onStop(() => {
      if (h[method] === wrapped) h[method] = original;
    });
  }
  on(w, 'popstate', check);
  return {
    page() {
      last = where();
    },
  };
}
