// Active-active: osha's Galera check for HAProxy on every node (src/render/galera-check.ts), in
// place and answering before topology-files points HAProxy's database checks at it. A node whose
// MariaDB accepts connections is not yet one that may take writes (a joiner still copying, a
// donor that rsync blocks); a plain TCP check cannot tell. Every file is written only where it
// differs; a changed or stopped responder is (re)started and then asked once, so a responder
// that cannot read Galera's state is found here, never by HAProxy taking a synced writer out.
import type { Action, HostPlan, Step, StepContext } from '../runner/types.ts';
import { commandAction, forgetFactAfter, planEachHost, writeFileActions, type HostHandle } from './common.ts';
import {
  GALERA_CHECK_SCRIPT,
  GALERA_CHECK_SERVICE,
  GALERA_CHECK_SOCKET,
  GALERA_CHECK_UNIT,
  renderGaleraCheckService,
  renderGaleraCheckSocket,
} from '../render/galera-check.ts';
import { GALERA_CHECK_PORT, hostPort } from '../render/haproxy.ts';
import { readFilesAnd } from '../facts/files.ts';
import { galeraCheckProbe, parseGaleraCheckAnswer } from '../facts/galera.ts';
import { parseKeyValues, splitSections, type FileFact } from '../facts/host.ts';
import type { HostConnection } from '../ssh/connection.ts';
import { galeraCheckScript } from '../agents/files.ts';
import { sh } from '../ssh/quote.ts';
import { err, ok, type Result } from '../util/result.ts';

const FACT = 'galera-check';
const PATHS = [GALERA_CHECK_SCRIPT, GALERA_CHECK_SOCKET, GALERA_CHECK_SERVICE];
const SCRIPT_DIR = GALERA_CHECK_SCRIPT.slice(0, GALERA_CHECK_SCRIPT.lastIndexOf('/'));
/** What osha's responder ("written for osha") and units ("Written by osha") say near their top. */
const OSHA_MARK = /written (for|by) osha/i;

export interface GaleraCheckFacts {
  files: Map<string, FileFact>;
  scriptDir: boolean;
  socketActive: boolean;
  socketEnabled: boolean;
  /** The local addresses (address:port, as ss prints them) that listen on the check's port. */
  listeners: string[];
  /** This node's wsrep_local_state (4: synced); absent when MariaDB does not answer or has no Galera. */
  wsrepState?: string;
}

const LISTENERS_MARK = '--- listeners ---';
const WSREP_MARK = '--- wsrep ---';

/**
 * One systemctl for both of the socket's states; ss's and MariaDB's answers come back raw, between
 * marks, and are sorted out here (no awk after them: every process costs milliseconds on a node).
 */
function factScript(): string {
  const unit = `${GALERA_CHECK_UNIT}.socket`;
  return [
    sh`[ -d ${SCRIPT_DIR} ] && echo script_dir=1`,
    sh`systemctl show -p ActiveState -p UnitFileState ${unit} 2>/dev/null`,
    sh`echo ${LISTENERS_MARK}; ss -Hltn ${`sport = :${GALERA_CHECK_PORT}`} 2>/dev/null`,
    `echo '${WSREP_MARK}'; mysql -NBe "SHOW GLOBAL STATUS LIKE 'wsrep_local_state'" 2>/dev/null`,
    'true',
  ].join('\n');
}

/** The unit file states for which `systemctl is-enabled` succeeds (systemctl(1)). */
const ENABLED_STATES = ['enabled', 'enabled-runtime', 'alias', 'static', 'indirect', 'generated', 'transient'];

export function parseGaleraCheckFacts(files: Map<string, Buffer | undefined>, output: string): GaleraCheckFacts {
  const [head = '', listeners = '', wsrep = ''] = splitSections(output, [LISTENERS_MARK, WSREP_MARK]);
  const kv = parseKeyValues(head);
  // ss -Hltn: State Recv-Q Send-Q Local-Address:Port Peer-Address:Port; MariaDB: name TAB value.
  const local = listeners.split('\n').map((l) => l.trim().split(/\s+/)[3]).filter((a): a is string => a !== undefined && a !== '');
  const state = wsrep.split('\n').map((l) => l.split('\t')).find(([name]) => name === 'wsrep_local_state')?.[1]?.trim();
  return {
    files: new Map([...files].map(([p, content]) => [p, content === undefined ? { exists: false } : { exists: true, content }])),
    scriptDir: kv.get('script_dir') === '1',
    socketActive: kv.get('ActiveState') === 'active',
    socketEnabled: ENABLED_STATES.includes(kv.get('UnitFileState') ?? ''),
    listeners: local,
    ...(state ? { wsrepState: state } : {}),
  };
}

async function readGaleraCheckFacts(c: HostConnection): Promise<Result<GaleraCheckFacts>> {
  const r = await readFilesAnd(c, PATHS, factScript());
  return r.ok ? ok(parseGaleraCheckFacts(r.value.files, r.value.output)) : r;
}

/** A listener that keeps the responder from binding the node's address (any address, or that one). */
export function portTaken(listeners: readonly string[], address: string): string | undefined {
  const own = hostPort(address, GALERA_CHECK_PORT);
  const wildcard = [`0.0.0.0:${GALERA_CHECK_PORT}`, `*:${GALERA_CHECK_PORT}`, `[::]:${GALERA_CHECK_PORT}`];
  return listeners.find((l) => l === own || wildcard.includes(l));
}

