import { test, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeSys } from '../../../src/sys/fake.ts';
import { Store } from '../../../src/store/store.ts';
import { DigestMismatchError } from '../../../src/store/content.ts';
import { sha256 } from '../../../src/store/digest.ts';

let root: string;
let store: Store;
beforeEach(async () => {
  root = mkdtempSync(join(tmpdir(), 'berth-content-'));
  store = await Store.open(root, { sys: new FakeSys() });
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

async function* chunks(...parts: string[]) {
  for (const p of parts) yield Buffer.from(p);
}

test('ingest stores content under its digest and leaves no temp file', async () => {
  const info = await store.content.ingest(chunks('hel', 'lo'), { digest: sha256('hello'), size: 5 });
  assert.deepEqual(info, { digest: sha256('hello'), size: 5 });
  assert.equal(readFileSync(store.layout.blob(info.digest), 'utf8'), 'hello');
  assert.deepEqual(readdirSync(store.layout.ingestDir), []);
});

test('a digest mismatch stores nothing', async () => {
  await assert.rejects(store.content.ingest(chunks('evil'), { digest: sha256('hello') }), DigestMismatchError);
  assert.deepEqual(readdirSync(store.layout.blobDir), []);
  assert.deepEqual(readdirSync(store.layout.ingestDir), []);
});

test('a size mismatch stores nothing, even when too long', async () => {
  await assert.rejects(store.content.ingest(chunks('hello'), { size: 4 }), DigestMismatchError);
  await assert.rejects(store.content.ingest(chunks('hello'), { size: 6 }), DigestMismatchError);
  assert.deepEqual(readdirSync(store.layout.blobDir), []);
  assert.deepEqual(readdirSync(store.layout.ingestDir), []);
});

test('a failing source stores nothing', async () => {
  async function* broken() {
    yield Buffer.from('part');
    throw new Error('connection lost');
  }
  await assert.rejects(store.content.ingest(broken()), /connection lost/);
  assert.deepEqual(readdirSync(store.layout.ingestDir), []);
  assert.deepEqual(readdirSync(store.layout.blobDir), []);
});

test('concurrent ingests of the same content both succeed with one blob', async () => {
  const [a, b] = await Promise.all([store.content.put('same'), store.content.put('same')]);
  assert.equal(a.digest, b.digest);
  assert.deepEqual(readdirSync(store.layout.blobDir), [a.digest.slice(7)]);
});
