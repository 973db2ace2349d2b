import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chooseAccel, fileVerdicts, parseAccel, probeKey, type AccelDeps } from '../../../src/vm/accel.ts';

function deps(kvm: boolean, probeResult: boolean, store = new Map<string, boolean>()): AccelDeps & { probes: number } {
  const d = {
    probes: 0,
    kvmUsable: () => kvm,
    probe: async () => {
      d.probes++;
      return probeResult;
    },
    readVerdict: (k: string) => store.get(k),
    writeVerdict: (k: string, ok: boolean) => void store.set(k, ok),
  };
  return d;
}

test('tcg is tcg; kvm needs /dev/kvm and is not probed', async () => {
  assert.deepEqual(await chooseAccel('tcg', 'k', deps(true, true)), { accel: 'tcg', probed: false });
  const d = deps(true, false);
  assert.equal((await chooseAccel('kvm', 'k', d)).accel, 'kvm');
  assert.equal(d.probes, 0);
  await assert.rejects(chooseAccel('kvm', 'k', deps(false, true)), /\/dev\/kvm/);
});

test('auto without /dev/kvm: TCG silently, no probe', async () => {
  const d = deps(false, true);
  assert.deepEqual(await chooseAccel('auto', 'k', d), { accel: 'tcg', probed: false });
  assert.equal(d.probes, 0);
});

test('auto with a /dev/kvm that hangs the guest: TCG with a notice, probed once then cached', async () => {
  const store = new Map<string, boolean>();
  const d = deps(true, false, store);
  const first = await chooseAccel('auto', 'host+kernel', d);
  assert.equal(first.accel, 'tcg');
  assert.equal(first.probed, true);
  assert.match(first.notice ?? '', /TCG/);
  assert.equal(first.notice!.split('\n').length, 1);
  const again = await chooseAccel('auto', 'host+kernel', d);
  assert.equal(again.accel, 'tcg');
  assert.equal(again.probed, false);
  assert.equal(d.probes, 1);
  // another kernel is probed afresh
  await chooseAccel('auto', 'other', d);
  assert.equal(d.probes, 2);
});

test('auto with a working KVM: kvm, no notice', async () => {
  const r = await chooseAccel('auto', 'k', deps(true, true));
  assert.deepEqual(r, { accel: 'kvm', probed: true });
});

test('verdict files round-trip; keys differ per host and kernel', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'berth-unit-accel-'));
  try {
    const v = fileVerdicts(dir);
    assert.equal(v.readVerdict('a'), undefined);
    v.writeVerdict('a', false);
    assert.equal(v.readVerdict('a'), false);
    v.writeVerdict('a', true);
    assert.equal(v.readVerdict('a'), true);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  assert.notEqual(probeKey('k1', 'cpu', '6.1'), probeKey('k2', 'cpu', '6.1'));
  assert.notEqual(probeKey('k1', 'cpu', '6.1'), probeKey('k1', 'cpu', '6.18'));
  assert.equal(parseAccel('auto'), 'auto');
  assert.throws(() => parseAccel('xen'), /kvm, tcg or auto/);
});
