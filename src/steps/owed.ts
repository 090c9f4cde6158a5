// Work a change makes owed, recorded on the node before the change and cleared once done: a
// corosync restart after a new authkey, a resource restart after its config was rewritten. A run
// cut short in between (killed, a lost connection) leaves the record, and the next run finds it
// and does the work, where the files alone would look converged.
import type { Action, StepContext } from '../runner/types.ts';
import type { HostHandle } from './common.ts';
import { raw, sh } from '../ssh/quote.ts';
import { ok, type Result } from '../util/result.ts';
import { readRecordNames } from '../facts/host.ts';
import { waitSettled } from '../facts/cluster.ts';
import { serviceResourceId } from '../cluster/build.ts';
import type { ServiceName } from '../services/registry.ts';

export const OWED_DIR = '/var/lib/osha/owed';

/** The records on a node (file names in OWED_DIR), read once per run. */
export function readOwed(ctx: StepContext, h: HostHandle): Promise<Result<Set<string>>> {
  return ctx.facts.get(h.host, 'owed', () => readRecordNames(h.c, OWED_DIR));
}

/** An action recording `name` on the node (before the change that makes it owed). */
export function oweAction(ctx: StepContext, h: HostHandle, name: string, why: string): Action {
  const command = sh`mkdir -p -m 0700 ${OWED_DIR} && echo ${why} > ${`${OWED_DIR}/${name}`}`;
  return {
    summary: `record on ${h.host} that ${why} (cleared when done, so a run cut short is finished by the next one)`,
    commands: [command],
    apply: async () => {
      const r = await h.c.run(command);
      ctx.facts.forget(h.host, 'owed');
      return r.ok ? ok(undefined) : r;
    },
  };
}

/** Clears records once their work is done. */
export async function clearOwed(ctx: StepContext, h: HostHandle, names: readonly string[]): Promise<Result<void>> {
  if (names.length === 0) return ok(undefined);
  const r = await h.c.run(sh`cd ${OWED_DIR} 2>/dev/null && rm -f -- ${[...names]}; true`);
  ctx.facts.forget(h.host, 'owed');
  return r.ok ? ok(undefined) : r;
}

export const COROSYNC_RESTART = 'corosync-restart';
export const restartRecord = (service: string): string => `restart-${service}`;

/**
 * Restarts a service's resource through Pacemaker and waits until the cluster has settled again;
 * with `node`, only a clone's instance there (crm_resource stops it there, then lets it start).
 */
export function restartAction(ctx: StepContext, h: HostHandle, service: ServiceName, why: string, disruptive: string | undefined, node?: string): Action {
  const timeout = Math.round(ctx.options.settleTimeoutMs / 1000);
  // --restart returns once the start is under way; --wait holds until the cluster settles, so
  // the next step (or the operator) finds the service running, not "Starting".
  // A clone without a node restarts on every node at once: crm_resource has no rolling restart.
  const id = serviceResourceId(ctx.inv, service);
  const onNode = raw(node ? sh` --node ${node}` : '');
  const cmd = sh`crm_resource --restart --resource ${id}${onNode} --timeout=${`${timeout}s`}`;
  return {
    summary: `restart ${id}${node ? ` on ${node} (the other nodes serve meanwhile)` : ''}: ${why}`,
    ...(disruptive ? { disruptive } : {}),
    commands: [cmd, `crm_resource --wait --timeout=${timeout}s`],
    apply: async () => {
      const r = await h.c.run(cmd, { timeoutMs: (timeout + 30) * 1000 });
      if (!r.ok) return r;
      return waitSettled(h.c, timeout, ctx.signal);
    },
  };
}

/** Run-wide record of the primitives this run's CIB patch creates (they start fresh). */
export const CREATED_PRIMITIVES = 'resources-created';

/**
 * Run-wide note of the resources step to keystone-endpoints: the APIs that validate tokens, created
 * by this run while the catalog's identity endpoints are not on the VIP yet, are configured with
 * target-role=Stopped; keystone-endpoints starts them once it moved the endpoints, so that their
 * first start reads the VIP's and no restart is owed. A run cut short in between leaves them held
 * in the CIB; the next run's resources step starts them (they exist then, so nothing is held), and
 * keystone-endpoints restarts them if it moves the endpoints only then.
 */
export const CATALOG_HOLD = 'resources-catalog-hold';

export interface CatalogHold {
  /** The services held, and the top-level resources (clone or group) carrying the target-role. */
  services: ServiceName[];
  units: string[];
  /** The resources step's CIB patch again without the hold, then the wait until everything runs. */
  release(ctx: StepContext, h: HostHandle): Action;
}
