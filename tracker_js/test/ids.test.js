import { test } from 'node:test';
import assert from 'node:assert/strict';
import { webcrypto } from 'node:crypto';
import { makeId, ID_CHARS } from '../src/ids.js';
import { contract } from './helpers/contract.js';

test('ids match the contract: [A-Za-z0-9_-], 8..64 chars', () => {
  const { min_id_chars: min, max_id_chars: max } = contract.limits;
  assert.ok(ID_CHARS >= min && ID_CHARS <= max);
  const re = new RegExp(`^[A-Za-z0-9_-]{${min},${max}}$`);
  for (let i = 0; i < 1000; i++) assert.match(makeId(webcrypto), re);
});

test('ids come from crypto.getRandomValues and do not repeat', () => {
  let calls = 0;
  const crypto = { getRandomValues: (a) => (calls++, webcrypto.getRandomValues(a)) };
  const ids = new Set();
  for (let i = 0; i < 20000; i++) ids.add(makeId(crypto));
  assert.equal(ids.size, 20000);
  assert.equal(calls, 20000);
});

test('every character of the alphabet is reachable (all 5 bits used)', () => {
  const chars = new Set();
  for (let i = 0; i < 2000; i++) for (const c of makeId(webcrypto)) chars.add(c);
  assert.equal(chars.size, 32);
});
