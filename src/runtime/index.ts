/** The OCI runtime as a library: one function per verb over a RuntimeContext. */
export { RuntimeContext, type RuntimeOptions } from './context.ts';
export { create } from './create.ts';
export { start } from './start.ts';
export { run } from './run.ts';
export { kill, parseSignal } from './kill.ts';
export { remove } from './delete.ts';
export { exec, type ExecOptions } from './exec.ts';
export { list, pids, psTable, pause, resume, type ListEntry } from './list.ts';
export { inspect, state } from './status.ts';
export { defaultSpec } from './default-spec.ts';
export { features } from './features.ts';
