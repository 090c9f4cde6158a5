// Step 7: corosync and pacemaker run (and start at boot) on every node, and the cluster has
// formed: every node online, with quorum, as crm_mon's XML says. Bounded by a timeout that
// names the nodes still missing.
import type { Action, Step, StepContext } from '../runner/types.ts';
import type { ClusterStatus } from '../facts/status.ts';
import { liveStatus, planEachHost, type HostHandle } from './common.ts';
import { stackFacts, waitForCluster } from './corosync-conf.ts';
import { judgeFormed } from '../facts/cluster.ts';
import { err, ok, type Result } from '../util/result.ts';
import { sh } from '../ssh/quote.ts';
import { dirname } from 'node:path';

export const CIB_FILE = '/var/lib/pacemaker/cib/cib.xml';
/**
 * How long a starting node waits for an existing DC; cluster-properties keeps the same value.
 * Every node of a first start waits this long before the first election, so it is most of the
 * formation time of a small cluster (3 nodes: formed 4.9-7.0 s after start with 2 s, 7.8-9.0 s
 * with 5 s; the same with two busy loops on the 2 host cores). Not lower for many nodes: 16
 * nodes starting on a busy host then hold election after election (measured: formation 31 s
 * with 5 s, 67 s with 2 s).
 */
export function dcDeadtime(nodeCount: number): string {
  return nodeCount <= SMALL_CLUSTER ? '2s' : '5s';
}

/** Up to this many nodes a cluster gets the short DC wait (measured at 3; 16 needs the long). */
const SMALL_CLUSTER = 4;

/**
 * The smallest valid CIB: an empty configuration but for dc-deadtime, in the nvpair id that
 * crm_attribute itself uses, so cluster-properties manages it by name like the other options.
 */
export function seedCib(dcWait: string): string {
  return [
    `<cib crm_feature_set="3.0.0" validate-with="pacemaker-3.0" epoch="1" num_updates="0" admin_epoch="0">`,
    `  <configuration>`,
    `    <crm_config>`,
    `      <cluster_property_set id="cib-bootstrap-options">`,
    `        <nvpair id="cib-bootstrap-options-dc-deadtime" name="dc-deadtime" value="${dcWait}"/>`,
    `      </cluster_property_set>`,
    `    </crm_config>`,
    `    <nodes/>`,
    `    <resources/>`,
    `    <constraints/>`,
    `  </configuration>`,
    `  <status/>`,
    `</cib>`,
  ].join('\n');
}

/**
 * Pacemaker keeps a node that left the inventory (and so corosync.conf) in its node list, shown
 * OFFLINE forever. Once it is offline it is removed (what `pcs cluster node remove` does last);
 * one still online has not been stopped yet, and is left alone with a note saying so.
 */
function departedNodeActions(ctx: StepContext, h: HostHandle, status: ClusterStatus): Action[] {
  const departed = status.nodes.filter((n) => n.type === 'member' && !ctx.allHosts.includes(n.name));
  for (const n of departed.filter((d) => d.online)) {
    ctx.note(h.host, `${n.name} is not in the inventory but still runs in the cluster: stop corosync and pacemaker on it, then re-run to drop it from Pacemaker's node list`);
  }
  return departed
    .filter((n) => !n.online)
    .map((n) => {
      const cmd = sh`crm_node --force --remove ${n.name}`;
      return {
        summary: `remove ${n.name} from Pacemaker's node list (no longer in the inventory, and offline)`,
        commands: [cmd],
        apply: async () => {
          const r = await h.c.run(cmd);
          return r.ok ? ok(undefined) : r;
        },
      };
    });
}

/**
 * The cluster's membership is one fact for all nodes: a node that sees every node online with
 * quorum has them all in its partition. So one node reads it (the first to ask, with its stack
 * up) and every node's plan uses that answer: 16 nodes mean one crm_mon, not 16.
 */
function sharedStatus(ctx: StepContext, h: HostHandle): Promise<Result<ClusterStatus>> {
  let status = ctx.shared.get(SHARED_STATUS) as Promise<Result<ClusterStatus>> | undefined;
  if (!status) {
    status = liveStatus(ctx, h);
    ctx.shared.set(SHARED_STATUS, status);
  }
  return status;
}

/**
 * One watch for the cluster to form, awaited by every node's start: one crm_mon poller instead
 * of one per node (16 pollers at 4 a second slow down the very start they watch on a small host).
 */
