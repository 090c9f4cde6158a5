// Steps for the Pacemaker resource set: the secret files the resources read, then the resource
// set itself, applied with Pacemaker's own XML tools as a compare-and-swap patch (src/cluster).
import type { Action, HostPlan, Step, StepContext } from '../runner/types.ts';
import { commandAction, eachHost, hostHandle, planEachHost, fileFact, liveCib, liveStatus, runNote, writeFileActions, waitFor, type HostHandle } from './common.ts';
import { FENCE_ID_PREFIX, GALERA_ID, HEARTBEAT_GALERA_AGENT, buildResourceModel, primitiveId, serviceResourceId } from '../cluster/build.ts';
import { changedConfigs, configServiceOf, managesCatalog, tokenValidators } from './openstack.ts';
import { applyModel, type CibTools } from '../cluster/apply.ts';
import { prepareClusterPlan, renderClusterPlan } from '../cluster/plan.ts';
import { keepLiveGaleraAgent, notInstalledProbes } from '../cluster/merge.ts';
import { galeraClusterAddress } from '../render/node-files.ts';
import { parseSimulation, type Simulation } from '../cluster/transition.ts';
import { adoptionFrom } from '../cluster/existing.ts';
import { OPENSTACK_SERVICES, type OpenStackService } from '../openstack/rewrites.ts';
import { clearOwed, readOwed, restartAction, restartRecord, CATALOG_HOLD, CREATED_PRIMITIVES, type CatalogHold } from './owed.ts';
import type { ObjectChange } from '../render/cib.ts';
import { notReady } from '../cluster/status.ts';
import { readClusterStatus, waitSettled } from '../facts/cluster.ts';
import type { ClusterStatus } from '../facts/status.ts';
import { isDirectory } from '../facts/host.ts';
import { OS_PASSWORD_FILE, fencePasswordFile } from '../cluster/catalog.ts';
import { heldByModel, holdingStopped, primitivesOf, topLevelOf, type ResourceModel } from '../model/resources.ts';
import { resolveSecret } from '../inventory/secrets.ts';
import type { SecretRef } from '../inventory/schema.ts';
import { err, ok, type Result } from '../util/result.ts';
import { count } from '../util/text.ts';
import { sh } from '../ssh/quote.ts';

/** The secrets resources read from files on every node (never from the CIB or a command line). */
function secretFiles(ctx: StepContext): { path: string; ref: SecretRef; field: string }[] {
  const out: { path: string; ref: SecretRef; field: string }[] = [];
  const pw = ctx.inv.openstack?.password;
  if (pw !== undefined) out.push({ path: OS_PASSWORD_FILE, ref: pw, field: 'openstack.password' });
  ctx.inv.stonith.devices.forEach((d, i) => {
    if (d.password !== undefined) out.push({ path: fencePasswordFile(d.name), ref: d.password, field: `stonith.devices[${i}].password` });
  });
  return out;
}

export const secretsFiles: Step = {
  name: 'secret-files',
  title: 'credentials the resources need, in 0600 root files on every node',
  async plan(ctx) {
    const wanted = secretFiles(ctx);
    const values: string[] = [];
    for (const w of wanted) {
      const v = await resolveSecret(w.ref, w.field);
      if (!v.ok) return new Map(ctx.hosts.map((h) => [h, v] as [string, HostPlan]));
      values.push(v.value);
    }
    return planEachHost(ctx, async (h) => {
      const actions: Action[] = [];
      if (wanted.length > 0) {
        // Planning only looks: the directory is made by an action, when it is missing.
        const dir = await isDirectory(h.c, '/etc/osha');
        if (!dir.ok) return dir;
        if (!dir.value) actions.push(commandAction(h, 'create /etc/osha (mode 0700 root)', 'mkdir -p -m 0700 /etc/osha'));
      }
      for (const [i, w] of wanted.entries()) {
        // Read through sudo like any file; only compared, never printed.
        const cur = await fileFact(ctx, h, w.path);
        if (!cur.ok) return cur;
        actions.push(...writeFileActions(h, w.path, cur.value, `${values[i]}\n`, { mode: 0o600, owner: 'root', group: 'root', secret: true }));
      }
      return ok(actions);
    });
  },
};

