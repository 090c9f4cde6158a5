// The lab's layout, computed from the options alone (pure): names, addresses, paths.
// Every name the lab creates on the host comes from here and is recorded in lab.json.
import { join, resolve } from 'node:path';

export const MIN_NODES = 2;
export const MAX_NODES = 16;
export const DEFAULT_NODES = 3;
export const DEFAULT_DIR = '.osha-lab';
/** The interface name inside every node (the VIP's nic in the inventory). */
export const NODE_IFACE = 'eth0';
/** Where the optional shared directory appears inside every node. */
export const SHARED_MOUNT = '/srv/shared';

export interface NodePlan {
  name: string;
  address: string;
  /** Address with prefix, as set on the node's interface. */
  cidr: string;
  /** systemd-nspawn machine name: unique on the host. */
  machine: string;
  netns: string;
  /** Host side of the node's veth pair, enslaved to the bridge. */
  vethHost: string;
  iface: string;
  /** Fixed MAC of the node's interface: a node that is killed and started again keeps it, so
   *  neighbours' ARP caches stay right, as with a real machine that loses power. */
  mac: string;
  dir: string;
  upper: string;
  work: string;
  root: string;
  /** The node's cgroup, relative to each hierarchy root. */
  cgroup: string;
  log: string;
  /** Written by the launcher: the PID of the current systemd-nspawn. */
  nspawnPidFile: string;
}

export interface LabPlan {
  dir: string;
  /** Third octet of 198.18.X.0/24. */
  subnet: number;
  bridge: string;
  /** Fixed, so the bridge does not take a new MAC from its ports as nodes come and go. */
  bridgeMac: string;
  bridgeCidr: string;
  gateway: string;
  vip: string;
  prefixLength: number;
  cgroupBase: string;
  files: { state: string; inventory: string; key: string; publicKey: string; knownHosts: string; launcher: string; nodes: string };
  nodes: NodePlan[];
}

export interface PlanOptions {
  dir?: string;
  nodes?: number;
  /** Third octet of the lab's 198.18.X.0/24; 0 by default. Lets two labs run side by side. */
  subnet?: number;
}

/** Checks the options and returns a message for a human when they are out of range. */
export function checkPlanOptions(opts: PlanOptions): string | undefined {
  const n = opts.nodes ?? DEFAULT_NODES;
  if (!Number.isInteger(n) || n < MIN_NODES || n > MAX_NODES) return `--nodes must be a whole number from ${MIN_NODES} to ${MAX_NODES}, got ${String(opts.nodes)}`;
  const s = opts.subnet ?? 0;
  if (!Number.isInteger(s) || s < 0 || s > 255) return `subnet must be from 0 to 255 (the X in 198.18.X.0/24), got ${String(opts.subnet)}`;
  return undefined;
}

export function planLab(opts: PlanOptions = {}): LabPlan {
  const dir = resolve(opts.dir ?? DEFAULT_DIR);
  const subnet = opts.subnet ?? 0;
  const count = opts.nodes ?? DEFAULT_NODES;
  const net = `198.18.${subnet}`;
  const tag = `osha${subnet}`;
  const nodesDir = join(dir, 'nodes');
  const nodes = Array.from({ length: count }, (_, i) => {
    const name = `node${i + 1}`;
    const address = `${net}.${11 + i}`;
    const nodeDir = join(nodesDir, name);
    return {
      name,
      address,
      cidr: `${address}/24`,
      machine: `${tag}-${name}`,
      netns: `${tag}-${name}`,
      vethHost: `${tag}n${i + 1}`,
      iface: NODE_IFACE,
      mac: labMac(subnet, i + 1),
      dir: nodeDir,
      upper: join(nodeDir, 'upper'),
      work: join(nodeDir, 'work'),
      root: join(nodeDir, 'root'),
      cgroup: `osha.lab/${tag}/${name}`,
      log: join(nodeDir, 'console.log'),
      nspawnPidFile: join(nodeDir, 'nspawn.pid'),
    };
  });
  return {
    dir,
    subnet,
    bridge: `${tag}br`,
    bridgeMac: labMac(subnet, 254),
    bridgeCidr: `${net}.1/24`,
    gateway: `${net}.1`,
    vip: `${net}.100`,
    prefixLength: 24,
    cgroupBase: `osha.lab/${tag}`,
    files: {
      state: join(dir, 'lab.json'),
      inventory: join(dir, 'inventory.yaml'),
      key: join(dir, 'id_ed25519'),
      publicKey: join(dir, 'id_ed25519.pub'),
      knownHosts: join(dir, 'known_hosts'),
      launcher: join(dir, 'launcher.sh'),
      nodes: nodesDir,
    },
    nodes,
  };
}

/** A locally administered unicast MAC for host `index` of the lab's subnet. */
export function labMac(subnet: number, index: number): string {
  const hex = (n: number) => n.toString(16).padStart(2, '0');
  return `02:05:18:${hex(subnet)}:00:${hex(index)}`;
}

/** True when an IPv4 address lies in the lab's 198.18.X.0/24. */
export function inLabSubnet(address: string, subnet: number): boolean {
  return address.startsWith(`198.18.${subnet}.`);
}
