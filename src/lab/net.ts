// The lab network: one bridge in the host namespace holding 198.18.X.1, and per node a network
// namespace with one end of a veth pair (named eth0 inside) carrying the node's address.
import { existsSync } from 'node:fs';
import { run, runOk } from './exec.ts';
import { err, ok, oshaError, type Result } from '../util/result.ts';
import type { LabPlan, NodePlan } from './plan.ts';

const ip = (...args: string[]) => runOk('ip', args);

async function linkExists(name: string): Promise<boolean> {
  return (await run('ip', ['link', 'show', 'dev', name])).code === 0;
}

export function netnsExists(name: string): boolean {
  return existsSync(`/run/netns/${name}`);
}

/** IPv4 addresses configured on the host, with the interface that holds each. */
export async function hostAddresses(): Promise<{ ifname: string; address: string }[]> {
  const r = await run('ip', ['-j', '-4', 'addr', 'show']);
  if (r.code !== 0) return [];
  const links = JSON.parse(r.stdout || '[]') as { ifname: string; addr_info?: { local?: string }[] }[];
  return links.flatMap((l) => (l.addr_info ?? []).filter((a) => a.local).map((a) => ({ ifname: l.ifname, address: a.local! })));
}

/** Says why the lab's range or names cannot be used, or undefined when they are free. */
export async function rangeInUse(plan: LabPlan): Promise<string | undefined> {
  const prefix = `198.18.${plan.subnet}.`;
  const used = (await hostAddresses()).find((a) => a.address.startsWith(prefix));
  if (used) return `198.18.${plan.subnet}.0/24 is already in use on this host (${used.address} on ${used.ifname})`;
  if (await linkExists(plan.bridge)) return `a network interface named ${plan.bridge} already exists`;
  const ns = plan.nodes.find((n) => netnsExists(n.netns));
  if (ns) return `a network namespace named ${ns.netns} already exists`;
  return undefined;
}

export async function createBridge(plan: Pick<LabPlan, 'bridge' | 'bridgeCidr' | 'bridgeMac'>): Promise<Result<void>> {
  for (const args of [
    ['link', 'add', plan.bridge, 'address', plan.bridgeMac, 'type', 'bridge'],
    ['addr', 'add', plan.bridgeCidr, 'dev', plan.bridge],
    ['link', 'set', plan.bridge, 'up'],
  ]) {
    const r = await ip(...args);
    if (!r.ok) return r;
  }
  return ok(undefined);
}

export async function removeBridge(bridge: string): Promise<Result<void>> {
  if (!(await linkExists(bridge))) return ok(undefined);
  const r = await ip('link', 'del', bridge);
  return r.ok ? ok(undefined) : r;
}

/** Creates the node's namespace and veth pair and sets its address, before the node boots. */
export async function createNodeNet(node: NodePlan, bridge: string): Promise<Result<void>> {
  if (!netnsExists(node.netns)) {
    const r = await ip('netns', 'add', node.netns);
    if (!r.ok) return r;
  }
  await removeLink(node.vethHost);
  for (const args of [
    ['link', 'add', node.vethHost, 'type', 'veth', 'peer', 'name', node.iface, 'address', node.mac, 'netns', node.netns],
    ['link', 'set', node.vethHost, 'master', bridge, 'up'],
    ['-n', node.netns, 'link', 'set', 'lo', 'up'],
    ['-n', node.netns, 'addr', 'add', node.cidr, 'dev', node.iface],
    ['-n', node.netns, 'link', 'set', node.iface, 'up'],
  ]) {
    const r = await ip(...args);
    if (!r.ok) return err(oshaError(`setting up the network of ${node.name}: ${r.error.message}`));
  }
  return ok(undefined);
}

async function removeLink(name: string): Promise<void> {
  if (await linkExists(name)) await run('ip', ['link', 'del', name]);
}

/** Removes the node's veth pair and namespace; what is already gone is fine. */
export async function removeNodeNet(node: NodePlan): Promise<Result<void>> {
  await removeLink(node.vethHost);
  if (netnsExists(node.netns)) {
    const r = await ip('netns', 'del', node.netns);
    if (!r.ok) return r;
  }
  return ok(undefined);
}

/** Cuts (down) or restores (up) the node's link to the bridge. */
export async function setNodeLink(node: NodePlan, up: boolean, all: NodePlan[] = [], bridge?: string): Promise<Result<void>> {
  const r = await ip('link', 'set', node.vethHost, up ? 'up' : 'down');
  if (!r.ok) return r;
  if (up) await forgetFailedNeighbours(node, all, bridge);
  return ok(undefined);
}

/**
 * After a partition the neighbours' ARP entries for the node (and the node's for them) are
 * FAILED, and stay so for seconds; a real host announces itself when its link comes back.
 * Flushing those entries in the lab's own namespaces has the same effect.
 */
async function forgetFailedNeighbours(node: NodePlan, all: NodePlan[], bridge?: string): Promise<void> {
  const flushes = all
    .filter((n) => n.name !== node.name && netnsExists(n.netns))
    .map((n) => run('ip', ['-n', n.netns, 'neigh', 'flush', 'to', node.address]));
  if (netnsExists(node.netns)) flushes.push(run('ip', ['-n', node.netns, 'neigh', 'flush', 'dev', node.iface]));
  if (bridge) flushes.push(run('ip', ['neigh', 'flush', 'to', node.address, 'dev', bridge]));
  await Promise.all(flushes);
}
