import { test } from 'node:test';
import assert from 'node:assert/strict';
import { expandVariables, expandWord, expandWords, rawPairs } from '../../../src/build/words.ts';
import { BuildError } from '../../../src/build/errors.ts';

const env = (m: Record<string, string>) => (n: string) => m[n];

test('expandWord: quotes, escapes and variables as Docker', () => {
  const e = env({ A: '1', EMPTY: '', SP: 'a b' });
  assert.equal(expandWord('"two words"', e), 'two words');
  assert.equal(expandWord("'$A literal'", e), '$A literal');
  assert.equal(expandWord('${A}-$A', e), '1-1');
  assert.equal(expandWord('${UNSET:-fallback} ${EMPTY:-e} ${EMPTY-e}', e), 'fallback e ');
  assert.equal(expandWord('${A:+set}${UNSET:+x}', e), 'set');
  assert.equal(expandWord('\\$A "\\$A" a\\ b', e), '$A $A a b');
  assert.equal(expandWord('cost $5', e), 'cost $5');
  assert.throws(() => expandWord('${UNSET:?must be set}', e), BuildError);
  assert.throws(() => expandWord('"open', e), /double-quote/);
});

test('expandWord with a backtick escape keeps backslashes', () => {
  assert.equal(expandWord('C:\\path\\dir', env({}), '`'), 'C:\\path\\dir');
  assert.equal(expandWord('a`"b', env({}), '`'), 'a"b');
});

test('expandWords splits at unquoted whitespace, also in values', () => {
  const e = env({ SP: 'x y' });
  assert.deepEqual(expandWords('a "b c" $SP "$SP"', e), ['a', 'b c', 'x', 'y', 'x y']);
  assert.deepEqual(expandWords('  ', e), []);
  assert.deepEqual(expandWords('""', e), ['']);
});

test('heredoc bodies: variables only', () => {
  assert.equal(expandVariables('say "$A" \'x\' \\n', env({ A: 'hi' })), 'say "hi" \'x\' \\n');
});

test('rawPairs finds = outside quotes', () => {
  assert.deepEqual(rawPairs('a=1 "k 1"=v b="x=y z" legacy'), [
    { key: 'a', value: '1' },
    { key: '"k 1"', value: 'v' },
    { key: 'b', value: '"x=y z"' },
    { key: 'legacy', value: undefined },
  ]);
});
