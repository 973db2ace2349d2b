import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chainIDs, parseDigest, sha256, shortId } from '../../../src/store/digest.ts';
import { InvalidArgumentError } from '../../../src/common/errors.ts';

test('sha256 digests are strict', () => {
  const d = sha256('hello');
  assert.equal(d, 'sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824');
  assert.equal(parseDigest(d), d);
  for (const bad of ['sha256:abc', 'sha512:' + 'a'.repeat(64), 'sha256:' + 'A'.repeat(64), `sha256:${'a'.repeat(64)}/..`])
    assert.throws(() => parseDigest(bad), InvalidArgumentError);
  assert.equal(shortId(d), '2cf24dba5fb0');
});

test('chain IDs follow the OCI definition', () => {
  const a = sha256('a');
  const b = sha256('b');
  const c = sha256('c');
  const ids = chainIDs([a, b, c]);
  assert.equal(ids[0], a);
  assert.equal(ids[1], sha256(`${a} ${b}`));
  assert.equal(ids[2], sha256(`${ids[1]} ${c}`));
});
