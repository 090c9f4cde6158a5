// One lab node: an overlay root over the shared image, its own files (hostname, machine-id, host
// key, authorized key), and a launcher process that runs systemd-nspawn and restarts it on reboot.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { openSync, closeSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { chmod, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { Socket } from 'node:net';
import { dirname, join } from 'node:path';
import { run, runOk } from './exec.ts';
import { childrenOf, commOf, pidAlive, sendSignal, waitFor } from './proc.ts';
import { cgroupPids, killCgroup, removeCgroup } from './cgroup.ts';
import { SHARED_MOUNT, type NodePlan } from './plan.ts';
import type { LabState, NodeState } from './state.ts';
import { err, ok, oshaError, type Result } from '../util/result.ts';

/**
 * The launcher: joins the node's own cgroup, then runs systemd-nspawn in a loop. Exit code 133
 * means the node rebooted: its addresses are reset (a VIP does not survive a reboot) and it
 * boots again. Any other exit ends the launcher.
 */
export const LAUNCHER_SCRIPT = `#!/bin/bash
# osha lab node launcher. Args: CGROUP PIDFILE STOPFILE NETNS IFACE CIDR -- systemd-nspawn args...
set -u
cg=$1 pidfile=$2 stopfile=$3 netns=$4 iface=$5 cidr=$6
shift 7
for root in $OSHA_CGROUP_ROOTS; do
  mkdir -p "$root/$cg" && echo $$ > "$root/$cg/cgroup.procs" || exit 70
done
while :; do
  systemd-nspawn "$@" &
  echo $! > "$pidfile"
  wait $!
  rc=$?
  [ "$rc" -eq 133 ] || exit "$rc"
  [ -e "$stopfile" ] && exit 0
  echo "osha-lab: node rebooted, starting it again"
  ip -n "$netns" addr flush dev "$iface"
  ip -n "$netns" addr add "$cidr" dev "$iface"
  ip -n "$netns" link set "$iface" up
done
`;

/**
 * What every node reads as /proc/loadavg. A container's own /proc/loadavg is the host's: the sum
 * of every node and of the tests beside them (14.8 seen on 2 cores). Pacemaker throttles on it:
 * above 1.25 times its load-threshold per core it lets a 3- or 4-node cluster run one action at a
 * time, cluster-wide, for load no real node of its own would have. Lab nodes read an idle load
 * instead, so Pacemaker's throttling is not exercised in the lab.
 */
export const IDLE_LOADAVG = '0.00 0.00 0.00 1/100 1\n';

/**
 * The file bound over each node's /proc/loadavg, as the node sees it: nspawn makes mounts under
 * /proc inside the container, so the source is a path in the node's own root.
 */
export const NODE_LOADAVG = '/etc/osha-lab/loadavg';

/** The systemd-nspawn command line of a node. */
export function nspawnArgs(node: NodePlan, shared?: string): string[] {
  const args = [
    '--quiet',
    '--boot',
    '--register=no',
    '--keep-unit',
    `--directory=${node.root}`,
    `--machine=${node.machine}`,
    `--hostname=${node.name}`,
    `--network-namespace-path=/run/netns/${node.netns}`,
    // nspawn drops CAP_NET_ADMIN with a foreign netns; IPaddr2 needs it, corosync wants IPC_LOCK.
    '--capability=CAP_NET_ADMIN,CAP_IPC_LOCK',
    // A lab node stands for a machine of its own, but shares the host's cores with every other
    // node. corosync gives itself realtime priority (sched_rr), right on a controller: on shared
    // cores the nodes' corosyncs then preempt everything else, their own Pacemaker and sshd and
    // the other nodes included (16 nodes: formation 54-119 s, once a 90 s start timeout; 29-42 s
    // without). Without CAP_SYS_NICE corosync keeps the normal priority and says so in its log.
    '--drop-capability=CAP_SYS_NICE',
    '--resolv-conf=off',
    '--timezone=off',
    '--link-journal=no',
    '--console=passive',
  ];
  if (shared) args.push(`--bind=${shared}:${SHARED_MOUNT}`);
  args.push(`--bind-ro=${NODE_LOADAVG}:/proc/loadavg`);
  return args;
}

function isMounted(path: string): boolean {
  const info = readFileSync('/proc/self/mountinfo', 'utf8');
  return info.split('\n').some((line) => line.split(' ')[4] === path);
}

/** The overlay's lower dirs, top first: the stack layer, when the lab has one, over the image. */
export function lowerDirs(image: { rootfs: string; stack?: string }): string {
  return image.stack ? `${image.stack}:${image.rootfs}` : image.rootfs;
}

