/** The typed library API of berth: `import { ... } from 'berth'`. */
export * from './common/errors.ts';
export type * from './oci/runtime-spec.ts';
