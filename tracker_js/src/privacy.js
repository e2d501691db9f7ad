import { post } from './transport.js';

// Privacy gates. Global Privacy Control or Do Not Track: the tracker never starts (nothing is
// collected, stored or sent). Consent pending (the proxy marks its script tag with
// data-vernier-consent="pending" when consent is required and not given): nothing is collected or
// sent until the page calls vernier.consent(true).
export function optedOut(nav) {
  return nav.globalPrivacyControl === true || nav.doNotTrack === '1';
}

export function consentPending(script) {
  return script && script.getAttribute('data-vernier-consent') == 'pending';
}

/** Tell the proxy (it sets or clears the consent cookie); resolves to true on a 2xx answer. */
export function postConsent(w, url, granted) {
  return new Promise((resolve) => resolve(post(w, url, JSON.stringify({ granted })))).then(
    (r) => r.ok,
    () => false,
  );
}
