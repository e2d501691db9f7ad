import { test } from 'node:test';
import assert from 'node:assert/strict';
import { splitBatches, createQueue } from '../src/queue.js';
import { createStore } from '../src/storage.js';
import { OK, DROP, RETRY } from '../src/transport.js';
import { bodyErrors } from './helpers/contract.js';
import { FakeStorage, settle } from './helpers/fake.js';

const PAGE = 'pagepagepage0001';
let seq = 0;
const ev = (extra = {}) => ({ id: `ev${String(++seq).padStart(10, '0')}`, type: 'custom', ts: 1732250000000, name: 'x', ...extra });

test('at most 50 events per batch, in order, one page view per batch', () => {
  const items = [];
  for (let i = 0; i < 120; i++) items.push([PAGE, ev()]);
  items.push(['pagepagepage0002', ev()]);
  const batches = splitBatches(items, 50, 60000);
  assert.deepEqual(batches.map((b) => b.ids.length), [50, 50, 20, 1]);
  for (const b of batches) {
    assert.deepEqual(bodyErrors(b.body), []);
    const parsed = JSON.parse(b.body);
    assert.deepEqual(parsed.events.map((e) => e.id), b.ids);
  }
  assert.equal(JSON.parse(batches[3].body).page, 'pagepagepage0002');
  assert.deepEqual(batches.flatMap((b) => b.ids), items.map(([, e]) => e.id));
});

test('bodies stay under 60 KB (UTF-8 bytes, not chars) and are split otherwise', () => {
  const big = (c) => ev({ props: Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`k${i}`, c.repeat(256 / c.length)])) });
  for (const c of ['a', 'é', '😀']) {
    const items = Array.from({ length: 40 }, () => [PAGE, big(c)]);
    const batches = splitBatches(items, 50, 60000);
    assert.ok(batches.length > 1, `split for ${c}`);
    for (const b of batches) {
      assert.ok(Buffer.byteLength(b.body) <= 60000, `${Buffer.byteLength(b.body)} bytes`);
      assert.equal(bodyErrors(b.body).length, 0, `invalid body for ${c}`);
    }
    // packed: each batch but the last could not take the next event
    assert.equal(batches.flatMap((b) => b.ids).length, 40);
  }
});

function harness(results, storage = new FakeStorage(), max = 100) {
  const sent = [];
  let t = 1000;
  const send = (body, unloading) => {
    sent.push({ body: JSON.parse(body), unloading });
    const r = results.length ? results.shift() : OK;
    return unloading ? r : Promise.resolve(r);
  };
  const store = createStore(() => storage, 'vernier:q', max);
  const queue = createQueue(store, send, () => t, 50, 60000, 5000);
  return { sent, queue, store, storage, advance: (ms) => (t += ms) };
}
const idsOf = (s) => s.body.events.map((e) => e.id);

test('a failed batch is retried later with the same event ids', async () => {
  const q = harness([RETRY, OK]);
  const events = [ev(), ev(), ev()];
  for (const e of events) q.queue.add(PAGE, e);
  q.queue.flush();
  await settle();
  assert.equal(q.sent.length, 1);
  assert.equal(q.store.load().length, 3, 'kept in storage');
  q.queue.flush(); // still backing off
  await settle();
  assert.equal(q.sent.length, 1);
  q.advance(60000);
  q.queue.flush();
  await settle();
  assert.equal(q.sent.length, 2);
  assert.deepEqual(idsOf(q.sent[1]), idsOf(q.sent[0]));
  assert.deepEqual(idsOf(q.sent[1]), events.map((e) => e.id));
  assert.equal(q.store.load().length, 0, 'removed once stored');
  assert.equal(q.storage.getItem('vernier:q'), null);
});

test('rejected batches (400/403/413/415) are dropped, not retried', async () => {
  const q = harness([DROP]);
  q.queue.add(PAGE, ev());
  q.queue.flush();
  await settle();
  q.advance(600000);
  q.queue.flush();
  await settle();
  assert.equal(q.sent.length, 1);
  assert.equal(q.store.load().length, 0);
});

