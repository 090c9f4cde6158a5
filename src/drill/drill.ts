// A failover drill: take the node that holds the VIP out, measure how long until the VIP answers
// again and every osha service passes its depth-10 monitor on another node, then bring the node
// back. Measured from the operator's side with wait-for-condition polling, no fixed sleeps.
import { connect } from 'node:net';
import type { Inventory } from '../inventory/schema.ts';
import type { SshSession } from '../ssh/session.ts';
import type { ClusterStatus } from '../facts/status.ts';
import { readClusterStatus } from '../facts/cluster.ts';
import { buildResourceModel, VIP_ID } from '../cluster/build.ts';
import { primitivesOf } from '../model/resources.ts';
import { sh } from '../ssh/quote.ts';
import { readFenceHistory, readStarts, type FenceEvent } from '../facts/fencing.ts';
import { err, ok, type Result } from '../util/result.ts';
import { settleLoad, startLoad, type LoadSummary, type LoadTarget } from './load.ts';

export type DrillMode = 'standby' | 'stop' | 'kill' | 'partition';

/** How a node is taken out and brought back: by Pacemaker (standby, stop) or by the lab (kill, partition). */
export interface NodeControl {
  takeOut(node: string): Promise<Result<void>>;
  bringBack(node: string): Promise<Result<void>>;
}

/** Where the time went, each in ms from taking the node out (t0) unless said otherwise. */
export interface DrillPhases {
  /** Until the survivors' cluster saw the node gone (crm_mon: not online). */
  detectionMs?: number;
  /** The fencing of the node, from Pacemaker's fence history. */
  fencing?: {
    action: string;
    target: string;
    /** The node whose fencer ran the device. */
    by?: string;
    status: string;
    /** When the fence action completed. */
    doneMs?: number;
    /** From detection to completion. */
    ms?: number;
  };
}

export interface ServiceRecovery {
  id: string;
  node?: string;
  /** Until it passed its depth-10 monitor on another node. */
  recoveryMs?: number;
  /** The part after fencing completed (or after detection, without fencing). */
  afterFencingMs?: number;
  /** Its start on the new node, from Pacemaker's operation history. */
  start?: { execMs: number; queueMs: number };
  error?: string;
}

export interface DrillResult {
  node: string;
  mode: DrillMode;
  /** When the node was taken out (ISO 8601): every *Ms below counts from here. */
  startedAt?: string;
  phases: DrillPhases;
  /** Milliseconds from taking the node out until the VIP answered again. */
  vipMs?: number;
  services: ServiceRecovery[];
  /** How long the node took to rejoin after being brought back. */
  rejoinMs?: number;
  /** What a client saw through the VIP meanwhile (--load). */
  load?: LoadSummary;
  errors: string[];
}

/** True when something at `host` answers TCP (accepts or refuses): the address is alive. */
export function addressAnswers(host: string, port = 22, timeoutMs = 300): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host, port });
    const done = (v: boolean) => {
      s.destroy();
      resolve(v);
    };
    s.setTimeout(timeoutMs, () => done(false));
    s.once('connect', () => done(true));
    s.once('error', (e: NodeJS.ErrnoException) => done(e.code === 'ECONNREFUSED'));
  });
}

/** Pacemaker's own ways to take a node out, for real hosts. */
export function pacemakerControl(session: SshSession, mode: 'standby' | 'stop', others: () => string[]): NodeControl {
  const on = async (node: string, command: string): Promise<Result<void>> => {
    const c = await session.connect(node);
    if (!c.ok) return c;
    const r = await c.value.run(command, { timeoutMs: 300_000 });
    return r.ok ? ok(undefined) : r;
  };
  if (mode === 'standby') {
    // Any cluster node can set another node's standby attribute; ask a survivor.
    const viaSurvivor = async (node: string, cmd: string) => on(others()[0] ?? node, cmd);
    return {
      takeOut: (node) => viaSurvivor(node, sh`crm_attribute --node ${node} --name standby --update on --lifetime forever`),
      bringBack: (node) => viaSurvivor(node, sh`crm_attribute --node ${node} --name standby --delete --lifetime forever`),
    };
  }
  return {
    takeOut: (node) => on(node, 'systemctl stop pacemaker'),
    bringBack: (node) => on(node, 'systemctl start pacemaker'),
  };
}

