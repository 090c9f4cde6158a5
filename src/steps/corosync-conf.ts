// Step 6: corosync.conf rendered from the inventory on every node. On a running cluster a change
// is applied without losing quorum: reloaded where corosync allows it, otherwise one node is
// restarted at a time and must rejoin before the next one goes.
import type { Action, Step, StepContext } from '../runner/types.ts';
import { AUTHKEY_CHANGED, hostHandle, fileFact, planEachHost, runNote, writeFileActions, waitFor, type HostHandle } from './common.ts';
import { readClusterStatus, judgeFormed } from '../facts/cluster.ts';
import { COROSYNC_CONF, corosyncChangeKind, loadedChangeKind, nodelistChange, parseCorosyncConf, renderCorosyncConf, settingsToKeep, worstChange } from '../render/corosync.ts';
import { clusterIdentity, stackFacts } from './cluster-identity.ts';
import { assignNodeIds, type NodeIds } from '../cluster/nodeids.ts';
import { COROSYNC_RESTART, clearOwed, readOwed } from './owed.ts';
import { totemTuning } from '../cluster/profiles.ts';
import { err, ok, type Result } from '../util/result.ts';

export { stackFacts };

/** The node has rejoined: seen from itself, every node is online and the cluster is quorate. */
export function waitForCluster(ctx: StepContext, h: HostHandle, expected: string[]): Promise<Result<unknown>> {
  return waitFor(
    async () => {
      const s = await readClusterStatus(h.c);
      return s.ok ? judgeFormed(s.value, expected) : s;
    },
    ctx.options.settleTimeoutMs,
    250,
    ctx.signal,
  );
}

/**
 * Restarts one member, then waits until it is back among the other members. Nodes joining in
 * this run are not waited for: they start later, in cluster-start.
 */
function restartAction(ctx: StepContext, h: HostHandle, why: string, members: string[]): Action {
  const command = 'systemctl stop pacemaker && systemctl restart corosync && systemctl start pacemaker';
  return {
    summary: `restart corosync and pacemaker on ${h.host} (${why}), then wait until it rejoins with quorum`,
    disruptive: `resources running on ${h.host} stop there and move or wait while it restarts`,
    commands: [command],
    apply: async () => {
      const r = await h.c.run(command, { timeoutMs: 300_000 });
      if (!r.ok) return r;
      ctx.facts.forget(h.host, 'stack');
      const back = await waitForCluster(ctx, h, members);
      if (!back.ok) return err({ host: h.host, message: `did not rejoin within ${ctx.options.settleTimeoutMs / 1000} s: ${back.error.message}` });
      return ok(undefined);
    },
  };
}

/**
 * Old and new settings cannot share a membership: stop the stack everywhere, then start it
 * everywhere. Quorum is lost for those seconds; the plan says so before anyone applies it.
 */
function fullRestartAction(ctx: StepContext): Action {
  return {
    disruptive: 'the whole cluster stops: every service is down until it re-forms',
    summary: `restart corosync and pacemaker on all ${ctx.hosts.length} nodes together (the change splits old from new nodes; services pause until the cluster re-forms)`,
    commands: ['systemctl stop pacemaker corosync', 'systemctl start corosync pacemaker'],
    apply: async () => {
      const handles = await Promise.all(ctx.hosts.map((host) => hostHandle(ctx, host)));
      for (const step of ['systemctl stop pacemaker corosync', 'systemctl start corosync pacemaker']) {
        const results = await Promise.all(handles.map((h) => (h.ok ? h.value.c.run(step, { timeoutMs: 300_000 }) : Promise.resolve(h))));
        const failed = results.find((r) => !r.ok);
        if (failed && !failed.ok) return failed;
      }
      for (const h of handles) if (h.ok) ctx.facts.forget(h.value.host, 'stack');
      const first = handles[0];
      if (first?.ok) {
        const back = await waitForCluster(ctx, first.value, ctx.allHosts);
        if (!back.ok) return back;
      }
      // The restart a new authkey owed is done: clear its record everywhere.
      for (const h of handles) {
        if (!h.ok) continue;
        const cleared = await clearOwed(ctx, h.value, [COROSYNC_RESTART]);
        if (!cleared.ok) return cleared;
      }
      return ok(undefined);
    },
  };
}

