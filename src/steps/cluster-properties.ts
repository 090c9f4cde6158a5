// Step 8: resource stickiness and dc-deadtime, changed one
// attribute at a time so nothing else in the CIB is touched and an unchanged CIB keeps its epoch.
import type { Action, Step } from '../runner/types.ts';
import { hostHandle, liveCib } from './common.ts';
import { propertiesFromCib, readProperties, type PropertySection } from '../facts/cluster.ts';
import { sh } from '../ssh/quote.ts';
import { ok } from '../util/result.ts';
import { dcDeadtime } from './cluster-start.ts';

export interface ClusterProperty {
  /** crm_config (cluster options) or rsc_defaults (resource defaults). */
  type: PropertySection;
  name: string;
  value: string;
  why: string;
}

/**
 * The properties this step owns. Fencing, quorum policy and the fence-race delay are the resource
 * model's (src/cluster/build.ts clusterOptions), written with the resources in one CIB patch:
 * one writer per property.
 */
export function desiredProperties(nodeCount: number): ClusterProperty[] {
  return [
    { type: 'rsc_defaults', name: 'resource-stickiness', value: '100', why: 'resources stay where they run when a failed node returns (no second outage)' },
    { type: 'crm_config', name: 'dc-deadtime', value: dcDeadtime(nodeCount), why: 'a starting node waits this long for an existing DC (default 20 s); nodes on one LAN answer within it' },
  ];
}

export const clusterProperties: Step = {
  name: 'cluster-properties',
  title: 'resource stickiness and DC wait time set',
  async plan(ctx) {
    // Cluster-wide: the CIB is shared, so one node applies it for all.
    const host = ctx.hosts[0]!;
    const h = await hostHandle(ctx, host);
    if (!h.ok) return new Map([[host, h]]);
    const wanted = desiredProperties(ctx.allHosts.length);
    // From the CIB when the run has it (read once until something changes): no crm_attribute.
    const cib = await liveCib(ctx, h.value);
    const fromCib = cib.ok && cib.value ? propertiesFromCib(cib.value, wanted) : undefined;
    const read = fromCib ? ok(fromCib) : await readProperties(h.value.c, wanted);
    if (!read.ok) return new Map([[host, read]]);
    const current = read.value;
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
