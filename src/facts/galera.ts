// Galera's state as `osha status` shows it in the active-active topology: per node what MariaDB
// says of its cluster (primary component, size, last committed seqno) or, when it is down, what
// grastate.dat kept; which node's running server bootstrapped the cluster (its command line), and
// which node was promoted first (Pacemaker's operation history), and what osha's Galera check tells
// HAProxy about the node. Pure parsers plus one read per node.
import { DOMParser } from '@xmldom/xmldom';
import type { HostConnection } from '../ssh/connection.ts';
import { children, child } from '../util/dom.ts';
import { sh } from '../ssh/quote.ts';
import { err, ok, type Result } from '../util/result.ts';

/** One answer of osha's Galera check (playbooks/files/osha-galera-check): 200 when HAProxy may send the node clients. */
export interface GaleraCheckAnswer {
  status: 200 | 503;
  /** Its one line: "synced: wsrep_local_state 4 (Synced)", "not synced: ...", "MariaDB does not answer: ...". */
  reason: string;
}

/** What one answer of the responder says, from its raw bytes (undefined: not an answer of it). */
export function parseGaleraCheckAnswer(text: string): GaleraCheckAnswer | undefined {
  const m = /^HTTP\/1\.[01] (200|503) [^\r\n]*\r?\n(?:[^\r\n]+\r?\n)*\r?\nGalera ([^\r\n]+)/.exec(text);
  return m ? { status: Number(m[1]) as 200 | 503, reason: m[2]! } : undefined;
}

/** Asks osha's Galera check at ADDRESS:PORT once, from the node itself, as HAProxy does; its raw answer on stdout. */
export function galeraCheckProbe(address: string, port: number): string {
  const script = 'exec 3<>"/dev/tcp/$1/$2" && printf \'OPTIONS / HTTP/1.0\\r\\n\\r\\n\' >&3 && cat <&3';
  return sh`timeout 5 bash -c ${script} probe ${address} ${String(port)}`;
}

export interface GaleraNodeState {
  node: string;
  /** MariaDB answered (as root over its socket, as the galera agent checks it). */
  running: boolean;
  /** wsrep_cluster_status: Primary, Non-Primary or Disconnected. */
  clusterStatus?: string;
  /** wsrep_local_state_comment: Synced, Donor/Desynced, Joining... */
  localState?: string;
  clusterSize?: number;
  /** wsrep_last_committed while running, grastate.dat's seqno when stopped (-1: not shut down cleanly). */
  seqno?: string;
  /** grastate.dat's safe_to_bootstrap: set on the last node of a clean full shutdown. */
  safeToBootstrap?: boolean;
  /**
   * The running MariaDB was started to bootstrap a new cluster: the galera agent gives the bootstrap
   * node an empty `--wsrep-cluster-address=gcomm://` (the joiners get the node list). True only for
   * as long as that process runs; once it restarts, it too has joined.
   */
  bootstrapped?: boolean;
  /** What osha's Galera check answers HAProxy for this node (absent: no check asked, or no answer). */
  check?: GaleraCheckAnswer;
}

const MARK = '--- grastate';
const PROCESS_MARK = '--- mariadbd';
const CHECK_MARK = '--- check';

/**
 * One exec: the wsrep status when MariaDB answers, grastate.dat, the server's command line, then
 * (given the probe) the Galera check's answer.
 */
export function galeraStateScript(checkProbe?: string): string {
  return [
    `mysql -N -B -e "SHOW GLOBAL STATUS WHERE Variable_name IN ('wsrep_cluster_status','wsrep_local_state_comment','wsrep_cluster_size','wsrep_last_committed')" 2>/dev/null`,
    `echo '${MARK}'`,
    'cat /var/lib/mysql/grastate.dat 2>/dev/null',
    `echo '${PROCESS_MARK}'`,
    'ps -o args= -C mariadbd,mysqld 2>/dev/null',
    ...(checkProbe ? [`echo '${CHECK_MARK}'`, `${checkProbe} 2>/dev/null`] : []),
    'true',
  ].join('\n');
}

/** A server command line that starts a new cluster (an empty gcomm:// address, or --wsrep-new-cluster). */
export function startsNewCluster(args: string): boolean {
  return /(^|\s)--wsrep[-_]cluster[-_]address=['"]?gcomm:\/\/['"]?(\s|$)/.test(args) || /(^|\s)--wsrep[-_]new[-_]cluster(\s|$)/.test(args);
}

export function parseGaleraState(node: string, stdout: string): GaleraNodeState {
  const [stateOut = '', checkOut = ''] = stdout.split(`${CHECK_MARK}\n`);
  const [head = '', processes = ''] = stateOut.split(`${PROCESS_MARK}\n`);
  const [live = '', grastate = ''] = head.split(`${MARK}\n`);
  const vars = new Map(
    live
      .split('\n')
      .map((l) => l.split('\t'))
      .filter((p) => p.length === 2)
      .map(([k, v]) => [k!.toLowerCase(), v!.trim()]),
  );
  const saved = new Map(
    grastate
      .split('\n')
      .map((l) => /^([a-z_]+):\s*(.*)$/.exec(l.trim()))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => [m[1]!, m[2]!]),
  );
  const state: GaleraNodeState = { node, running: vars.size > 0 };
  if (state.running) {
    state.clusterStatus = vars.get('wsrep_cluster_status');
    state.localState = vars.get('wsrep_local_state_comment');
    const size = Number(vars.get('wsrep_cluster_size'));
    if (Number.isFinite(size)) state.clusterSize = size;
    state.seqno = vars.get('wsrep_last_committed');
    if (processes.split('\n').some(startsNewCluster)) state.bootstrapped = true;
  } else if (saved.size > 0) {
    state.seqno = saved.get('seqno');
    state.safeToBootstrap = saved.get('safe_to_bootstrap') === '1';
  }
  const check = parseGaleraCheckAnswer(checkOut);
  if (check) state.check = check;
  return state;
}

