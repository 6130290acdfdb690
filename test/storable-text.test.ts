import t from 'tap';
import { hasUnstorableText, isStorable } from '../src/http/storable-text.js';

t.test('text PostgreSQL can store', async (t) => {
  t.ok(isStorable('plain'));
  t.ok(isStorable('emoji 😀 (a surrogate pair)'));
  t.ok(isStorable(''));
  t.notOk(isStorable('nul\u0000here'));
  t.notOk(isStorable('\ud800'), 'a lone high surrogate');
  t.notOk(isStorable('x\udc00'), 'a lone low surrogate');
  t.notOk(isStorable('\ud83d\ud83d\ude00'), 'a high surrogate followed by a pair');
});

t.test('any string in a value', async (t) => {
  t.notOk(hasUnstorableText({ a: ['ok', 'fine'], b: { c: 'good' } }));
  t.ok(hasUnstorableText({ a: ['ok', 'bad\u0000'] }), 'in an array');
  t.ok(hasUnstorableText({ b: { c: '\ud800' } }), 'nested');
  t.ok(hasUnstorableText({ ['key\u0000']: 'value' }), 'in a key');
  t.notOk(hasUnstorableText(42));
  t.notOk(hasUnstorableText(null));
});
