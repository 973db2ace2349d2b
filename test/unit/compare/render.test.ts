import { test } from 'node:test';
import assert from 'node:assert/strict';
import { barChart, chooseScale } from '../../../src/compare/chart.ts';
import { fmtKiB, fmtMs, fmtTick } from '../../../src/compare/format.ts';
import { renderHtml } from '../../../src/compare/html.ts';
import { renderTable, wrap } from '../../../src/compare/table.ts';
import { sampleReport } from './sample.ts';

test('units: milliseconds to seconds, KiB to MiB, tick labels without trailing zeros', () => {
  assert.equal(fmtMs(1.234), '1.23 ms');
  assert.equal(fmtMs(36), '36.0 ms');
  assert.equal(fmtMs(4130), '4.13 s');
  assert.equal(fmtKiB(0), '0');
  assert.equal(fmtKiB(344), '344 KiB');
  assert.equal(fmtKiB(249856), '244.0 MiB');
  assert.equal(fmtTick('1.00 s'), '1 s');
  assert.equal(fmtTick('10.0 ms'), '10 ms');
  assert.equal(fmtTick('2.50 s'), '2.5 s');
});

test('scale: logarithmic past a 20× spread, linear below it, zeros off the axis', () => {
  const log = chooseScale([23, 4130, 0]);
  assert.equal(log.log, true);
  assert.deepEqual(log.ticks, [10, 100, 1000, 10000]);
  assert.equal(log.pos(0), 0);
  assert.ok(Math.abs(log.pos(100) - 1 / 3) < 1e-9);
  const lin = chooseScale([30, 36]);
  assert.equal(lin.log, false);
  assert.equal(lin.min, 0);
  assert.ok(lin.max >= 36);
  const kib = chooseScale([344, 249856], [1, 10, 100, 1024, 10240, 102400, 1048576]);
  assert.deepEqual(kib.ticks, [100, 1024, 10240, 102400, 1048576]);
});

test('bar chart: one bar per value, none for a zero, the zero still labelled', () => {
  const svg = barChart({
    title: 'm',
    format: String,
    groups: [
      { label: 'a', bars: [{ value: 0, text: 'none', color: '#111111' }] },
      { label: 'b<c', bars: [{ value: 5, lo: 4, hi: 6, text: '5', color: '#222222' }] },
    ],
  });
  assert.equal((svg.match(/<rect /g) ?? []).length, 1);
  assert.match(svg, />none</);
  assert.match(svg, /b&lt;c/);
  assert.match(svg, /<path d="M/); // the whisker
});

test('table: one column per mode, every row, unavailable modes with their reason', () => {
  const t = renderTable(sampleReport({ vmUnavailable: 'qemu-system-x86_64 not found' }));
  for (const h of ['chroot', 'process (namespaces + cgroups)', 'vm (micro-VM + image)', 'host']) assert.ok(t.includes(h), h);
  assert.match(t, /^ {2}vm: unavailable: qemu-system-x86_64 not found$/m);
  assert.match(t, /6\/8: cgroup ipc mnt net pid/);
  assert.match(t, /none \(0\/8\)/);
  assert.match(t, /yes \(48M hog → 137\)/);
  const full = renderTable(sampleReport());
  assert.match(full, /n\/a \(own kernel\)/);
  assert.match(full, /TCG \(software emulation\)/);
  assert.match(full, /6\.1\.0-56-amd64/);
});

test('wrap: words to a width, over-long words cut', () => {
  assert.deepEqual(wrap('aa bb cc', 5), ['aa bb', 'cc']);
  assert.deepEqual(wrap('abcdefgh', 3), ['abc', 'def', 'gh']);
  assert.deepEqual(wrap('', 3), ['']);
});

test('HTML: self-contained (no URL, script, stylesheet link or font fetch), table and two charts, text escaped', () => {
  const r = sampleReport();
  r.image = 'busy<box>';
  const html = renderHtml(r);
  assert.doesNotMatch(html, /https?:|\/\/[a-z]|<script|<link|<img|@import|url\(|src=/i);
  assert.equal((html.match(/<svg /g) ?? []).length, 2);
  assert.match(html, /<table>/);
  assert.match(html, /busy&lt;box&gt;/);
  assert.doesNotMatch(html, /busy<box>/);
  assert.match(html, /Kernels seen: <code>6\.18\.44-host<\/code> by chroot, process, host; <code>6\.1\.0-56-amd64<\/code> by vm/);
  const partial = renderHtml(sampleReport({ vmUnavailable: 'no guest kernel' }));
  assert.match(partial, /unavailable: no guest kernel/);
});
