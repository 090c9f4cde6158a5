// What the fencer (pacemaker-fenced) on a node knows: which devices can fence a node, and whether a
// device answers. Read with stonith_admin's XML output, never its text.
import type { HostConnection } from '../ssh/connection.ts';
import { raw, sh } from '../ssh/quote.ts';
import { DOMParser } from '@xmldom/xmldom';
import { ok, type Result } from '../util/result.ts';
import { children, child } from '../util/dom.ts';
import { controllerOnline } from './galera.ts';

/** The item names of stonith_admin's `<list>` XML output. */
export function parseDeviceList(xml: string): string[] {
  return [...xml.matchAll(/<item\b[^>]*>([^<]*)<\/item>/g)].map((m) => m[1]!.trim()).filter(Boolean);
}

/** A fence device to check from one node: its id, the node it fences, and whether to query its status now. */
export interface FenceCheck {
  id: string;
  target: string;
  query: boolean;
}

/** What one node's fencer says of a device: the devices it has for the target, and the device's status query. */
export interface FencerAnswer {
  /** Devices this node's fencer would use to fence the target (registered and allowed here). */
  devices: string[];
  /** The status query (the device's monitor), when asked: exit 0 means it answered; `why` is its last line otherwise. */
  query?: { code: number; why: string };
}

const SECTION = '@osha-fence';

/**
 * One round trip for every device: `stonith_admin --list` for its target and, where asked,
 * `--query` of the device.
 */
export async function readFencerAnswers(c: HostConnection, checks: readonly FenceCheck[], timeoutS = 30): Promise<Result<FencerAnswer[]>> {
  if (checks.length === 0) return ok([]);
  // The queries (a login to the device each) run in the background while the lists are asked,
  // one after the other: a list is a quick question to the local fencer.
  const queries = checks.flatMap((d, i) =>
    d.query ? [sh`{ stonith_admin --query=${d.id} --timeout=${String(timeoutS)} > "$d/${raw(String(i))}.query" 2>&1; echo $? > "$d/${raw(String(i))}.rc"; } &`] : [],
  );
  const lists = checks.map((d, i) => sh`echo ${`${SECTION} ${i} list`}; stonith_admin --list=${d.target} --output-as=xml 2>/dev/null`);
  const answers = checks.flatMap((d, i) => (d.query ? [`echo "${SECTION} ${i} query $(cat "$d/${i}.rc")"; cat "$d/${i}.query"`] : []));
  const script = queries.length ? [`d=$(mktemp -d) || exit 1`, `trap 'rm -rf "$d"' EXIT`, ...queries, ...lists, 'wait', ...answers] : lists;
  const r = await c.run([...script, 'true'].join('\n'), { timeoutMs: (timeoutS + 15) * 1000 });
  if (!r.ok) return r;
  return ok(parseFencerAnswers(r.value.stdout, checks.map((d) => d.query)));
}

/** Pure: readFencerAnswers' output, sections in device order; `queried` says which devices were queried. */
export function parseFencerAnswers(output: string, queried: readonly boolean[]): FencerAnswer[] {
  const lists = new Map<number, string>();
  const queries = new Map<number, { code: number; text: string }>();
  for (const part of output.split(`${SECTION} `).slice(1)) {
    const m = /^(\d+) (list|query)(?: (\d*))?\n([\s\S]*)$/.exec(part);
    if (!m) continue;
    if (m[2] === 'list') lists.set(Number(m[1]), m[4]!);
    else queries.set(Number(m[1]), { code: m[3] ? Number(m[3]) : 255, text: m[4]! });
  }
  return queried.map((asked, i) => {
    const devices = parseDeviceList(lists.get(i) ?? '');
    if (!asked) return { devices };
    const q = queries.get(i) ?? { code: 255, text: 'no answer' };
    return { devices, query: { code: q.code, why: q.text.trim().split('\n').slice(-1)[0] ?? '' } };
  });
}

/** Every device this node's fencer has registered (`stonith_admin --list-registered`), whatever it fences. */
export async function readRegisteredDevices(c: HostConnection): Promise<Result<string[]>> {
  const r = await c.exec('stonith_admin --list-registered --output-as=xml', { timeoutMs: 30_000 });
  if (!r.ok) return r;
  return ok(parseDeviceList(r.value.stdout));
}

/** What Pacemaker's own recurring monitor of a fence device has on record in the CIB's status. */
export type MonitorRecord =
  | { passing: true; node: string; intervalMs: number; sinceS: number }
  | { passing: false; why: string };

/**
 * Pure: per device id, whether its recurring monitor passes (the CIB XML, status section
 * included). Pacemaker keeps one record per recurring operation and rewrites it only when its
 * result changes, and a failure also leaves a `_last_failure_0` record until cleaned up. So a
 * record with rc 0 on a node whose controller is up means the device answered its last monitor,
 * at most one interval ago.
 */
