// Applying the model with Pacemaker's own XML tools (field-notes section 4): query, compute the
// desired CIB, crm_verify, crm_diff, cibadmin --patch, and again from the top when the CIB
// changed in between (exit 103: a compare-and-swap). The tools are passed in, so the same loop
// runs over SSH in deploy and on a file-backed CIB (CIB_file) in tests.
import { err, ok, oshaError, type Result } from '../util/result.ts';
import type { ResourceModel } from '../model/resources.ts';
import { desiredCib, removedResources, stopRemovedCib } from './merge.ts';

/** cibadmin's exit code when the patch was made from an older CIB than the live one. */
export const CIB_CHANGED = 103;

export interface CibTools {
  /** `cibadmin --query`: the live CIB. */
  query(): Promise<Result<string>>;
  /** `crm_verify --xml-file FILE`: ok, or an error carrying crm_verify's output. */
  verify(cibXml: string): Promise<Result<void>>;
  /** `crm_diff --original A --new B`: the patch, or undefined when there is no difference. */
  diff(original: string, desired: string): Promise<Result<string | undefined>>;
  /** `cibadmin --patch --xml-file FILE`: its exit code (0 applied, 103 the CIB changed meanwhile). */
  patch(patchXml: string): Promise<Result<{ code: number; stderr: string }>>;
  /** Waits until the cluster has finished its transition (`crm_resource --wait`). */
  settle(): Promise<Result<void>>;
}

export interface ApplyReport {
  /** osha resources that were stopped, then removed. */
  removed: string[];
  /** Patches applied (0 when the CIB already matched). */
  patches: number;
  /** Patches refused with 103 and redone from a fresh query. */
  retries: number;
}

type Step = (live: string) => Result<string>;

/**
 * Two phases when services were removed: first their resources get target-role=Stopped (so they
 * stop in their configured order, dependants first) and the cluster settles; then the desired CIB
 * replaces osha's objects. Each phase is one compare-and-swap loop of at most `attempts` tries.
 */
export async function applyModel(tools: CibTools, model: ResourceModel, attempts = 5): Promise<Result<ApplyReport>> {
  const report: ApplyReport = { removed: [], patches: 0, retries: 0 };
  const first = await tools.query();
  if (!first.ok) return first;
  const removed = removedResources(first.value, model);
  if (!removed.ok) return removed;
  report.removed = removed.value;

  if (report.removed.length > 0) {
    const stopped = await casLoop(tools, (live) => stopRemovedCib(live, model), attempts, report);
    if (!stopped.ok) return stopped;
    const settled = await tools.settle();
    if (!settled.ok) return settled;
  }
  const applied = await casLoop(tools, (live) => desiredCib(live, model), attempts, report);
  if (!applied.ok) return applied;
  const settled = await tools.settle();
  if (!settled.ok) return settled;
  return ok(report);
}

/** query → compute → verify → diff → patch; on 103 start over from a fresh query. */
async function casLoop(tools: CibTools, compute: Step, attempts: number, report: ApplyReport): Promise<Result<void>> {
  for (let attempt = 1; attempt <= attempts; attempt++) {
    const live = await tools.query();
    if (!live.ok) return live;
    const desired = compute(live.value);
    if (!desired.ok) return desired;
    if (desired.value === live.value) return ok(undefined);
    const verified = await tools.verify(desired.value);
    if (!verified.ok) {
      return err(oshaError(`crm_verify rejects the new configuration, nothing was changed: ${verified.error.message}`, { fix: 'run `osha plan` to see the configuration; this is a bug in osha unless an inventory override caused it' }));
    }
    const patch = await tools.diff(live.value, desired.value);
    if (!patch.ok) return patch;
    if (patch.value === undefined) return ok(undefined);
    const applied = await tools.patch(patch.value);
    if (!applied.ok) return applied;
    if (applied.value.code === 0) {
      report.patches++;
      return ok(undefined);
    }
    if (applied.value.code !== CIB_CHANGED) {
      return err(oshaError(`cibadmin --patch failed (exit ${applied.value.code}): ${applied.value.stderr.trim()}`));
    }
    report.retries++;
  }
  return err(
    oshaError(`the CIB kept changing while osha patched it (${attempts} tries, each refused with exit ${CIB_CHANGED})`, {
      fix: 'wait until nobody else edits the cluster configuration, then run osha again',
    }),
  );
}
