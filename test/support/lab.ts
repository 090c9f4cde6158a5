// The shared lab for every end-to-end test: one lab of real systemd-nspawn nodes per mocha run,
// brought up on first use, reused by later callers, removed at the end of the run (onTeardown).
// Tests that kill or partition a node should start/heal it again; the fixture also repairs the
// lab when it hands it out.
import { existsSync } from 'node:fs';
import { labDown, labHeal, labStart, labStatus, labUp } from '../../src/lab/index.ts';
import { which, run } from '../../src/lab/exec.ts';
import { onTeardown } from './teardown.ts';

export interface LabNode {
  name: string;
  address: string;
  /** The lab's SSH private key (root login). */
  privateKey: string;
  /** known_hosts holding the node's real host key. */
  knownHosts: string;
}

export interface LabInfo {
  dir: string;
  inventory: string;
  privateKey: string;
  knownHosts: string;
  /** A free address in the nodes' subnet for a VIP, and the nodes' interface name. */
  vip: string;
  nic: string;
  nodes: LabNode[];
}

const labs = new Map<number, Promise<LabInfo>>();

/** Why this machine cannot run the lab, or undefined when it can. */
export async function labSkipReason(): Promise<string | undefined> {
  if (process.platform !== 'linux') return 'the lab needs Linux';
  if (process.getuid?.() !== 0) return 'the lab needs root';
  if (!(await which('systemd-nspawn'))) return 'systemd-nspawn is missing (apt-get install systemd-container)';
  return undefined;
}

/** Lab directory and subnet of the shared lab of N nodes: outside the checkout, away from 198.18.0.0/24. */
export function sharedLabPlace(nodes: number): { dir: string; subnet: number } {
  return { dir: `/tmp/osha-test-lab-${nodes}`, subnet: 100 + nodes };
}

/**
 * Returns the shared lab of `nodes` nodes (3 by default), bringing it up on first use.
 * Skips the calling test, with a one-line reason, when the lab cannot run here.
 */
export async function sharedLab(ctx: Mocha.Context, opts: { nodes?: number } = {}): Promise<LabInfo> {
  const reason = await labSkipReason();
  if (reason) {
    console.log(`      (skipped: ${reason})`);
    ctx.skip();
  }
  const nodes = opts.nodes ?? 3;
  // The first call may build the node image (about a minute or two on a cold cache).
  ctx.timeout(Math.max(ctx.timeout(), 15 * 60_000));
  let lab = labs.get(nodes);
  if (!lab) {
    lab = bringUp(nodes);
    labs.set(nodes, lab);
    // A failed bring-up is not cached: the next caller tries again.
    lab.catch(() => labs.delete(nodes));
  } else {
    await repair(nodes);
  }
  return lab;
}

async function bringUp(nodes: number): Promise<LabInfo> {
  const { dir, subnet } = sharedLabPlace(nodes);
  // Teardown is registered before anything exists, so even a half-made lab is removed.
  onTeardown(async () => {
    const r = await labDown(dir);
    if (!r.ok) console.error(`shared lab teardown: ${r.error.message}`);
  });
  // A previous run that crashed may have left its lab behind: its lab.json says what to remove.
  if (existsSync(`${dir}/lab.json`)) {
    const old = await labDown(dir);
    if (!old.ok) throw new Error(`cannot remove the stale test lab in ${dir}: ${old.error.message}`);
  }
  const r = await labUp({ dir, nodes, subnet });
  if (!r.ok) throw new Error(`shared lab did not come up: ${r.error.message}`);
  const info = r.value;
  return {
    dir: info.dir,
    inventory: info.inventory,
    privateKey: info.privateKey,
    knownHosts: info.knownHosts,
    vip: info.vip,
    nic: info.nodes[0]!.iface,
    nodes: info.nodes.map((n) => ({ name: n.name, address: n.address, privateKey: info.privateKey, knownHosts: info.knownHosts })),
  };
}

/** Starts killed nodes and heals partitioned ones, so each test gets a whole lab. */
async function repair(nodes: number): Promise<void> {
  const { dir } = sharedLabPlace(nodes);
  const s = await labStatus(dir);
  if (!s.ok) return;
  for (const n of s.value.nodes) {
    if (n.state !== 'running') await labStart(dir, n.name);
    else if (n.partitioned) await labHeal(dir, n.name);
  }
}

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a shell command on a lab node as root with the system ssh client, host key checked. */
export async function labExec(lab: Pick<LabInfo, 'nodes'>, node: string, command: string, timeoutMs = 300_000): Promise<ExecResult> {
  const n = lab.nodes.find((x) => x.name === node || x.address === node);
  if (!n) throw new Error(`no lab node ${node}; nodes: ${lab.nodes.map((x) => x.name).join(', ')}`);
  return run('ssh', [...sshOptions(n), `root@${n.address}`, '--', command], { timeoutMs });
}

/** ssh options for a lab node: the lab key, the lab's known_hosts, strict host key checking. */
export function sshOptions(n: LabNode): string[] {
  return [
    '-i', n.privateKey,
    '-o', `UserKnownHostsFile=${n.knownHosts}`,
    '-o', 'StrictHostKeyChecking=yes',
    '-o', 'GlobalKnownHostsFile=/dev/null',
    '-o', 'BatchMode=yes',
    '-o', 'IdentitiesOnly=yes',
    '-o', 'ConnectTimeout=5',
    '-o', 'LogLevel=ERROR',
    '-F', '/dev/null',
  ];
}
