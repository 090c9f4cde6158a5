// Says which osha resources are not yet running well: the "wait until every osha resource is
// started" check of deploy, over the state src/facts/status.ts parses from crm_mon's XML.
import { heldByModel, primitivesOf, type ResourceModel } from '../model/resources.ts';

/** The primitives of promotable clones (their instances are Promoted or Unpromoted, never Started). */
function promotableChildren(model: ResourceModel): Set<string> {
  return new Set(
    model.resources.flatMap((r) => (r.kind === 'clone' && r.meta.some(([k, v]) => k === 'promotable' && v === 'true') ? primitivesOf([r.child]).map((p) => p.id) : [])),
  );
}
import type { ClusterStatus } from '../facts/status.ts';

export interface NotReady {
  id: string;
  why: string;
}

/**
 * osha primitives that are not started, failed, blocked or unmanaged; empty means deploy is done.
 * A clone counts as started when at least one instance runs (a node may be in standby). What the
 * model itself holds stopped (target-role=Stopped, and what waits for it) is not expected to run.
 */
export function notReady(status: ClusterStatus, model: ResourceModel): NotReady[] {
  const out: NotReady[] = [];
  const promotable = promotableChildren(model);
  if (!status.quorate) out.push({ id: '(cluster)', why: 'the cluster has no quorum, so nothing starts' });
  const held = heldByModel(model);
  for (const p of primitivesOf(model.resources)) {
    if (held.has(p.id)) continue;
    const s = status.resources.get(p.id);
    const failures = status.failures.filter((f) => f.resource === p.id || f.resource.startsWith(`${p.id}:`));
    const reason = failures.map((f) => `${f.opKey} on ${f.node}: ${f.exitStatus}${f.exitReason ? ` (${f.exitReason})` : ''}`).join('; ');
    if (!s) out.push({ id: p.id, why: 'not in the cluster status (not configured yet?)' });
    else if (s.failed) out.push({ id: p.id, why: `failed${reason ? `: ${reason}` : ''}` });
    else if (s.blocked) out.push({ id: p.id, why: 'blocked: Pacemaker cannot act on it (a stop failed and fencing is off?)' });
    else if (!s.managed) out.push({ id: p.id, why: 'unmanaged: Pacemaker does not start or stop it (maintenance?)' });
    else if (promotable.has(p.id)) {
      // A promotable clone (Galera) serves only where an instance is promoted.
      if (!s.roles.includes('Promoted')) out.push({ id: p.id, why: `no instance promoted yet (${s.roles.join(', ') || 'Stopped'})${reason ? `; ${reason}` : ''}` });
    } else if (!s.roles.includes('Started')) out.push({ id: p.id, why: `${s.roles.join(', ') || 'Stopped'}${reason ? `; ${reason}` : ''}` });
  }
  return out;
}


