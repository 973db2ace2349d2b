import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { DEFAULT_TUNING, kernelCmdline, lpjFor, qemuArgs, qemuEscape } from '../../../src/vm/qemu-args.ts';
import { parseTscKhz } from '../../../src/vm/host.ts';
import { bzImagePayload, bzImageRelease, compareVersions, decompressKernel, findKernel } from '../../../src/vm/kernel.ts';
import { resolveModules } from '../../../src/vm/modules.ts';

test('kernel command line: TSC and lpj from the host, tuning switches, no bare words for /init', () => {
  const c = kernelCmdline({ tscKhz: 2096008, hz: 250, accel: 'tcg', tuning: DEFAULT_TUNING });
  assert.equal(lpjFor(2096008, 250), 8384032);
  assert.match(c, /tsc_early_khz=2096008 lpj=8384032/);
  assert.match(c, /\bquiet\b/);
  assert.match(c, /cryptomgr\.notests/);
  assert.doesNotMatch(c, /mitigations=off/);
  assert.match(c, /tsc=reliable/);
  const kernelConsumed = new Set(['quiet', 'no_timer_check']); // __setup() parameters: never passed to init
  for (const w of c.split(' ')) assert.ok(w.includes('=') || w.includes('.') || kernelConsumed.has(w), `bare word ${w} would reach /init`);
  const k = kernelCmdline({ hz: 250, accel: 'kvm', tuning: { quiet: false, skipSelfTests: false, mitigations: false, extra: ['x=1'] } });
  assert.doesNotMatch(k, /quiet|notests|tsc_early|tsc=reliable/);
  assert.match(k, /mitigations=off x=1$/);
});

test('QEMU arguments: microvm, accel, memory, devices, escaping', () => {
  const a = qemuArgs({
    accel: 'tcg', memoryMiB: 128, cpus: 2, vmlinux: '/k/vmlinux', initrd: '/i.cpio', serialLog: '/run/a,b/log', hz: 250,
    tuning: DEFAULT_TUNING, agentSocket: '/run/s.sock', rootfs: '/var/lib/x', tbSizeMiB: 64, sandbox: true,
  });
  const s = a.join(' ');
  assert.equal(a[a.indexOf('-M') + 1], 'microvm,x-option-roms=off,isa-serial=on,rtc=on,acpi=on');
  assert.equal(a[a.indexOf('-accel') + 1], 'tcg,tb-size=64');
  assert.equal(a[a.indexOf('-m') + 1], '128M');
  assert.equal(a[a.indexOf('-smp') + 1], '2');
  assert.ok(a.includes('-nodefaults') && a.includes('-no-reboot'));
  assert.match(s, /file,id=con,path=\/run\/a,,b\/log/);
  assert.match(s, /socket,id=agent,path=\/run\/s\.sock/);
  assert.match(s, /virtserialport,chardev=agent,name=io\.berth\.agent/);
  assert.match(s, /local,id=root,path=\/var\/lib\/x,security_model=passthrough/);
  assert.match(s, /virtio-9p-device,fsdev=root,mount_tag=berthroot/);
  assert.ok(a.includes('-sandbox'));
  const k = qemuArgs({ accel: 'kvm', memoryMiB: 64, cpus: 1, vmlinux: 'v', initrd: 'i', serialLog: 'l', hz: 250, tuning: DEFAULT_TUNING, sandbox: false });
  assert.equal(k[k.indexOf('-accel') + 1], 'kvm');
  assert.equal(k[k.indexOf('-cpu') + 1], 'host');
  assert.ok(!k.includes('-sandbox') && !k.join(' ').includes('9p'));
  assert.equal(qemuEscape('a,b,,c'), 'a,,b,,,,c');
});

test('TSC frequency from /proc/cpuinfo', () => {
  assert.equal(parseTscKhz('processor\t: 0\ncpu MHz\t\t: 2096.008\n'), 2096008);
  assert.equal(parseTscKhz('processor : 0\n'), undefined);
});