function formationWatch(ctx: StepContext, h: HostHandle): Promise<Result<unknown>> {
  let watch = ctx.shared.get(FORMATION_WATCH) as Promise<Result<unknown>> | undefined;
  if (!watch) {
    watch = waitForCluster(ctx, h, ctx.allHosts);
    ctx.shared.set(FORMATION_WATCH, watch);
  }
  return watch;
}

const SHARED_STATUS = 'cluster-start-status';
const FORMATION_WATCH = 'cluster-start-formation';

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
      const enableCmd = toEnable.length ? `systemctl enable ${toEnable.join(' ')}` : '';
      const enable = async (): Promise<Result<void>> => {
        const r = await h.c.run(enableCmd);
        return r.ok ? ok(undefined) : r;
      };
      // A small cluster enables its units beside the wait for the cluster (systemctl enable's
      // daemon-reload takes 1.3-1.5 s on a fresh lab node). A larger one enables them once the
      // cluster has formed: 8 or 16 daemon-reloads at once while corosync forms its membership are
      // load it need not have, and enabling before the start spread the starts over the reloads'
      // 23-50 s (16 lab nodes), each late start one more membership round for every corosync.
      const enableBeside = toStart.length > 0 && ctx.allHosts.length <= SMALL_CLUSTER;
      const enableAction: Action = { summary: `enable ${toEnable.join(' and ')} at boot${toStart.length ? ' (once the cluster has formed)' : ''}`, commands: [enableCmd], apply: enable };
      if (enableCmd && toStart.length === 0) actions.push(enableAction);
      let formed = false;
      if (toStart.length === 0) {
        const status = await sharedStatus(ctx, h);
        formed = status.ok && judgeFormed(status.value, ctx.allHosts).ok;
        // Cluster-wide, once: nodes taken out of the inventory (and so out of corosync.conf).
        if (status.ok && h.host === ctx.hosts[0]) actions.push(...departedNodeActions(ctx, h, status.value));
      }
      if (!s.pacemakerActive) {
        // A node that never ran Pacemaker would wait dc-deadtime (20 s by default) for a DC that
        // does not exist yet: seed its first CIB with a shorter one (only when it has no CIB).
        const dcWait = dcDeadtime(ctx.allHosts.length);
        const seed = sh`[ -e ${CIB_FILE} ] || { install -d -o hacluster -g haclient -m 0750 ${dirname(CIB_FILE)} && printf '%s\n' ${seedCib(dcWait)} > ${CIB_FILE}.osha && chown hacluster:haclient ${CIB_FILE}.osha && chmod 0600 ${CIB_FILE}.osha && mv ${CIB_FILE}.osha ${CIB_FILE}; }`;
        actions.push({ summary: `seed a first CIB with dc-deadtime ${dcWait} where none exists (first start without a 20 s wait)`, commands: [seed], apply: async () => { const r = await h.c.run(seed); return r.ok ? ok(undefined) : r; } });
      }
      if (toStart.length > 0 || !formed) {
        const cmd = toStart.length ? `systemctl start ${toStart.join(' ')}` : '';
        const alsoEnable = Boolean(enableBeside && enableCmd);
        actions.push({
          summary: `${toStart.length ? `start ${toStart.join(' and ')}${alsoEnable ? ` (and enable ${toEnable.join(' and ')} at boot)` : ''}, then ` : ''}wait until all ${ctx.allHosts.length} nodes are online with quorum`,
          commands: [cmd, alsoEnable ? enableCmd : ''].filter(Boolean),
          apply: async () => {
            if (cmd) {
              const r = await h.c.run(cmd, { timeoutMs: 300_000 });
              ctx.facts.forget(h.host, 'stack');
              if (!r.ok) return r;
            }
            const started = Date.now();
            const [enabled, w] = await Promise.all([alsoEnable ? enable() : ok(undefined), formationWatch(ctx, h)]);
            ctx.facts.forget(h.host, 'stack');
            if (!enabled.ok) return enabled;
            if (!w.ok) return err({ host: h.host, message: `cluster not formed after ${ctx.options.settleTimeoutMs / 1000} s: ${w.error.message}`, fix: 'check that the nodes reach each other on the corosync port (UDP) and that their clocks agree' });
            ctx.log(`${h.host}: cluster formed ${((Date.now() - started) / 1000).toFixed(1)} s after start`);
            return ok(undefined);
          },
        });
      }
      if (enableCmd && toStart.length > 0 && !enableBeside) actions.push(enableAction);
      return ok(actions);
    });
  },
};
