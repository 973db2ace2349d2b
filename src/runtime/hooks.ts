/**
 * Hooks that run in the runtime's namespaces (prestart, createRuntime, poststart, poststop).
 * createContainer and startContainer run inside the container and are the helper's job.
 */
import { spawnSync } from 'node:child_process';
import { SystemError } from '../common/errors.ts';
import type { Hook, State } from '../oci/runtime-spec.ts';

export function runHooks(stage: string, hooks: Hook[] | undefined, state: State): void {
  for (const h of hooks ?? []) {
    const [argv0, ...rest] = h.args?.length ? h.args : [h.path];
    const r = spawnSync(h.path, rest, {
      argv0,
      input: JSON.stringify(state),
      env: Object.fromEntries((h.env ?? []).map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)])),
      stdio: ['pipe', 'ignore', 'pipe'],
      timeout: h.timeout ? h.timeout * 1000 : undefined,
      killSignal: 'SIGKILL',
    });
    // A hook that never reads its stdin makes the write fail with EPIPE: that is not its failure.
    if (r.error && (r.error as NodeJS.ErrnoException).code !== 'EPIPE') {
      const code = (r.error as NodeJS.ErrnoException).code;
      if (code === 'ETIMEDOUT') throw new SystemError(`${stage} hook ${h.path} timed out after ${h.timeout}s`);
      throw new SystemError(`${stage} hook ${h.path}: ${code ?? r.error.message}`);
    }
    if (r.status !== 0) {
      const why = r.signal ? `signal ${r.signal}` : `exit status ${r.status}`;
      const err = r.stderr?.toString().trim().split('\n').pop();
      throw new SystemError(`${stage} hook ${h.path} failed (${why})${err ? `: ${err}` : ''}`);
    }
  }
}
