import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { deviceFilterProgram } from '../../../src/cgroups/device-filter.ts';
import { normalizeDeviceRules, v1DeviceWrites } from '../../../src/cgroups/devices.ts';
import { InvalidConfigError } from '../../../src/common/errors.ts';
import type { DeviceCgroupRule } from '../../../src/oci/runtime-spec.ts';
import { checkStructure, runDeviceProgram, type DeviceRequest } from './bpf-interp.ts';

function verdict(rules: DeviceCgroupRule[], req: DeviceRequest): boolean {
  const prog = deviceFilterProgram(rules);
  checkStructure(prog);
  return runDeviceProgram(prog, req) === 1;
}

const denyAll: DeviceCgroupRule = { allow: false, access: 'rwm' };
const c = (major: number, minor: number, access: string): DeviceRequest => ({ type: 'c', major, minor, access });
const b = (major: number, minor: number, access: string): DeviceRequest => ({ type: 'b', major, minor, access });

describe('v2 device filter program', () => {
  test('allow c 1:3 rwm after deny-all allows only /dev/null', () => {
    const rules: DeviceCgroupRule[] = [denyAll, { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' }];
    for (const acc of ['r', 'w', 'm', 'rw', 'rwm']) assert.equal(verdict(rules, c(1, 3, acc)), true, acc);
    assert.equal(verdict(rules, c(1, 5, 'r')), false);
    assert.equal(verdict(rules, c(3, 1, 'r')), false);
    assert.equal(verdict(rules, b(1, 3, 'r')), false);
  });

  test('no rules and deny-all deny everything', () => {
    for (const rules of [[], [denyAll]]) {
      assert.equal(verdict(rules, c(1, 3, 'r')), false);
      assert.equal(verdict(rules, b(8, 0, 'rw')), false);
    }
  });

  test('type a allows everything', () => {
    const rules: DeviceCgroupRule[] = [{ allow: true, type: 'a', access: 'rwm' }];
    assert.equal(verdict(rules, c(1, 3, 'rwm')), true);
    assert.equal(verdict(rules, b(259, 7, 'w')), true);
  });

  test('wildcard majors and minors', () => {
    const rules: DeviceCgroupRule[] = [
      denyAll,
      { allow: true, type: 'c', major: null, minor: null, access: 'm' },
      { allow: true, type: 'b', major: 8, access: 'r' },
      { allow: true, type: 'c', major: -1, minor: 229, access: 'rw' },
    ];
    assert.equal(verdict(rules, c(42, 42, 'm')), true, 'mknod of any char device');
    assert.equal(verdict(rules, c(42, 42, 'r')), false);
    assert.equal(verdict(rules, b(8, 0, 'r')), true);
    assert.equal(verdict(rules, b(8, 17, 'r')), true);
    assert.equal(verdict(rules, b(8, 0, 'w')), false);
    assert.equal(verdict(rules, b(9, 0, 'r')), false);
    assert.equal(verdict(rules, c(10, 229, 'rw')), true);
    assert.equal(verdict(rules, c(10, 228, 'r')), false);
  });

  test('last match wins, per access bit', () => {
    const rules: DeviceCgroupRule[] = [
      denyAll,
      { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' },
      { allow: false, type: 'c', major: 1, minor: 3, access: 'w' },
    ];
    assert.equal(verdict(rules, c(1, 3, 'r')), true);
    assert.equal(verdict(rules, c(1, 3, 'w')), false);
    assert.equal(verdict(rules, c(1, 3, 'rw')), false, 'O_RDWR needs both bits');
    // A later deny-all overrides earlier allows...
    assert.equal(verdict([{ allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' }, denyAll], c(1, 3, 'r')), false);
    // ...and a later allow punches through an earlier deny.
    assert.equal(verdict([{ allow: true, access: 'rwm' }, { allow: false, type: 'b', access: 'rwm' }, { allow: true, type: 'b', major: 7, access: 'r' }], b(7, 1, 'r')), true);
    assert.equal(verdict([{ allow: true, access: 'rwm' }, { allow: false, type: 'b', access: 'rwm' }], b(7, 1, 'r')), false);
    assert.equal(verdict([{ allow: true, access: 'rwm' }, { allow: false, type: 'b', access: 'rwm' }], c(7, 1, 'r')), true);
  });

  test('agrees with a reference model on random rule sets', () => {
    let seed = 12345;
    const rnd = (n: number): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const pick = <T>(xs: T[]): T => xs[rnd(xs.length)]!;
    const model = (rules: DeviceCgroupRule[], req: DeviceRequest): boolean =>
      [...req.access].every((bit) => {
        const last = normalizeDeviceRules(rules)
          .filter((r) => r.access.includes(bit))
          .filter((r) => (r.type === 'a' || r.type === req.type) && (r.major < 0 || r.major === req.major) && (r.minor < 0 || r.minor === req.minor))
          .at(-1);
        return last?.allow === true;
      });
    for (let i = 0; i < 300; i++) {
      const rules: DeviceCgroupRule[] = Array.from({ length: rnd(7) }, () => ({
        allow: rnd(2) === 0,
        type: pick(['a', 'c', 'b', undefined] as const),
        major: pick([undefined, null, -1, 1, 8]),
        minor: pick([undefined, 0, 3]),
        access: pick(['r', 'w', 'm', 'rw', 'rwm', 'wm', '']),
      }));
      const prog = deviceFilterProgram(rules);
      checkStructure(prog);
      for (let j = 0; j < 10; j++) {
        const req: DeviceRequest = { type: pick(['c', 'b'] as const), major: pick([1, 8, 9]), minor: pick([0, 3, 5]), access: pick(['r', 'w', 'm', 'rw', 'rwm']) };
        assert.equal(runDeviceProgram(prog, req) === 1, model(rules, req), `${JSON.stringify(rules)} ${JSON.stringify(req)}`);
      }
    }
  });

  test('rejects invalid rules', () => {
    assert.throws(() => deviceFilterProgram([{ allow: true, type: 'c', access: 'x' }]), InvalidConfigError);
    assert.throws(() => deviceFilterProgram([{ allow: true, type: 'u' as 'c', access: 'r' }]), InvalidConfigError);
    assert.throws(() => deviceFilterProgram([{ allow: true, type: 'c', major: -5, access: 'r' }]), InvalidConfigError);
    assert.throws(() => deviceFilterProgram([{ allow: true, type: 'c', major: 2 ** 32, access: 'r' }]), InvalidConfigError);
  });
});

describe('v1 device writes', () => {
  test('reset to deny-all, then each rule in order', () => {
    const writes = v1DeviceWrites(
      normalizeDeviceRules([
        denyAll,
        { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' },
        { allow: true, type: 'c', major: null, minor: null, access: 'm' },
        { allow: true, type: 'b', major: 8, access: 'wr' },
        { allow: false, type: 'a', major: 5, minor: 1, access: 'w' },
      ]),
    );
    assert.deepEqual(writes, [
      { file: 'devices.deny', line: 'a' },
      { file: 'devices.deny', line: 'a' },
      { file: 'devices.allow', line: 'c 1:3 rwm' },
      { file: 'devices.allow', line: 'c *:* m' },
      { file: 'devices.allow', line: 'b 8:* rw' },
      { file: 'devices.deny', line: 'c 5:1 w' },
      { file: 'devices.deny', line: 'b 5:1 w' },
    ]);
  });
});
