/**
 * `berth compare` for real on this host: one `--runs 3 --json --html` run (VM boots under TCG
 * take a while), then the facts it reports are checked against what this machine is (kernel
 * releases, namespace privacy, limits, visibility), never its timings; and the HTML report is
 * rendered in headless Chromium, with the screenshot decoded and checked for content.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { inflateSync } from 'node:zlib';
import type { AvailableMode, CompareReport, ModeResult } from '../../src/compare/report.ts';
import { engineRoot, type EngineRoot } from '../helpers/engine.ts';
import { BERTH, tempDir } from '../helpers/fixtures.ts';

const CHROMIUM = '/usr/bin/chromium';
const guestKernels = existsSync('/boot') ? readdirSync('/boot').filter((n) => n.startsWith('vmlinuz-')) : [];
const canVm = existsSync('/usr/bin/qemu-system-x86_64') && guestKernels.length > 0;

let eng: EngineRoot;
let dir = '';
let report: CompareReport;
let html = '';
let stderr = '';

// compare makes its scratch mounts under the temp dir: a private one lets the leak checks look at
// this test's mounts only, whatever else runs on the machine
const TMP = tempDir('cmptmp');
process.env.TMPDIR = TMP;

before(() => {
  eng = engineRoot('compare');
  dir = tempDir('compare');
  html = path.join(dir, 'report.html');
  const r = eng.berth(['compare', '--runs', '3', '--json', '--html', html], { timeout: 540_000 });
  stderr = r.stderr;
  assert.equal(r.status, 0, r.stderr);
  report = JSON.parse(r.stdout) as CompareReport;
});

after(() => {
  eng?.teardown();
  if (dir) rmSync(dir, { recursive: true, force: true });
  rmSync(TMP, { recursive: true, force: true });
});

function mode(name: string): ModeResult {
  const m = report.modes.find((x) => x.mode === name);
  assert.ok(m, `mode ${name} missing`);
  return m;
}

function available(name: string): AvailableMode {
  const m = mode(name);
  assert.ok(m.available, `${name}: ${m.available ? '' : m.reason}`);
  return m;
}

test('compare --runs 3 --json: every mode, a latency for each, the kernels and namespaces this host has', () => {
  assert.deepEqual(report.modes.map((m) => m.mode), ['chroot', 'process', 'vm', 'host']);
  assert.equal(report.runs, 3);
  const modes = canVm ? ['chroot', 'process', 'vm', 'host'] : ['chroot', 'process', 'host'];
  for (const name of modes) {
    const m = available(name);
    assert.equal(m.latency.runsMs.length, 3, name);
    for (const ms of m.latency.runsMs) assert.ok(Number.isFinite(ms) && ms > 0, `${name}: ${ms}`);
    assert.ok(m.latency.minMs <= m.latency.medianMs && m.latency.medianMs <= m.latency.maxMs, name);
    assert.ok(Object.keys(m.namespaces.status).length >= 7, `${name}: ${Object.keys(m.namespaces.status)}`);
  }
  if (!canVm) {
    const v = mode('vm');
    assert.equal(v.available, false);
    assert.match(v.available ? '' : v.reason, /qemu|kernel/i);
  }

  // the host's kernel for everything that shares it
  for (const name of ['chroot', 'process', 'host']) assert.equal(available(name).kernel, os.release(), name);

  // namespaces: chroot and the host share all of them; process isolation makes the engine's five private
  assert.deepEqual(available('chroot').namespaces.private, []);
  assert.deepEqual(available('host').namespaces.private, []);
  const p = available('process');
  for (const ns of ['mnt', 'pid', 'net', 'ipc', 'uts']) assert.ok(p.namespaces.private.includes(ns), `process: ${ns} not private: ${p.namespaces.private}`);

  // a 16 MiB limit stops a 48 MiB hog in a container, and nothing stops it in a chroot
  assert.equal(p.memoryLimit.enforced, true);
  assert.equal(p.memoryLimit.exitCode, 137);
  assert.equal(available('chroot').memoryLimit.enforced, false);
  assert.equal(available('chroot').memoryLimit.exitCode, 0);

  // host processes: the marker is seen from a chroot (with /proc mounted) and from the host, not from a container
  assert.equal(available('chroot').hostProcesses.visible, true);
  assert.equal(available('host').hostProcesses.visible, true);
  assert.equal(p.hostProcesses.visible, false);

  // per-instance memory: the monitor is a real process with a resident set; chroot has none
  assert.ok(p.memory.idleKiB > 0 && p.memory.peakKiB >= p.memory.idleKiB, JSON.stringify(p.memory));
  assert.equal(available('chroot').memory.idleKiB, 0);
  assert.equal(p.accel, 'native');

  if (canVm) {
    const v = available('vm');
    // the guest runs Debian's kernel from /boot, not the host's
    const newest = guestKernels.map((n) => n.slice('vmlinuz-'.length));
    assert.ok(newest.includes(v.kernel), `vm kernel ${v.kernel} not one of ${newest}`);
    assert.notEqual(v.kernel, p.kernel);
    assert.ok(Object.values(v.namespaces.status).every((s) => s === 'n/a'), 'a guest kernel has its own namespaces: not comparable');
    assert.equal(v.memoryLimit.enforced, true);
    assert.equal(v.memoryLimit.exitCode, 137);
    assert.equal(v.hostProcesses.visible, false);
    assert.ok(['kvm', 'tcg'].includes(v.accel), v.accel);
    if (!existsSync('/dev/kvm')) assert.equal(v.accel, 'tcg', 'no /dev/kvm here: software emulation');
    assert.ok(v.memory.idleKiB > 0, 'QEMU has a resident set');
  }
  assert.match(stderr, /compare: host: facts/);
});

test('compare leaves nothing behind: no containers, no leases, no mounts', () => {
  assert.equal(eng.berth(['ps', '-aq']).stdout.trim(), '');
  const rootfsDir = path.join(eng.root, 'rootfs');
  assert.deepEqual(existsSync(rootfsDir) ? readdirSync(rootfsDir) : [], []);
  assert.ok(!readFileSync('/proc/self/mountinfo', 'utf8').includes(TMP), 'no mount of ours is left');
});

test('a mode this host cannot run is shown as unavailable with its reason, the others still measured', () => {
  const r = eng.berth(['compare', '--modes', 'vm,host', '--runs', '1', '-q'], { env: { ...process.env, BERTH_VM_KERNEL: '/nonexistent/vmlinuz' } });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^ {2}vm: unavailable: kernel \/nonexistent\/vmlinuz does not exist$/m);
  assert.match(r.stdout, /^ {2}host: \/bin\/true: /m);
  assert.equal(r.stderr, '');
});

test('an interrupted compare finishes its step, removes its containers, leases and mounts, and exits 130', async () => {
  const child = spawn(BERTH, ['--root', eng.root, 'compare', '--modes', 'chroot,process', '--runs', '1'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  let sent = false;
  child.stderr.on('data', (c: Buffer) => {
    err += c.toString();
    // while the process column's facts are being gathered: a container is being created or run
    if (!sent && err.includes('compare: process: facts')) {
      sent = true;
      child.kill('SIGINT');
    }
  });
  const [code] = (await once(child, 'close')) as [number | null];
  assert.ok(sent, err);
  assert.equal(code, 130, err);
  assert.match(err, /compare interrupted; everything it had set up was removed/);
  assert.equal(eng.berth(['ps', '-aq']).stdout.trim(), '');
  const rootfsDir = path.join(eng.root, 'rootfs');
  assert.deepEqual(existsSync(rootfsDir) ? readdirSync(rootfsDir) : [], []);
  assert.ok(!readFileSync('/proc/self/mountinfo', 'utf8').includes(TMP), 'no mount of ours is left');
});

/** RGB(A) pixels of an 8-bit, non-interlaced PNG (what Chromium writes), rows unfiltered. */
function decodePng(buf: Buffer): { width: number; height: number; channels: number; pixels: Buffer } {
  assert.equal(buf.toString('latin1', 1, 4), 'PNG');
  let off = 8;
  let width = 0;
  let height = 0;
  let channels = 0;
  const idat: Buffer[] = [];
  while (off < buf.length) {
    const len = buf.readUInt32BE(off);
    const type = buf.toString('latin1', off + 4, off + 8);
    const data = buf.subarray(off + 8, off + 8 + len);
    if (type === 'IHDR') {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      assert.equal(data[8], 8, 'bit depth');
      channels = ({ 2: 3, 6: 4 } as Record<number, number>)[data[9]!] ?? 0;
      assert.ok(channels, `color type ${data[9]}`);
      assert.equal(data[12], 0, 'interlace');
    } else if (type === 'IDAT') idat.push(data);
    off += 12 + len;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  const pixels = Buffer.alloc(stride * height);
  for (let y = 0; y < height; y++) {
    const f = raw[y * (stride + 1)]!;
    const src = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    for (let x = 0; x < stride; x++) {
      const a = x >= channels ? pixels[y * stride + x - channels]! : 0;
      const b = y > 0 ? pixels[(y - 1) * stride + x]! : 0;
      const c = x >= channels && y > 0 ? pixels[(y - 1) * stride + x - channels]! : 0;
      const pa = Math.abs(b - c);
      const pb = Math.abs(a - c);
      const pc = Math.abs(a + b - 2 * c);
      const pred = [0, a, b, (a + b) >> 1, pa <= pb && pa <= pc ? a : pb <= pc ? b : c][f]!;
      pixels[y * stride + x] = (src[x]! + pred) & 0xff;
    }
  }
  return { width, height, channels, pixels };
}

test('the HTML report renders in headless Chromium without errors, is not blank, and fetches nothing', { skip: existsSync(CHROMIUM) ? false : `${CHROMIUM} missing (apt-get install chromium)` }, () => {
  const page = readFileSync(html, 'utf8');
  assert.doesNotMatch(page, /https?:|<script|<link|<img|url\(/i, 'the page is self-contained');
  const shot = path.join(dir, 'shot.png');
  const netlog = path.join(dir, 'net.json');
  const r = spawnSync(
    CHROMIUM,
    [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', `--user-data-dir=${path.join(dir, 'profile')}`,
      // Chromium's own services (time, accounts) still try to connect: no name resolves, so nothing leaves the machine
      '--host-resolver-rules=MAP * ~NOTFOUND', `--log-net-log=${netlog}`,
      `--screenshot=${shot}`, '--window-size=1200,900', `file://${html}`,
    ],
    { encoding: 'utf8', timeout: 120_000 },
  );
  assert.equal(r.status, 0, r.stderr);
  assert.doesNotMatch(r.stderr, /Uncaught|SyntaxError|ERR_FILE_NOT_FOUND|Failed to load resource/);

  const png = decodePng(readFileSync(shot));
  assert.deepEqual([png.width, png.height], [1200, 900]);
  const colors = new Map<number, number>();
  const { pixels, channels } = png;
  for (let i = 0; i < pixels.length; i += channels) {
    const rgb = (pixels[i]! << 16) | (pixels[i + 1]! << 8) | pixels[i + 2]!;
    colors.set(rgb, (colors.get(rgb) ?? 0) + 1);
  }
  const background = [...colors.entries()].sort((a, b) => b[1] - a[1])[0]!;
  assert.ok(colors.size > 50, `only ${colors.size} colours: a blank page`);
  assert.ok(background[1] < 0.9 * png.width * png.height, 'nine tenths of the screenshot is one colour');
  // the mode colours of the table's header and the latency bars are on screen
  const near = (hex: number) => [...colors.entries()].filter(([c]) => [16, 8, 0].every((s) => Math.abs(((c >> s) & 0xff) - ((hex >> s) & 0xff)) <= 4)).reduce((n, [, k]) => n + k, 0);
  for (const [name, hex] of [['process', 0x2f80c0], ['chroot', 0xe0a030]] as const) assert.ok(near(hex) >= 50, `${name} colour: ${near(hex)} pixels`);

  // nothing the page asked for went to the network: every request is Chromium's own, and none succeeded
  const log = JSON.parse(readFileSync(netlog, 'utf8')) as { constants: { logEventTypes: Record<string, number> }; events: { type: number; phase: number; params?: Record<string, unknown> }[] };
  const start = log.constants.logEventTypes.URL_REQUEST_START_JOB;
  for (const e of log.events.filter((x) => x.type === start)) {
    if (e.params?.url !== undefined) assert.equal(e.params.initiator, 'not an origin', `the page requested ${String(e.params.url)}`);
    else if (e.phase === 2) assert.ok(Number(e.params?.net_error) < 0, 'a request succeeded');
  }
});
