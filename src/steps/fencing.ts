// After the resources: every fence device osha made is registered with the fencer where it may
// run and answers (Pacemaker's own monitor of it, or a status query), so a node that needs
// fencing gets fenced, not waited for.
import type { HostPlan, Step, StepContext } from '../runner/types.ts';
import type { HostConnection } from '../ssh/connection.ts';
import { hostHandle, liveCib, waitFor } from './common.ts';
import { fenceMonitors, readFencerAnswers, readRegisteredDevices, type FenceCheck, type FencerAnswer, type MonitorRecord } from '../facts/fencing.ts';
import { fenceId } from '../cluster/build.ts';
import { err, ok, type OshaError, type Result } from '../util/result.ts';
import { mapLimit } from '../util/concurrency.ts';

export const fencing: Step = {
  name: 'fencing',
  title: 'every fence device registered and answering',
  async plan(ctx) {
    const out = new Map<string, HostPlan>();
    if (!ctx.inv.stonith.enabled) return out;
    const ids = ctx.inv.stonith.devices.map(fenceId);
    const records = await monitorRecords(ctx, ids);
    // A device never runs on the node it fences: ask the fencer of another node, the next one in
    // the inventory's order, so the checks spread over the nodes (16 nodes: one device each, not
    // 15 on the first). Each node checks its devices in one round trip, the nodes in parallel.
    const byHost = new Map<string, Device[]>();
    for (const d of ctx.inv.stonith.devices) {
      const at = ctx.hosts.indexOf(d.node);
      const ring = at < 0 ? ctx.hosts : [...ctx.hosts.slice(at + 1), ...ctx.hosts.slice(0, at)];
      const host = ring.find((h) => h !== d.node);
      if (!host) continue;
      const record = records.get(fenceId(d));
      byHost.set(host, [...(byHost.get(host) ?? []), { check: { id: fenceId(d), target: d.node, query: !record?.passing }, name: d.name, record }]);
    }
    const hosts = [...byHost.keys()];
    const plans = await mapLimit(hosts, ctx.session.concurrency, (host) => checkHost(ctx, host, byHost.get(host)!));
    hosts.forEach((h, i) => out.set(h, plans[i]!));
    return out;
  },
};

interface Device {
  check: FenceCheck;
  /** The device's name in the inventory (stonith.devices). */
  name: string;
  /** Its monitor's record, when the run may rely on it. */
  record?: MonitorRecord;
}

/**
 * Whether a device answers is Pacemaker's own recurring monitor's job (every 60 s): on a run that
 * has changed nothing so far, a passing record in the CIB is that answer, read with no agent run
 * (each query is a login to the fence device: 0.4 s of a 1.7 s re-run, 3 nodes). Once the run
 * changed anything, a device may have been remade since its record: every device is queried.
 */
async function monitorRecords(ctx: StepContext, ids: string[]): Promise<Map<string, MonitorRecord>> {
  if (ctx.appliedSoFar() > 0) return new Map();
  const hh = await hostHandle(ctx, ctx.hosts[0]!);
  if (!hh.ok) return new Map();
  const cib = await liveCib(ctx, hh.value);
  return cib.ok && cib.value !== undefined ? fenceMonitors(cib.value, ids) : new Map();
}

