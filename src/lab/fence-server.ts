// The lab's fence server: a tiny SSH server on the lab bridge (198.18.X.1:1622) that the nodes'
// fence_nspawn agent asks to power nodes off and on. It is a forced command, not a shell: one
// client key, connections from the lab's node addresses only, and only `exec` of "ACTION [NODE]".
import { appendFileSync, readFileSync } from 'node:fs';
import { createHash, timingSafeEqual } from 'node:crypto';
import ssh2, { type Connection, type ServerChannel } from 'ssh2';
import { planLab } from './plan.ts';
import { readState, type LabState, type NodeState } from './state.ts';
import { cgroupPids } from './cgroup.ts';
import { launcherAlive, nspawnPid } from './node.ts';
import { waitFor } from './proc.ts';
import { listenUntilStopped, readDaemonLab } from './daemon.ts';
import { bootNode, cutPower } from './index.ts';
import { FENCE_LOGIN, FENCE_PORT, fenceFiles } from './fence.ts';

export const FENCE_ACTIONS = ['on', 'off', 'reboot', 'status', 'list', 'monitor'] as const;
type FenceAction = (typeof FENCE_ACTIONS)[number];
const NEEDS_NODE = new Set<FenceAction>(['on', 'off', 'reboot', 'status']);
const USAGE = `only "ACTION NODE" (ACTION: ${FENCE_ACTIONS.join('|')}) is allowed here`;

interface Answer {
  code: number;
  stdout?: string;
  stderr?: string;
  /** For the log: what happened. */
  outcome: string;
}

/** Parses an exec command: exactly "ACTION" or "ACTION NODE", NODE one of `names`. */
export function parseFenceCommand(command: string, names: readonly string[]): { action: FenceAction; node?: string } | { refused: string } {
  const m = /^([a-z]+)(?: ([A-Za-z0-9_.-]+))?$/.exec(command);
  if (!m || !(FENCE_ACTIONS as readonly string[]).includes(m[1]!)) return { refused: `refused: ${USAGE}` };
  const action = m[1] as FenceAction;
  const node = m[2];
  if (node !== undefined && !names.includes(node)) return { refused: `refused: no node named "${node}" in this lab (nodes: ${names.join(', ')})` };
  if (node === undefined && NEEDS_NODE.has(action)) return { refused: `refused: ${action} needs a node: "${action} NODE"` };
  return { action, node };
}