export function fenceMonitors(cibXml: string, ids: readonly string[]): Map<string, MonitorRecord> {
  const out = new Map<string, MonitorRecord>(ids.map((id) => [id, { passing: false, why: 'no recurring monitor on record' }]));
  const doc = new DOMParser({ onError: () => undefined }).parseFromString(cibXml, 'text/xml');
  const failed = new Set<string>();
  for (const state of [...doc.getElementsByTagName('node_state')]) {
    const node = state.getAttribute('uname') ?? '';
    const up = controllerOnline(state.getAttribute('crmd'));
    for (const rsc of children(child(child(state, 'lrm'), 'lrm_resources'))) {
      const id = rsc.getAttribute('id') ?? '';
      if (!out.has(id) || failed.has(id)) continue;
      for (const op of children(rsc).filter((e) => e.nodeName === 'lrm_rsc_op')) {
        const rc = op.getAttribute('rc-code');
        const status = op.getAttribute('op-status');
        const interval = Number(op.getAttribute('interval') ?? '0');
        if (op.getAttribute('id') === `${id}_last_failure_0`) {
          failed.add(id);
          out.set(id, { passing: false, why: `a failed ${op.getAttribute('operation') ?? 'operation'} on ${node} is on record (rc ${rc})` });
          break;
        }
        if (op.getAttribute('operation') !== 'monitor' || !(interval > 0)) continue;
        if (rc !== '0' || status !== '0') {
          failed.add(id);
          out.set(id, { passing: false, why: `its monitor on ${node} reports rc ${rc}, status ${status}` });
          break;
        }
        if (up) out.set(id, { passing: true, node, intervalMs: interval, sinceS: Number(op.getAttribute('last-rc-change') ?? '0') });
      }
    }
  }
  return out;
}

/** One entry of the fencer's history (stonith_admin --history NODE --output-as=xml). */
export interface FenceEvent {
  action: string;
  target: string;
  /** The node whose fencer ran the device. */
  delegate?: string;
  /** The node that asked for the fencing. */
  origin?: string;
  status: string;
  /** When it finished, ms since the epoch (when the fencer says). */
  completedMs?: number;
}

const attr = (tag: string, name: string): string | undefined => tag.match(new RegExp(`\\s${name}="([^"]*)"`))?.[1];

/** Pacemaker writes times as "2026-12-01 15:01:02 +00:00" (or ISO 8601); ms since the epoch. */
export function parsePacemakerTime(text: string | undefined, nsec?: string): number | undefined {
  if (!text) return undefined;
  const iso = text.trim().replace(/^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d(?:\.\d+)?)\s*([+-]\d\d:?\d\d|Z)?$/, (_m, d: string, t: string, z?: string) => `${d}T${t}${z ?? 'Z'}`);
  const ms = Date.parse(iso);
  if (!Number.isFinite(ms)) return undefined;
  const extra = nsec && /^\d+$/.test(nsec) && !/\.\d/.test(text) ? Math.floor(Number(nsec) / 1e6) : 0;
  return ms + extra;
}

export function parseFenceHistory(xml: string): FenceEvent[] {
  return [...xml.matchAll(/<fence_event\b[^>]*>/g)].map((m) => {
    const tag = m[0];
    return {
      action: attr(tag, 'action') ?? '',
      target: attr(tag, 'target') ?? '',
      delegate: attr(tag, 'delegate'),
      origin: attr(tag, 'origin'),
      status: attr(tag, 'status') ?? '',
      completedMs: parsePacemakerTime(attr(tag, 'completed'), attr(tag, 'completed-nsec')),
    };
  });
}

/**
 * The fencer's history for one node (shared cluster-wide). --verbose: without it stonith_admin
 * shows one event per target, the oldest, so a second fencing of a node would not show.
 */
export async function readFenceHistory(c: HostConnection, target: string): Promise<Result<FenceEvent[]>> {
  const r = await c.exec(sh`stonith_admin --history=${target} --verbose --output-as=xml`, { timeoutMs: 30_000 });
  if (!r.ok) return r;
  return ok(parseFenceHistory(r.value.stdout));
}

/** A resource's last start on a node, from the CIB status section (Pacemaker's operation history). */
export interface StartRecord {
  resource: string;
  node: string;
  /** When the start began, s since the epoch (Pacemaker keeps whole seconds). */
  lastRunS?: number;
  /** How long the agent's start ran, and how long it waited in the executor's queue. */
  execMs: number;
  queueMs: number;
  rc: number;
}

export function parseStarts(statusXml: string): StartRecord[] {
  const out: StartRecord[] = [];
  for (const state of statusXml.matchAll(/<node_state\b([^>]*)>([\s\S]*?)<\/node_state>/g)) {
    const node = attr(state[1]!, 'uname') ?? '';
    for (const rsc of state[2]!.matchAll(/<lrm_resource\b([^>]*)>([\s\S]*?)<\/lrm_resource>/g)) {
      const resource = attr(rsc[1]!, 'id') ?? '';
      for (const op of rsc[2]!.matchAll(/<lrm_rsc_op\b[^>]*>/g)) {
        if (attr(op[0], 'operation') !== 'start') continue;
        const lastRun = Number(attr(op[0], 'last-run') ?? attr(op[0], 'last-rc-change'));
        out.push({
          resource,
          node,
          lastRunS: Number.isFinite(lastRun) ? lastRun : undefined,
          execMs: Number(attr(op[0], 'exec-time') ?? 0),
          queueMs: Number(attr(op[0], 'queue-time') ?? 0),
          rc: Number(attr(op[0], 'rc-code') ?? -1),
        });
      }
    }
  }
  return out;
}

export async function readStarts(c: HostConnection): Promise<Result<StartRecord[]>> {
  const r = await c.exec('cibadmin --query --scope status', { timeoutMs: 30_000 });
  if (!r.ok) return r;
  return ok(parseStarts(r.value.stdout));
}
