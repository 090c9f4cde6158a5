// corosync node ids that stay with their node. Pacemaker knows a node by name and id: an id that
// moves to another name (a node removed from the middle of the list, a reordered list) means a
// restart of corosync and a node list in Pacemaker that no longer matches. So an id, once given,
// is kept: pinned in the inventory, else what the cluster runs or its corosync.conf says, else
// the lowest id that no node uses or used in the configuration being replaced.
import { err, ok, type Result } from '../util/result.ts';

/** Name -> id, as corosync runs it (cmap) or as a corosync.conf lists it. */
export type NodeIds = Map<string, number>;

/**
 * The nodelist ids in parseCorosyncConf/parseCmap form (`nodelist.node[i].name|nodeid|ring0_addr`).
 * A node listed without a name (crmsh writes only ring0_addr and nodeid) is named by `nameOf`
 * its address, when it knows it (the inventory's node with that address).
 */
export function nodeIdsOf(conf: Map<string, string>, nameOf: (address: string) => string | undefined = () => undefined): NodeIds {
  const fields = new Map<string, Map<string, string>>();
  for (const [k, v] of conf) {
    const m = /^nodelist\.node\[(\d+)\]\.(name|nodeid|ring0_addr)$/.exec(k);
    if (m) fields.set(m[1]!, (fields.get(m[1]!) ?? new Map()).set(m[2]!, v));
  }
  const out: NodeIds = new Map();
  for (const f of fields.values()) {
    const id = f.get('nodeid');
    const address = f.get('ring0_addr');
    const name = f.get('name') ?? (address ? nameOf(address) : undefined);
    if (name && id && /^\d+$/.test(id)) out.set(name, Number(id));
  }
  return out;
}

/**
 * Pure: the id of every inventory node. `known` is what the nodes report (each host's running
 * cluster first, then its corosync.conf), merged by the caller. Two sources that disagree on a
 * node's id, or an id claimed by two names, are errors a human must resolve: guessing could
 * give a running node another node's identity.
 */
export function assignNodeIds(nodes: readonly { name: string; nodeid?: number }[], known: readonly NodeIds[]): Result<NodeIds> {
  const seen = new Map<string, number>();
  for (const ids of known) {
    for (const [name, id] of ids) {
      const before = seen.get(name);
      if (before !== undefined && before !== id) {
        return err({ message: `nodes disagree about ${name}'s corosync nodeid (${before} and ${id})`, fix: `pin it with nodes[].nodeid for ${name} in the inventory` });
      }
      seen.set(name, id);
    }
  }
  const out: NodeIds = new Map();
  const taken = new Map<number, string>();
  const claim = (name: string, id: number): Result<void> => {
    const holder = taken.get(id);
    if (holder !== undefined && holder !== name) {
      return err({ message: `corosync nodeid ${id} would belong to both ${holder} and ${name}`, fix: `give ${name} another nodes[].nodeid in the inventory` });
    }
    taken.set(id, name);
    out.set(name, id);
    return ok(undefined);
  };
  for (const n of nodes) {
    if (n.nodeid === undefined) continue;
    const r = claim(n.name, n.nodeid);
    if (!r.ok) return r;
  }
  // Ids of nodes that are not in the inventory (leaving) stay reserved: Pacemaker may still list them.
  for (const [name, id] of seen) if (!nodes.some((n) => n.name === name) && !taken.has(id)) taken.set(id, name);
  for (const n of nodes) {
    if (out.has(n.name)) continue;
    const id = seen.get(n.name);
    if (id === undefined) continue;
    const r = claim(n.name, id);
    if (!r.ok) return r;
  }
  let next = 1;
  for (const n of nodes) {
    if (out.has(n.name)) continue;
    while (taken.has(next)) next++;
    const r = claim(n.name, next);
    if (!r.ok) return r;
  }
  return ok(out);
}