export interface DrillInput {
  inv: Inventory;
  session: SshSession;
  mode: DrillMode;
  control: NodeControl;
  /** The node to take out; default: the one holding the VIP. */
  node?: string;
  timeoutMs: number;
  /** Runs a client loop through the VIP from before the node is taken out until it is back. */
  load?: LoadTarget;
  log?: (line: string) => void;
}

/** The cluster's status from the first of `nodes` that answers (the drill's and the upgrade's view). */
export async function firstStatus(session: SshSession, nodes: readonly string[]): Promise<Result<{ via: string; status: ClusterStatus }>> {
  const errors: string[] = [];
  for (const n of nodes) {
    const c = await session.connect(n);
    if (!c.ok) {
      errors.push(c.error.message);
      continue;
    }
    const s = await readClusterStatus(c.value);
    if (s.ok) return ok({ via: n, status: s.value });
    errors.push(`${n}: ${s.error.message}`);
  }
  return err({ message: `no node could report the cluster status: ${errors.join('; ')}` });
}

/** How long the client loop may go on after the drill for every kind of request to succeed again. */
const LOAD_GRACE_MS = 30_000;

export async function runDrill(input: DrillInput): Promise<Result<DrillResult>> {
  const { inv, session, timeoutMs } = input;
  const names = inv.nodes.map((n) => n.name);
  const before = await firstStatus(session, names);
  if (!before.ok) return before;
  const vipNode = before.value.status.resources.get(VIP_ID)?.nodes[0];
  const victim = input.node ?? vipNode;
  if (!victim) return err({ message: `the VIP (${VIP_ID}) is not running anywhere, so there is nothing to fail over`, fix: 'run osha deploy first, and check osha status' });
  if (!names.includes(victim)) return err({ message: `no node named ${victim} in the inventory` });
  // Services that run in one place (not clones) and are osha's: each must come back elsewhere.
  const model = buildResourceModel(inv);
  // Fence devices stay where they are allowed (never on the node they fence): not services.
  const watched = primitivesOf(model.resources.filter((r) => r.kind !== 'clone'))
    .filter((p) => p.agent.class !== 'stonith')
    .map((p) => p.id);
  const result: DrillResult = { node: victim, mode: input.mode, phases: {}, services: watched.map((id) => ({ id })), errors: [] };
  if (!input.load) return failOver(input, victim, watched, result);

  // The drill waits at most --timeout for recovery and again for the rejoin: so does the loop.
  const load = startLoad(input.load, { until: Date.now() + 2 * timeoutMs });
  const first = (await load.firstRound).find((s) => s.kind === 'token');
  if (first?.reason === 'HTTP 401' || first?.reason === 'HTTP 400') {
    await settleLoad(input.load, await load.stop());
    return err({ message: `--load: keystone refused the inventory's openstack credentials (${first.reason}) before the drill`, fix: 'check openstack.username, project, the domains and password' });
  }
  const log = input.log ?? (() => undefined);
  log(`load: a client loop through the VIP runs (${first?.ok ? 'keystone answers' : `keystone does not answer yet: ${first?.reason ?? 'no request'}`})`);
  const done = await failOver(input, victim, watched, result);
  // Clients still failing when the drill is done get a little longer: a gap is measured to its end.
  const record = await load.stop(LOAD_GRACE_MS);
  log(`load: ${record.samples.length} requests made; checking the acknowledged writes and deleting the drill's projects`);
  const summary = await settleLoad(input.load, record);
  if (!done.ok) return done;
  result.load = summary;
  if (summary.lostWrites > 0) result.errors.push(`load: ${summary.lostWrites} of ${summary.acknowledgedWrites} acknowledged writes (keystone projects) are gone`);
  if (summary.stillFailing.length > 0) result.errors.push(`load: ${summary.stillFailing.join(', ')} still failing through the VIP ${LOAD_GRACE_MS / 1000} s after the drill`);
  if (summary.unverifiedWrites > 0) result.errors.push(`load: ${summary.unverifiedWrites} acknowledged writes could not be checked`);
  if (summary.cleanup.left.length > 0) result.errors.push(`load: the drill's projects ${summary.cleanup.left.join(', ')} could not be deleted`);
  return ok(result);
}

