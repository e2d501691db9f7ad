import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makePage, startOn, settle, h } from './helpers/fake.js';

process.env.TZ = 'Asia/Tokyo'; // Node resets its zone when TZ is assigned

async function flushAll(page) {
  page.pagehide();
  await settle();
  return page.events;
}

test('pushState to a new path starts a new page view with a new page id', async () => {
  const page = makePage({ path: '/products', search: '?c=1' });
  startOn(page);
  page.clock.advance(1000);
  page.w.history.pushState({}, '', '/products/42');
  page.d.title = 'Product 42';
  page.w.history.pushState({}, '', '/products/42#reviews'); // hash only: same page view
  page.w.history.replaceState({ scroll: 1 }, ''); // no URL: same page view
  page.w.history.replaceState({}, '', '/products/42?tab=specs'); // new query: new page view
  const events = await flushAll(page);
  const views = events.filter((e) => e.type === 'pageview');
  assert.deepEqual(views.map((e) => [e.url, e.ref]), [
    ['/products?c=1', 'https://www.google.com/'],
    ['/products/42', 'https://shop.example/products?c=1'],
    ['/products/42?tab=specs', 'https://shop.example/products/42'],
  ]);
  const pages = views.map((e) => e._page);
  assert.equal(new Set(pages).size, 3, 'one page id per page view');
  for (const p of pages) assert.match(p, /^[A-Za-z0-9_-]{8,64}$/);
});

test("the visitor's time zone goes with the first page view of a page load only", async () => {
  const page = makePage({ path: '/a' });
  startOn(page);
  page.w.history.pushState(null, '', '/b');
  const views = (await flushAll(page)).filter((e) => e.type === 'pageview');
  assert.deepEqual(views.map((e) => [e.url, e.tz]), [['/a', 'Asia/Tokyo'], ['/b', undefined]]);
});

test('popstate (back/forward) starts a new page view', async () => {
  const page = makePage({ path: '/a' });
  startOn(page);
  page.w.history.pushState(null, '', '/b');
  page.w.location.pathname = '/a'; // the browser went back
  page.w.dispatch('popstate');
  const views = (await flushAll(page)).filter((e) => e.type === 'pageview');
  assert.deepEqual(views.map((e) => e.url), ['/a', '/b', '/a']);
});

test('events stay with the page view they happened in', async () => {
  const page = makePage({ path: '/a', config: { conversions: [{ name: 'signup', url: '/welcome' }] } });
  const api = startOn(page);
  page.clock.advance(2000);
  api.track('first');
  page.w.history.pushState(null, '', '/welcome');
  api.track('second');
  const events = await flushAll(page);
  const [p1, p2] = events.filter((e) => e.type === 'pageview').map((e) => e._page);
  const pageOf = (pred) => events.filter(pred).map((e) => e._page);
  assert.deepEqual(pageOf((e) => e.name === 'first'), [p1]);
  assert.deepEqual(pageOf((e) => e.name === 'second'), [p2]);
  assert.deepEqual(pageOf((e) => e.name === 'signup'), [p2], 'URL conversion on the SPA page view');
  const engaged = events.filter((e) => e.type === 'engaged');
  assert.equal(engaged[0]._page, p1, 'the old page view is closed with its engaged time');
  assert.equal(engaged[0].ms, 2000);
});

test('the history wrappers are transparent: same return value, same exceptions, same this', () => {
  const page = makePage();
  const calls = [];
  page.w.history.pushState = function (state, unused, url) {
    calls.push(this);
    if (url === 'https://evil.example/') throw new Error('SecurityError');
    return 'ret';
  };
  startOn(page);
  assert.equal(page.w.history.pushState({}, '', '/x'), 'ret');
  assert.equal(calls[0], page.w.history);
  assert.throws(() => page.w.history.pushState({}, '', 'https://evil.example/'), /SecurityError/);
});

test('slots rendered by the new page view are observed for impressions', async () => {
  const page = makePage({ path: '/a' });
  startOn(page);
  const { FakeIntersectionObserver } = await import('./helpers/fake.js');
  const io = FakeIntersectionObserver.instances[0];
  const later = h('div', { 'data-vernier-slot': 'promo', 'data-vernier-variant': 'a', 'data-vernier-decision': 'd_later' });
  page.html.children[0].append(later);
  page.w.history.pushState(null, '', '/b');
  assert.ok(io.observed.has(later));
});
