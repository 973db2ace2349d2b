/** Reading a container's record with its live status. */
import type { ContainerStatus, State } from '../oci/runtime-spec.ts';
import { deriveStatus, ociState, type ContainerRecord } from './container-state.ts';
import type { RuntimeContext } from './context.ts';

export interface ContainerView {
  rec: ContainerRecord;
  status: ContainerStatus;
}

export function inspect(ctx: RuntimeContext, id: string): ContainerView {
  const rec = ctx.root.load(id);
  const status = deriveStatus(ctx.root, rec, () => {
    try {
      return ctx.cgroups(rec).isFrozen();
    } catch {
      return false;
    }
  });
  return { rec, status };
}

/** runc's `state` output: the spec's State plus rootfs, created and owner. */
export function state(ctx: RuntimeContext, id: string): State & { rootfs: string; created: string; owner: string } {
  const { rec, status } = inspect(ctx, id);
  return { ...ociState(rec, status), rootfs: rec.rootfs, created: rec.created, owner: rec.owner };
}
