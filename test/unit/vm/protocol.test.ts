import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeFrame, encodeRun, encodeSetup, FrameDecoder, parseFailure, HEADER } from '../../../src/vm/protocol.ts';
import { bootOps, encodeBootOps } from '../../../src/vm/boot-script.ts';

const words = (b: Buffer): string[] => b.toString().split('\0').slice(0, -1);

test('frames: header layout and decoding across arbitrary chunk boundaries', () => {
  const a = encodeFrame('O', 7, Buffer.from('hello'));
  assert.equal(a.length, HEADER + 5);
  assert.equal(a.readUInt32LE(0), 5);
  assert.equal(String.fromCharCode(a[4]!), 'O');
  assert.equal(a.readUInt32LE(5), 7);
  const stream = Buffer.concat([a, encodeFrame('X', 7, Buffer.from('0')), encodeFrame('I', 0x80000001)]);
  for (let cut = 0; cut <= stream.length; cut++) {
    const d = new FrameDecoder();
    const got = [...d.push(stream.subarray(0, cut)), ...d.push(stream.subarray(cut))];
    assert.deepEqual(
      got.map((f) => [f.type, f.session, f.payload.toString()]),
      [
        ['O', 7, 'hello'],
        ['X', 7, '0'],
        ['I', 0x80000001, ''],
      ],
    );
  }
});

test('decoder refuses absurd lengths', () => {
  const h = Buffer.alloc(HEADER);
  h.writeUInt32LE(0xffffffff, 0);
  assert.throws(() => new FrameDecoder().push(h), RangeError);
});

test('run request: argv, env, cwd, user, groups, tty, cgroup in the agent\'s op language', () => {
  const w = words(
    encodeRun({ args: ['sh', '-c', 'echo a b'], env: ['A=1'], cwd: '/tmp', uid: 1000, gid: 100, additionalGids: [5], tty: { rows: 24, cols: 80 }, cgroup: '/sys/fs/cgroup/x', hostname: 'h' }),
  );
  assert.deepEqual(w, ['arg', 'sh', 'arg', '-c', 'arg', 'echo a b', 'env', 'A=1', 'cwd', '/tmp', 'user', '1000', '100', 'group', '5', 'tty', '24', '80', 'cgroup', '/sys/fs/cgroup/x', 'hostname', 'h']);
  assert.deepEqual(words(encodeRun({ args: ['true'] })), ['arg', 'true', 'cwd', '/', 'user', '0', '0']);
  assert.deepEqual(words(encodeRun({ args: ['true'], powerOffOnExit: true })).slice(-1), ['poweroff']);
  assert.throws(() => encodeRun({ args: [] }), RangeError);
  assert.throws(() => encodeRun({ args: ['a\0b'] }), RangeError);
});

test('setup ops and failures', () => {
  assert.deepEqual(words(encodeSetup([{ op: 'mkdir', path: '/sys/fs/cgroup/a', mode: 0o755 }, { op: 'write', path: '/x', value: '+memory' }])), [
    'mkdir', '/sys/fs/cgroup/a', '755', 'write', '/x', '+memory',
  ]);
  assert.deepEqual(parseFailure('2 exec nope: No such file or directory'), { errno: 2, message: 'exec nope: No such file or directory' });
  assert.deepEqual(parseFailure('weird'), { errno: 0, message: 'weird' });
});

test('boot script: devtmpfs and sysfs first, modules in order, then port, 9p root, API filesystems, switch root', () => {
  const ops = bootOps({ modules: ['/m/a.ko', '/m/b.ko'] });
  const kinds = ops.map((o) => (o.op === 'mount' ? `mount:${o.fstype}:${o.dst}` : o.op === 'module' ? `module:${o.path}` : o.op));
  assert.deepEqual(kinds, [
    'mount:devtmpfs:/dev',
    'mount:sysfs:/sys',
    'module:/m/a.ko',
    'module:/m/b.ko',
    'port',
    'mount:9p:/newroot',
    'mount:proc:/newroot/proc',
    'mount:sysfs:/newroot/sys',
    'mount:devtmpfs:/newroot/dev',
    'mount:devpts:/newroot/dev/pts',
    'mount:tmpfs:/newroot/dev/shm',
    'mount:cgroup2:/newroot/sys/fs/cgroup',
    'root',
  ]);
  const w = words(encodeBootOps(ops));
  assert.deepEqual(w.slice(0, 6), ['mount', 'devtmpfs', '/dev', 'devtmpfs', '2', '']);
  assert.ok(w.includes('io.berth.agent'));
});
