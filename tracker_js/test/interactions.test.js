import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makePage, startOn, settle, h } from './helpers/fake.js';

async function sent(page, type) {
  page.pagehide();
  await settle();
  return page.ofType(type);
}

test('a click inside a personalised element is attributed to the enclosing slot', async () => {
  const icon = h('svg', { class: 'icon' });
  const cta = h('a', { id: 'hero-cta', class: 'cta  primary big', href: '/buy?secret=1' }, icon);
  const text = h('p', {}, h('span'));
  const hero = h('div', { 'data-vernier-slot': 'hero', 'data-vernier-variant': 'b', 'data-vernier-decision': 'd_77aa88bb' }, h('div', {}, cta, text));
  const page = makePage({ body: [hero] });
  startOn(page);
  page.on(icon, 'click');
  page.on(text.children[0], 'click');
  const [a, b] = await sent(page, 'click');
  assert.deepEqual(
    { slot: a.slot, variant: a.variant, decision: a.decision, target: a.target },
    { slot: 'hero', variant: 'b', decision: 'd_77aa88bb', target: 'a#hero-cta.cta.primary' },
  );
  assert.equal(b.slot, 'hero');
  assert.equal(b.target, 'span');
});

test('clicks on controls outside slots are sent without slot; clicks on plain content are not', async () => {
  const button = h('button', { type: 'submit' }, h('b'));
  const para = h('p', {}, h('em'));
  const page = makePage({ body: [button, para] });
  startOn(page);
  page.on(button.children[0], 'click');
  page.on(para.children[0], 'click');
  page.on(page.d, 'click'); // a target without closest (document)
  const clicks = await sent(page, 'click');
  assert.equal(clicks.length, 1);
  assert.equal(clicks[0].target, 'button');
  assert.equal('slot' in clicks[0], false);
});

test('the target description never contains text, href or values, and is clipped', async () => {
  const input = h('input', { name: 'email', value: 'me@example.com', class: 'x'.repeat(400) });
  const page = makePage({ body: [h('div', {}, input)] });
  startOn(page);
  input.readLog = [];
  page.on(input, 'click');
  const [c] = await sent(page, 'click');
  assert.ok(c.target.length <= 256);
  assert.ok(!JSON.stringify(page.batches).includes('me@example.com'));
  assert.deepEqual([...new Set(input.readLog)].sort(), ['class', 'data-vernier-slot', 'id'].filter((a) => input.readLog.includes(a)).sort());
  assert.ok(!input.readLog.includes('value') && !input.readLog.includes('name'));
});

test('hover dwell on a slot: moves inside do not end it; short passes are ignored', async () => {
  const inner = h('span');
  const hero = h('div', { 'data-vernier-slot': 'hero', 'data-vernier-variant': 'b', 'data-vernier-decision': 'd_1' }, inner);
  const other = h('div', { 'data-vernier-slot': 'side' });
  const outside = h('p');
  const page = makePage({ body: [hero, other, outside] });
  startOn(page);
  page.on(hero, 'mouseover');
  page.clock.advance(500);
  page.on(hero, 'mouseout', { relatedTarget: inner });
  page.on(inner, 'mouseover');
  page.clock.advance(700);
  page.on(inner, 'mouseout', { relatedTarget: outside });
  page.on(outside, 'mouseover');
  page.clock.advance(100);
  page.on(other, 'mouseover'); // 100 ms over nothing, then the side slot
  page.clock.advance(200); // under 250 ms: passing by
  page.on(other, 'mouseout', { relatedTarget: null });
  page.on(hero, 'mouseover');
  page.clock.advance(3000); // still hovering when the page goes away
  const hovers = await sent(page, 'hover');
  assert.deepEqual(hovers.map((e) => [e.slot, e.ms]), [['hero', 1200], ['hero', 3000]]);
  assert.equal(hovers[0].variant, 'b');
});

test('forms: first focus per form and submit, with the form id or name only — never values', async () => {
  const secret = 'hunter2-secret';
  const email = h('input', { type: 'email', name: 'email', value: secret });
  const pass = h('input', { type: 'password', name: 'password', value: secret });
  const login = h('form', { id: 'login', action: `/login?token=${secret}` }, email, pass);
  const news = h('form', { name: 'newsletter' }, h('input', { name: 'id', value: secret })); // shadows form.id
  const anon = h('form', {}, h('textarea', { value: secret }));
  const page = makePage({ body: [login, news, anon] });
  startOn(page);
  for (const el of [email, pass, login, news, anon]) el.readLog = [];
  page.on(email, 'focusin');
  page.on(pass, 'focusin');
  page.on(email, 'focusin');
  page.on(news.children[0], 'focusin');
  page.on(anon.children[0], 'focusin');
  page.on(login, 'submit');
  page.on(h('div'), 'focusin'); // outside any form
  await settle();
  assert.equal(page.requests.length, 1, 'a submit sends at once');
  const forms = await sent(page, 'form');
  assert.deepEqual(forms.map((e) => [e.action, e.form]), [
    ['focus', 'login'],
    ['focus', 'newsletter'],
    ['focus', 'form-2'],
    ['submit', 'login'],
  ]);
  const everything = page.requests.map((r) => r.body).join('\n');
  assert.ok(!everything.includes(secret), 'no value, no action URL');
  assert.deepEqual([...email.readLog, ...pass.readLog], [], 'fields are not even read');
  for (const f of [login, news, anon]) assert.ok(f.readLog.every((a) => a === 'id' || a === 'name'), f.readLog.join());
});

test('scroll: handlers only schedule a frame; one frame reads the layout once; max depth is sent', async () => {
  const page = makePage({});
  startOn(page);
  page.runFrames(); // the initial measurement
  const before = { ...page.reads };
  page.setScroll(500);
  for (let i = 0; i < 50; i++) page.w.dispatch('scroll');
  assert.deepEqual(page.reads, before, 'no layout read inside scroll handlers');
  assert.equal(page.pendingFrames, 1, 'one frame for many scroll events');
  page.runFrames();
  assert.deepEqual(
    [page.reads.scrollY - before.scrollY, page.reads.innerHeight - before.innerHeight, page.reads.scrollHeight - before.scrollHeight],
    [1, 1, 1],
  );
  page.setScroll(2000);
  page.w.dispatch('scroll');
  page.runFrames();
  page.setScroll(0);
  page.w.dispatch('scroll');
  page.runFrames();
  page.clock.advance(5000);
  await settle();
  page.setScroll(2000);
  page.w.dispatch('scroll'); // no frame before the page is hidden: measured on the way out
  const scrolls = await sent(page, 'scroll');
  assert.deepEqual(scrolls.map((e) => e.depth), [1]);
});

test('scroll depth is reported as it grows, never shrinking, two decimals', async () => {
  const page = makePage({});
  startOn(page);
  page.runFrames();
  page.clock.advance(5000);
  page.setScroll(1000);
  page.w.dispatch('scroll');
  page.runFrames();
  page.clock.advance(5000);
  page.setScroll(100);
  page.w.dispatch('scroll');
  page.runFrames();
  page.clock.advance(5000);
  const depths = (await sent(page, 'scroll')).map((e) => e.depth);
  assert.deepEqual(depths, [0.33, 0.67]);
});
