// Step 1, preflight: prove every node is fit before anything changes. It has no actions: it
// either passes on a host or fails it with what to fix; a failure stops the run before step 2.
import type { HostPlan, Step, StepContext } from '../runner/types.ts';
import { hostHandle, liveCib, type HostHandle } from './common.ts';
import { adoptionFrom, topologySwitchProblem } from '../cluster/existing.ts';
import { clusterIdentity, type ClusterIdentity } from './cluster-identity.ts';
import { readPreflightFacts, type OsFacts, type PreflightFacts } from '../facts/host.ts';
import { err, ok, type OshaError, type Result } from '../util/result.ts';
import { mapLimit } from '../util/concurrency.ts';
import { AGENT_ALIASES, AGENT_DIR, AGENT_NAMES, OSHA_AGENT_MARKERS, WRAPPER_AGENTS } from '../agents/files.ts';

/** How far apart node clocks may be; corosync and Pacemaker logs become unreadable beyond it. */
export const MAX_CLOCK_SKEW_S = 5;

export const preflight: Step = {
  name: 'preflight',
  gate: true,
  title: 'SSH, sudo, OS, init system, package manager, corosync port, VIP and clocks checked on every node',
  async plan(ctx) {
    const localBefore = Date.now() / 1000;
    // Every node's probe and cluster identity first (each node's reads at once, nodes in
    // parallel): whether the cluster holds the VIP is then known from the probes, not asked again.
    const gathered = await mapLimit(ctx.hosts, ctx.session.concurrency, (host) => gather(ctx, host));
    const vipHeld = gathered.some((g) => g.ok && g.value.probe.vipLocal);
    const plans = new Map<string, HostPlan>(ctx.hosts.map((host, i) => {
      const g = gathered[i]!;
      return [host, g.ok ? checkHost(ctx, g.value, vipHeld) : g];
    }));
    await checkExistingResources(ctx, plans);
    // Clock skew needs every node's clock, so it is judged once all answered.
    const clocks = new Map<string, number>();
    for (const host of ctx.hosts) {
      const os = await ctx.facts.get<OsFacts>(host, 'os', async () => err({ message: 'no facts' }));
      if (os.ok && plans.get(host)?.ok) clocks.set(host, os.value.epoch);
    }
    const localAfter = Date.now() / 1000;
    if (clocks.size > 1) {
      const values = [...clocks.values()];
      const spread = Math.max(...values) - Math.min(...values);
      // Facts were read in parallel within (localAfter - localBefore) seconds of each other.
      const allowance = MAX_CLOCK_SKEW_S + (localAfter - localBefore);
      if (spread > allowance) {
        const median = values.sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
        for (const [host, t] of clocks) {
          if (Math.abs(t - median) > MAX_CLOCK_SKEW_S) {
            plans.set(host, err({ host, message: `clock is ${(t - median).toFixed(1)} s off the other nodes (more than ${MAX_CLOCK_SKEW_S} s)`, fix: 'enable time sync (chrony or systemd-timesyncd) on every node' }));
          }
        }
      }
    }
    return plans;
  },
};

/**
 * On a running cluster, hand-made resources that do one of osha's jobs must be decided in the
 * inventory (keep or replace) before anything changes: read the CIB once, from a node that runs it.
 */
async function checkExistingResources(ctx: StepContext, plans: Map<string, HostPlan>): Promise<void> {
  for (const host of ctx.hosts) {
    if (!plans.get(host)?.ok) continue;
    const h = await hostHandle(ctx, host);
    if (!h.ok) continue;
    const identity = await clusterIdentity(ctx, h.value);
    if (!identity.ok || !identity.value.stack.pacemakerActive) continue;
    const cib = await liveCib(ctx, h.value);
    if (!cib.ok || cib.value === undefined) continue;
    const switched = topologySwitchProblem(ctx.inv, cib.value);
    if (switched) {
      plans.set(host, err({ host, ...switched }));
      return;
    }
    const adopted = adoptionFrom(ctx.inv, cib.value);
    if (!adopted.ok) {
      plans.set(host, err({ host, ...adopted.error }));
      return;
    }
    for (const o of adopted.value.found) {
      const d = ctx.inv.resources.existing.find((e) => e.id === o.foreign.id)!;
      ctx.note(host, d.action === 'keep'
        ? `${o.foreign.id} (${o.why}) is kept as the ${o.role}: osha creates none of its own and builds its constraints around ${o.foreign.top}`
        : `${o.foreign.id} (${o.why}) is replaced by osha's own ${o.role} (disruptive: confirmed before the resources step)`);
    }
    return;
  }
}