function fakeBzImage(payload: Buffer, release: string): Buffer {
  const setupSects = 1;
  const pm = (setupSects + 1) * 512;
  const img = Buffer.alloc(pm + 16 + payload.length);
  img[0x1f1] = setupSects;
  img.write('HdrS', 0x202, 'latin1');
  img.writeUInt16LE(0x300 - 0x200, 0x20e);
  img.write(`${release} (builder@host) #1 SMP\0`, 0x300, 'latin1');
  img.writeUInt32LE(16, 0x248);
  img.writeUInt32LE(payload.length, 0x24c);
  payload.copy(img, pm + 16);
  return img;
}

test('bzImage: release from the setup header, payload found and decompressed', () => {
  const elf = Buffer.concat([Buffer.from([0x7f, 0x45, 0x4c, 0x46]), Buffer.alloc(100, 7)]);
  const gz = gzipSync(elf);
  const img = fakeBzImage(Buffer.concat([gz, Buffer.from([1, 2, 3, 4])]), '6.1.0-99-amd64');
  assert.equal(bzImageRelease(img), '6.1.0-99-amd64');
  assert.equal(bzImagePayload(img).format, 'gzip');
  assert.deepEqual(decompressKernel(img), elf);
  assert.throws(() => bzImagePayload(Buffer.alloc(0x300)), /not a bzImage/);
  assert.throws(() => decompressKernel(fakeBzImage(Buffer.from('BZh91AY'), 'x')), /format berth cannot unpack/);
});

test('newest /boot/vmlinuz-* by version, explicit path wins', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'berth-unit-boot-'));
  try {
    for (const v of ['6.1.0-9-amd64', '6.1.0-56-amd64', '5.10.0-30-amd64']) writeFileSync(path.join(dir, `vmlinuz-${v}`), '');
    const saved = process.env.BERTH_VM_KERNEL;
    delete process.env.BERTH_VM_KERNEL;
    try {
      assert.equal(findKernel(undefined, dir), path.join(dir, 'vmlinuz-6.1.0-56-amd64'));
      assert.equal(findKernel(path.join(dir, 'vmlinuz-5.10.0-30-amd64'), dir), path.join(dir, 'vmlinuz-5.10.0-30-amd64'));
      assert.throws(() => findKernel(undefined, path.join(dir, 'none')), /no guest kernel/);
    } finally {
      if (saved !== undefined) process.env.BERTH_VM_KERNEL = saved;
    }
    assert.ok(compareVersions('6.1.0-56', '6.1.0-9') > 0);
    assert.ok(compareVersions('6.10.0', '6.9.1') > 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('modules: dependencies first, each once, built-ins skipped, dashes and compression normalised', () => {
  const dep = [
    'kernel/fs/9p/9p.ko: kernel/net/9p/9pnet.ko kernel/fs/fscache/fscache.ko kernel/fs/netfs/netfs.ko',
    'kernel/fs/fscache/fscache.ko: kernel/fs/netfs/netfs.ko',
    'kernel/fs/netfs/netfs.ko:',
    'kernel/net/9p/9pnet.ko:',
    'kernel/net/9p/9pnet_virtio.ko: kernel/net/9p/9pnet.ko kernel/drivers/virtio/virtio.ko.xz kernel/drivers/virtio/virtio_ring.ko.xz',
    'kernel/drivers/virtio/virtio.ko.xz: kernel/drivers/virtio/virtio_ring.ko.xz',
    'kernel/drivers/virtio/virtio_ring.ko.xz:',
    'kernel/drivers/virtio/virtio_mmio.ko.xz: kernel/drivers/virtio/virtio.ko.xz kernel/drivers/virtio/virtio_ring.ko.xz',
    'kernel/drivers/char/virtio_console.ko: kernel/drivers/virtio/virtio.ko.xz kernel/drivers/virtio/virtio_ring.ko.xz',
  ].join('\n');
  const names = resolveModules(['virtio-mmio', 'virtio_console', '9pnet_virtio', '9p'], dep).map((m) => m.name);
  assert.deepEqual(names, ['virtio_ring', 'virtio', 'virtio_mmio', 'virtio_console', '9pnet', '9pnet_virtio', 'netfs', 'fscache', '9p']);
  const withBuiltin = resolveModules(['virtio_mmio'], dep, 'kernel/drivers/virtio/virtio_ring.ko\nkernel/drivers/virtio/virtio.ko\n').map((m) => m.name);
  assert.deepEqual(withBuiltin, ['virtio_mmio']);
  assert.throws(() => resolveModules(['nope'], dep), /not in modules.dep/);
});
