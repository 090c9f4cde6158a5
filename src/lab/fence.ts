// The lab's fence device, host side: its keys, the files every node gets (the fence_nspawn agent,
// the client key, the pinned host key), and the detached fence server process.
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runOk } from './exec.ts';
import { daemonAlive, daemonArgs, startDaemon, stopDaemon, waitForDaemon, type Daemon } from './daemon.ts';
import { sshBanner } from './node.ts';
import type { NodePlan } from './plan.ts';
import type { LabState } from './state.ts';
import { err, ok, oshaError, type Result } from '../util/result.ts';

/** The port the fence server listens on, on the lab bridge address only. */
export const FENCE_PORT = 1622;
/** The only user name the fence server accepts. */
export const FENCE_LOGIN = 'fence';
/** Where the agent and its files live inside every node. */
export const NODE_AGENT = '/usr/sbin/fence_nspawn';
export const NODE_FENCE_DIR = '/etc/osha-lab';
export const NODE_FENCE_KEY = `${NODE_FENCE_DIR}/fence_key`;
export const NODE_FENCE_KNOWN_HOSTS = `${NODE_FENCE_DIR}/fence_known_hosts`;

/**
 * The agent script, kept in src/lab/files/. Found from the package root, as dist/lab/ (the compiled
 * module) is as deep as src/lab/: one copy of the script, which the build need not copy.
 */
export const AGENT_FILE = fileURLToPath(new URL('../../src/lab/files/fence_nspawn', import.meta.url));

/** The fence server's files in the lab directory. */
export function fenceFiles(dir: string): { hostKey: string; clientKey: string; clientPublicKey: string; log: string } {
  return {
    hostKey: join(dir, 'fence_host_ed25519'),
    clientKey: join(dir, 'fence_ed25519'),
    clientPublicKey: join(dir, 'fence_ed25519.pub'),
    log: join(dir, 'fence.log'),
  };
}

/** Every fence file in DIR, for teardown. */
export function allFenceFiles(dir: string): string[] {
  const f = fenceFiles(dir);
  return [f.hostKey, `${f.hostKey}.pub`, f.clientKey, f.clientPublicKey, f.log];
}

/** Generates the server's host key and the nodes' client key (both ed25519), once per lab. */
export async function ensureFenceKeys(state: Pick<LabState, 'dir' | 'bridge'>): Promise<Result<void>> {
  const f = fenceFiles(state.dir);
  for (const [file, comment] of [
    [f.hostKey, `osha-lab-fence-server@${state.bridge}`],
    [f.clientKey, `osha-lab-fence-client@${state.bridge}`],
  ] as const) {
    if (existsSync(file)) continue;
    const r = await runOk('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', file]);
    if (!r.ok) return r;
  }
  return ok(undefined);
}

/** The known_hosts line that pins the fence server's host key for the nodes. */
export async function fenceKnownHostsLine(state: Pick<LabState, 'dir' | 'gateway'>): Promise<string> {
  const pub = (await readFile(`${fenceFiles(state.dir).hostKey}.pub`, 'utf8')).trim().split(/\s+/);
  return `[${state.gateway}]:${FENCE_PORT} ${pub[0]} ${pub[1]}`;
}

/** Installs the agent, the client key and the pinned server key into a node's root before it boots. */
export async function writeFenceNodeFiles(node: NodePlan, state: Pick<LabState, 'dir' | 'gateway'>): Promise<Result<void>> {
  try {
    const sbin = join(node.root, 'usr', 'sbin');
    await writeFile(join(sbin, 'fence_nspawn'), await readFile(AGENT_FILE, 'utf8'), { mode: 0o755 });
    await chmod(join(sbin, 'fence_nspawn'), 0o755);
    const etc = join(node.root, NODE_FENCE_DIR);
    await mkdir(etc, { recursive: true, mode: 0o755 });
    const key = join(node.root, NODE_FENCE_KEY);
    await writeFile(key, await readFile(fenceFiles(state.dir).clientKey, 'utf8'), { mode: 0o600 });
    await chmod(key, 0o600);
    await writeFile(join(node.root, NODE_FENCE_KNOWN_HOSTS), `${await fenceKnownHostsLine(state)}\n`, { mode: 0o644 });
    return ok(undefined);
  } catch (e) {
    return err(oshaError(`installing the fence agent into ${node.name}: ${(e as Error).message}`));
  }
}

/** The fence server as a lab daemon (src/lab/daemon.ts). */
function fenceDaemon(dir: string): Daemon {
  return { name: 'the fence server', command: 'fence-server', dir, log: fenceFiles(dir).log };
}

/** The command line of the fence server of the lab in DIR (also how teardown recognises it). */
export function fenceServerArgs(dir: string): string[] {
  return daemonArgs('fence-server', dir);
}

/** Starts the fence server detached (it outlives `osha lab up`); returns its PID. */
export function startFenceServer(state: Pick<LabState, 'dir'>): Result<number> {
  return startDaemon(fenceDaemon(state.dir));
}

/** True when PID is this lab's fence server (not a reused PID). */
export function fenceServerAlive(pid: number | undefined, dir: string): boolean {
  return daemonAlive(fenceDaemon(dir), pid);
}

/** Waits until the fence server greets on its port. */
export async function waitForFenceServer(state: Pick<LabState, 'dir' | 'gateway' | 'fenceServerPid'>, timeoutMs: number): Promise<Result<void>> {
  return waitForDaemon(fenceDaemon(state.dir), state.fenceServerPid, `${state.gateway}:${FENCE_PORT}`, () => sshBanner(state.gateway, 1_000, FENCE_PORT), timeoutMs);
}

/** Stops the fence server by its recorded PID, after checking that the PID is still it. */
export async function stopFenceServer(state: Pick<LabState, 'dir' | 'fenceServerPid'>): Promise<Result<void>> {
  return stopDaemon(fenceDaemon(state.dir), state.fenceServerPid);
}
