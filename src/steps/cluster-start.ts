// Step 7: corosync and pacemaker run (and start at boot) on every node, and the cluster has
// formed: every node online, with quorum, as crm_mon's XML says. Bounded by a timeout that
// names the nodes still missing.
import type { Action, Step } from '../runner/types.ts';
import { planEachHost } from './common.ts';
import { stackFacts, waitForCluster } from './corosync-conf.ts';
import { readClusterStatus, judgeFormed } from '../facts/cluster.ts';
import { err, ok } from '../util/result.ts';

export const clusterStart: Step = {
  name: 'cluster-start',
  title: 'corosync and pacemaker running and enabled; every node online with quorum',
  needsAllHosts: true,
  plan(ctx) {
    return planEachHost(ctx, async (h) => {
      const stack = await stackFacts(ctx, h);
      if (!stack.ok) return stack;
      const s = stack.value;
      const toStart = [...(s.corosyncActive ? [] : ['corosync']), ...(s.pacemakerActive ? [] : ['pacemaker'])];
      const toEnable = [...(s.corosyncEnabled ? [] : ['corosync']), ...(s.pacemakerEnabled ? [] : ['pacemaker'])];
      const actions: Action[] = [];
      if (toEnable.length) {
        const cmd = `systemctl enable ${toEnable.join(' ')}`;
        actions.push({ summary: `enable ${toEnable.join(' and ')} at boot`, commands: [cmd], apply: async () => { const r = await h.c.run(cmd); return r.ok ? ok(undefined) : r; } });
      }
      let formed = false;
      if (toStart.length === 0) {
        const status = await readClusterStatus(h.c);
        formed = status.ok && judgeFormed(status.value, ctx.allHosts).ok;
      }
      if (toStart.length > 0 || !formed) {
        const cmd = toStart.length ? `systemctl start ${toStart.join(' ')}` : '';
        actions.push({
          summary: `${toStart.length ? `start ${toStart.join(' and ')}, then ` : ''}wait until all ${ctx.allHosts.length} nodes are online with quorum`,
          commands: cmd ? [cmd] : [],
          apply: async () => {
            if (cmd) {
              const r = await h.c.run(cmd, { timeoutMs: 300_000 });
              ctx.facts.forget(h.host, 'stack');
              if (!r.ok) return r;
            }
            const started = Date.now();
            const w = await waitForCluster(ctx, h, ctx.allHosts);
            if (!w.ok) return err({ host: h.host, message: `cluster not formed after ${ctx.options.settleTimeoutMs / 1000} s: ${w.error.message}`, fix: 'check that the nodes reach each other on the corosync port (UDP) and that their clocks agree' });
            ctx.log(`${h.host}: cluster formed ${((Date.now() - started) / 1000).toFixed(1)} s after start`);
            return ok(undefined);
          },
        });
      }
      return ok(actions);
    });
  },
};