/** Pacemaker's XML tools on one node, over the existing SSH connection (stdin carries the XML). */
export function cibTools(h: HostHandle, settleTimeoutS: number, signal?: AbortSignal): CibTools {
  const runXml = async (command: string, stdin?: string) => h.c.exec(command, { stdin, timeoutMs: 120_000 });
  return {
    async query() {
      const r = await runXml('cibadmin --query');
      if (!r.ok) return r;
      return r.value.code === 0 ? ok(r.value.stdout) : err({ host: h.host, message: `cibadmin --query failed: ${r.value.stderr.trim()}` });
    },
    async verify(xml) {
      const r = await runXml('crm_verify --xml-pipe', xml);
      if (!r.ok) return r;
      return r.value.code === 0 ? ok(undefined) : err({ host: h.host, message: (r.value.stderr || r.value.stdout).trim() });
    },
    async diff(original, desired) {
      // Both documents travel on stdin, one base64 line each, into a private temp dir.
      const payload = `${Buffer.from(original).toString('base64')}\n${Buffer.from(desired).toString('base64')}\n`;
      const script =
        'd=$(mktemp -d) || exit 90; trap \'rm -rf "$d"\' EXIT; read -r a; read -r b; ' +
        'printf %s "$a" | base64 -d > "$d/a"; printf %s "$b" | base64 -d > "$d/b"; crm_diff --original "$d/a" --new "$d/b"';
      const r = await runXml(script, payload);
      if (!r.ok) return r;
      if (r.value.code === 0) return ok(undefined);
      if (r.value.code === 1 && r.value.stdout.includes('<diff')) return ok(r.value.stdout);
      return err({ host: h.host, message: `crm_diff failed (exit ${r.value.code}): ${r.value.stderr.trim()}` });
    },
    async patch(xml) {
      const r = await runXml('cibadmin --patch --xml-pipe', xml);
      if (!r.ok) return r;
      return ok({ code: r.value.code, stderr: r.value.stderr });
    },
    settle: () => waitSettled(h.c, settleTimeoutS, signal),
  };
}

/** One look: ok when every osha resource is started, else an error naming the ones that are not. */
export async function resourcesStarted(h: HostHandle, model: ResourceModel): Promise<Result<void>> {
  return startedIn(h, await readClusterStatus(h.c), model);
}

function startedIn(h: HostHandle, s: Result<ClusterStatus>, model: ResourceModel): Result<void> {
  if (!s.ok) return s;
  const missing = notReady(s.value, model);
  return missing.length === 0 ? ok(undefined) : err({ host: h.host, message: missing.map((m) => `${m.id}: ${m.why}`).join('; ') });
}

/** Waits until every osha resource is started; the error names the ones that are not. */
export async function waitForResources(ctx: StepContext, h: HostHandle, model: ResourceModel): Promise<Result<void>> {
  const refreshed = await refreshNotInstalled(ctx, h);
  if (!refreshed.ok) return refreshed;
  const r = await waitFor(() => resourcesStarted(h, model), ctx.options.settleTimeoutMs, 500, ctx.signal);
  return r.ok ? r : err({ host: h.host, message: `resources not all started after ${ctx.options.settleTimeoutMs / 1000} s: ${r.error.message}` });
}

/**
 * Probes that found an agent missing on a node (it joined before the agents step reached it) are
 * probed again, now that the agents are there: else Pacemaker keeps that node out for them.
 */
async function refreshNotInstalled(ctx: StepContext, h: HostHandle): Promise<Result<void>> {
  const cib = await h.c.exec('cibadmin --query', { timeoutMs: 120_000 });
  if (!cib.ok) return cib;
  for (const { resource, node } of cib.value.code === 0 ? notInstalledProbes(cib.value.stdout) : []) {
    ctx.log(`${resource} on ${node}: its last probe found no agent there; probed again`);
    const r = await h.c.run(sh`crm_resource --refresh --resource ${resource} --node ${node}`);
    if (!r.ok) return r;
  }
  return ok(undefined);
}

/**
 * Per config family, the nodes whose rewritten files a running resource has not read yet: rewritten
 * in this run, or recorded there by a run cut short before its restart (src/steps/owed.ts).
 */
async function owedConfigRestarts(ctx: StepContext): Promise<Result<Map<OpenStackService, Set<string>>>> {
  const out = new Map<OpenStackService, Set<string>>();
  const add = (family: OpenStackService, host: string) => out.set(family, (out.get(family) ?? new Set()).add(host));
  for (const entry of changedConfigs(ctx)) {
    const [family, host] = entry.split(' ') as [OpenStackService, string];
    add(family, host);
  }
  // Every node at once: one round trip in all, not one after another.
  const owed = await eachHost(ctx, (h) => readOwed(ctx, h));
  for (const [i, o] of owed.entries()) {
    if (!o.ok) return o;
    for (const family of OPENSTACK_SERVICES) if (o.value.has(restartRecord(family))) add(family, ctx.hosts[i]!);
  }
  return ok(out);
}

/**
 * Restarts of the resources that run (in `running`, the live CIB's primitive ids) and read a
 * rewritten config, then one action clearing every restart record: a resource that starts with
 * this patch reads the new file anyway, and a family no resource reads owes nothing. A clone
 * restarts only on the nodes whose file changed and where it runs now (a controller added to an
 * active-active cluster restarts nothing on the others), each alone while the other nodes serve.
 */