export const corosyncConf: Step = {
  name: 'corosync-conf',
  title: 'corosync.conf from the inventory on every node, applied without losing quorum',
  needsAllHosts: true,
  sequential: true,
  async plan(ctx) {
    let reloadNeeded = false;
    let fullRestart = false;
    /** Hosts running corosync with osha's configuration: the cluster as it is now. */
    const members: string[] = [];
    const joining = new Set<string>();
    const leaving = new Set<string>();
    // Node ids are judged from every node's view before any file is rendered: an id, once
    // given, stays with its node (src/cluster/nodeids.ts).
    const identities = await planEachHost(ctx, async (h) => {
      const id = await clusterIdentity(ctx, h);
      return id.ok ? ok([]) : id;
    });
    const known: NodeIds[] = [];
    for (const host of ctx.hosts) {
      const h = await hostHandle(ctx, host);
      const id = h.ok ? await clusterIdentity(ctx, h.value) : undefined;
      if (id?.ok) known.push(id.value.ids);
    }
    const nodeIds = assignNodeIds(ctx.inv.nodes, known);
    // Facts are read on all hosts at once; the step's actions are then applied host by host.
    const plans = await planEachHost(ctx, async (h): Promise<Result<Action[]>> => {
      const host = h.host;
      const identified = identities.get(host);
      if (identified && !identified.ok) return identified;
      if (!nodeIds.ok) return err({ ...nodeIds.error, host });
      const identity = await clusterIdentity(ctx, h);
      if (!identity.ok) return identity;
      const stack = { ok: true as const, value: identity.value.stack };
      const major = stack.value.corosyncVersion?.startsWith('2.') ? 2 : 3;
      if (!stack.value.corosyncVersion) ctx.note(host, 'corosync not installed yet: planned for corosync 3');
      const tuning = totemTuning(ctx.inv.corosync.profile, ctx.inv.nodes.length, ctx.inv.corosync.token_timeout);
      // Settings osha does not choose are kept from the file a running cluster (osha's or adopted) uses.
      const kept = identity.value.ours || identity.value.foreign?.verdict.kind === 'adopt' ? settingsToKeep(parseCorosyncConf(identity.value.conf), ctx.inv) : undefined;
      const rendered = renderCorosyncConf({ inv: ctx.inv, major, timings: { ...tuning }, nodeIds: nodeIds.value, kept });
      if (!rendered.ok) return err({ ...rendered.error, host });
      const current = await fileFact(ctx, h, COROSYNC_CONF);
      if (!current.ok) return current;
      const before = current.value.content?.toString('utf8') ?? '';
      const actions: Action[] = [];
      const running = stack.value.corosyncActive;
      const foreign = identity.value.foreign;
      // Preflight refused anything else; a cluster being adopted is treated as osha's own below.
      if (foreign && foreign.verdict.kind === 'refuse') return err({ host, message: foreign.verdict.message, fix: foreign.verdict.fix });
      if (foreign?.verdict.kind === 'adopt') ctx.note(host, foreign.verdict.why);
      const ours = identity.value.ours || foreign?.verdict.kind === 'adopt';
      if (running && foreign?.verdict.kind === 'package-default') {
        const stop = 'systemctl stop pacemaker corosync && rm -f /var/lib/pacemaker/cib/cib*';
        actions.push({
          summary: `stop ${foreign.verdict.why} and drop its CIB`,
          disruptive: 'stops a running corosync and pacemaker (proven empty: the package default)',
          commands: [stop],
          apply: async () => {
            const r = await h.c.run(stop, { timeoutMs: 300_000 });
            ctx.facts.forget(host, 'stack');
            return r.ok ? ok(undefined) : r;
          },
        });
      }
      // corosync.conf holds no secret (the key is a separate file): show it unmasked.
      actions.push(...writeFileActions(h, COROSYNC_CONF, current.value, rendered.value, { mode: 0o644, backup: true, mask: (l) => l, after: () => ctx.facts.forget(host, `file:${COROSYNC_CONF}`) }));
      const keyChanged = runNote<string>(ctx, AUTHKEY_CHANGED).has(host);
      if (running && ours) {
        members.push(host);
        const fileKind = corosyncChangeKind(before, rendered.value, major);
        const loadedKind = stack.value.loaded ? loadedChangeKind(stack.value.loaded, rendered.value, major) : 'none';
        if (fileKind === 'none' && loadedKind !== 'none') {
          ctx.note(host, `corosync runs an older configuration than ${COROSYNC_CONF} (a run cut short before it was applied?): applying it now`);
        }
        const owed = await readOwed(ctx, h);
        if (!owed.ok) return owed;
        const owesRestart = owed.value.has(COROSYNC_RESTART);
        if (owesRestart && !keyChanged) ctx.note(host, 'a new authkey was installed by a run cut short before corosync restarted: restarting now');
        const kind = keyChanged || owesRestart ? 'full' : worstChange(fileKind, loadedKind);
        const nodes = nodelistChange(before, rendered.value);
        nodes.added.forEach((n) => joining.add(n));
        nodes.removed.forEach((n) => leaving.add(n));
        if (kind === 'rolling') actions.push(restartAction(ctx, h, 'this change needs a restart', members));
        if (kind === 'reload') reloadNeeded = true;
        if (kind === 'full') fullRestart = true;
      }
      return ok(actions);
    });
    // One reload after every member has the new file: corosync-cfgtool -R reloads the whole
    // running cluster, so it runs on the last member (a joining node runs no corosync yet).
    const last = ctx.hosts[ctx.hosts.length - 1];
    const lastPlan = last ? plans.get(last) : undefined;
    // Planning ran on all hosts at once: take the last member in the order actions are applied.
    const lastMember = ctx.hosts.filter((host) => members.includes(host)).at(-1);
    const memberPlan = lastMember ? plans.get(lastMember) : undefined;
    if (fullRestart && last && lastPlan?.ok) {
      lastPlan.value.push(fullRestartAction(ctx));
    } else if (reloadNeeded && lastMember && memberPlan?.ok) {
      const h = await hostHandle(ctx, lastMember);
      const membership = [
        ...(joining.size ? [`${[...joining].join(', ')} join${joining.size === 1 ? 's' : ''} the nodelist (cluster-start then starts ${joining.size === 1 ? 'it' : 'them'})`] : []),
        ...(leaving.size ? [`${[...leaving].join(', ')} leave${leaving.size === 1 ? 's' : ''} it (once stopped, cluster-start drops ${leaving.size === 1 ? 'it' : 'them'} from Pacemaker's node list)`] : []),
      ];
      if (h.ok) {
        memberPlan.value.push({
          summary: `reload corosync.conf on every running node (corosync-cfgtool -R), no restart needed${membership.length ? `; ${membership.join('; ')}` : ''}`,
          commands: ['corosync-cfgtool -R'],
          apply: async () => {
            const r = await h.value.c.run('corosync-cfgtool -R');
            return r.ok ? ok(undefined) : r;
          },
        });
      }
    }
    return plans;
  },
};