interface Gathered {
  h: HostHandle;
  probe: PreflightFacts;
  identity: ClusterIdentity;
}

async function gather(ctx: StepContext, host: string): Promise<Result<Gathered>> {
  const c = await ctx.connection(host);
  if (!c.ok) return c;
  // The first node's CIB is asked for at once, beside the rest: checkExistingResources uses it
  // when that node runs Pacemaker (without Pacemaker cibadmin answers nothing), and a run that
  // changes nothing plans its resources and fencing steps from the same read.
  if (host === ctx.hosts[0]) void liveCib(ctx, { host, c: c.value });
  // The OS facts, the probe and the cluster identity at once: none needs another's answer.
  const [hh, probe, identity] = await Promise.all([
    hostHandle(ctx, host),
    readPreflightFacts(c.value, {
      port: ctx.inv.corosync.port,
      vip: ctx.inv.vip.address,
      agentDir: AGENT_DIR,
      agentNames: [...AGENT_NAMES, ...Object.keys(AGENT_ALIASES), ...WRAPPER_AGENTS],
      ownMarkers: OSHA_AGENT_MARKERS,
    }),
    clusterIdentity(ctx, { host, c: c.value }),
  ]);
  if (!hh.ok) return hh;
  if (!probe.ok) return probe;
  if (!identity.ok) return identity;
  return ok({ h: hh.value, probe: probe.value, identity: identity.value });
}

function checkHost(ctx: StepContext, g: Gathered, vipHeld: boolean): HostPlan {
  const { h, probe } = g;
  const problems: string[] = [];
  const fixes: string[] = [];
  if (h.os.uid !== 0) {
    problems.push(`commands run as uid ${h.os.uid}, not root`);
    fixes.push('log in as root or set ssh.sudo: true for a user with passwordless sudo');
  }
  if (h.os.family === 'unknown') {
    problems.push(`unsupported OS "${h.os.prettyName}"`);
    fixes.push('osha supports Debian/Ubuntu and the RHEL family');
  }
  if (h.os.init !== 'systemd' && h.os.init !== 'upstart' && h.os.init !== 'sysvinit') {
    problems.push('no init system recognised (systemd, upstart or sysvinit)');
  }
  if (h.os.packageManager === 'none') {
    problems.push('no package manager found (apt-get, dnf, yum or zypper)');
  }
  const port = ctx.inv.corosync.port;
  // Who listens on the corosync port: corosync itself is fine (a re-run); anyone else is not.
  const owner = probe.portOwner;
  if (owner && owner !== 'corosync') {
    problems.push(`UDP port ${port} is already used by ${owner}`);
    fixes.push(`stop ${owner} or set corosync.port to a free port`);
  }
  // The VIP may answer because this cluster already holds it (a re-run); not when no node has it.
  if (probe.vipAnswers === 'yes' && !vipHeld) {
    problems.push(`the VIP ${ctx.inv.vip.address} already answers, but no cluster node holds it`);
    fixes.push('pick a free address for vip.address');
  }
  if (probe.vipAnswers === 'unknown') ctx.note(h.host, 'VIP not probed: neither ping nor ip/bash on this node');
  // Agents of the same name that osha did not write (the articles' openstack-resource-agents):
  // uploading osha's would swap the agent under every resource that uses them.
  const foreignAgents = probe.foreignAgents;
  if (foreignAgents.length > 0) {
    problems.push(`${AGENT_DIR} holds agents osha did not write (${foreignAgents.join(', ')}); osha ships its own under these names and would replace them under any resource that uses them`);
    fixes.push(`move them to a provider of their own (mv ${AGENT_DIR} /usr/lib/ocf/resource.d/openstack-legacy, then point those resources at ocf:openstack-legacy:NAME), or hand those resources over to osha (resources.existing, action: replace) after that move`);
  }
  // A cluster osha did not make: refused here, before any node changes, unless adoptable.
  const foreign = g.identity.foreign;
  if (foreign?.verdict.kind === 'refuse') {
    problems.push(foreign.verdict.message);
    fixes.push(foreign.verdict.fix);
  } else if (foreign) {
    ctx.note(h.host, foreign.verdict.why);
  }
  if (problems.length > 0) {
    const e: OshaError = { host: h.host, message: problems.join('; ') };
    if (fixes.length) e.fix = fixes.join('; ');
    return err(e);
  }
  return ok([]);
}