test('a transport that throws or rejects counts as a retryable failure', async () => {
  const storage = new FakeStorage();
  const store = createStore(() => storage, 'k', 100);
  const queue = createQueue(store, () => { throw new Error('boom'); }, () => 0, 50, 60000, 5000);
  queue.add(PAGE, ev());
  queue.flush();
  await settle();
  assert.equal(store.load().length, 1);
});

test('events written ahead survive the page: the next page view sends them with the same ids', async () => {
  const storage = new FakeStorage();
  const first = harness([], storage);
  first.queue.add(PAGE, ev());
  first.queue.add(PAGE, ev());
  // the page dies with the request in flight: the transport never answers
  const never = createQueue(first.store, () => new Promise(() => {}), () => 0, 50, 60000, 5000);
  never.add(PAGE, ev());
  never.flush();
  await settle();
  const stored = JSON.parse(storage.getItem('vernier:q'));
  assert.equal(stored.length, 1);
  const next = harness([], storage);
  next.queue.flush();
  await settle();
  assert.deepEqual(idsOf(next.sent[0]), [stored[0][1].id]);
  assert.equal(next.sent[0].body.page, PAGE, 'keeps its original page id');
});

test('the retry store is bounded: 100 events, oldest dropped', async () => {
  const q = harness(Array(10).fill(RETRY));
  const all = Array.from({ length: 130 }, () => ev());
  for (const e of all) q.queue.add(PAGE, e);
  q.queue.flush();
  await settle();
  const stored = q.store.load().map(([, e]) => e.id);
  assert.equal(stored.length, 100);
  assert.deepEqual(stored, all.slice(30).map((e) => e.id));
  assert.ok(q.storage.getItem('vernier:q').length < 100 * 200);
});

test('in-flight events are not sent twice by an overlapping flush', async () => {
  const sent = [];
  let answer;
  const store = createStore(() => new FakeStorage(), 'k', 100);
  const queue = createQueue(store, (body) => (sent.push(body), new Promise((r) => (answer = r))), () => 0, 50, 60000, 5000);
  queue.add(PAGE, ev());
  queue.flush();
  queue.add(PAGE, ev());
  queue.flush();
  assert.equal(sent.length, 2);
  assert.equal(JSON.parse(sent[1]).events.length, 1);
  answer(OK);
});

test('unloading uses the beacon path and ignores the back-off', async () => {
  const q = harness([RETRY]);
  q.queue.add(PAGE, ev());
  q.queue.flush();
  await settle();
  q.queue.add(PAGE, ev());
  q.queue.flush(true);
  await settle();
  assert.equal(q.sent.length, 2);
  assert.equal(q.sent[1].unloading, true);
  assert.equal(q.sent[1].body.events.length, 2, 'the failed event goes too');
  assert.equal(q.store.load().length, 0);
});

test('storage that throws (blocked, quota) falls back to memory', async () => {
  const throwing = { getItem() { throw new Error('SecurityError'); } };
  const store = createStore(() => throwing, 'k', 100);
  store.save([[PAGE, ev()]]);
  assert.equal(store.load().length, 1);
  const full = new FakeStorage();
  full.setItem = () => { throw new Error('QuotaExceededError'); };
  const store2 = createStore(() => full, 'k', 2);
  store2.save([[PAGE, ev()], [PAGE, ev()], [PAGE, ev()]]);
  assert.equal(store2.load().length, 2);
  const garbage = new FakeStorage();
  garbage.setItem('k', '{not json');
  assert.deepEqual(createStore(() => garbage, 'k', 5).load(), []);
  garbage.setItem('k', '[1, [2], ["p", {"id": 3}], ["p", {"id": "ok"}]]');
  assert.equal(createStore(() => garbage, 'k', 5).load().length, 1);
  assert.deepEqual(createStore(() => { throw new Error('no'); }, 'k', 5).load(), []);
});