/** Mounts the node's overlay root (image, and its stack layer, below; the node's own upper dir above). */
export async function mountRoot(node: NodePlan, lower: string): Promise<Result<void>> {
  if (isMounted(node.root)) return ok(undefined);
  await mkdir(node.upper, { recursive: true });
  await mkdir(node.work, { recursive: true });
  await mkdir(node.root, { recursive: true });
  const r = await runOk('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${lower},upperdir=${node.upper},workdir=${node.work}`, node.root]);
  return r.ok ? ok(undefined) : err(oshaError(`mounting the root of ${node.name}: ${r.error.message}`));
}

export async function unmountRoot(node: NodePlan): Promise<Result<void>> {
  if (!isMounted(node.root)) return ok(undefined);
  const r = await run('umount', [node.root]);
  if (r.code !== 0 && isMounted(node.root)) {
    // Busy only if something still runs in it; the lazy unmount detaches it anyway.
    await run('umount', ['-l', node.root]);
  }
  return isMounted(node.root) ? err(oshaError(`cannot unmount ${node.root}`, { fix: `find what uses it with: fuser -vm ${node.root}` })) : ok(undefined);
}

/** Writes the node's identity into its overlay before first boot; returns its known_hosts line. */
export async function writeNodeFiles(node: NodePlan, all: NodePlan[], publicKey: string): Promise<Result<string>> {
  const etc = join(node.root, 'etc');
  await writeFile(join(etc, 'hostname'), `${node.name}\n`);
  await writeFile(join(etc, 'machine-id'), `${randomBytes(16).toString('hex')}\n`, { mode: 0o444 });
  const hosts = ['127.0.0.1 localhost', '::1 localhost ip6-localhost ip6-loopback', ...all.map((n) => `${n.address} ${n.name}`)];
  await writeFile(join(etc, 'hosts'), `# Written by osha lab\n${hosts.join('\n')}\n`);
  const sshDir = join(node.root, 'root', '.ssh');
  await mkdir(sshDir, { recursive: true, mode: 0o700 });
  await chmod(sshDir, 0o700);
  await writeFile(join(sshDir, 'authorized_keys'), publicKey, { mode: 0o600 });
  // The node's real host key: generated here, used by the node's sshd, pinned in known_hosts.
  const keyFile = join(etc, 'ssh', 'ssh_host_ed25519_key');
  await rm(keyFile, { force: true });
  await rm(`${keyFile}.pub`, { force: true });
  const r = await runOk('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `root@${node.name}`, '-f', keyFile]);
  if (!r.ok) return r;
  const pub = (await readFile(`${keyFile}.pub`, 'utf8')).trim().split(/\s+/);
  return ok(`${node.address} ${pub[0]} ${pub[1]}`);
}

/** Starts the node's launcher, detached, in its own process group; returns the launcher's PID. */
export function startLauncher(state: LabState, node: NodePlan): Result<number> {
  rmSync(stopFile(node), { force: true });
  const loadavg = join(node.root, NODE_LOADAVG);
  mkdirSync(dirname(loadavg), { recursive: true });
  writeFileSync(loadavg, IDLE_LOADAVG, { mode: 0o444 });
  const logFd = openSync(node.log, 'a');
  try {
    const child = spawn(
      'bash',
      [state.files.launcher, node.cgroup, node.nspawnPidFile, stopFile(node), node.netns, node.iface, node.cidr, '--', ...nspawnArgs(node, state.shared)],
      { detached: true, stdio: ['ignore', logFd, logFd], env: { ...process.env, OSHA_CGROUP_ROOTS: state.cgroupRoots.join(' ') } },
    );
    child.unref();
    if (!child.pid) return err(oshaError(`could not start the launcher of ${node.name}`));
    return ok(child.pid);
  } finally {
    closeSync(logFd);
  }
}

/** The PID of the node's current systemd-nspawn, when it runs. */
export function nspawnPid(node: NodePlan): number | undefined {
  try {
    const pid = Number(readFileSync(node.nspawnPidFile, 'utf8').trim());
    return pidAlive(pid) && cmdlineHas(pid, 'systemd-nspawn') && cmdlineHas(pid, node.root) ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** The host PID of the node's systemd (the container's PID 1). */
export function containerInitPid(node: NodePlan): number | undefined {
  const nspawn = nspawnPid(node);
  if (!nspawn) return undefined;
  return childrenOf(nspawn).find((pid) => pidAlive(pid));
}

function cmdlineHas(pid: number, text: string): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').some((a) => a.includes(text));
  } catch {
    return false;
  }
}

/** True when the recorded launcher PID is still our launcher (not a reused PID). */
export function launcherAlive(node: NodeState, launcherFile: string): boolean {
  return node.launcherPid !== undefined && pidAlive(node.launcherPid) && cmdlineHas(node.launcherPid, launcherFile) && cmdlineHas(node.launcherPid, node.cgroup);
}

/**
 * Power cut. The stop file tells the launcher not to boot the node again; killing the container's
 * PID 1 takes its whole PID namespace down, nspawn exits and the launcher reaps it and ends (so no
 * zombie nspawn is left). Anything still in the node's cgroup after that is killed too.
 */
export async function powerOff(state: LabState, node: NodeState): Promise<Result<void>> {
  await writeFile(stopFile(node), '');
  const lastNspawn = recordedNspawnPid(node);
  if (launcherAlive(node, state.files.launcher)) {
    await waitFor(
      () => {
        const init = containerInitPid(node);
        if (init) sendSignal(init, 'SIGKILL');
        return !launcherAlive(node, state.files.launcher);
      },
      { timeoutMs: 5_000 },
    );
    if (launcherAlive(node, state.files.launcher)) sendSignal(node.launcherPid!, 'SIGKILL');
  }
  const nspawn = nspawnPid(node);
  if (nspawn) sendSignal(nspawn, 'SIGKILL');
  killCgroup(state.cgroupRoots, node.cgroup);
  const gone = await waitFor(() => cgroupPids(state.cgroupRoots, node.cgroup).length === 0 && !(nspawn && pidAlive(nspawn)), { timeoutMs: 15_000 });
  // Give the parent a moment to reap the last nspawn, so none lingers as a zombie.
  if (lastNspawn) await waitFor(() => commOf(lastNspawn) !== 'systemd-nspawn', { timeoutMs: 2_000 });
  // nspawn cannot clean its propagation directory when killed.
  await rm(`/run/systemd/nspawn/propagate/${node.machine}`, { recursive: true, force: true });
  const left = removeCgroup(state.cgroupRoots, node.cgroup);
  if (!gone) return err(oshaError(`processes of ${node.name} are still running after SIGKILL: ${cgroupPids(state.cgroupRoots, node.cgroup).join(' ')}`));
  if (left.length) return err(oshaError(`cannot remove cgroups of ${node.name}: ${left.join(', ')}`));
  return ok(undefined);
}

function stopFile(node: NodePlan): string {
  return join(node.dir, 'stop');
}

function recordedNspawnPid(node: NodePlan): number | undefined {
  try {
    return Number(readFileSync(node.nspawnPidFile, 'utf8').trim()) || undefined;
  } catch {
    return undefined;
  }
}

/** Waits until the node's sshd answers with its SSH banner; gives up at once if the node died. */
export async function waitForSshd(state: LabState, node: NodeState, timeoutMs: number, signal?: AbortSignal): Promise<'up' | 'died' | 'timeout'> {
  let died = false;
  const done = await waitFor(
    async () => {
      if (!launcherAlive(node, state.files.launcher)) died = true;
      return died || signal?.aborted === true || sshBanner(node.address, 1_000);
    },
    { timeoutMs, intervalMs: 50 },
  );
  return died ? 'died' : done ? 'up' : 'timeout';
}

/** Why a node is not up, for an error message. */
export function notUpReason(node: NodePlan, outcome: 'died' | 'timeout'): string {
  const what = outcome === 'died' ? 'stopped while booting' : 'did not answer on ssh in time';
  return `${node.name} ${what}; console: ${consoleTail(node)}`;
}

/** Connects to port 22 (or another) and reports whether an SSH server greets us. */
export function sshBanner(address: string, timeoutMs: number, port = 22): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = new Socket();
    let data = '';
    const done = (answer: boolean) => {
      sock.destroy();
      resolve(answer);
    };
    sock.setTimeout(timeoutMs, () => done(false));
    sock.on('error', () => done(false));
    sock.on('data', (d: Buffer) => {
      data += d.toString();
      if (data.includes('\n')) done(data.startsWith('SSH-'));
    });
    sock.on('close', () => done(data.startsWith('SSH-')));
    sock.connect(port, address);
  });
}

/** The last lines of the node's console log, to explain a node that did not come up. */
export function consoleTail(node: NodePlan, lines = 5): string {
  if (!existsSync(node.log)) return '(no console log)';
  // Strip the colour escapes systemd writes to the console.
  const text = readFileSync(node.log, 'utf8').replace(new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, 'g'), '');
  return text.trim().split('\n').slice(-lines).join(' | ');
}