/** Takes the node out, measures the recovery, brings the node back and waits for it to rejoin. */
async function failOver(input: DrillInput, victim: string, watched: string[], result: DrillResult): Promise<Result<DrillResult>> {
  const { inv, session, mode, control, timeoutMs } = input;
  const log = input.log ?? (() => undefined);
  const names = inv.nodes.map((n) => n.name);
  const survivors = names.filter((n) => n !== victim);
  log(`taking ${victim} out (${mode})`);
  const t0 = Date.now();
  result.startedAt = new Date(t0).toISOString();
  const out = await control.takeOut(victim);
  if (!out.ok) return err({ message: `could not take ${victim} out: ${out.error.message}` });
  if (mode === 'kill' || mode === 'partition') await session.reset(victim);
  const deadline = t0 + timeoutMs;
  // Set once a survivor's status shows the node gone: until then it still "runs" what it ran.
  const away = { seen: false };
  const note = (st: ClusterStatus) => {
    if (!st.onlineNodes.includes(victim)) away.seen = true;
  };

  // The VIP, watched from here, in parallel with the services, watched from a survivor.
  const vipWatch = (async () => {
    // First see it gone (the node's own address stack may answer for a moment), then back.
    while (Date.now() < deadline) {
      const status = await firstStatus(session, survivors);
      const at = status.ok ? status.value.status.resources.get(VIP_ID) : undefined;
      if (at && at.roles.includes('Started') && at.nodes.some((n) => n !== victim) && (await addressAnswers(inv.vip.address))) {
        result.vipMs = Date.now() - t0;
        return;
      }
      if (status.ok) note(status.value.status);
      if (status.ok && backOnVictim(status.value.status, VIP_ID, victim, away.seen)) {
        result.errors.push(`the VIP came back on ${victim} itself ${((Date.now() - t0) / 1000).toFixed(1)} s after it was taken out (fenced, rebooted and rejoined), not on a survivor: the survivors did not start it before ${victim} was back`);
        return;
      }
      await pause(100);
    }
    result.errors.push(`VIP not back within ${timeoutMs / 1000} s`);
  })();

  const phaseWatch = watchPhases(input, victim, survivors, t0, deadline, result);

  const pending = new Set(watched);
  while (pending.size > 0 && Date.now() < deadline) {
    const status = await firstStatus(session, survivors);
    if (status.ok) {
      note(status.value.status);
      await Promise.all(
        [...pending].map(async (id) => {
          const s = status.value.status.resources.get(id);
          // A promotable clone (Galera) serves where an instance is promoted.
          const serving = s?.roles.includes('Started') || s?.roles.includes('Promoted');
          const where = serving ? s!.nodes.find((n) => n !== victim) : undefined;
          if (!where) {
            // Waiting on is pointless once it runs again on the node that was taken out.
            if (backOnVictim(status.value.status, id, victim, away.seen) && pending.delete(id)) {
              result.services.find((x) => x.id === id)!.error = `came back only on ${victim} itself, after it rejoined: never on another node`;
            }
            return;
          }
          const c = await session.connect(where);
          if (!c.ok) return;
          // The resource's own monitor at depth 10 (health endpoint or port), run where it now lives.
          const check = await c.value.exec(sh`crm_resource --resource ${id} --force-check=10`, { timeoutMs: 30_000 });
          if (check.ok && check.value.code === 0 && pending.has(id)) {
            pending.delete(id);
            const entry = result.services.find((x) => x.id === id)!;
            entry.node = where;
            entry.recoveryMs = Date.now() - t0;
            log(`${id} healthy on ${where} after ${(entry.recoveryMs / 1000).toFixed(1)} s`);
          }
        }),
      );
    }
    if (pending.size > 0) await pause(200);
  }
  for (const id of pending) result.services.find((x) => x.id === id)!.error = `not healthy on another node within ${timeoutMs / 1000} s`;
  for (const entry of result.services) if (entry.error) result.errors.push(`${entry.id}: ${entry.error}`);
  await vipWatch;
  await phaseWatch;
  await attachStarts(session, survivors, t0, result);

  log(`bringing ${victim} back`);
  const t1 = Date.now();
  const back = await control.bringBack(victim);
  if (!back.ok) {
    result.errors.push(`could not bring ${victim} back: ${back.error.message}`);
    return ok(result);
  }
  await session.reset(victim);
  while (Date.now() < t1 + timeoutMs) {
    const status = await firstStatus(session, survivors);
    if (status.ok && status.value.status.onlineNodes.includes(victim)) {
      const c = await session.connect(victim);
      if (c.ok) {
        const own = await readClusterStatus(c.value);
        if (own.ok && own.value.quorate && own.value.onlineNodes.length === names.length) {
          result.rejoinMs = Date.now() - t1;
          break;
        }
      }
    }
    await pause(250);
  }
  if (result.rejoinMs === undefined) result.errors.push(`${victim} did not rejoin within ${timeoutMs / 1000} s`);
  return ok(result);
}

