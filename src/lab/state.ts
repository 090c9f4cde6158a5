// lab.json: the machine-readable record of everything a lab made on the host. It is written
// before each thing is created, so `osha lab down` can clean up after a crashed run.
import { closeSync, openSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import type { LabPlan, NodePlan } from './plan.ts';
import type { Topology } from '../inventory/schema.ts';
import type { Release } from './image-recipe.ts';
import { err, ok, oshaError, type Result } from '../util/result.ts';

export const STATE_VERSION = 1;

export interface NodeState extends NodePlan {
  /** PID of the node's launcher (the shell that runs and restarts systemd-nspawn). */
  launcherPid?: number;
  /** Host key fingerprint line as written to known_hosts. */
  hostKey?: string;
  /** True after `lab kill`: powered off until `lab start`. */
  killed: boolean;
  /** True after `lab partition`: its link is cut until `lab heal`. */
  partitioned: boolean;
}

export interface LabState extends Omit<LabPlan, 'nodes'> {
  version: number;
  createdAt: string;
  /** The node image; `stack`: the stack layer the nodes mount over it (lab up's `stack` option). */
  image: { hash: string; rootfs: string; stack?: string };
  /** cgroup hierarchy roots the launchers put their node's cgroup in. */
  cgroupRoots: string[];
  /** Host directory bind-mounted into every node, when asked for. */
  shared?: string;
  /** True when `up` created the shared directory (DIR/shared for --openstack): `down` removes it. */
  sharedOwned?: boolean;
  /**
   * The layout the controllers are made for: classic keeps MariaDB's data on the shared storage,
   * active-active in node1's own /var/lib/mysql (absent: classic).
   */
  topology?: Topology;
  /** The nodes' Debian release (absent in labs made before there was a choice: bookworm). */
  release?: Release;
  /** Set when the nodes were made OpenStack controllers (src/lab/openstack.ts). */
  controllers?: { bootstrappedAt: string; primary: string };
  /** Set once every node answered on ssh. */
  ready: boolean;
  /** False for a lab made with --no-fencing: no fence server, no fence device in the inventory. */
  fencing?: boolean;
  /** PID of the lab's fence server (`osha lab fence-server`), while it runs. */
  fenceServerPid?: number;
  /** PID of the lab's apt proxy (`osha lab apt-proxy`), while it runs (absent in labs made before there was one). */
  aptProxyPid?: number;
  nodes: NodeState[];
}

export async function readState(file: string): Promise<Result<LabState | undefined>> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return ok(undefined);
    return err(oshaError(`cannot read ${file}: ${(e as Error).message}`));
  }
  try {
    const state = JSON.parse(text) as LabState;
    if (state.version !== STATE_VERSION || !Array.isArray(state.nodes)) {
      return err(oshaError(`${file} is not a lab state file this osha understands`, { fix: 'remove the lab by hand or with the osha version that made it' }));
    }
    return ok(state);
  } catch {
    return err(oshaError(`${file} is not valid JSON`, { fix: 'the lab state is damaged; remove the lab\'s containers by hand' }));
  }
}

/** Writes the state atomically (temp file + rename), so a crash never leaves half a file. */
export async function writeState(state: LabState): Promise<void> {
  // A name of its own per write: two processes may write at once (each under the lock, see updateState).
  const tmp = `${state.files.state}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  await writeFile(tmp, JSON.stringify(state, null, 2) + '\n', { mode: 0o600 });
  await rename(tmp, state.files.state);
}

export function findNode(state: LabState, name: string): Result<NodeState> {
  const node = state.nodes.find((n) => n.name === name);
  if (node) return ok(node);
  return err(oshaError(`no node named "${name}" in the lab at ${state.dir}`, { fix: `use one of: ${state.nodes.map((n) => n.name).join(', ')}` }));
}

/** The lock file that serialises read-modify-write of lab.json across processes. */
export function lockFile(stateFile: string): string {
  return `${stateFile}.lock`;
}

function holderAlive(lock: string): boolean {
  try {
    const pid = Number(readFileSync(lock, 'utf8').trim());
    // Empty: being written right now (held), unless its writer died seconds ago.
    if (!Number.isInteger(pid) || pid <= 0) return Date.now() - statSync(lock).mtimeMs < 5_000;
    process.kill(pid, 0);
    return true;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    // ENOENT: released meanwhile (try again); ESRCH: the holder died without releasing.
    return code !== 'ESRCH';
  }
}

/**
 * Runs `fn` holding DIR/lab.json.lock (created with O_EXCL, holding our PID). A lock whose holder
 * died is taken over. Kept only around short state updates, never around a boot.
 */
export async function withStateLock<T>(stateFile: string, fn: () => Promise<T>, timeoutMs = 30_000): Promise<T> {
  const lock = lockFile(stateFile);
  const deadline = Date.now() + timeoutMs;
  while (true) {
    try {
      const fd = openSync(lock, 'wx', 0o600);
      writeSync(fd, String(process.pid));
      closeSync(fd);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      if (!holderAlive(lock)) {
        rmSync(lock, { force: true });
        continue;
      }
      if (Date.now() > deadline) throw new Error(`${lock} is held by another osha process for more than ${timeoutMs / 1000}s`);
      await new Promise((r) => setTimeout(r, 10 + Math.floor(Math.random() * 20)));
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(lock, { force: true });
  }
}

/**
 * Read-modify-write of lab.json under the lock: `change` gets the state as it is on disk now
 * (another process may have changed it since we read it) and edits it in place.
 */
export async function updateState(stateFile: string, change: (state: LabState) => void): Promise<Result<LabState>> {
  return withStateLock(stateFile, async () => {
    const read = await readState(stateFile);
    if (!read.ok) return read;
    if (!read.value) return err(oshaError(`${stateFile} is gone: the lab was removed`));
    change(read.value);
    await writeState(read.value);
    return ok(read.value);
  });
}