function configRestarts(ctx: StepContext, h: HostHandle, model: ResourceModel, owed: Map<OpenStackService, Set<string>>, running: Set<string>, status: ClusterStatus | undefined): Action[] {
  if (owed.size === 0) return [];
  const ids = new Set(primitivesOf(model.resources).map((p) => p.id));
  const why = 'its config now points at the VIP';
  const restarts: Action[] = ctx.inv.services.flatMap((s) => {
    const family = configServiceOf(s);
    const hosts = family && owed.get(family);
    if (!hosts || !ids.has(primitiveId(s)) || !running.has(primitiveId(s))) return [];
    if (!isClone(model, serviceResourceId(ctx.inv, s))) return [restartAction(ctx, h, s, why, `${s} is down while it restarts`)];
    const runsOn = new Set(status?.resources.get(primitiveId(s))?.nodes ?? []);
    return ctx.inv.nodes.filter((n) => hosts.has(n.name) && runsOn.has(n.name)).map((n) => restartAction(ctx, h, s, why, undefined, n.name));
  });
  const records = [...owed.keys()].map(restartRecord);
  const clear: Action = {
    summary: `clear the restart records (${[...owed.keys()].join(', ')}) on every node`,
    apply: async () => {
      const cleared = await eachHost(ctx, (hh) => clearOwed(ctx, hh, records));
      return cleared.find((r) => !r.ok) ?? ok(undefined);
    },
  };
  return [...restarts, clear];
}

/** Whether the model's resource of this id is a clone. */
function isClone(model: ResourceModel, id: string): boolean {
  return model.resources.some((r) => r.kind === 'clone' && r.id === id);
}

/**
 * Why applying this CIB change interrupts service, or undefined: resources deleted, or anything
 * running that Pacemaker predicts to stop, move or restart (crm_simulate).
 */
export function disruptionOf(changes: readonly ObjectChange[], simulation: Simulation | undefined): string | undefined {
  const deleted = changes.filter((c) => c.change === 'remove' && ['primitive', 'group', 'clone'].includes(c.tag) && !c.id.startsWith(FENCE_ID_PREFIX)).map((c) => c.id);
  // A fence device restarting (its parameters changed) or deleted (its node left) interrupts no
  // service: fencing works from the CIB's device definitions whether their monitors run or not.
  const stopping = (simulation?.actions ?? [])
    .filter((a) => !['start', 'promote', 'monitor'].includes(a.action) && !a.resource.startsWith(FENCE_ID_PREFIX))
    .map((a) => `${a.action} ${a.resource}`);
  const why = [...(deleted.length ? [`deletes ${deleted.join(', ')}`] : []), ...(stopping.length ? [`Pacemaker predicts: ${stopping.join(', ')}`] : [])];
  return why.length ? why.join('; ') : undefined;
}

