import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makePage, startOn, settle, h, FakeIntersectionObserver } from './helpers/fake.js';

const rejections = [];
process.on('unhandledRejection', (e) => rejections.push(e));

test('errors inside handlers never reach the page and are reported once as tracker_error', async () => {
  const evil = h('a', {});
  evil.getAttribute = () => {
    throw new Error('boom ' + 'x'.repeat(1000));
  };
  const page = makePage({ body: [evil] });
  const api = startOn(page);
  assert.doesNotThrow(() => page.on(evil, 'click'));
  assert.doesNotThrow(() => page.on(evil, 'click'));
  assert.doesNotThrow(() => api.track('x', { get value() { throw new Error('getter'); } }));
  assert.doesNotThrow(() => api.event('y', new Proxy({}, { ownKeys() { throw new Error('proxy'); } })));
  page.pagehide();
  await settle();
  const errors = page.ofType('custom').filter((e) => e.name === 'tracker_error');
  assert.equal(errors.length, 1);
  assert.match(errors[0].props.message, /^boom x+$/);
  assert.ok(errors[0].props.message.length <= 256);
});

test('a broken environment at start does not throw', async () => {
  const page = makePage();
  Object.defineProperty(page.d, 'title', { get() { throw new Error('title'); } });
  assert.doesNotThrow(() => startOn(page));
  const page2 = makePage();
  page2.w.IntersectionObserver = function () { throw new Error('IO'); };
  assert.doesNotThrow(() => startOn(page2));
  page2.pagehide();
  await settle();
  assert.equal(page2.ofType('pageview').length, 1, 'the other observers still run');
  assert.equal(page2.ofType('custom')[0].props.message, 'IO');
});

test('failing storage, fetch and sendBeacon never throw and leave no unhandled rejection', async () => {
  const page = makePage();
  page.w.localStorage = null;
  Object.defineProperty(page.w, 'localStorage', { get() { throw new Error('SecurityError'); } });
  page.w.fetch = () => { throw new TypeError('fetch is broken'); };
  page.n.sendBeacon = () => { throw new TypeError('beacon is broken'); };
  const api = startOn(page);
  api.track('x');
  page.clock.advance(20000);
  page.hide();
  page.pagehide();
  assert.equal(await api.consent(true), false);
  await settle();
  await settle();
  assert.deepEqual(rejections, []);
});

test('throwing observer callbacks and timers are contained', async () => {
  const el = h('div', { 'data-vernier-slot': 's', 'data-vernier-variant': 'v', 'data-vernier-decision': 'd_1' });
  const page = makePage({ body: [el] });
  startOn(page);
  const io = FakeIntersectionObserver.instances[0];
  assert.doesNotThrow(() => io.callback([{ get target() { throw new Error('entry'); } }]));
  page.w.requestAnimationFrame = () => { throw new Error('raf'); };
  assert.doesNotThrow(() => page.w.dispatch('scroll'));
  assert.doesNotThrow(() => page.clock.advance(30000));
});
