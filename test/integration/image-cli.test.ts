/**
 * The image listing commands through the CLI: `images --filter` (dangling, reference, before,
 * since, label, as Docker) and `history` truncation, which `--no-trunc` turns off in every
 * output form (table, -q, --format, json).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { berth, cleanup, ok, tarOf, tempDir } from './image-helpers.ts';

const skip = process.getuid?.() !== 0 ? 'needs root' : false;
let dir = '';
let root = '';
let longSource = '';
const ids: Record<string, string> = {};

before(async () => {
  if (skip) return;
  dir = tempDir('cli');
  root = join(dir, 'root');
  // A long path makes a long CREATED BY (`berth import <path>`).
  const deep = join(dir, 'a-rather-long-directory-name-for-the-history', 'of-this-image');
  mkdirSync(deep, { recursive: true });
  longSource = join(deep, 'rootfs.tar');
  writeFileSync(longSource, await tarOf([{ name: 'bin/sh', body: 'sh', mode: 0o755 }]));
  for (const [tag, label] of [['one', 'tier=base'], ['two', 'tier=app'], ['three', 'tier=app note=a=b']] as const) {
    ids[tag] = ok(berth(root, ['import', '-c', `LABEL ${label}`, longSource, `cli:${tag}`]), 'import').stdout.trim();
    await new Promise((r) => setTimeout(r, 20)); // distinct creation times
  }
});
after(() => {
  if (dir) cleanup(dir);
});

const tags = (...filters: string[]) =>
  ok(berth(root, ['images', ...filters.flatMap((f) => ['--filter', f]), '--format', '{{.Tag}}'])).stdout.trim().split('\n').filter(Boolean);

test('images --filter before, since and label', { skip }, () => {
  assert.deepEqual(tags(), ['three', 'two', 'one']);
  assert.deepEqual(tags('before=cli:three'), ['two', 'one']);
  assert.deepEqual(tags('since=cli:one'), ['three', 'two']);
  assert.deepEqual(tags(`since=${ids['one']!.slice(7, 19)}`, 'before=cli:three'), ['two'], 'by short ID too');
  assert.deepEqual(tags('label=tier=app'), ['three', 'two']);
  assert.deepEqual(tags('label=note=a=b'), ['three']);
  assert.deepEqual(tags('label=tier', 'label=note'), ['three']);
  assert.deepEqual(tags('label=tier=app', 'reference=cli:tw*'), ['two']);
});

test('images --filter refuses what Docker refuses', { skip }, () => {
  for (const [filter, why] of [
    ['colour=red', /invalid filter 'colour'/],
    ['dangling=maybe', /invalid filter 'dangling=maybe'/],
    ['before=nope:1', /nope/],
  ] as const) {
    const r = berth(root, ['images', '--filter', filter]);
    assert.equal(r.code, 125, filter);
    assert.match(r.stderr, why);
  }
});

test('history truncates in every form, and --no-trunc shows everything', { skip }, () => {
  const full = `berth import ${longSource}`;
  assert.ok(full.length > 45);
  const table = ok(berth(root, ['history', 'cli:one'])).stdout;
  assert.match(table, new RegExp(`^${ids['one']!.slice(7, 19)}\\s`, 'm'));
  assert.ok(table.includes(`${full.slice(0, 44)}…`) && !table.includes(full));
  const wide = ok(berth(root, ['history', '--no-trunc', 'cli:one'])).stdout;
  assert.ok(wide.includes(ids['one']!) && wide.includes(full));

  const fmt = ['--format', '{{.ID}}|{{.CreatedBy}}|{{.Size}}'];
  assert.equal(ok(berth(root, ['history', ...fmt, 'cli:one'])).stdout.trim(), `${ids['one']!.slice(7, 19)}|${full.slice(0, 44)}…|2`);
  assert.equal(ok(berth(root, ['history', '--no-trunc', ...fmt, 'cli:one'])).stdout.trim(), `${ids['one']}|${full}|2`);

  const json = JSON.parse(ok(berth(root, ['history', '--format', 'json', 'cli:one'])).stdout) as Record<string, string>;
  assert.equal(json['ID'], ids['one']!.slice(7, 19));
  assert.equal(json['CreatedBy'], `${full.slice(0, 44)}…`);
  const jsonFull = JSON.parse(ok(berth(root, ['history', '--no-trunc', '--format', 'json', 'cli:one'])).stdout) as Record<string, string>;
  assert.equal(jsonFull['ID'], ids['one']);
  assert.equal(jsonFull['CreatedBy'], full);

  assert.equal(ok(berth(root, ['history', '-q', 'cli:one'])).stdout.trim(), ids['one']!.slice(7, 19));
  assert.equal(ok(berth(root, ['history', '-q', '--no-trunc', 'cli:one'])).stdout.trim(), ids['one']);
});
