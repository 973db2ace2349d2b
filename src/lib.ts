/** The typed library API of berth: `import { Berth } from 'berth'`. */
export * from './common/errors.ts';
export type * from './oci/runtime-spec.ts';
export { Berth, CreatedContainer, RunningContainer, ExitedContainer, type AnyContainer, type RunOutput } from './api/berth.ts';
export type { CreateOptions, ContainerInspect, ContainerState, ExecOptions, LogEntry, LogOptions, PsEntry, StatsSample } from './api/berth.ts';
export * as runtime from './runtime/index.ts';
