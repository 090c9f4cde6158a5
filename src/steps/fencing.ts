// After the resources: every fence device osha made is registered with the fencer where it may
// run and answers a status query, so a node that needs fencing gets fenced, not waited for.
import type { HostPlan, Step } from '../runner/types.ts';
import { hostHandle, waitFor } from './common.ts';
import { queryDevice, readDevicesFor } from '../facts/fencing.ts';
import { fenceId } from '../cluster/build.ts';
import { err, ok, type Result } from '../util/result.ts';

export const fencing: Step = {
  name: 'fencing',
  title: 'every fence device registered and answering',
  async plan(ctx) {
    const out = new Map<string, HostPlan>();
    if (!ctx.inv.stonith.enabled) return out;
    for (const d of ctx.inv.stonith.devices) {
      // A device never runs on the node it fences: ask the fencer of another node.
      const host = ctx.hosts.find((h) => h !== d.node);
      if (!host) continue;
      const hh = await hostHandle(ctx, host);
      if (!hh.ok) {
        out.set(host, hh);
        continue;
      }
      const id = fenceId(d);
      const registered = async (): Promise<Result<void>> => {
        const list = await readDevicesFor(hh.value.c, d.node);
        if (!list.ok) return list;
        return list.value.includes(id) ? ok(undefined) : err({ host, message: `the fencer on ${host} has no device ${id} for ${d.node} (it knows: ${list.value.join(', ') || 'none'})` });
      };
      // Right after the CIB patch the fencer may still be registering the device: a short wait.
      const found = ctx.options.dryRun ? await registered() : await waitFor(registered, 30_000, 500, ctx.signal);
      if (!found.ok) {
        if (ctx.options.dryRun) {
          ctx.note(host, `${id} is checked once the resources step has made it`);
          continue;
        }
        out.set(host, err({ ...found.error, fix: `look at the device with: crm_mon -1 --include=all; pcs/crm resource status ${id}` }));
        continue;
      }
      const answered = await queryDevice(hh.value.c, id);
      const previous = out.get(host);
      if (!answered.ok) out.set(host, err({ ...answered.error, fix: `check the device's parameters (stonith.devices "${d.name}"), then run: stonith_admin --query=${id} on ${host}` }));
      else if (!previous) out.set(host, ok([]));
    }
    return out;
  },
};
