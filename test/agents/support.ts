// Runs osha's OCF agents on this host against STAND-IN daemons (test/agents/standin/): the agents,
// ocf-shellfuncs, ocf-tester, start-stop-daemon and curl are real; only the OpenStack daemon is a
// small python3 program that can be made healthy, unhealthy, or die at launch.
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { agentFiles, OCF_ROOT } from '../../src/agents/files.ts';
import { run, type RunOutput } from '../../src/lab/exec.ts';
import { onTeardown } from '../support/teardown.ts';

export const STANDIN_SOURCE = fileURLToPath(new URL('./standin/openstack-standin.py', import.meta.url));
export const HA_RSCTMP = '/run/resource-agents';

/** Why the host cannot run these tests, or undefined. */
export function hostSkipReason(): string | undefined {
  if (process.getuid?.() !== 0) return 'agent tests need root (start-stop-daemon --chuid)';
  if (!existsSync('/usr/lib/ocf/lib/heartbeat/ocf-shellfuncs')) return 'resource-agents is not installed (apt-get install resource-agents)';
  if (!existsSync('/usr/sbin/ocf-tester')) return 'ocf-tester is missing (resource-agents)';
  if (!existsSync('/usr/bin/python3')) return '/usr/bin/python3 is missing';
  return undefined;
}

/** A throwaway world readable (nobody runs meta-data and the stand-in) tree for one test file. */
export interface AgentTree {
  dir: string;
  agent(name: string): string;
  libDir: string;
  standin: string;
}

export async function installAgentTree(): Promise<AgentTree> {
  const dir = mkdtempSync(join(tmpdir(), 'osha-agents-'));
  chmodSync(dir, 0o755);
  onTeardown(() => rmSync(dir, { recursive: true, force: true }));
  for (const f of await agentFiles()) {
    const path = join(dir, f.remotePath.slice(OCF_ROOT.length));
    mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
    writeFileSync(path, f.content);
    chmodSync(path, f.mode);
  }
  const standin = join(dir, 'standin', 'openstack-standin');
  mkdirSync(dirname(standin), { mode: 0o755 });
  copyFileSync(STANDIN_SOURCE, standin);
  chmodSync(standin, 0o755);
  return {
    dir,
    libDir: join(dir, 'lib/openstack'),
    agent: (name) => join(dir, 'resource.d/openstack', name),
    standin,
  };
}

export type Params = Record<string, string>;

/** Environment of one agent call, as pacemaker-execd would set it. */
export function agentEnv(tree: AgentTree, instance: string, params: Params, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    PATH: '/usr/sbin:/usr/bin:/sbin:/bin',
    OCF_ROOT,
    OCF_OPENSTACK_LIBDIR: tree.libDir,
    OCF_RA_VERSION_MAJOR: '1',
    OCF_RA_VERSION_MINOR: '0',
    OCF_RESOURCE_INSTANCE: instance,
    OCF_RESKEY_CRM_meta_timeout: '20000',
    OCF_RESKEY_CRM_meta_interval: '10000',
  };
  for (const [k, v] of Object.entries(params)) env[`OCF_RESKEY_${k}`] = v;
  return { ...env, ...extra };
}

export function runAgent(tree: AgentTree, name: string, action: string, instance: string, params: Params, extra: NodeJS.ProcessEnv = {}): Promise<RunOutput> {
  return run(tree.agent(name), [action], { env: agentEnv(tree, instance, params, extra), timeoutMs: 120_000 });
}

/**
 * ocf-tester on one agent. Parameters go through -o (so on ocf-tester's argv): never pass a
 * password this way; use os_password_file.
 */
export function ocfTester(tree: AgentTree, name: string, instance: string, params: Params, checkLevel = 0): Promise<RunOutput> {
  const args = ['-n', instance];
  for (const [k, v] of Object.entries(params)) args.push('-o', `${k}=${v}`);
  args.push(tree.agent(name));
  const env = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', OCF_OPENSTACK_LIBDIR: tree.libDir, OCF_CHECK_LEVEL: String(checkLevel) };
  return run('/usr/sbin/ocf-tester', args, { env, timeoutMs: 300_000 });
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** A TCP listener standing in for the message broker: it accepts and holds connections. */
export interface Broker {
  port: number;
  close(): Promise<void>;
}

export async function startBroker(): Promise<Broker> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((s) => {
    sockets.add(s);
    s.on('error', () => undefined);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  const close = () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    });
  onTeardown(close);
  return { port, close };
}

/** The stand-in's behaviour file (see openstack-standin.py), world readable for user nobody. */
export interface StandinConfig {
  mode: 'healthy' | 'unhealthy' | 'die' | 'hang';
  port?: number;
  listen?: boolean;
  amqp_port?: number;
  user?: string;
  password?: string;
  token?: string;
  project_id?: string;
  token_delay?: number;
  ignore_term?: boolean;
  workers?: number;
  services?: Array<Record<string, unknown>>;
  /** Every token request answers this HTTP status (a rejected or forbidden login). */
  token_status?: number;
  /** Every authenticated GET answers this HTTP status. */
  api_status?: number;
}

export function writeStandinConfig(path: string, cfg: StandinConfig): void {
  writeFileSync(path, JSON.stringify(cfg));
  chmodSync(path, 0o644);
}

/** A 0600 file holding a secret on its first line. */
export function writeSecretFile(path: string, secret: string): void {
  writeFileSync(path, `${secret}\n`, { mode: 0o600 });
  chmodSync(path, 0o600);
}

/** Reads the PID file of an instance (first line), or undefined. */
export function pidOf(instance: string): number | undefined {
  try {
    const n = Number(readFileSync(`${HA_RSCTMP}/openstack-${instance}.pid`, 'utf8').split('\n')[0]);
    return Number.isInteger(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

/** True when PID is a live process (not a zombie). */
export function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

/** PIDs of live processes whose command line contains TEXT. */
export function pidsWithArg(text: string): number[] {
  const found: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const cmd = readFileSync(`/proc/${d}/cmdline`, 'utf8');
      if (cmd.includes(text) && isAlive(Number(d))) found.push(Number(d));
    } catch {
      // Gone while we looked.
    }
  }
  return found;
}

/** Command lines (NULs as spaces) of every process, read once. */
export function allCommandLines(): string[] {
  const out: string[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      out.push(readFileSync(`/proc/${d}/cmdline`, 'utf8').replace(/\0/g, ' '));
    } catch {
      // Gone.
    }
  }
  return out;
}

/** Kills, by PID, every process still running the stand-in of TREE (end-of-test safety net). */
export function killStandins(tree: AgentTree): void {
  for (const pid of pidsWithArg(tree.standin)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
}

/** Every stand-in instance of a test file gets its own name, so PID files never collide. */
let counter = 0;
export function instanceName(prefix: string): string {
  counter += 1;
  return `osha-test-${prefix}-${process.pid}-${counter}`;
}

/** Removes the PID and output files of an instance. */
export function forgetInstance(instance: string): void {
  for (const suffix of ['pid', 'out']) rmSync(`${HA_RSCTMP}/openstack-${instance}.${suffix}`, { force: true });
}
