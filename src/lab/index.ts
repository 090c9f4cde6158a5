// The lab API: `osha lab` and the end-to-end tests call these; each returns a Result and prints
// nothing. State lives in DIR/lab.json, so every command acts on recorded PIDs and names.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { mkdir, readFile, rm, rmdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { ensureImage, ensureStackLayer, DEFAULT_CACHE_DIR } from './image.ts';
import { labRecipe, recipeHash, DEFAULT_RELEASE, type Release } from './image-recipe.ts';
import { checkPlanOptions, planLab, type PlanOptions } from './plan.ts';
import { findNode, lockFile, readState, updateState, writeState, STATE_VERSION, type LabState, type NodeState } from './state.ts';
import { createBridge, createNodeNet, rangeInUse, removeBridge, removeNodeNet, setNodeLink } from './net.ts';
import { cgroupRoots, removeEmptyCgroup } from './cgroup.ts';
import { renderInventory, renderKnownHosts } from './inventory.ts';
import { preflight } from './preflight.ts';
import { allFenceFiles, fenceFiles, ensureFenceKeys, fenceServerAlive, startFenceServer, stopFenceServer, waitForFenceServer, writeFenceNodeFiles, FENCE_PORT } from './fence.ts';
import { aptProxyAlive, aptProxyLog, startAptProxy, stopAptProxy, waitForAptProxy, writeAptProxyNodeFiles, APT_PROXY_PORT } from './apt-proxy.ts';
import { runOk } from './exec.ts';
import { controllerFiles, labControllers, type ControllersInfo } from './openstack.ts';
import { sendSignal, waitFor } from './proc.ts';
import {
  LAUNCHER_SCRIPT,
  consoleTail,
  containerInitPid,
  launcherAlive,
  lowerDirs,
  mountRoot,
  nspawnPid,
  powerOff,
  sshBanner,
  startLauncher,
  unmountRoot,
  waitForSshd,
  notUpReason,
  writeNodeFiles,
} from './node.ts';
import { err, ok, oshaError, type OshaError, type Result } from '../util/result.ts';
import type { Topology } from '../inventory/schema.ts';

export { DEFAULT_DIR, DEFAULT_NODES, MAX_NODES, MIN_NODES, SHARED_MOUNT } from './plan.ts';
export { OFFLINE_DEBS, BASE_PACKAGES } from './image-recipe.ts';

/** A lab error; `usage` marks a bad environment or bad input (exit 2) rather than a failure. */
export interface LabError extends OshaError {
  usage?: boolean;
  /** Set when `up` stopped because its AbortSignal fired. */
  interrupted?: boolean;
}
type LabResult<T> = Result<T, LabError>;

const usage = (message: string, fix?: string): LabResult<never> => err({ ...oshaError(message, fix ? { fix } : {}), usage: true });

export interface LabUpOptions extends PlanOptions {
  /** Host directory bind-mounted at /srv/shared in every node (stands in for shared storage). */
  shared?: string;
  cacheDir?: string;
  /** How long to wait for every sshd, in ms. */
  timeoutMs?: number;
  log?: (line: string) => void;
  /** Aborting (e.g. on Ctrl-C) stops the bring-up and removes what it made. */
  signal?: AbortSignal;
  /** False: no fence device (no fence server, no agent); the inventory says stonith is off. */
  fencing?: boolean;
  /**
   * Make the nodes OpenStack controllers before HA (src/lab/openstack.ts); without `shared`, the
   * shared storage is DIR/shared, made and removed by the lab.
   */
  openstack?: boolean;
  /**
   * With openstack: active-active keeps MariaDB's data in node1's own /var/lib/mysql (no shared
   * storage) and writes `topology: active-active` into the inventory. Default classic.
   */
  topology?: Topology;
  /** The Debian release of the nodes (one cached image per release); bookworm by default. */
  release?: Release;
  /**
   * Nodes with the cluster stack already installed, as osha deploy's packages step leaves it
   * (image-recipe.ts STACK_PACKAGES, units not enabled): a layer over the image, built once. For
   * labs that are not there to watch that step: the tests that are keep bare nodes.
   */
  stack?: boolean;
}

