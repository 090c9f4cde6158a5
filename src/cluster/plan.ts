// The cluster part of `osha plan` / `deploy --dry-run`, as two pure steps around the tools the
// caller runs (locally or over SSH): prepare (merge into the live or an offline CIB), then, with
// crm_simulate's XML output for plan.desired, render the text a person reads.
import type { Inventory } from '../inventory/schema.ts';
import { desiredCib, fencingNameOf, objectChanges } from './merge.ts';
import { offlineCib, type FencingName, type ObjectChange } from '../render/cib.ts';
import { renderChange } from '../render/crmsh.ts';
import { ok, type Result } from '../util/result.ts';
import type { ResourceModel } from '../model/resources.ts';
import { galeraEvictionSentence, inventoryProfile } from './profiles.ts';
import { describeActions, type Simulation } from './transition.ts';

export interface ClusterPlan {
  /** The CIB the change is computed against: the live one, or offlineCib() for a new cluster. */
  base: string;
  /** The CIB to verify (crm_verify), simulate (crm_simulate) and diff (crm_diff) against base. */
  desired: string;
  changes: ObjectChange[];
  fencingName: FencingName;
  /** True when no live CIB was given: the plan is for a cluster that does not exist yet. */
  offline: boolean;
}

export function prepareClusterPlan(inv: Inventory, model: ResourceModel, liveCibXml?: string): Result<ClusterPlan> {
  const base = liveCibXml ?? offlineCib(inv.nodes.map((n) => n.name));
  const fencingName = fencingNameOf(base);
  if (!fencingName.ok) return fencingName;
  const desired = desiredCib(base, model);
  if (!desired.ok) return desired;
  const changes = objectChanges(base, model);
  if (!changes.ok) return changes;
  return ok({ base, desired: desired.value, changes: changes.value, fencingName: fencingName.value, offline: liveCibXml === undefined });
}

/** The plan as text: configuration change (crm syntax), predicted transition, corosync cost, warnings. */
export function renderClusterPlan(inv: Inventory, model: ResourceModel, plan: ClusterPlan, simulation?: Simulation): string {
  const against = plan.offline ? 'a new cluster' : 'the live CIB';
  const out = [`Pacemaker configuration change against ${against} (crm shell syntax):`, indent(renderChange(model, plan.changes, plan.fencingName))];
  if (simulation) {
    const lines = describeActions(simulation.actions);
    out.push('What crm_simulate predicts:', indent(lines.length ? lines.join('\n') : 'nothing starts, stops or moves'));
  }
  out.push(`Corosync profile: ${inventoryProfile(inv).sentence}`);
  if (inv.topology === 'active-active' && inv.services.includes('mysql')) out.push(`Galera: ${galeraEvictionSentence(inv)}`);
  if (model.warnings.length) out.push('Warnings:', indent(model.warnings.map((w) => `! ${w}`).join('\n')));
  return out.join('\n') + '\n';
}

function indent(text: string): string {
  return text
    .replace(/\n$/, '')
    .split('\n')
    .map((l) => `  ${l}`)
    .join('\n');
}
