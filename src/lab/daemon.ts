// The lab's daemons (the fence server, the apt proxy): `osha lab COMMAND --dir DIR` processes that
// `lab up` starts detached (they outlive it), records by PID in lab.json, and `lab down` stops
// after checking that the PID is still the same daemon (a PID may have been reused since).
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { Socket, type Server } from 'node:net';
import { fileURLToPath } from 'node:url';
import { planLab } from './plan.ts';
import { pidAlive, sendSignal, waitFor } from './proc.ts';
import { readState, type LabState } from './state.ts';
import { err, ok, oshaError, type Result } from '../util/result.ts';

/** The osha launcher the daemons run through (compiled or through tsx, like the CLI). */
const OSHA_BIN = fileURLToPath(new URL('../../bin/osha.js', import.meta.url));

export interface Daemon {
  /** For messages, e.g. "the fence server". */
  name: string;
  /** The hidden `osha lab` subcommand that runs it, e.g. "fence-server". */
  command: string;
  /** The lab directory. */
  dir: string;
  /** Its stdout and stderr go here (appended), next to what it logs itself. */
  log: string;
}

/** The command line of a daemon of the lab in DIR (also how `daemonAlive` recognises it). */
export function daemonArgs(command: string, dir: string): string[] {
  return [OSHA_BIN, 'lab', command, '--dir', dir];
}

/** Starts the daemon detached, in its own process group; returns its PID. */
export function startDaemon(d: Daemon): Result<number> {
  const logFd = openSync(d.log, 'a', 0o600);
  try {
    const child = spawn(process.execPath, daemonArgs(d.command, d.dir), { detached: true, stdio: ['ignore', logFd, logFd] });
    child.unref();
    if (!child.pid) return err(oshaError(`could not start ${d.name}`));
    return ok(child.pid);
  } finally {
    closeSync(logFd);
  }
}

/** True when PID is this lab's daemon (not a reused PID). */
export function daemonAlive(d: Pick<Daemon, 'command' | 'dir'>, pid: number | undefined): boolean {
  if (pid === undefined || !pidAlive(pid)) return false;
  try {
    const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    return args.includes(d.command) && args.includes(d.dir);
  } catch {
    return false;
  }
}

/**
 * Waits until `answers` says the daemon serves (e.g. its port greets); gives up at once when the
 * daemon died, with the last lines of its log in the error.
 */
export async function waitForDaemon(d: Daemon, pid: number | undefined, where: string, answers: () => Promise<boolean>, timeoutMs: number): Promise<Result<void>> {
  let died = false;
  const up = await waitFor(
    async () => {
      if (!daemonAlive(d, pid)) died = true;
      return died || (await answers());
    },
    { timeoutMs, intervalMs: 50 },
  );
  if (died || !up) {
    const log = existsSync(d.log) ? readFileSync(d.log, 'utf8').trim().split('\n').slice(-3).join(' | ') : '';
    return err(oshaError(`${d.name} ${died ? 'stopped' : 'did not answer'} on ${where}${log ? `: ${log}` : ''}`));
  }
  return ok(undefined);
}

/** Stops the daemon by its recorded PID (SIGTERM, then SIGKILL), after checking that the PID is still it. */
export async function stopDaemon(d: Daemon, pid: number | undefined): Promise<Result<void>> {
  if (pid === undefined || !daemonAlive(d, pid)) return ok(undefined);
  sendSignal(pid, 'SIGTERM');
  if (!(await waitFor(() => !pidAlive(pid), { timeoutMs: 3_000 }))) {
    sendSignal(pid, 'SIGKILL');
    if (!(await waitFor(() => !pidAlive(pid), { timeoutMs: 3_000 }))) return err(oshaError(`${d.name} (PID ${pid}) does not stop`));
  }
  return ok(undefined);
}

/** True when a TCP connection to address:port is accepted within the time limit. */
export function portAccepts(address: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = new Socket();
    const done = (answer: boolean) => {
      sock.destroy();
      resolve(answer);
    };
    sock.setTimeout(timeoutMs, () => done(false));
    sock.on('error', () => done(false));
    sock.on('connect', () => done(true));
    sock.connect(port, address);
  });
}

// --- Inside the daemon ---

/** The lab a daemon serves, read from DIR/lab.json as it starts; throws (its command prints it) when there is none. */
export async function readDaemonLab(dir: string): Promise<LabState> {
  const plan = planLab({ dir });
  const read = await readState(plan.files.state);
  if (!read.ok) throw new Error(read.error.message);
  if (!read.value) throw new Error(`no lab in ${plan.dir}`);
  return read.value;
}

/** Listens on address:port until SIGTERM or SIGINT; a server error (the port taken) ends the process with its message. */
export async function listenUntilStopped(server: Server, name: string, address: string, port: number): Promise<void> {
  server.on('error', (e: Error) => {
    console.error(`${name}: ${e.message}`);
    process.exit(1);
  });
  const stop = () => {
    server.close();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  await new Promise<void>((resolve) => server.listen(port, address, () => resolve()));
}