/**
 * Pure: is this answer one HAProxy may act on? Any well-formed one, except a 503 from a node whose
 * Galera was synced when planned: that responder cannot read the state, and HAProxy would take a
 * synced writer out.
 */
export function judgeProbe(answer: string, synced: boolean): Result<string> {
  const a = parseGaleraCheckAnswer(answer);
  if (!a) return err({ message: `no answer from osha's Galera check (got ${JSON.stringify(answer.slice(0, 80))})` });
  if (a.status === 503 && synced) return err({ message: `osha's Galera check answers 503 (${a.reason}) although this node's Galera is synced; HAProxy would take it out` });
  return ok(`${a.status} ${a.reason}`);
}

function probeAction(ctx: StepContext, h: HostHandle, address: string, synced: boolean): Action {
  const command = galeraCheckProbe(address, GALERA_CHECK_PORT);
  const where = hostPort(address, GALERA_CHECK_PORT);
  return {
    summary: `ask osha's Galera check on ${where} once, as HAProxy will${synced ? ' (this node is synced: it must answer 200)' : ''}`,
    commands: [command],
    apply: async () => {
      const r = await h.c.exec(command);
      if (!r.ok) return r;
      const judged = judgeProbe(r.value.stdout, synced);
      if (!judged.ok) return err({ host: h.host, message: `${judged.error.message}; its log: journalctl -u ${GALERA_CHECK_UNIT}.service`, fix: `see why in that log on ${h.host}, then re-run` });
      ctx.note(h.host, `Galera check on ${where}: ${judged.value}`);
      return ok(undefined);
    },
  };
}

export function hostActions(ctx: StepContext, h: HostHandle, f: GaleraCheckFacts, script: Buffer): HostPlan {
  const node = ctx.inv.nodes.find((n) => n.name === h.host)!;
  if (h.os.init !== 'systemd') {
    return err({ host: h.host, message: `active-active's Galera check for HAProxy is a systemd socket; this node's init system is ${h.os.init}`, fix: 'run the active-active topology on systemd nodes' });
  }
  const taken = f.socketActive ? undefined : portTaken(f.listeners, node.address);
  if (taken) {
    return err({
      host: h.host,
      message: `${taken} is taken by another program; osha's Galera check for HAProxy listens on ${hostPort(node.address, GALERA_CHECK_PORT)}`,
      fix: `free port ${GALERA_CHECK_PORT} on ${h.host} (\`ss -ltnp 'sport = :${GALERA_CHECK_PORT}'\` names the program), then re-run`,
    });
  }
  const file = (path: string) => f.files.get(path) ?? { exists: false };
  // Its paths carry osha's name, but a file there that does not say it is osha's is left alone.
  const foreign = PATHS.filter((p) => file(p).exists && !OSHA_MARK.test(file(p).content?.toString('utf8') ?? ''));
  if (foreign.length > 0) {
    return err({
      host: h.host,
      message: `${foreign.join(', ')} ${foreign.length > 1 ? 'exist' : 'exists'} and osha did not write ${foreign.length > 1 ? 'them' : 'it'}; osha replaces no file it did not make`,
      fix: `move ${foreign.join(' ')} away on ${h.host} (osha's Galera check goes there), then re-run`,
    });
  }
  const actions: Action[] = [];
  if (!f.scriptDir) actions.push(commandAction(h, `create ${SCRIPT_DIR}`, sh`mkdir -p ${SCRIPT_DIR}`));
  actions.push(
    ...writeFileActions(h, GALERA_CHECK_SCRIPT, file(GALERA_CHECK_SCRIPT), script, { mode: 0o755 }),
    ...writeFileActions(h, GALERA_CHECK_SOCKET, file(GALERA_CHECK_SOCKET), renderGaleraCheckSocket(ctx.inv, node), { mode: 0o644 }),
    ...writeFileActions(h, GALERA_CHECK_SERVICE, file(GALERA_CHECK_SERVICE), renderGaleraCheckService(ctx.inv), { mode: 0o644 }),
  );
  if (actions.length === 0 && f.socketActive && f.socketEnabled) return ok([]);
  // A check that fails during the restart counts once; HAProxy takes a node out after 2 in a row.
  const unit = GALERA_CHECK_UNIT;
  const [service, socket] = [`${unit}.service`, `${unit}.socket`];
  const start = sh`systemctl daemon-reload && systemctl stop ${service} && { systemctl reset-failed ${service} ${socket} 2>/dev/null || true; } && systemctl enable ${socket} && systemctl restart ${socket}`;
  actions.push(commandAction(h, `(re)start osha's Galera check on ${hostPort(node.address, GALERA_CHECK_PORT)} (systemd socket ${unit}.socket, enabled)`, start));
  actions.push(probeAction(ctx, h, node.address, f.wsrepState === '4'));
  return ok(actions);
}

export const galeraCheck: Step = {
  name: 'galera-check',
  title: "active-active: osha's Galera check for HAProxy on every node (HTTP on port 9200: 200 only when synced)",
  topology: 'active-active',
  async plan(ctx) {
    if (!ctx.inv.services.includes('mysql')) return new Map();
    const script = await galeraCheckScript();
    return planEachHost(ctx, async (h) => {
      const f = await ctx.facts.get(h.host, FACT, () => readGaleraCheckFacts(h.c));
      if (!f.ok) return f;
      const plan = hostActions(ctx, h, f.value, script);
      return plan.ok ? ok(forgetFactAfter(ctx, h.host, FACT, plan.value)) : plan;
    });
  },
};
