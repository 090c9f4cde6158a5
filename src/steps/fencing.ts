// After the resources: every fence device osha made is registered with the fencer where it may
// run and answers (Pacemaker's own monitor of it, or a status query), so a node that needs
// fencing gets fenced, not waited for.
import type { HostPlan, Step, StepContext } from '../runner/types.ts';
import { hostHandle, liveCib, waitFor } from './common.ts';
import { fenceMonitors, readFencerAnswers, type FenceCheck, type FencerAnswer, type MonitorRecord } from '../facts/fencing.ts';
import { fenceId } from '../cluster/build.ts';
import { err, ok, type Result } from '../util/result.ts';
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
  const registered = async (): Promise<Result<FencerAnswer[]>> => {
    const r = await readFencerAnswers(hh.value.c, devices.map((d) => d.check));
    if (!r.ok) return r;
    const absent = missing(r.value);
    if (absent.length === 0) return r;
    const d = absent[0]!;
    const known = r.value[devices.indexOf(d)]!.devices;
    return err({
      host,
      message: `the fencer on ${host} has no device ${d.check.id} for ${d.check.target} (it knows: ${known.join(', ') || 'none'})`,
      fix: `look at the device with: crm_mon -1 --include=all; pcs/crm resource status ${d.check.id}`,
    });
  };
  // Right after the CIB patch the fencer may still be registering a device. Usually seconds, but a
  // big cluster on small hosts took over 30 s (16 lab nodes on 2 cores): the wait is the run's
  // settle time (--timeout), and ends as soon as every device is there.
  const answers: Result<FencerAnswer[]> = ctx.options.dryRun
    ? await readFencerAnswers(hh.value.c, devices.map((d) => d.check))
    : await waitFor(registered, ctx.options.settleTimeoutMs, 500, ctx.signal);
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