export const resources: Step = {
  name: 'resources',
  title: 'the VIP and the OpenStack services under Pacemaker, as the inventory says',
  needsAllHosts: true,
  async plan(ctx) {
    // The CIB is one for the cluster: one node reads it and applies the patch for all.
    const host = ctx.hosts[0]!;
    const single = (p: HostPlan) => new Map([[host, p]]);
    const hh = await hostHandle(ctx, host);
    if (!hh.ok) return single(hh);
    const h = hh.value;
    const tools = cibTools(h, Math.round(ctx.options.settleTimeoutMs / 1000), ctx.signal);
    // The status is read with the CIB, in parallel: a no-op re-run needs both. When nothing was
    // applied since, the CIB is the one preflight read (liveCib) and the status cluster-start's (liveStatus).
    const [read, status] = await Promise.all([liveCib(ctx, h), liveStatus(ctx, h)]);
    const live = read.ok ? read.value : undefined;
    // Hand-made resources doing osha's jobs, as the inventory decided (preflight refused the rest).
    const adopted = adoptionFrom(ctx.inv, live);
    if (!adopted.ok) return single(err({ ...adopted.error, host }));
    const galera = keepLiveGaleraAgent(live, buildResourceModel(ctx.inv, adopted.value.adoption), GALERA_ID, HEARTBEAT_GALERA_AGENT, galeraClusterAddress(ctx.inv));
    const hold = catalogHold(ctx, galera.model, live);
    const model = hold?.model ?? galera.model;
    if (hold) {
      ctx.shared.set(CATALOG_HOLD, hold.note);
      ctx.note(host, `${hold.note.services.join(', ')}: created stopped (target-role=Stopped on ${hold.note.units.join(', ')}); keystone-endpoints starts them once the identity endpoints are on the VIP, so that their first start reads them and none restarts for it`);
    }
    if (galera.kept) ctx.note(host, `Galera keeps ocf:heartbeat:galera while its nodes stay the same; the next change of nodes moves it to osha's ocf:openstack:galera (one restart of every instance, shown then), after which a node added or removed restarts no Galera`);
    // A dry run on bare nodes has no cluster yet: plan against an empty CIB of these nodes.
    const plan = prepareClusterPlan(ctx.inv, model, live);
    if (!plan.ok) return single(err({ ...plan.error, host }));
    if (live !== undefined && plan.value.desired.trimEnd() === live.trimEnd()) {
      // Nothing to change; still make sure what osha owns is running (a re-run repairs).
      // Exactly one look (a 1 ms waitFor could time out before its first check on a busy host).
      const started = startedIn(h, status, model);
      const owed = await owedConfigRestarts(ctx);
      if (!owed.ok) return single(owed);
      if (started.ok) return single(ok(configRestarts(ctx, h, model, owed.value, new Set(primitivesOf(model.resources).map((p) => p.id)), status.ok ? status.value : undefined)));
      return single(ok([{ summary: `wait until every osha resource is started (now: ${started.error.message})`, apply: () => waitForResources(ctx, h, model) }]));
    }
    let simulation;
    const sim = await h.c.exec('crm_simulate --simulate --xml-pipe --output-as=xml', { stdin: plan.value.desired, timeoutMs: 60_000 });
    if (sim.ok && sim.value.code === 0) {
      const parsed = parseSimulation(sim.value.stdout);
      if (parsed.ok) simulation = parsed.value;
    }
    const text = renderClusterPlan(ctx.inv, model, plan.value, simulation);
    const disruptive = disruptionOf(plan.value.changes, simulation);
    const action: Action = {
      ...(disruptive ? { disruptive } : {}),
      summary: `patch the CIB: ${count(plan.value.changes.length, 'osha object change')} (crm_verify, crm_diff, cibadmin --patch), then wait until every osha resource is started`,
      diff: text,
      apply: async () => {
        const applied = await applyModel(tools, model);
        if (!applied.ok) return err({ ...applied.error, host });
        if (applied.value.removed.length) ctx.log(`removed: ${applied.value.removed.join(', ')}`);
        if (applied.value.retries) ctx.log(`CIB changed meanwhile ${count(applied.value.retries, 'time')}: re-read and retried`);
        return waitForResources(ctx, h, model);
      },
    };
    // Resources that already run and read a rewritten config restart after the patch.
    const owed = await owedConfigRestarts(ctx);
    if (!owed.ok) return single(owed);
    const running = new Set(live !== undefined ? primitiveIdsIn(live) : []);
    const created = runNote<string>(ctx, CREATED_PRIMITIVES);
    for (const p of primitivesOf(model.resources)) if (!running.has(p.id)) created.add(p.id);
    return single(ok([action, ...configRestarts(ctx, h, model, owed.value, running, status.ok ? status.value : undefined)]));
  },
};

/**
 * The hold of CATALOG_HOLD (src/steps/owed.ts): on a first deploy of the APIs that validate tokens
 * (none of them in the CIB yet), when this run's keystone-endpoints step moves the catalog, their
 * clones or groups are created stopped, unless that would keep anything that runs now from
 * running. Otherwise undefined: nothing is held.
 */
function catalogHold(ctx: StepContext, model: ResourceModel, liveCib: string | undefined): { model: ResourceModel; note: CatalogHold } | undefined {
  if (!ctx.laterSteps.includes('keystone-endpoints') || !managesCatalog(ctx.inv)) return undefined;
  const services = tokenValidators(ctx.inv).filter((s) => topLevelOf(model, primitiveId(s)) !== undefined);
  if (services.length === 0) return undefined;
  const live = new Set(liveCib ? primitiveIdsIn(liveCib) : []);
  if (services.some((s) => live.has(primitiveId(s)))) return undefined;
  const units = [...new Set(services.map((s) => topLevelOf(model, primitiveId(s))!.id))];
  const held = holdingStopped(model, units);
  // Only what does not run yet: a group a new API joins (running agents in it), or a running
  // resource ordered after a held one, would stop until then, an interruption nobody confirmed.
  if ([...heldByModel(held)].some((id) => live.has(id))) return undefined;
  const release = (rctx: StepContext, h: HostHandle): Action => ({
    summary: `start ${units.join(', ')} (created stopped by the resources step): the identity endpoints they read at their start are on the VIP now`,
    apply: async () => {
      const applied = await applyModel(cibTools(h, Math.round(rctx.options.settleTimeoutMs / 1000), rctx.signal), model);
      if (!applied.ok) return err({ ...applied.error, host: h.host });
      return waitForResources(rctx, h, model);
    },
  });
  return { model: held, note: { services, units, release } };
}

/** Every primitive id in a CIB's configuration. */
function primitiveIdsIn(cibXml: string): string[] {
  return [...cibXml.matchAll(/<primitive [^>]*\bid="([^"]+)"/g)].map((m) => m[1]!);
}