export async function readGaleraState(c: HostConnection, node: string, checkProbe?: string): Promise<Result<GaleraNodeState>> {
  const r = await c.exec(galeraStateScript(checkProbe), { timeoutMs: 20_000 });
  if (!r.ok) return r;
  if (r.value.code !== 0) return err({ host: node, message: `reading Galera's state failed (exit ${r.value.code}): ${r.value.stderr.trim()}` });
  return ok(parseGaleraState(node, r.value.stdout));
}

/**
 * A node_state's `crmd`: whether the node's controller is up. Pacemaker 2 writes online or
 * offline; Pacemaker 3 (Debian 13) the time it joined, or 0 when it is not up.
 */
export function controllerOnline(crmd: string | null): boolean {
  return crmd === 'online' || (crmd !== null && /^[1-9]\d*$/.test(crmd));
}

/**
 * The node promoted first among the promotions still in effect: the galera agent promotes the
 * node it bootstraps from before any other, which then join it. From the CIB's status section
 * (`cibadmin --query --scope status`): each node's last operation on the resource.
 */
export function firstPromoted(statusXml: string, resource: string): { node: string; at: Date } | undefined {
  const doc = new DOMParser({ onError: () => undefined }).parseFromString(statusXml, 'text/xml');
  const root = doc.documentElement;
  const states = root?.nodeName === 'status' ? children(root) : children(child(root ?? undefined, 'status'));
  let best: { node: string; at: Date } | undefined;
  for (const ns of states.filter((e) => e.nodeName === 'node_state' && controllerOnline(e.getAttribute('crmd')))) {
    const rsc = children(child(child(ns, 'lrm'), 'lrm_resources')).find((r) => r.getAttribute('id') === resource);
    const last = children(rsc).find((op) => op.getAttribute('id') === `${resource}_last_0`);
    if (!last || last.getAttribute('operation') !== 'promote' || last.getAttribute('rc-code') !== '0') continue;
    const at = new Date(Number(last.getAttribute('last-rc-change') ?? '0') * 1000);
    if (!best || at < best.at) best = { node: ns.getAttribute('uname') ?? '', at };
  }
  return best;
}

/**
 * What the galera agents reported to Pacemaker while Galera has no primary component: each
 * online node's last committed seqno (recovered from its data), and the nodes whose data says a
 * clean shutdown left them safe to bootstrap. From the CIB's status section, the transient node
 * attributes `RESOURCE-last-committed` and `RESOURCE-safe-to-bootstrap`; the agent clears them
 * once Galera runs there.
 */
export function galeraReports(statusXml: string, resource: string): { lastCommitted: Map<string, string>; safeToBootstrap: string[] } {
  const doc = new DOMParser({ onError: () => undefined }).parseFromString(statusXml, 'text/xml');
  const root = doc.documentElement;
  const states = root?.nodeName === 'status' ? children(root) : children(child(root ?? undefined, 'status'));
  const lastCommitted = new Map<string, string>();
  const safeToBootstrap: string[] = [];
  for (const ns of states.filter((e) => e.nodeName === 'node_state')) {
    const node = ns.getAttribute('uname') ?? '';
    for (const set of children(child(ns, 'transient_attributes')).filter((e) => e.nodeName === 'instance_attributes')) {
      for (const nv of children(set).filter((e) => e.nodeName === 'nvpair')) {
        const [name, value] = [nv.getAttribute('name'), nv.getAttribute('value') ?? ''];
        if (name === `${resource}-last-committed`) lastCommitted.set(node, value);
        if (name === `${resource}-safe-to-bootstrap` && value === '1') safeToBootstrap.push(node);
      }
    }
  }
  return { lastCommitted, safeToBootstrap };
}

/**
 * Pure: the listed nodes the galera agent still waits for before it starts Galera after a full
 * outage (every listed node must report, unless one is safe to bootstrap); empty when it waits
 * for none or Galera runs.
 */
export function galeraWaitsFor(listed: readonly string[], primary: boolean, reports: ReturnType<typeof galeraReports>): string[] {
  if (primary || reports.safeToBootstrap.length > 0) return [];
  return listed.filter((n) => !reports.lastCommitted.has(n));
}
