// The lab's fence device, host side: its keys, the files every node gets (the fence_nspawn agent,
// the client key, the pinned host key), and the detached fence server process.
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runOk } from './exec.ts';
import { pidAlive, sendSignal, waitFor } from './proc.ts';
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
/** The osha launcher the fence server runs through (compiled or through tsx, like the CLI). */
const OSHA_BIN = fileURLToPath(new URL('../../bin/osha.js', import.meta.url));

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

/** The command line of the fence server of the lab in DIR (also how teardown recognises it). */
export function fenceServerArgs(dir: string): string[] {
  return [OSHA_BIN, 'lab', 'fence-server', '--dir', dir];
}

/** Starts the fence server detached (it outlives `osha lab up`); returns its PID. */
export function startFenceServer(state: Pick<LabState, 'dir'>): Result<number> {
  const logFd = openSync(fenceFiles(state.dir).log, 'a', 0o600);
  try {
    const child = spawn(process.execPath, fenceServerArgs(state.dir), { detached: true, stdio: ['ignore', logFd, logFd] });
    child.unref();
    if (!child.pid) return err(oshaError('could not start the fence server'));
    return ok(child.pid);
  } finally {
    closeSync(logFd);
  }
}

/** True when PID is this lab's fence server (not a reused PID). */
export function fenceServerAlive(pid: number | undefined, dir: string): boolean {
  if (pid === undefined || !pidAlive(pid)) return false;
  try {
    const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    return args.includes('fence-server') && args.includes(dir);
  } catch {
    return false;
  }
}

/** Waits until the fence server greets on its port. */
export async function waitForFenceServer(state: Pick<LabState, 'dir' | 'gateway' | 'fenceServerPid'>, timeoutMs: number): Promise<Result<void>> {
  let died = false;
  const up = await waitFor(
    async () => {
      if (!fenceServerAlive(state.fenceServerPid, state.dir)) died = true;
      return died || (await sshBanner(state.gateway, 1_000, FENCE_PORT));
    },
    { timeoutMs, intervalMs: 50 },
  );
  if (died || !up) {
    const log = existsSync(fenceFiles(state.dir).log) ? readFileSync(fenceFiles(state.dir).log, 'utf8').trim().split('\n').slice(-3).join(' | ') : '';
    return err(oshaError(`the fence server ${died ? 'stopped' : 'did not answer'} on ${state.gateway}:${FENCE_PORT}${log ? `: ${log}` : ''}`));
  }
  return ok(undefined);
}

/** Stops the fence server by its recorded PID, after checking that the PID is still it. */
export async function stopFenceServer(state: Pick<LabState, 'dir' | 'fenceServerPid'>): Promise<Result<void>> {
  const pid = state.fenceServerPid;
  if (!fenceServerAlive(pid, state.dir)) return ok(undefined);
  sendSignal(pid!, 'SIGTERM');
  if (!(await waitFor(() => !pidAlive(pid!), { timeoutMs: 3_000 }))) {
    sendSignal(pid!, 'SIGKILL');
    if (!(await waitFor(() => !pidAlive(pid!), { timeoutMs: 3_000 }))) return err(oshaError(`the fence server (PID ${pid}) does not stop`));
  }
  return ok(undefined);
}
