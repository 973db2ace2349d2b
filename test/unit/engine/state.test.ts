/**
 * The derived container state in the moment between the container's death and its monitor's
 * exit record: still running (not "exited 255", which is what a monitor killed with it means).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import type { Engine } from '../../../src/engine/engine.ts';
import type { ContainerRecord } from '../../../src/engine/record.ts';
import { containerState } from '../../../src/engine/state.ts';
import { processStartTime } from '../../../src/runtime/container-state.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'berth-state-'));
after(() => rmSync(dir, { recursive: true, force: true }));

// no runtime record (the container process is gone); the exit file lives in dir
const engine = {
  runtime: { root: { load: () => { throw new Error('no such container'); } } },
  layout: { exit: (id: string) => path.join(dir, `${id}.exit.json`) },
} as unknown as Engine;

function rec(id: string, monitor?: ContainerRecord['Monitor']): ContainerRecord {
  return { Id: id, StartedAt: '2026-01-01T00:00:00Z', Monitor: monitor, HostConfig: { Isolation: '' } } as unknown as ContainerRecord;
}

describe('derived state', () => {
  it('a live monitor without an exit record yet: running', () => {
    const st = containerState(engine, rec('a', { Pid: process.pid, Start: processStartTime(process.pid)! }));
    assert.equal(st.Status, 'running');
    assert.equal(st.Running, true);
  });
  it('the exit record wins once written', () => {
    writeFileSync(engine.layout.exit('b'), JSON.stringify({ exitCode: 137, signal: 9, oomKill: 0, finishedAt: '2026-01-01T00:00:01Z' }));
    const st = containerState(engine, rec('b', { Pid: process.pid, Start: processStartTime(process.pid)! }));
    assert.equal(st.Status, 'exited');
    assert.equal(st.ExitCode, 137);
  });
  it('a dead monitor (or a recycled pid) without an exit record: exited 255 with an error', () => {
    const st = containerState(engine, rec('c', { Pid: process.pid, Start: 'not-its-start-time' }));
    assert.equal(st.Status, 'exited');
    assert.equal(st.ExitCode, 255);
    assert.match(st.Error, /monitor exited unexpectedly/);
  });
});
