import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makePage, startOn, settle, h } from './helpers/fake.js';

const slot = () => h('div', { 'data-vernier-slot': 'hero', 'data-vernier-variant': 'b', 'data-vernier-decision': 'd_77aa88bb' }, h('a', { class: 'cta' }));

/** Drive a page through everything the tracker could observe. */
async function exercise(page, api) {
  const a = page.html.children[0].children[0].children[0];
  page.on(a, 'click');
  page.on(a, 'mouseover');
  api.track('purchase', { value: 1 });
  api.event('x');
  page.clock.advance(20000);
  page.hide();
  page.pagehide();
  await settle();
}

for (const [label, opts] of [
  ['Global Privacy Control', { gpc: true }],
  ['Do Not Track', { dnt: '1' }],
]) {
  test(`${label}: nothing is collected, stored or sent, and no listener is added`, async () => {
    const page = makePage({ ...opts, body: [slot()] });
    const api = startOn(page);
    await exercise(page, api);
    assert.deepEqual(page.requests, []);
    assert.equal(page.storage.map.size, 0);
    assert.equal(page.storage.writes, 0);
    assert.equal(page.d.count() + page.w.count(), 0);
    assert.equal(page.clock.timers.size, 0);
    assert.equal(typeof page.w.history.pushState, 'function');
    assert.ok(!String(page.w.history.pushState).includes('check'), 'history not wrapped');
  });
}

test('GPC false and DNT "0" or unset do not block', async () => {
  const page = makePage({ gpc: false, dnt: '0' });
  startOn(page);
  page.pagehide();
  await settle();
  assert.equal(page.ofType('pageview').length, 1);
});

test('consent pending: nothing until vernier.consent(true), which posts the consent endpoint and then starts', async () => {
  const page = makePage({ consent: 'pending', body: [slot()] });
  const api = startOn(page);
  await exercise(page, api);
  assert.deepEqual(page.requests, [], 'nothing sent while pending');
  assert.equal(page.storage.writes, 0, 'nothing stored while pending');
  assert.equal(page.d.count() + page.w.count(), 0, 'no listeners while pending');

  page.d.visibilityState = 'visible';
  const accepted = await api.consent(true);
  assert.equal(accepted, true);
  assert.equal(page.requests.length, 1);
  const [c] = page.requests;
  assert.equal(c.url, 'https://shop.example/__vernier/consent');
  assert.equal(c.init.method, 'POST');
  assert.equal(c.contentType, 'text/plain;charset=UTF-8');
  assert.equal(c.init.credentials, undefined); // fetch's default: same-origin
  assert.deepEqual(JSON.parse(c.body), { granted: true });

  assert.equal(page.runIdle(), 1, 'observers attached when the browser is idle');
  api.track('purchase', { value: 10 });
  page.pagehide();
  await settle();
  assert.deepEqual(page.events.map((e) => e.type), ['pageview', 'conversion', 'scroll']);
  assert.equal(page.ofType('conversion')[0].value, 10);
});

test('consent(true) that the proxy does not accept does not start the tracker', async () => {
  const page = makePage({ consent: 'pending', respond: () => ({ ok: false, status: 404 }) });
  const api = startOn(page);
  assert.equal(await api.consent(true), false);
  page.pagehide();
  await settle();
  assert.equal(page.requests.length, 1);
  const failing = makePage({ consent: 'pending' });
  failing.w.fetch = () => Promise.reject(new TypeError('network'));
  assert.equal(await startOn(failing).consent(true), false);
});

test('consent(true) under GPC tells the proxy but still collects nothing', async () => {
  const page = makePage({ consent: 'pending', gpc: true });
  const api = startOn(page);
  assert.equal(await api.consent(true), true);
  page.pagehide();
  await settle();
  assert.deepEqual(page.requests.map((r) => r.url), ['https://shop.example/__vernier/consent']);
});

test('consent(false) stops collecting, clears stored batches and tells the proxy', async () => {
  const page = makePage({ respond: () => ({ ok: false, status: 503 }) });
  const api = startOn(page);
  api.track('a');
  page.clock.advance(5000); // flush fails: kept in storage
  await settle();
  assert.ok(page.storage.getItem('vernier:q'));
  const listeners = page.d.count() + page.w.count();
  assert.ok(listeners > 0);
  page.requests.length = 0;

  const pushState = page.w.history.pushState;
  assert.equal(await api.consent(false), false); // 503 from the fake for everything
  assert.equal(page.storage.getItem('vernier:q'), null, 'stored batches cleared');
  assert.equal(page.d.count() + page.w.count(), 0, 'listeners removed');
  assert.notEqual(page.w.history.pushState, pushState, 'history wrappers removed');
  assert.deepEqual(page.requests.map((r) => [r.url, r.body]), [['https://shop.example/__vernier/consent', '{"granted":false}']]);
  api.track('b');
  page.clock.advance(60000);
  page.pagehide();
  await settle();
  assert.equal(page.requests.length, 1, 'nothing sent after consent(false)');
  assert.equal(page.clock.timers.size, 0);
});

test('consent(x) with anything but true is a refusal', async () => {
  const page = makePage();
  const api = startOn(page);
  await api.consent('true');
  assert.deepEqual(JSON.parse(page.requests.at(-1).body), { granted: false });
});
