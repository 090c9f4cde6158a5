// What cluster a node already belongs to, read once per run and shared by preflight (which
// refuses a cluster osha may not touch before anything changes) and corosync-conf (which keeps
// node ids and adopts a matching cluster in place).
import type { StepContext } from '../runner/types.ts';
import { fileFact, type HostReader } from './common.ts';
import { readCibCensus, readStackFacts, type StackFacts } from '../facts/cluster.ts';
import { COROSYNC_CONF, MANAGED_MARKER, parseCorosyncConf } from '../render/corosync.ts';
import { judgeRunningCluster, type RunningCluster, type Verdict } from '../cluster/foreign.ts';
import { nodeIdsOf, type NodeIds } from '../cluster/nodeids.ts';
import { ok, type Result } from '../util/result.ts';

export interface ClusterIdentity {
  stack: StackFacts;
  /** corosync.conf as it is on the node ('' when missing). */
  conf: string;
  /** corosync.conf carries osha's marker. */
  ours: boolean;
  /** Node ids this node knows: what corosync runs, else what its corosync.conf lists. */
  ids: NodeIds;
  /** A running corosync that osha did not configure, and what may be done with it. */
  foreign?: { running: RunningCluster; verdict: Verdict };
}

export function stackFacts(ctx: StepContext, h: HostReader): Promise<Result<StackFacts>> {
  return ctx.facts.get(h.host, 'stack', () => readStackFacts(h.c));
}

export function clusterIdentity(ctx: StepContext, h: HostReader): Promise<Result<ClusterIdentity>> {
  return ctx.facts.get(h.host, 'cluster-identity', async () => {
    // Both reads at once: two channels of the one connection.
    const [stack, file] = await Promise.all([stackFacts(ctx, h), fileFact(ctx, h, COROSYNC_CONF)]);
    if (!stack.ok) return stack;
    if (!file.ok) return file;
    const conf = file.value.content?.toString('utf8') ?? '';
    const parsed = parseCorosyncConf(conf);
    const ours = conf.includes(MANAGED_MARKER);
    const loaded = stack.value.loaded;
    // crmsh lists nodes by address only: the inventory's node with that address is meant.
    const nameOf = (address: string) => ctx.inv.nodes.find((n) => n.address === address)?.name;
    const fromFile = nodeIdsOf(parsed, nameOf);
    // The package's sample corosync.conf names a "node1" at 127.0.0.1: its ids mean nothing.
    const fileCounts = ours || (parsed.get('totem.cluster_name') ?? 'debian') !== 'debian';
    const ids = loaded && stack.value.corosyncActive ? nodeIdsOf(loaded, nameOf) : fileCounts ? fromFile : new Map<string, number>();
    const identity: ClusterIdentity = { stack: stack.value, conf, ours, ids };
    if (stack.value.corosyncActive && !ours) {
      const cib = await readCibCensus(h.c);
      if (!cib.ok) return cib;
      const source = loaded ?? parsed;
      const running: RunningCluster = {
        host: h.host,
        name: source.get('totem.cluster_name') ?? parsed.get('totem.cluster_name'),
        nodes: nodeNames(source, nameOf),
        cib: cib.value,
      };
      identity.foreign = { running, verdict: judgeRunningCluster(running, { name: ctx.inv.cluster.name, nodes: ctx.inv.nodes.map((n) => n.name) }) };
    }
    return ok(identity);
  });
}

/** The nodelist's node names; a nameless node by the inventory's name for its address, else the address. */
function nodeNames(conf: Map<string, string>, nameOf: (address: string) => string | undefined): string[] {
  const out: string[] = [];
  for (const [k, v] of conf) {
    const m = /^nodelist\.node\[(\d+)\]\.ring0_addr$/.exec(k);
    if (m) out.push(conf.get(`nodelist.node[${m[1]}].name`) ?? nameOf(v) ?? v);
  }
  return out;
}