/** Runs the fence server of the lab in DIR until SIGTERM. */
export async function runFenceServer(dir: string): Promise<void> {
  const lab = await readDaemonLab(dir);
  const plan = planLab({ dir });
  const files = fenceFiles(lab.dir);
  const names = lab.nodes.map((n) => n.name);
  const nodeAddresses = new Set(lab.nodes.map((n) => n.address));
  const allowed = ssh2.utils.parseKey(readFileSync(files.clientPublicKey));
  if (allowed instanceof Error) throw new Error(`the fence client key ${files.clientPublicKey}: ${allowed.message}`);
  const allowedBlob = allowed.getPublicSSH();

  const log = (from: string, what: string, outcome: string) => {
    appendFileSync(files.log, `${new Date().toISOString()} ${from} ${what} -> ${outcome}\n`);
  };

  // One power change at a time per node; status and list never wait.
  const queues = new Map<string, Promise<unknown>>();
  const serial = <T>(node: string, fn: () => Promise<T>): Promise<T> => {
    const next = (queues.get(node) ?? Promise.resolve()).then(fn, fn);
    queues.set(node, next.catch(() => undefined));
    return next;
  };

  const act = async (action: FenceAction, name: string | undefined): Promise<Answer> => {
    if (action === 'list') return { code: 0, stdout: names.map((n) => `${n}\n`).join(''), outcome: 'ok' };
    if (action === 'monitor') return { code: 0, stdout: 'ok\n', outcome: 'ok' };
    const read = await readState(plan.files.state);
    if (!read.ok || !read.value) return { code: 1, stderr: 'error: the lab state cannot be read', outcome: 'error: no lab state' };
    const state = read.value;
    const node = state.nodes.find((n) => n.name === name)!;
    if (action === 'status') {
      const on = launcherAlive(node, state.files.launcher);
      return { code: 0, stdout: on ? 'on\n' : 'off\n', outcome: on ? 'on' : 'off' };
    }
    return serial(node.name, async () => {
      const started = Date.now();
      const took = () => `${((Date.now() - started) / 1000).toFixed(2)} s`;
      // Re-read inside the queue: an earlier request or another osha process may have changed it.
      const fresh = await readState(plan.files.state);
      if (!fresh.ok || !fresh.value) return { code: 1, stderr: 'error: the lab state cannot be read', outcome: 'error: no lab state' };
      const s = fresh.value;
      const n = s.nodes.find((x) => x.name === node.name)!;
      if (action === 'off' || action === 'reboot') {
        const off = await powerOffVerified(s, n);
        if (off) return { code: 1, stderr: `error: ${off}`, outcome: `failed: ${off} (${took()})` };
        if (action === 'off') return { code: 0, stdout: 'off\n', outcome: `off (${took()})` };
      }
      const on = await powerOn(s, n);
      if (on) return { code: 1, stderr: `error: ${on}`, outcome: `failed: ${on} (${took()})` };
      return { code: 0, stdout: 'on\n', outcome: `${action === 'reboot' ? 'rebooted' : 'on'}${n.partitioned ? ', link still cut (partitioned)' : ''} (${took()})` };
    });
  };

  const server = new ssh2.Server({ hostKeys: [readFileSync(files.hostKey)], ident: 'osha-lab-fence' }, (client: Connection, info) => {
    const from = info.ip.replace(/^::ffff:/, '');
    client.on('error', () => undefined);
    if (!nodeAddresses.has(from)) {
      log(from, '-', 'refused: the source address is not a node of this lab');
      client.end();
      return;
    }
    // No connection lingers: a fence request takes seconds.
    const idle = setTimeout(() => client.end(), 120_000);
    client.on('close', () => clearTimeout(idle));
    let authRefusal: string | undefined;

    client.on('authentication', (ctx) => {
      if (ctx.method !== 'publickey') return ctx.reject(['publickey']);
      const keyOk = ctx.key.algo === allowed.type && sameBytes(ctx.key.data, allowedBlob);
      if (ctx.username !== FENCE_LOGIN || !keyOk) {
        const fp = `SHA256:${createHash('sha256').update(ctx.key.data).digest('base64').replace(/=+$/, '')}`;
        const why = ctx.username !== FENCE_LOGIN ? `user "${ctx.username.slice(0, 32)}" is not allowed` : `key ${fp} is not the fence key`;
        if (!authRefusal) log(from, '-', `refused: ${why}`);
        authRefusal = why;
        return ctx.reject(['publickey']);
      }
      if (ctx.signature && allowed.verify(ctx.blob!, ctx.signature, ctx.hashAlgo) !== true) {
        log(from, '-', 'refused: bad signature');
        return ctx.reject(['publickey']);
      }
      ctx.accept();
    });

    // No port forwarding of any kind, no other channel types.
    client.on('request', (_accept, reject, name) => {
      log(from, JSON.stringify(name), 'refused: no forwarding');
      reject?.();
    });
    client.on('tcpip', (_accept, reject) => {
      log(from, 'direct-tcpip', 'refused: no forwarding');
      reject();
    });
    client.on('openssh.streamlocal', (_accept, reject) => {
      log(from, 'streamlocal', 'refused: no forwarding');
      reject();
    });

    client.on('session', (accept) => {
      const session = accept();
      // A session that asked for a terminal, X11 or agent forwarding gets no command run.
      let tainted: string | undefined;
      const refuseRequest = (what: string, taint: boolean) => (_accept: unknown, reject?: () => void) => {
        log(from, what, 'refused');
        if (taint) tainted = `refused: ${what} requests are not allowed; ${USAGE}`;
        reject?.();
      };
      session.on('pty', refuseRequest('pty', true));
      session.on('x11', refuseRequest('x11', true));
      session.on('auth-agent', refuseRequest('auth-agent', true));
      session.on('env', refuseRequest('env', false));
      session.on('signal', refuseRequest('signal', false));
      session.on('window-change', refuseRequest('window-change', false));
      const refuseChannel = (what: string) => (acceptChannel: () => ServerChannel) => {
        const reason = `refused: no ${what} here; ${USAGE}`;
        log(from, what, reason);
        finish(acceptChannel(), { code: 1, stderr: reason, outcome: reason });
      };
      session.on('shell', refuseChannel('shell'));
      session.on('subsystem', (acceptChannel, _reject, info) => refuseChannel(`subsystem ${JSON.stringify(info.name)}`)(acceptChannel));
      session.on('exec', (acceptChannel, _reject, info) => {
        const channel = acceptChannel();
        const what = JSON.stringify(info.command);
        if (tainted) {
          log(from, what, tainted);
          return finish(channel, { code: 1, stderr: tainted, outcome: tainted });
        }
        const parsed = parseFenceCommand(info.command, names);
        if ('refused' in parsed) {
          log(from, what, parsed.refused);
          return finish(channel, { code: 1, stderr: parsed.refused, outcome: parsed.refused });
        }
        act(parsed.action, parsed.node).then(
          (answer) => {
            log(from, what, answer.outcome);
            finish(channel, answer);
          },
          (e: unknown) => {
            const message = `error: ${e instanceof Error ? e.message : String(e)}`;
            log(from, what, message);
            finish(channel, { code: 1, stderr: message, outcome: message });
          },
        );
      });
    });
  });

  await listenUntilStopped(server, 'fence server', lab.gateway, FENCE_PORT);
  log('-', '-', `fence server listening on ${lab.gateway}:${FENCE_PORT} (PID ${process.pid})`);
}

function finish(channel: ServerChannel, answer: Answer): void {
  if (answer.stdout) channel.write(answer.stdout);
  if (answer.stderr) channel.stderr.write(`${answer.stderr.split('\n')[0]}\n`);
  channel.exit(answer.code);
  channel.end();
}

function sameBytes(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Powers the node off the way `lab kill` does (keeping a partition) and checks it is off; returns why not. */
async function powerOffVerified(state: LabState, node: NodeState): Promise<string | undefined> {
  const r = await cutPower(state, node, { keepPartition: true });
  if (!r.ok) return r.error.message;
  const off = await waitFor(() => !launcherAlive(node, state.files.launcher) && nspawnPid(node) === undefined && cgroupPids(state.cgroupRoots, node.cgroup).length === 0, {
    timeoutMs: 5_000,
  });
  return off ? undefined : `${node.name} still runs after the power cut`;
}

/** Boots the node the way `lab start` does, without waiting for its sshd; returns why not. */
async function powerOn(state: LabState, node: NodeState): Promise<string | undefined> {
  if (launcherAlive(node, state.files.launcher)) return undefined;
  const r = await bootNode(state, node, { keepPartition: true });
  if (!r.ok) return r.error.message;
  // The launcher runs nspawn at once; it is on when that nspawn lives.
  const on = await waitFor(() => nspawnPid(node) !== undefined || !launcherAlive(node, state.files.launcher), { timeoutMs: 5_000 });
  return on && launcherAlive(node, state.files.launcher) ? undefined : `${node.name} did not start`;
}