const interrupted = (): LabResult<never> => err({ ...oshaError('interrupted; the half-made lab was removed'), interrupted: true });

export interface LabNodeInfo {
  name: string;
  address: string;
  iface: string;
}

export interface LabInfo {
  dir: string;
  inventory: string;
  privateKey: string;
  knownHosts: string;
  vip: string;
  nodes: LabNodeInfo[];
  image: { hash: string; rootfs: string; built: boolean; buildSeconds: number };
  /** Seconds from the start of `up` until every sshd answered (image build excluded). */
  bootSeconds: number;
  /** The nodes' Debian release. */
  release: Release;
  /** The fence server (absent with fencing: false). */
  fence?: { address: string; port: number; log: string };
  /** The apt proxy the nodes' apt uses (src/lab/apt-proxy.ts). */
  aptProxy: { address: string; port: number; log: string };
  /** With `openstack`: the controllers' bootstrap. */
  controllers?: ControllersInfo;
}

function infoOf(state: LabState, image: LabInfo['image'], bootSeconds: number): LabInfo {
  return {
    dir: state.dir,
    inventory: state.files.inventory,
    privateKey: state.files.key,
    knownHosts: state.files.knownHosts,
    vip: state.vip,
    nodes: state.nodes.map((n) => ({ name: n.name, address: n.address, iface: n.iface })),
    image,
    bootSeconds,
    release: state.release ?? DEFAULT_RELEASE,
    fence: state.fencing === false ? undefined : { address: state.gateway, port: FENCE_PORT, log: fenceFiles(state.dir).log },
    aptProxy: { address: state.gateway, port: APT_PROXY_PORT, log: aptProxyLog(state.dir) },
  };
}

/** Builds the image if needed, boots the nodes, waits for every sshd, writes inventory and keys. */
export async function labUp(opts: LabUpOptions = {}): Promise<LabResult<LabInfo>> {
  const bad = checkPlanOptions(opts);
  if (bad) return usage(bad);
  const plan = planLab(opts);
  // Overlay mount options separate paths with "," and ":"; mountinfo escapes whitespace.
  if (/[,:\s]/.test(plan.dir)) return usage(`the lab directory ${plan.dir} must not contain ",", ":" or whitespace`);
  const cacheDir = opts.cacheDir ?? DEFAULT_CACHE_DIR;
  const release = opts.release ?? DEFAULT_RELEASE;
  const recipe = labRecipe(undefined, release);
  const cached = existsSync(join(cacheDir, recipeHash(recipe), 'recipe.json'));
  const pre = await preflight({ needDebootstrap: !cached });
  if (!pre.ok) return usage(pre.error.message, pre.error.fix);
  if (existsSync(plan.files.state)) return usage(`a lab is already up in ${plan.dir}`, `use it, or remove it first with: osha lab down --dir ${plan.dir}`);
  const inUse = await rangeInUse(plan);
  if (inUse) return usage(inUse, 'remove what uses it (an old lab: osha lab down --dir DIR), or give this lab another range with --subnet');
  if (opts.shared && !/^[^:,\s]+$/.test(opts.shared)) return usage(`the shared directory path ${opts.shared} must not contain ":", "," or spaces`);

  const image = await ensureImage({ cacheDir, recipe, log: opts.log });
  if (!image.ok) return image;
  const stack = opts.stack ? await ensureStackLayer(cacheDir, image.value, opts.log) : undefined;
  if (stack && !stack.ok) return stack;
  if (opts.signal?.aborted) return interrupted();

  // Without lab.json nothing in DIR/nodes belongs to a lab: start from clean disks.
  if (readFileSync('/proc/self/mountinfo', 'utf8').includes(` ${plan.files.nodes}/`)) {
    return usage(`something is still mounted under ${plan.files.nodes}`, `unmount it (findmnt | grep ${plan.files.nodes}) and try again`);
  }
  await rm(plan.files.nodes, { recursive: true, force: true });
  const started = Date.now();
  await mkdir(plan.files.nodes, { recursive: true });
  const shared = opts.shared ? resolve(opts.shared) : opts.openstack && opts.topology !== 'active-active' ? join(plan.dir, 'shared') : undefined;
  // Only a directory the lab creates is the lab's to remove at `down`.
  const sharedOwned = shared !== undefined && !existsSync(shared);
  if (shared) await mkdir(shared, { recursive: true });
  const state: LabState = {
    ...plan,
    version: STATE_VERSION,
    createdAt: new Date().toISOString(),
    image: { hash: image.value.hash, rootfs: image.value.rootfs, ...(stack ? { stack: stack.value } : {}) },
    cgroupRoots: cgroupRoots(),
    shared,
    ...(sharedOwned ? { sharedOwned } : {}),
    ready: false,
    fencing: opts.fencing !== false,
    ...(opts.topology ? { topology: opts.topology } : {}),
    release,
    nodes: plan.nodes.map((n) => ({ ...n, killed: false, partitioned: false })),
  };
  // Recorded before anything is created: a crash from here on is cleaned by `lab down`.
  await writeState(state);
  const booted = opts.signal?.aborted ? interrupted() : await bootLab(state, opts);
  if (!booted.ok) {
    const cleaned = await teardown(state);
    if (opts.signal?.aborted) return interrupted();
    const note = cleaned.ok ? '' : ` (cleanup also failed: ${cleaned.error.message})`;
    return err({ ...booted.error, message: booted.error.message + note });
  }
  const info = infoOf(state, image.value, (Date.now() - started) / 1000);
  if (!opts.openstack) return ok(info);
  // A failed bootstrap leaves the lab up to look at: re-running it is safe.
  const controllers = await labControllers(state.dir, { log: opts.log, topology: opts.topology });
  if (!controllers.ok) {
    return err({ ...controllers.error, message: `the lab is up in ${state.dir}, but making its nodes OpenStack controllers failed: ${controllers.error.message}`, fix: `re-run it with: osha lab controllers --dir ${state.dir} (or remove the lab: osha lab down --dir ${state.dir})` });
  }
  return ok({ ...info, controllers: controllers.value });
}

