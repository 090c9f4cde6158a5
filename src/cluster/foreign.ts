// A corosync that runs on a node but was not configured by osha: what may be done with it.
// Only a cluster proven to be the distribution's throw-away default (Debian starts a one-node
// cluster named "debian" when the packages are installed without policy-rc.d) may be stopped
// and its CIB dropped. A cluster with the inventory's name and nodes is adopted in place.
// Anything else is refused before any node changes: stopping it would be an outage, dropping
// its CIB data loss.
import type { CibCensus } from '../facts/cluster.ts';
import { count } from '../util/text.ts';

export interface RunningCluster {
  /** The node reporting it. */
  host: string;
  /** totem.cluster_name as corosync runs it (or its corosync.conf says). */
  name?: string;
  /** Node names in the nodelist corosync runs. */
  nodes: string[];
  /** The CIB, counted; undefined when it could not be read. */
  cib?: CibCensus;
}

export type Verdict =
  | { kind: 'package-default'; why: string }
  | { kind: 'adopt'; why: string }
  | { kind: 'refuse'; message: string; fix: string };

const DEBIAN_DEFAULT_NAME = 'debian';

/** Pure: the verdict for one node's running, not-osha cluster. */
export function judgeRunningCluster(running: RunningCluster, inventory: { name: string; nodes: string[] }): Verdict {
  const { cib } = running;
  const empty = cib !== undefined && cib.resources.length === 0 && cib.constraints === 0 && cib.stonith.length === 0;
  if (running.name === DEBIAN_DEFAULT_NAME && running.nodes.length <= 1 && empty) {
    return { kind: 'package-default', why: 'the package\'s default one-node cluster "debian" with an empty CIB' };
  }
  const what = describe(running);
  if (running.name === inventory.name && running.nodes.length > 0 && running.nodes.every((n) => inventory.nodes.includes(n))) {
    return { kind: 'adopt', why: `adopting ${what} in place: node ids, authkey and every object osha does not own are kept` };
  }
  if (running.name !== inventory.name) {
    return {
      kind: 'refuse',
      message: `${running.host} runs ${what}, which osha did not configure, under another name than the inventory's ("${inventory.name}")`,
      fix: running.name
        ? `to take it over in place, set cluster.name: ${running.name} and list its nodes under nodes:; otherwise remove ${running.host} from that cluster first (osha never stops or wipes a cluster it did not make)`
        : `remove ${running.host} from that cluster first (osha never stops or wipes a cluster it did not make)`,
    };
  }
  const extra = running.nodes.filter((n) => !inventory.nodes.includes(n));
  return {
    kind: 'refuse',
    message: `${running.host} runs ${what}; its ${extra.length === 1 ? 'node' : 'nodes'} ${extra.join(', ')} ${extra.length === 1 ? 'is' : 'are'} not in the inventory`,
    fix: `list every node of the running cluster under nodes: by the name corosync knows it (${running.nodes.join(', ')}), then re-run to adopt it in place`,
  };
}

function describe(r: RunningCluster): string {
  const name = r.name ? `cluster "${r.name}"` : 'an unnamed cluster';
  const nodes = r.nodes.length ? `nodes ${r.nodes.join(', ')}` : 'no nodelist';
  const cib = r.cib
    ? `${count(r.cib.resources.length, 'resource')}${r.cib.resources.length ? ` (${r.cib.resources.slice(0, 5).join(', ')}${r.cib.resources.length > 5 ? ', ...' : ''})` : ''}, ${count(r.cib.constraints, 'constraint')}, ${count(r.cib.stonith.length, 'stonith device')}`
    : 'a CIB that could not be read';
  return `${name} (${nodes}; ${cib})`;
}
