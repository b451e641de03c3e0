import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isReplySubject, normalizeAddress, subjectKey } from './thread.js';

test('subjectKey removes reply and forward prefixes in several languages, and their repeats', () => {
  assert.equal(subjectKey('Angebot 2026'), 'angebot 2026');
  assert.equal(subjectKey('Re: Angebot 2026'), 'angebot 2026');
  assert.equal(subjectKey('AW: Re: Fwd:  Angebot   2026'), 'angebot 2026');
  assert.equal(subjectKey('RE[2]: WG: SV: Angebot 2026'), 'angebot 2026');
  assert.equal(subjectKey('Fw: tr: Angebot 2026'), 'angebot 2026');
  assert.equal(subjectKey('Regarding: Angebot'), 'regarding: angebot', 'a word that merely starts like a prefix stays');
  assert.equal(subjectKey(''), '');
  assert.equal(subjectKey('Re: '.repeat(5000) + 'x').length <= 500, true);
});

test('isReplySubject tells replies and forwards from new messages', () => {
  assert.equal(isReplySubject('Re: x'), true);
  assert.equal(isReplySubject('AW: x'), true);
  assert.equal(isReplySubject('Fwd: x'), true);
  assert.equal(isReplySubject('Reminder: x'), false);
  assert.equal(isReplySubject('x'), false);
});

test('normalizeAddress lower-cases and refuses what is not an address', () => {
  assert.equal(normalizeAddress(' Bob@Example.COM '), 'bob@example.com');
  assert.equal(normalizeAddress('not an address'), undefined);
  assert.equal(normalizeAddress('a@b@c'), undefined);
  assert.equal(normalizeAddress(null), undefined);
  assert.equal(normalizeAddress(`${'a'.repeat(400)}@x.test`), undefined);
});