async function bootLab(state: LabState, opts: LabUpOptions): Promise<LabResult<void>> {
  await writeFile(state.files.launcher, LAUNCHER_SCRIPT, { mode: 0o755 });
  if (!existsSync(state.files.key)) {
    const k = await runOk('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `osha-lab@${state.bridge}`, '-f', state.files.key]);
    if (!k.ok) return k;
  }
  const publicKey = await readFile(state.files.publicKey, 'utf8');
  if (state.fencing !== false) {
    const keys = await ensureFenceKeys(state);
    if (!keys.ok) return keys;
  }
  const bridge = await createBridge(state);
  if (!bridge.ok) return bridge;
  if (opts.signal?.aborted) return interrupted();

  const prepared = await Promise.all(state.nodes.map(async (node) => prepareNode(state, node, publicKey)));
  const failed = prepared.find((r) => !r.ok);
  if (failed && !failed.ok) return failed;
  prepared.forEach((r, i) => {
    if (r.ok) state.nodes[i]!.hostKey = r.value;
  });

  if (opts.signal?.aborted) return interrupted();
  if (state.fencing !== false) {
    const server = startFenceServer(state);
    if (!server.ok) return server;
    state.fenceServerPid = server.value;
    // Recorded at once: a crash from here on still lets `lab down` stop it.
    await writeState(state);
  }
  const proxy = startAptProxy(state);
  if (!proxy.ok) return proxy;
  state.aptProxyPid = proxy.value;
  await writeState(state);
  for (const node of state.nodes) {
    const pid = startLauncher(state, node);
    if (!pid.ok) return pid;
    node.launcherPid = pid.value;
  }
  await writeState(state);

  const timeoutMs = opts.timeoutMs ?? 60_000;
  const [up, fence, proxied] = await Promise.all([
    Promise.all(state.nodes.map((n) => waitForSshd(state, n, timeoutMs, opts.signal))),
    state.fencing !== false ? waitForFenceServer(state, Math.max(timeoutMs, 15_000)) : Promise.resolve(ok(undefined)),
    waitForAptProxy(state, Math.max(timeoutMs, 15_000)),
  ]);
  if (opts.signal?.aborted) return interrupted();
  const late = state.nodes.flatMap((n, i) => (up[i] === 'up' ? [] : [notUpReason(n, up[i] as 'died' | 'timeout')]));
  if (late.length) return err(oshaError(`the lab did not come up: ${late.join('; ')}`));
  if (!fence.ok) return fence;
  if (!proxied.ok) return proxied;
  await writeFile(state.files.knownHosts, renderKnownHosts(state.nodes.map((n) => n.hostKey!)), { mode: 0o600 });
  await writeFile(state.files.inventory, renderInventory(state), { mode: 0o644 });
  state.ready = true;
  await writeState(state);
  return ok(undefined);
}

async function prepareNode(state: LabState, node: NodeState, publicKey: string): Promise<LabResult<string>> {
  await mkdir(node.dir, { recursive: true });
  const mounted = await mountRoot(node, lowerDirs(state.image));
  if (!mounted.ok) return mounted;
  const hostKey = await writeNodeFiles(node, state.nodes, publicKey);
  if (!hostKey.ok) return hostKey;
  const apt = await writeAptProxyNodeFiles(node, state.gateway);
  if (!apt.ok) return apt;
  if (state.fencing !== false) {
    const fence = await writeFenceNodeFiles(node, state);
    if (!fence.ok) return fence;
  }
  const net = await createNodeNet(node, state.bridge);
  if (!net.ok) return net;
  return hostKey;
}

export interface LabDownResult {
  /** False when there was no lab in DIR (down is safe to run twice). */
  removed: boolean;
  dir: string;
}

/** Removes every container, mount, namespace, veth, bridge and cgroup the lab in DIR made. */
export async function labDown(dir?: string): Promise<LabResult<LabDownResult>> {
  const pre = await preflight({ needDebootstrap: false });
  if (!pre.ok) return usage(pre.error.message, pre.error.fix);
  const plan = planLab({ dir });
  const read = await readState(plan.files.state);
  if (!read.ok) return read;
  if (!read.value) return ok({ removed: false, dir: plan.dir });
  const done = await teardown(read.value);
  if (!done.ok) return done;
  return ok({ removed: true, dir: plan.dir });
}

/** Tears down by the recorded state; keeps lab.json when something could not be removed. */
async function teardown(state: LabState): Promise<LabResult<void>> {
  const problems: string[] = [];
  const note = (r: Result<unknown>) => {
    if (!r.ok) problems.push(r.error.message);
  };
  // The fence server first: it must not power a node on while the lab goes away.
  note(await stopFenceServer(state));
  note(await stopAptProxy(state));
  await Promise.all(
    state.nodes.map(async (node) => {
      note(await powerOff(state, node));
      note(await removeNodeNet(node));
      note(await unmountRoot(node));
    }),
  );
  note(await removeBridge(state.bridge));
  removeEmptyCgroup(state.cgroupRoots, state.cgroupBase);
  removeEmptyCgroup(state.cgroupRoots, state.cgroupBase.split('/')[0]!);
  if (problems.length) {
    await writeState(state);
    return err(oshaError(`the lab in ${state.dir} was not fully removed: ${problems.join('; ')}`, { fix: `fix the cause, then run osha lab down --dir ${state.dir} again` }));
  }
  const files = [state.files.nodes, state.files.inventory, state.files.key, state.files.publicKey, state.files.knownHosts, state.files.launcher, ...Object.values(controllerFiles(state.dir))];
  if (state.shared && state.sharedOwned) files.push(state.shared);
  for (const f of [...files, ...allFenceFiles(state.dir), aptProxyLog(state.dir), lockFile(state.files.state)]) {
    await rm(f, { recursive: true, force: true });
  }
  await rm(state.files.state, { force: true });
  if (existsSync(state.dir) && readdirSync(state.dir).length === 0) await rmdir(state.dir).catch(() => undefined);
  return ok(undefined);
}

async function loadLab(dir: string | undefined): Promise<LabResult<LabState>> {
  const pre = await preflight({ needDebootstrap: false });
  if (!pre.ok) return usage(pre.error.message, pre.error.fix);
  const plan = planLab({ dir });
  const read = await readState(plan.files.state);
  if (!read.ok) return read;
  if (!read.value) return usage(`no lab in ${plan.dir}`, `start one with: osha lab up --dir ${plan.dir}`);
  return ok(read.value);
}

async function loadNode(dir: string | undefined, name: string): Promise<LabResult<{ state: LabState; node: NodeState }>> {
  const lab = await loadLab(dir);
  if (!lab.ok) return lab;
  const node = findNode(lab.value, name);
  if (!node.ok) return { ok: false, error: { ...node.error, usage: true } };
  return ok({ state: lab.value, node: node.value });
}

export type NodeRunState = 'running' | 'killed' | 'stopped';

export interface LabNodeStatus extends LabNodeInfo {
  state: NodeRunState;
  partitioned: boolean;
  /** True when its sshd answered just now. */
  sshd: boolean;
  launcherPid?: number;
  nspawnPid?: number;
}

export interface LabStatus {
  dir: string;
  ready: boolean;
  bridge: string;
  vip: string;
  inventory: string;
  /** The nodes' Debian release. */
  release: Release;
  /** The fence server (absent for a lab made with --no-fencing). */
  fence?: { address: string; port: number; pid?: number; running: boolean };
  /** The apt proxy (absent for a lab made before there was one). */
  aptProxy?: { address: string; port: number; pid?: number; running: boolean; log: string };
  nodes: LabNodeStatus[];
}

export async function labStatus(dir?: string): Promise<LabResult<LabStatus>> {
  const lab = await loadLab(dir);
  if (!lab.ok) return lab;
  const state = lab.value;
  const nodes = await Promise.all(
    state.nodes.map(async (n): Promise<LabNodeStatus> => {
      const running = launcherAlive(n, state.files.launcher);
      const sshd = running && !n.partitioned ? await sshBanner(n.address, 1_000) : false;
      return {
        name: n.name,
        address: n.address,
        iface: n.iface,
        state: running ? 'running' : n.killed ? 'killed' : 'stopped',
        partitioned: n.partitioned,
        sshd,
        launcherPid: running ? n.launcherPid : undefined,
        nspawnPid: running ? nspawnPid(n) : undefined,
      };
    }),
  );
  const running = fenceServerAlive(state.fenceServerPid, state.dir);
  const fence = state.fencing === false ? undefined : { address: state.gateway, port: FENCE_PORT, pid: running ? state.fenceServerPid : undefined, running };
  const proxying = aptProxyAlive(state.aptProxyPid, state.dir);
  const aptProxy = state.aptProxyPid === undefined ? undefined : { address: state.gateway, port: APT_PROXY_PORT, pid: proxying ? state.aptProxyPid : undefined, running: proxying, log: aptProxyLog(state.dir) };
  return ok({ dir: state.dir, ready: state.ready, bridge: state.bridge, vip: state.vip, inventory: state.files.inventory, release: state.release ?? DEFAULT_RELEASE, fence, aptProxy, nodes });
}

/** Power cut: kills the node's container and deletes its network namespace (a VIP on it vanishes). */
export async function labKill(dir: string | undefined, name: string): Promise<LabResult<void>> {
  const found = await loadNode(dir, name);
  if (!found.ok) return found;
  return cutPower(found.value.state, found.value.node, { keepPartition: false });
}

/** Boots a killed or stopped node again (same disk) and waits for its sshd; a running node is left alone. */
export async function labStart(dir: string | undefined, name: string, timeoutMs = 60_000): Promise<LabResult<void>> {
  const found = await loadNode(dir, name);
  if (!found.ok) return found;
  const { state, node } = found.value;
  if (launcherAlive(node, state.files.launcher)) return ok(undefined);
  const booted = await bootNode(state, node, { keepPartition: false });
  if (!booted.ok) return booted;
  const up = await waitForSshd(state, booted.value, timeoutMs);
  return up === 'up' ? ok(undefined) : err(oshaError(notUpReason(node, up)));
}

/**
 * Powers a node off and records it killed. A fence device keeps the node's partition (a power
 * cycle does not mend a cable); `lab kill` forgets it, as before.
 */
export async function cutPower(state: LabState, node: NodeState, opts: { keepPartition: boolean }): Promise<LabResult<void>> {
  const off = await powerOff(state, node);
  if (!off.ok) return off;
  const net = await removeNodeNet(node);
  if (!net.ok) return net;
  const saved = await updateState(state.files.state, (s) => {
    const n = s.nodes.find((x) => x.name === node.name);
    if (!n) return;
    n.killed = true;
    if (!opts.keepPartition) n.partitioned = false;
    n.launcherPid = undefined;
  });
  if (!saved.ok) return saved;
  node.killed = true;
  node.launcherPid = undefined;
  if (!opts.keepPartition) node.partitioned = false;
  return ok(undefined);
}

/**
 * Boots a node that is not running (clearing what a node that died by itself left behind) and
 * returns it as recorded; does not wait for its sshd. With keepPartition a partitioned node boots
 * with its link still down.
 */
export async function bootNode(state: LabState, node: NodeState, opts: { keepPartition: boolean }): Promise<LabResult<NodeState>> {
  // A node that died by itself may have left processes or cgroups behind: clear them first.
  const off = await powerOff(state, node);
  if (!off.ok) return off;
  const net = await createNodeNet(node, state.bridge);
  if (!net.ok) return net;
  const cut = opts.keepPartition && node.partitioned;
  if (cut) {
    const r = await setNodeLink(node, false);
    if (!r.ok) return r;
  }
  const mounted = await mountRoot(node, lowerDirs(state.image));
  if (!mounted.ok) return mounted;
  const pid = startLauncher(state, node);
  if (!pid.ok) return pid;
  const saved = await updateState(state.files.state, (s) => {
    const n = s.nodes.find((x) => x.name === node.name);
    if (!n) return;
    n.launcherPid = pid.value;
    n.killed = false;
    n.partitioned = cut;
  });
  if (!saved.ok) return saved;
  node.launcherPid = pid.value;
  node.killed = false;
  node.partitioned = cut;
  return ok(node);
}

/** Cuts the node's link (its veth goes down): it stays up but nobody reaches it. */
export async function labPartition(dir: string | undefined, name: string): Promise<LabResult<void>> {
  return setLink(dir, name, false);
}

/** Restores the node's link after a partition. */
export async function labHeal(dir: string | undefined, name: string): Promise<LabResult<void>> {
  return setLink(dir, name, true);
}

async function setLink(dir: string | undefined, name: string, up: boolean): Promise<LabResult<void>> {
  const found = await loadNode(dir, name);
  if (!found.ok) return found;
  const { state, node } = found.value;
  if (node.killed) return usage(`${name} is killed; start it with: osha lab start ${name}`);
  const r = await setNodeLink(node, up, state.nodes, state.bridge);
  if (!r.ok) return r;
  const saved = await updateState(state.files.state, (s) => {
    const n = s.nodes.find((x) => x.name === name);
    if (n) n.partitioned = !up;
  });
  return saved.ok ? ok(undefined) : saved;
}

/** Reboots the node the way systemd does on Ctrl-Alt-Del, and waits until its sshd is back. */
export async function labReboot(dir: string | undefined, name: string, timeoutMs = 90_000): Promise<LabResult<void>> {
  const found = await loadNode(dir, name);
  if (!found.ok) return found;
  const { state, node } = found.value;
  const before = nspawnPid(node);
  const init = containerInitPid(node);
  if (!launcherAlive(node, state.files.launcher) || !before || !init) return usage(`${name} is not running; start it with: osha lab start ${name}`);
  // SIGINT to systemd as PID 1 starts ctrl-alt-del.target, i.e. an orderly reboot.
  sendSignal(init, 'SIGINT');
  const restarted = await waitFor(() => {
    const now = nspawnPid(node);
    return now !== undefined && now !== before;
  }, { timeoutMs });
  if (!restarted) return err(oshaError(`${name} did not reboot within ${timeoutMs / 1000}s; console: ${consoleTail(node)}`));
  if (node.partitioned) return ok(undefined);
  const up = await waitForSshd(state, node, timeoutMs);
  return up === 'up' ? ok(undefined) : err(oshaError(`after the reboot: ${notUpReason(node, up)}`));
}