async function checkHost(ctx: StepContext, host: string, devices: Device[]): Promise<HostPlan> {
  const hh = await hostHandle(ctx, host);
  if (!hh.ok) return hh;
  const missing = (answers: FencerAnswer[]) => devices.filter((d, i) => !answers[i]!.devices.includes(d.check.id));
  let lacking: { device: Device; known: string[] } | undefined;
  // The first read asks the lists and the status queries together. While a device is missing,
  // only the lists are asked again: a status query is a login to the fence device (a BMC), not
  // something to repeat every 500 ms; they are asked once every device is there.
  let polls = 0;
  const registered = async (): Promise<Result<FencerAnswer[]>> => {
    lacking = undefined;
    const first = polls++ === 0;
    const checks = devices.map((d) => (first ? d.check : { ...d.check, query: false }));
    const r = await readFencerAnswers(hh.value.c, checks);
    if (!r.ok) return r;
    const absent = missing(r.value);
    if (absent.length === 0) return checks.every((c, i) => c.query === devices[i]!.check.query) ? r : readFencerAnswers(hh.value.c, devices.map((d) => d.check));
    lacking = { device: absent[0]!, known: r.value[devices.indexOf(absent[0]!)]!.devices };
    return err({ host, message: `the fencer on ${host} has no device ${lacking.device.check.id} for ${lacking.device.check.target}` });
  };
  // Right after the CIB patch the fencer may still be registering a device. Usually seconds, but a
  // big cluster on small hosts took over 30 s (16 lab nodes on 2 cores): the wait is the run's
  // settle time (--timeout), and ends as soon as every device is there.
  const answers: Result<FencerAnswer[]> = ctx.options.dryRun
    ? await readFencerAnswers(hh.value.c, devices.map((d) => d.check))
    : await waitFor(registered, ctx.options.settleTimeoutMs, 500, ctx.signal);
  if (!answers.ok && lacking && !ctx.signal?.aborted) return err(missingDeviceError(host, lacking.device.check, lacking.known, await whoHasIt(ctx, hh.value.c, host, lacking.device.check)));
  if (!answers.ok) return answers;
  const absent = new Set(missing(answers.value));
  const monitored: string[] = [];
  for (const [i, d] of devices.entries()) {
    if (absent.has(d)) {
      // Only a dry run gets here: the resources step has not made the device yet.
      ctx.note(host, `${d.check.id} is checked once the resources step has made it`);
      continue;
    }
    const q = answers.value[i]!.query;
    if (!q) {
      if (d.record?.passing) monitored.push(`${d.check.id} (on ${d.record.node}, every ${d.record.intervalMs / 1000} s, passing since ${new Date(d.record.sinceS * 1000).toISOString()})`);
      continue;
    }
    if (q.code !== 0) {
      return err({
        host,
        message: `fence device ${d.check.id} did not report its status (stonith_admin --query exit ${q.code}${q.why ? `: ${q.why}` : ''})`,
        fix: `check the device's parameters (stonith.devices "${d.name}"), then run: stonith_admin --query=${d.check.id} on ${host}`,
      });
    }
  }
  if (monitored.length) ctx.note(host, `answering by Pacemaker's own monitor, not queried again: ${monitored.join(', ')}`);
  return ok([]);
}

/** What the other fencers say, to tell a device missing everywhere from one fencer that lags. */
export interface Elsewhere {
  /** Every device the lacking node's fencer has (undefined: it did not answer). */
  registeredHere?: string[];
  /** The other nodes (the target excepted) whose fencer lists the device for its target. */
  listedOn: string[];
  /** The other nodes asked (the target excepted), answered or not. */
  asked: string[];
}

/**
 * Only when the wait has run out: one question to this node's fencer (what it has at all) and one
 * to every other node's but the target's (whether it lists the device), nodes in parallel.
 */
async function whoHasIt(ctx: StepContext, here: HostConnection, host: string, check: FenceCheck): Promise<Elsewhere> {
  const others = ctx.hosts.filter((h) => h !== host && h !== check.target);
  const [registeredHere, lists] = await Promise.all([
    readRegisteredDevices(here),
    mapLimit(others, ctx.session.concurrency, async (h) => {
      const hh = await hostHandle(ctx, h);
      return hh.ok ? readFencerAnswers(hh.value.c, [{ ...check, query: false }]) : hh;
    }),
  ]);
  return {
    registeredHere: registeredHere.ok ? registeredHere.value : undefined,
    listedOn: others.filter((_h, i) => {
      const l = lists[i]!;
      return l.ok && l.value[0]!.devices.includes(check.id);
    }),
    asked: others,
  };
}

/**
 * Pure: the error for a fencer still without a device when the wait ran out, with what the other
 * fencers said. A fencer registers a device from its own copy of the CIB where the device may run
 * (its log says "Device ... has been disabled on NODE" and why when it may not); that copy is
 * kept up to date from the CIB's change notices.
 */
export function missingDeviceError(host: string, check: FenceCheck, known: string[], seen: Elsewhere): OshaError {
  const here = seen.registeredHere === undefined ? 'did not answer' : seen.registeredHere.length ? seen.registeredHere.join(', ') : 'none';
  const elsewhere = seen.asked.length === 0
    ? 'no other node to ask'
    : seen.listedOn.length === 0
      ? `no other node's fencer lists it either (asked: ${seen.asked.join(', ')})`
      : seen.listedOn.length === seen.asked.length
        ? `every other node's fencer lists it (${seen.asked.length}), so ${host}'s alone lags`
        : `the fencers on ${seen.listedOn.join(', ')} list it, not those on ${seen.asked.filter((h) => !seen.listedOn.includes(h)).join(', ')}`;
  return {
    host,
    message: `the fencer on ${host} has no device ${check.id} for ${check.target} (it knows: ${known.join(', ') || 'none'}); all it has registered: ${here}; ${elsewhere}`,
    fix: seen.listedOn.length === 0
      ? `look at the device with: crm_mon -1 --include=all; pcs/crm resource status ${check.id}`
      : `${check.target} can still be fenced from the nodes whose fencer lists ${check.id}. Why ${host}'s does not: on ${host}, grep pacemaker-fenced /var/log/pacemaker/pacemaker.log | grep ${check.id}. A line that disables or removes it gives the reason (its placement); no line at all means that fencer's copy of the CIB never had the device`,
  };
}
