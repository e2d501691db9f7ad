// One POST of one batch body. Results: OK (stored, or queued by sendBeacon), DROP (rejected for
// good: 400/403/413/415…, never retried), RETRY (429, 408, 5xx, network error, no transport).
export const OK = 0;
export const DROP = 1;
export const RETRY = 2;

/**
 * A same-origin POST of a JSON string that survives the page (keepalive) with window `w`'s fetch.
 * No headers: fetch's defaults are what the collector wants (credentials `same-origin`; a string
 * body is `text/plain;charset=UTF-8`, as sendBeacon sends it) and saving the bytes keeps t.js
 * within its budget.
 */
export function post(w, url, body) {
  return w.fetch(url, { method: 'POST', body, keepalive: true });
}

export function createTransport(nav, w, url) {
  return (body, unloading) => {
    // sendBeacon sends text/plain;charset=UTF-8 and survives the page; its answer is unknowable
    if (unloading && nav.sendBeacon && nav.sendBeacon(url, body)) return OK;
    return post(w, url, body).then(
      (r) => (r.ok ? OK : /^(408|429|5)/.test(r.status) ? RETRY : DROP),
      () => RETRY,
    );
  };
}
