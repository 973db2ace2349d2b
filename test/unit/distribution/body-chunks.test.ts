/** bodyChunks: a response body's chunks as delivered, bounded, and a cut-short body is an error. */
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { bodyChunks } from '../../../src/distribution/http.ts';

test('chunks come through as the same buffers, never concatenated', async () => {
  const body = new PassThrough();
  const sent = [Buffer.from('ab'), Buffer.from('cd'), Buffer.from('ef')];
  for (const c of sent) body.write(c);
  body.end();
  const got: Buffer[] = [];
  for await (const c of bodyChunks(body)) got.push(c);
  assert.equal(Buffer.concat(got).toString(), 'abcdef');
  assert.equal(got.length, 3, 'one chunk per write, even though all were buffered before the first read');
});

test('a slow consumer pauses the body, and it resumes', async () => {
  const body = new PassThrough();
  for (let i = 0; i < 20; i++) body.write(Buffer.alloc(10, i));
  body.end();
  let paused = false;
  let n = 0;
  for await (const c of bodyChunks(body, 4)) {
    paused ||= body.isPaused();
    n += c.length;
    await new Promise((r) => setImmediate(r));
  }
  assert.equal(n, 200);
  assert.ok(paused);
});

test('a body destroyed before its end is an error, not a short read', async () => {
  const body = new PassThrough();
  body.write(Buffer.from('partial'));
  setImmediate(() => body.destroy());
  await assert.rejects(async () => {
    for await (const c of bodyChunks(body)) void c;
  }, /closed before the body was complete/);
});

test('a body error is thrown to the consumer', async () => {
  const body = new PassThrough();
  setImmediate(() => body.destroy(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' })));
  await assert.rejects(async () => {
    for await (const c of bodyChunks(body)) void c;
  }, /socket hang up/);
});
