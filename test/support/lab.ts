// The shared lab for every end-to-end test: one lab of real systemd-nspawn nodes per mocha run,
// brought up on first use, reused by later callers, removed at the end of the run (onTeardown).
// Tests that kill or partition a node should start/heal it again; the fixture also repairs the
// lab when it hands it out.
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { labDown, labHeal, labStart, labStatus, labUp, type LabInfo as ApiLabInfo } from '../../src/lab/index.ts';
import { which, run } from '../../src/lab/exec.ts';
import { rangeInUse } from '../../src/lab/net.ts';
import { planLab, type LabPlan } from '../../src/lab/plan.ts';
import { pidAlive } from '../../src/lab/proc.ts';
import { containerInitPid } from '../../src/lab/node.ts';
import type { LabState } from '../../src/lab/state.ts';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { onTeardown } from './teardown.ts';
import type { Topology } from '../../src/inventory/schema.ts';
import { DEFAULT_RELEASE, RELEASES, type Release } from '../../src/lab/image-recipe.ts';

export interface LabNode {
  name: string;
  address: string;
  /** The lab's directory (its lab.json says which processes are the node). */
  labDir: string;
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

/** Skips the calling hook's tests, with a one-line reason, when the lab cannot run here. */
export async function skipWithoutLab(ctx: Mocha.Context): Promise<void> {
  const reason = await labSkipReason();
  if (reason) {
    console.log(`      (skipped: ${reason})`);
    ctx.skip();
  }
}

/** Lab directory and subnet of the shared lab of N nodes in a slot: outside the checkout, away from 198.18.0.0/24. */
export function sharedLabPlace(nodes: number, slot = 0): { dir: string; subnet: number } {
  return { dir: slot === 0 ? `/tmp/osha-test-lab-${nodes}` : `/tmp/osha-test-lab-${nodes}-${slot}`, subnet: 100 + 20 * slot + nodes };
}

const SLOTS = 7;
const placeOf = new Map<number, { dir: string; subnet: number }>();

/**
 * Returns the shared lab of `nodes` nodes (3 by default), bringing it up on first use.
 * Skips the calling test, with a one-line reason, when the lab cannot run here.
 */
export async function sharedLab(ctx: Mocha.Context, opts: { nodes?: number } = {}): Promise<LabInfo> {
  await skipWithoutLab(ctx);
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

/** The PID recorded as owner of a slot's lab, when that process still runs. */
function liveOwner(dir: string): number | undefined {
  try {
    const pid = Number(readFileSync(join(dir, OWNER_FILE), 'utf8'));
    return pid !== process.pid && pidAlive(pid) ? pid : undefined;
  } catch {
    return undefined;
  }
}

const OWNER_FILE = 'owner.pid';

/**
 * Picks a slot: the fixed directory unless another live test run (a parallel mocha) owns it.
 * A lab whose owner died (a crashed run) is removed by its lab.json and the slot reused.
 */
async function claimSlot(nodes: number): Promise<{ dir: string; subnet: number }> {
  for (let slot = 0; slot < SLOTS; slot++) {
    const place = sharedLabPlace(nodes, slot);
    if (liveOwner(place.dir)) continue;
    if (existsSync(join(place.dir, 'lab.json'))) {
      const old = await labDown(place.dir);
      if (!old.ok) throw new Error(`cannot remove the stale test lab in ${place.dir}: ${old.error.message}`);
    }
    if (await rangeInUse(planLab({ dir: place.dir, nodes, subnet: place.subnet }))) continue;
    mkdirSync(place.dir, { recursive: true });
    writeFileSync(join(place.dir, OWNER_FILE), String(process.pid));
    return place;
  }
  throw new Error(`no free slot for a shared test lab of ${nodes} nodes: ${SLOTS} test runs seem to be running`);
}

async function bringUp(nodes: number): Promise<LabInfo> {
  const place = await claimSlot(nodes);
  placeOf.set(nodes, place);
  const { dir, subnet } = place;
  // Teardown is registered before anything exists, so even a half-made lab is removed.
  onTeardown(async () => {
    const r = await labDown(dir);
    if (!r.ok) console.error(`shared lab teardown: ${r.error.message}`);
    else rmSync(dir, { recursive: true, force: true });
  });
  // Its users test agents and the lab itself, not the packages step: the stack comes installed.
  const r = await labUp({ dir, nodes, subnet, stack: true });
  if (!r.ok) throw new Error(`shared lab did not come up: ${r.error.message}`);
  return labInfoOf(r.value);
}

/** The fixture's view of a lab that the API brought up. */
export function labInfoOf(info: Pick<ApiLabInfo, 'dir' | 'inventory' | 'privateKey' | 'knownHosts' | 'vip' | 'nodes'>): LabInfo {
  return {
    dir: info.dir,
    inventory: info.inventory,
    privateKey: info.privateKey,
    knownHosts: info.knownHosts,
    vip: info.vip,
    nic: info.nodes[0]!.iface,
    nodes: info.nodes.map((n) => ({ name: n.name, address: n.address, labDir: info.dir, privateKey: info.privateKey, knownHosts: info.knownHosts })),
  };
}

/**
 * A lab of its own for tests that need bare nodes (a deploy from scratch): removed at the end of
 * the run, and first removed if a crashed earlier run left it. Skips when the lab cannot run here.
 */
export async function freshLab(
  ctx: Mocha.Context,
  opts: { dir: string; nodes: number; subnet: number; shared?: string; openstack?: boolean; topology?: Topology; release?: Release; stack?: boolean },
): Promise<LabInfo> {
  await skipWithoutLab(ctx);
  await labDown(opts.dir);
  const drop = async () => {
    const r = await labDown(opts.dir);
    // The directory is the test's alone (inventories it wrote too): gone once the lab is.
    if (r.ok) rmSync(opts.dir, { recursive: true, force: true });
    else console.error(`lab teardown in ${opts.dir}: ${r.error.message}`);
  };
  // Removed when the calling describe ends (a lab left running slows every later boot on this
  // machine), and again at the end of the run in case that hook never ran; labDown is idempotent.
  dropAfterSuite(ctx, drop);
  onTeardown(drop);
  const started = Date.now();
  const r = await labUp(opts);
  if (!r.ok) throw new Error(`lab did not come up in ${opts.dir}: ${r.error.message}`);
  logPhase(`lab up in ${opts.dir}: ${seconds(Date.now() - started)}`);
  return labInfoOf(r.value);
}

/**
 * The Debian release an opt-in lab file runs its nodes on: OSHA_TEST_RELEASE, else the lab's
 * default (bookworm). A value osha's lab does not know stops the file before any lab exists.
 */
export function testRelease(): Release {
  const v = process.env.OSHA_TEST_RELEASE ?? DEFAULT_RELEASE;
  if (!(RELEASES as readonly string[]).includes(v)) throw new Error(`OSHA_TEST_RELEASE=${v}: use one of ${RELEASES.join(', ')}`);
  return v as Release;
}

/** A line in a lab file's output that says where its time went (the reporter's times per file are totals). */
export function logPhase(text: string): void {
  console.log(`      (${text})`);
}

/** Milliseconds as seconds with one decimal, for those lines. */
export const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

/** Runs `fn` when the describe that `ctx` (a before hook's context) belongs to has finished. */
export function dropAfterSuite(ctx: Mocha.Context, fn: () => Promise<void>): void {
  const suite = ctx.test?.parent;
  if (suite) {
    suite.afterAll(async function (this: Mocha.Context) {
      this.timeout(300_000);
      await fn();
    });
  }
}

/** Starts killed nodes and heals partitioned ones, so each test gets a whole lab. */
async function repair(nodes: number): Promise<void> {
  const place = placeOf.get(nodes);
  if (!place) return;
  const { dir } = place;
  const s = await labStatus(dir);
  if (!s.ok) throw new Error(`shared lab: ${s.error.message}`);
  for (const n of s.value.nodes) {
    const r = n.state !== 'running' ? await labStart(dir, n.name) : n.partitioned ? await labHeal(dir, n.name) : undefined;
    if (r && !r.ok) throw new Error(`shared lab: cannot repair ${n.name}: ${r.error.message}`);
  }
}

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a shell command on a lab node as root (see nodeRun). */
export async function labExec(lab: Pick<LabInfo, 'nodes'>, node: string, command: string, timeoutMs = 300_000): Promise<ExecResult> {
  const n = lab.nodes.find((x) => x.name === node || x.address === node);
  if (!n) throw new Error(`no lab node ${node}; nodes: ${lab.nodes.map((x) => x.name).join(', ')}`);
  return nodeRun(n, command, { timeoutMs });
}

/** The environment of a root login on a node (what sshd gives a command), nothing of the host's. */
const NODE_LOGIN_ENV = ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'HOME=/root', 'USER=root', 'LOGNAME=root', 'SHELL=/bin/bash'];

/**
 * Runs a command (or, with `input`, `bash -s` reading that script) on a node as root, from its
 * console: inside the node's namespaces (nsenter into its systemd), in /root with a login's
 * environment. Not over ssh: on this machine an ssh login costs about 0.2 s of CPU (key exchange
 * on both ends), and the suite's tests look at their nodes hundreds of times; osha's own traffic,
 * the thing under test, still goes over SSH. The command keeps the host root's capabilities, so a
 * test of what a node itself may do (the lab's own tests) uses nodeSsh. A node that is not
 * running answers 255, as ssh does when it cannot connect. A command killed at its time limit
 * says so: which command, which node, the limit.
 */
export async function nodeRun(n: LabNode, command: string, opts: { input?: string; timeoutMs?: number } = {}): Promise<ExecResult> {
  const timeoutMs = opts.timeoutMs ?? 300_000;
  const pid = nodeInitPid(n);
  if (pid === undefined) return { code: 255, stdout: '', stderr: `${n.name} (${n.address}): not running (no systemd-nspawn of it in ${n.labDir})` };
  const argv = ['--target', String(pid), '--all', 'env', '-i', ...NODE_LOGIN_ENV, '/bin/bash', '-c', `cd /root || exit 255\n${command}`];
  return timeLimited(n, command, opts.input, timeoutMs, await run('nsenter', argv, { input: opts.input, timeoutMs, processGroup: true }));
}

/** Like nodeRun, over ssh with the lab key and the node's pinned host key (strict checking). */
export async function nodeSsh(n: LabNode, command: string, opts: { input?: string; timeoutMs?: number } = {}): Promise<ExecResult> {
  const timeoutMs = opts.timeoutMs ?? 300_000;
  const r = await run('ssh', [...sshOptions(n), `root@${n.address}`, '--', command], { input: opts.input, timeoutMs });
  return timeLimited(n, command, opts.input, timeoutMs, r);
}

function timeLimited(n: LabNode, command: string, input: string | undefined, timeoutMs: number, r: ExecResult & { timedOut?: boolean }): ExecResult {
  if (!r.timedOut) return { code: r.code, stdout: r.stdout, stderr: r.stderr };
  const what = input ? `the script starting "${input.split('\n').find((l) => l.trim() && !l.startsWith('set ')) ?? ''}"` : `\`${command}\``;
  return { code: r.code, stdout: r.stdout, stderr: `${r.stderr.split('\n').slice(0, -1).join('\n')}\n${n.name} (${n.address}): ${what} was killed after its time limit of ${timeoutMs / 1000} s`.trimStart() };
}

/** The host PID of the node's systemd, from the lab's state; undefined when the node is not running. */
function nodeInitPid(n: LabNode): number | undefined {
  let state: LabState;
  try {
    state = JSON.parse(readFileSync(join(n.labDir, 'lab.json'), 'utf8')) as LabState;
  } catch {
    return undefined;
  }
  const node = state.nodes.find((x) => x.name === n.name);
  return node && containerInitPid(node);
}

/** Runs a command on a node and returns its stdout; anything but exit 0 throws with node, command and stderr. */
export async function labOk(lab: Pick<LabInfo, 'nodes'>, node: string, command: string, timeoutMs?: number): Promise<string> {
  const r = await labExec(lab, node, command, timeoutMs);
  if (r.code !== 0) throw new Error(`${node}: ${command.split('\n')[0]} failed (exit ${r.code}): ${(r.stderr || r.stdout).trim().slice(-3000)}`);
  return r.stdout;
}

/**
 * A bash script that installs Debian packages from a lab node's offline apt cache (the image
 * carries them) with no daemon started during the install (policy-rc.d, removed on exit). The
 * apt output goes to `log` on the node; its tail reaches stderr when the install fails.
 */
export function offlineInstallScript(packages: readonly string[], log: string): string {
  return String.raw`set -eu
echo "man-db man-db/auto-update boolean false" | debconf-set-selections
rm -f /var/lib/man-db/auto-update
printf '#!/bin/sh
exit 101
' > /usr/sbin/policy-rc.d
chmod 755 /usr/sbin/policy-rc.d
trap 'rm -f /usr/sbin/policy-rc.d' EXIT
DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-download -o Dpkg::Options::=--force-unsafe-io   ${packages.join(' ')} >${log} 2>&1 || { tail -n 30 ${log} >&2; exit 1; }
`;
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

/**
 * Writes a copy of a lab inventory without some nodes (and the fence devices that power them
 * off), as an operator would edit it; returns its path.
 */
export function inventoryWithout(from: string, drop: string[], to: string): string {
  const inv = parseYaml(readFileSync(from, 'utf8')) as { nodes: { name: string }[]; stonith?: { devices?: { node: string }[] } };
  const before = inv.nodes.length;
  inv.nodes = inv.nodes.filter((n) => !drop.includes(n.name));
  if (inv.nodes.length !== before - drop.length) throw new Error(`${from} does not list every node of ${drop.join(', ')}`);
  if (inv.stonith?.devices) inv.stonith.devices = inv.stonith.devices.filter((d) => !drop.includes(d.node));
  writeFileSync(to, stringifyYaml(inv));
  return to;
}

/** Everything of the lab still present on the host: namespaces, links, mounts, processes, cgroups. */
export async function leftovers(plan: LabPlan): Promise<string[]> {
  const out: string[] = [];
  const netns = (await run('ip', ['netns', 'list'])).stdout;
  for (const n of plan.nodes) if (netns.split('\n').some((l) => l.split(' ')[0] === n.netns)) out.push(`netns ${n.netns}`);
  for (const link of [plan.bridge, ...plan.nodes.map((n) => n.vethHost)]) {
    if ((await run('ip', ['link', 'show', 'dev', link])).code === 0) out.push(`link ${link}`);
  }
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) if (line.includes(plan.dir)) out.push(`mount ${line.split(' ')[4]}`);
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (cmd.includes(plan.dir)) out.push(`process ${pid} ${cmd.replace(/\0/g, ' ').slice(0, 80)}`);
    } catch {
      // Gone while we looked.
    }
  }
  for (const root of ['/sys/fs/cgroup', '/sys/fs/cgroup/systemd', '/sys/fs/cgroup/unified']) {
    if (existsSync(`${root}/${plan.cgroupBase}`)) out.push(`cgroup ${root}/${plan.cgroupBase}`);
  }
  if (existsSync(plan.files.state)) out.push(`state ${plan.files.state}`);
  if (existsSync(`${plan.files.state}.lock`)) out.push(`lock ${plan.files.state}.lock`);
  return out;
}