/**
 * Detection (the survivors see the node gone), then fencing (Pacemaker's fence history for the
 * node: an action completed after t0). Standby moves resources without losing the node: neither.
 */
async function watchPhases(input: DrillInput, victim: string, survivors: string[], t0: number, deadline: number, result: DrillResult): Promise<void> {
  if (input.mode === 'standby') return;
  while (Date.now() < deadline) {
    const status = await firstStatus(input.session, survivors);
    if (status.ok && !status.value.status.onlineNodes.includes(victim)) {
      result.phases.detectionMs = Date.now() - t0;
      break;
    }
    await pause(100);
  }
  // A clean stop (systemctl stop pacemaker) is not fenced; neither is a cluster without fencing.
  if (input.mode === 'stop' || !input.inv.stonith.enabled || result.phases.detectionMs === undefined) return;
  let event: FenceEvent | undefined;
  while (!event && Date.now() < deadline) {
    for (const s of survivors) {
      const c = await input.session.connect(s);
      if (!c.ok) continue;
      const h = await readFenceHistory(c.value, victim);
      if (!h.ok) continue;
      // Done after t0 (a second of slack for clocks that round), succeeded or failed.
      event = h.value.find((e) => e.target === victim && e.completedMs !== undefined && e.completedMs >= t0 - 1000 && (e.status === 'success' || e.status === 'failed'));
      if (event) break;
    }
    if (!event) await pause(200);
  }
  if (!event) {
    result.errors.push(`no fencing of ${victim} in Pacemaker's fence history within ${input.timeoutMs / 1000} s`);
    return;
  }
  const doneMs = Math.max(0, event.completedMs! - t0);
  result.phases.fencing = { action: event.action, target: victim, by: event.delegate, status: event.status, doneMs, ms: Math.max(0, doneMs - result.phases.detectionMs) };
  if (event.status !== 'success') result.errors.push(`fencing of ${victim} (${event.action}) ${event.status}`);
  input.log?.(`${victim} fenced (${event.action}, by ${event.delegate ?? '?'}) ${(doneMs / 1000).toFixed(1)} s after it was taken out`);
}

/** Each recovered service's start on its new node, from the CIB status section. */
async function attachStarts(session: SshSession, survivors: string[], t0: number, result: DrillResult): Promise<void> {
  const base = result.phases.fencing?.doneMs ?? result.phases.detectionMs;
  for (const s of result.services) if (s.recoveryMs !== undefined && base !== undefined) s.afterFencingMs = Math.max(0, s.recoveryMs - base);
  for (const n of survivors) {
    const c = await session.connect(n);
    if (!c.ok) continue;
    const starts = await readStarts(c.value);
    if (!starts.ok) continue;
    for (const s of result.services) {
      const rec = starts.value.find((x) => x.resource === s.id && x.node === s.node && x.rc === 0 && (x.lastRunS === undefined || x.lastRunS >= Math.floor(t0 / 1000) - 1));
      if (rec) s.start = { execMs: rec.execMs, queueMs: rec.queueMs };
    }
    return;
  }
}

/**
 * The node taken out, once seen gone (`seenAway`), is online again and the resource runs there
 * and nowhere else: the survivors never started it (a fenced node that reboots fast can be back
 * before a slow, throttled transition got to it). Before the survivors notice, the node still
 * shows what it ran; in standby it never goes away. Pure, for the drill's two watchers.
 */
export function backOnVictim(status: ClusterStatus, id: string, victim: string, seenAway: boolean): boolean {
  if (!seenAway) return false;
  // crm_mon lists a node only under an active instance: the nodes are where it runs.
  const running = status.resources.get(id)?.nodes ?? [];
  return status.onlineNodes.includes(victim) && running.length > 0 && running.every((n) => n === victim);
}

function pause(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
