// Step 8: the cluster properties osha owns (fencing, quorum policy, stickiness), changed one
// attribute at a time so nothing else in the CIB is touched and an unchanged CIB keeps its epoch.
import type { Action, Step } from '../runner/types.ts';
import type { Inventory } from '../inventory/schema.ts';
import { hostHandle } from './common.ts';
import { parseKeyValues } from '../facts/host.ts';
import { sh } from '../ssh/quote.ts';
import { ok } from '../util/result.ts';
import { DC_DEADTIME } from './cluster-start.ts';

export interface ClusterProperty {
  /** crm_config (cluster options) or rsc_defaults (resource defaults). */
  type: 'crm_config' | 'rsc_defaults';
  name: string;
  value: string;
  why: string;
}

/** What the inventory asks of Pacemaker; `auto` quorum policy is resolved here and explained. */
export function desiredProperties(inv: Inventory): ClusterProperty[] {
  const n = inv.nodes.length;
  let policy = inv.quorum.policy;
  let why: string;
  if (policy === 'auto') {
    policy = 'stop';
    why =
      n === 2
        ? 'auto: stop; with 2 nodes corosync two_node keeps the survivor quorate, so stop only triggers if both lose contact'
        : `auto: stop; with ${n} nodes a partition without a majority stops its resources, so the majority side can take over safely`;
  } else {
    why = `set in the inventory (quorum.policy: ${policy})`;
  }
  return [
    {
      type: 'crm_config',
      name: 'stonith-enabled',
      value: inv.stonith.enabled ? 'true' : 'false',
      why: inv.stonith.enabled ? 'fence devices are configured' : 'no fence devices: fencing off (not safe for shared-storage data; see README)',
    },
    { type: 'crm_config', name: 'no-quorum-policy', value: policy, why },
    { type: 'rsc_defaults', name: 'resource-stickiness', value: '100', why: 'resources stay where they run when a failed node returns (no second outage)' },
    { type: 'crm_config', name: 'dc-deadtime', value: DC_DEADTIME, why: 'a starting node waits this long for an existing DC (default 20 s); nodes on one LAN answer within it' },
  ];
}

export const clusterProperties: Step = {
  name: 'cluster-properties',
  title: 'fencing, quorum policy and resource stickiness set as the inventory says',
  async plan(ctx) {
    // Cluster-wide: the CIB is shared, so one node applies it for all.
    const host = ctx.hosts[0]!;
    const h = await hostHandle(ctx, host);
    if (!h.ok) return new Map([[host, h]]);
    const wanted = desiredProperties(ctx.inv);
    const query = wanted
      .map((p) => sh`echo ${`${p.type}/${p.name}`}="$(crm_attribute --type ${p.type} --name ${p.name} --query --quiet 2>/dev/null)"`)
      .join('; ');
    const r = await h.value.c.run(query);
    if (!r.ok) return new Map([[host, r]]);
    const current = parseKeyValues(r.value.stdout);
    const actions: Action[] = wanted
      .filter((p) => current.get(`${p.type}/${p.name}`) !== p.value)
      .map((p) => {
        const cmd = sh`crm_attribute --type ${p.type} --name ${p.name} --update ${p.value}`;
        return {
          summary: `${p.name}: ${current.get(`${p.type}/${p.name}`) || '(unset)'} -> ${p.value} (${p.why})`,
          commands: [cmd],
          apply: async () => {
            const x = await h.value.c.run(cmd);
            return x.ok ? ok(undefined) : x;
          },
        };
      });
    return new Map([[host, ok(actions)]]);
  },
};
