/** The library API a Node program imports: typed handles over the same engine as the CLI. */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { Berth, ExitedContainer, RunningContainer } from '../../src/lib.ts';
import { engineRoot } from '../helpers/engine.ts';

describe('library API', () => {
  const e = engineRoot('lib');
  after(() => e.teardown());
  const berth = new Berth({ root: e.root });

  it('run resolves with the exit status and the output', async () => {
    const r = await berth.run({ image: 'busybox', cmd: ['sh', '-c', 'echo out; echo err >&2; exit 4'], autoRemove: true });
    assert.equal(r.exitCode, 4);
    assert.equal(r.stdout, 'out\n');
    assert.equal(r.stderr, 'err\n');
    assert.equal(berth.list({ all: true }).length, 0, 'autoRemove left nothing');
    const oom = await berth.run({ image: 'busybox', cmd: ['sh', '-c', 'x=a; while :; do x=$x$x; done'], memory: 16 << 20, autoRemove: true });
    assert.equal(oom.exitCode, 137);
    assert.equal(oom.oomKilled, true);
  });

  it('handles are typed by state: running → exec, logs, stop → exited', async () => {
    const c = await berth.runDetached({ image: 'busybox', name: 'lib1', cmd: ['sh', '-c', 'echo started; exec sleep 300'] });
    assert.ok(c instanceof RunningContainer);
    assert.equal(await c.exec(['sh', '-c', 'exit 6']), 6);
    const handle = berth.container('lib1');
    assert.equal(handle.kind, 'running');
    assert.equal(handle.inspect().Name, '/lib1');
    for (let i = 0; i < 50 && !(await c.logs()).length; i++) await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual((await c.logs()).map((l) => l.log), ['started\n']);
    const stopped = await c.stop(0);
    assert.ok(stopped instanceof ExitedContainer);
    assert.equal(stopped.exitCode, 137);
    assert.equal(berth.container('lib1').kind, 'exited');
    await stopped.remove();
    assert.throws(() => berth.container('lib1'), /No such container: lib1/);
  });
});
