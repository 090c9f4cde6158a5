// Steps that point OpenStack at the VIP: config rewrites on every node (src/openstack does the
// pure planning; this file reads and writes over SSH) and keystone endpoints on the VIP.
import type { Action, HostPlan, Step, StepContext } from '../runner/types.ts';
import { configFamilyOf, type ServiceName } from '../services/registry.ts';
import type { Inventory } from '../inventory/schema.ts';
import { hostHandle, planEachHost, runNote, type HostHandle } from './common.ts';
import { decodeConfig, type FileStep } from '../openstack/backup.ts';
import { controllerAliases, pathsToRead, planNodeConfig, type ConfigFacts } from '../openstack/node-config.ts';
import type { OpenStackService } from '../openstack/rewrites.ts';
import { CATALOG, desiredEndpoints, describeEndpointOp, endpointArgv, parseEndpointList, planEndpoints, regionMismatches, type EndpointOp } from '../openstack/endpoints.ts';
import { OS_PASSWORD_FILE } from '../cluster/catalog.ts';
import { primitiveId, VIP_ID } from '../cluster/build.ts';
import { sh } from '../ssh/quote.ts';
import { err, ok, type Result } from '../util/result.ts';
import { count } from '../util/text.ts';
import { clearOwed, oweAction, restartAction, restartRecord, CREATED_PRIMITIVES } from './owed.ts';

/** Which config family each cluster service reads (its registry config file's family). */
export function configServiceOf(s: ServiceName): OpenStackService | undefined {
  return configFamilyOf(s);
}

/** Run-wide record of services whose config this run changes (their resources restart). */
export const CONFIG_CHANGED = 'openstack-config-changed';

export function changedConfigServices(ctx: StepContext): Set<OpenStackService> {
  return runNote<OpenStackService>(ctx, CONFIG_CHANGED);
}

/** Carries out file steps from src/openstack/backup.ts: writes keep the owner and mode of `modeFrom`. */
export async function applyFileSteps(h: HostHandle, steps: readonly FileStep[]): Promise<Result<void>> {
  for (const s of steps) {
    if (s.kind === 'remove') {
      const r = await h.c.run(sh`rm -f -- ${s.path}`);
      if (!r.ok) return r;
      continue;
    }
    const st = await h.c.run(sh`stat -c '%a %U %G' -- ${s.modeFrom}`);
    if (!st.ok) return st;
    const [mode = '640', owner = 'root', group = 'root'] = st.value.stdout.trim().split(' ');
    const up = await h.c.upload(s.path, s.content, { mode: parseInt(mode, 8), owner, group });
    if (!up.ok) return up;
  }
  return ok(undefined);
}

/** Reads a service's config files and their osha backups on a node (absent files are skipped). */
async function readConfigFacts(h: HostHandle, service: OpenStackService): Promise<Result<ConfigFacts>> {
  const facts: Record<string, { content: string; backup: string | undefined }> = {};
  for (const p of pathsToRead(service)) {
    const file = await h.c.readFile(p.file);
    if (!file.ok) return file;
    if (file.value === undefined) continue;
    const text = decodeConfig(p.file, file.value);
    if (!text.ok) return err({ ...text.error, host: h.host });
    const backup = await h.c.readFile(p.backup);
    if (!backup.ok) return backup;
    facts[p.file] = { content: text.value, backup: backup.value?.toString('utf8') };
  }
  return ok(facts);
}

export const openstackConfig: Step = {
  name: 'openstack-config',
  title: 'OpenStack configs on every node point at the VIP (backups kept as FILE.osha-orig)',
  plan(ctx) {
    const services = [...new Set(ctx.inv.services.map(configServiceOf).filter((s): s is OpenStackService => s !== undefined))];
    const changed = changedConfigServices(ctx);
    return planEachHost(ctx, async (h): Promise<HostPlan> => {
      const actions: Action[] = [];
      // The install guide names the controller by a host name (`controller` in /etc/hosts):
      // a name this node resolves to a cluster node's address means the controller too.
      let localHosts: string[] = [];
      if (services.length > 0) {
        const hosts = await h.c.readFile('/etc/hosts');
        if (!hosts.ok) return hosts;
        const aliases = controllerAliases(hosts.value?.toString('utf8') ?? '', ctx.inv);
        localHosts = [...aliases.keys()];
        for (const [name, address] of aliases) {
          const node = ctx.inv.nodes.find((n) => n.address.toLowerCase() === address.toLowerCase())!;
          ctx.note(h.host, `/etc/hosts resolves "${name}" to ${address} (${node.name}): options naming ${name} are pointed at the VIP too`);
        }
      }
      for (const service of services) {
        const facts = await readConfigFacts(h, service);
        if (!facts.ok) return facts;
        if (Object.keys(facts.value).length === 0) {
          ctx.note(h.host, `${service}: no config file on this node (not installed here), nothing to rewrite`);
          continue;
        }
        const plan = planNodeConfig(ctx.inv, service, facts.value, { localHosts });
        if (!plan.ok) return err({ ...plan.error, host: h.host });
        for (const n of plan.value.notes) ctx.note(h.host, `${service}: ${n}`);
        if (plan.value.steps.length === 0) continue;
        changed.add(service);
        // Recorded before the write: a run cut short after it still restarts the service next time.
        actions.push(oweAction(ctx, h, restartRecord(service), `${service} owes a restart to read its rewritten config`));
        actions.push({
          summary: `point ${plan.value.changedFiles.join(', ')} at the VIP (${count(plan.value.entries.length, 'option')})`,
          diff: plan.value.diff,
          apply: () => applyFileSteps(h, plan.value.steps),
        });
      }
      return ok(actions);
    });
  },
};

/** The shell prefix that loads admin credentials into the environment (never onto argv). */
export function credentialsEnv(inv: Inventory): string {
  const os = inv.openstack!;
  const authUrl = os.auth_url ?? `http://${inv.vip.address.includes(':') ? `[${inv.vip.address}]` : inv.vip.address}:5000/v3`;
  return [
    sh`export OS_AUTH_URL=${authUrl} OS_USERNAME=${os.username} OS_PROJECT_NAME=${os.project}`,
    sh`export OS_USER_DOMAIN_NAME=${os.user_domain} OS_PROJECT_DOMAIN_NAME=${os.project_domain} OS_IDENTITY_API_VERSION=3 OS_INTERFACE=internal`,
    sh`OS_PASSWORD=$(cat ${OS_PASSWORD_FILE}) || exit 1; export OS_PASSWORD`,
    // The catalog may still send clients of keystone elsewhere (a first deploy over a catalog on a
    // node's own address is what moves it): talk to keystone at the auth URL itself, with a token.
    'OS_TOKEN=$(openstack token issue -f value -c id) || exit 1',
    'export OS_TOKEN OS_ENDPOINT="$OS_AUTH_URL" OS_AUTH_TYPE=admin_token',
    'unset OS_PASSWORD OS_AUTH_URL OS_USERNAME OS_PROJECT_NAME OS_USER_DOMAIN_NAME OS_PROJECT_DOMAIN_NAME',
  ].join('\n');
}

export const keystoneEndpoints: Step = {
  name: 'keystone-endpoints',
  title: 'keystone catalog endpoints on the VIP, each exactly once',
  needsAllHosts: true,
  async plan(ctx) {
    const first = ctx.hosts[0]!;
    const single = (p: HostPlan) => new Map([[first, p]]);
    const desired = desiredEndpoints(ctx.inv);
    if (!ctx.inv.services.includes('keystone') || desired.length === 0) return single(ok([]));
    if (!ctx.inv.openstack?.password) {
      ctx.note(first, 'keystone endpoints not managed: the inventory has no openstack.password');
      return single(ok([]));
    }
    // Ask where keystone runs (the VIP's node); the client talks to keystone through the VIP.
    const hh = await hostHandle(ctx, first);
    if (!hh.ok) return single(hh);
    const where = await hh.value.c.exec(sh`crm_resource --locate --resource ${primitiveId('keystone')} 2>/dev/null || crm_resource --locate --resource ${VIP_ID}`);
    const node = where.ok ? (where.value.stdout.match(/running on: (\S+)/)?.[1] ?? first) : first;
    const h = await hostHandle(ctx, ctx.hosts.includes(node) ? node : first);
    if (!h.ok) return single(h);
    const list = await h.value.c.exec(`${credentialsEnv(ctx.inv)}\nopenstack endpoint list -f json`, { timeoutMs: 120_000 });
    if (!list.ok) return new Map([[h.value.host, list]]);
    if (list.value.code !== 0) {
      // Before the resource set exists (a first dry run) keystone cannot answer yet: say so.
      if (ctx.options.dryRun) {
        ctx.note(h.value.host, `keystone endpoints: cannot list them yet (${list.value.stderr.trim().split('\n').pop()}); deploy will create/update them on the VIP`);
        return new Map([[h.value.host, ok([])]]);
      }
      return new Map([[h.value.host, err({ host: h.value.host, message: `openstack endpoint list failed: ${list.value.stderr.trim().split('\n').slice(-3).join(' ')}`, fix: 'check openstack.username/project/password and that python3-openstackclient is installed on the nodes' })]]);
    }
    let json: unknown;
    try {
      json = JSON.parse(list.value.stdout);
    } catch {
      return new Map([[h.value.host, err({ host: h.value.host, message: 'openstack endpoint list printed no JSON' })]]);
    }
    const current = parseEndpointList(json);
    if (!current.ok) return new Map([[h.value.host, err({ ...current.error, host: h.value.host })]]);
    for (const w of regionMismatches(current.value, desired)) ctx.note(h.value.host, w);
    const ops = planEndpoints(current.value, desired);
    const actions: Action[] = ops.map((op) => {
      const command = `${credentialsEnv(ctx.inv)}\n${sh`${endpointArgv(op)}`}`;
      return {
        summary: describeEndpointOp(op),
        commands: [sh`${endpointArgv(op)}`],
        apply: async () => {
          const r = await h.value.c.run(command, { timeoutMs: 120_000 });
          return r.ok ? ok(undefined) : r;
        },
      };
    });
    const restarts = catalogRestarts(ctx, h.value, ops);
    return new Map([[h.value.host, ok([...restarts.before, ...actions, ...restarts.after])]]);
  },
};

/**
 * After the identity endpoints move, the APIs that validate tokens still hold the catalog they
 * read at their start (a first deploy over a catalog on a node's own address): each restarts once.
 * Recorded first (src/steps/owed.ts), so a run cut short restarts them on the next run. A resource
 * this run created only just started: its restart interrupts nobody.
 */
function catalogRestarts(ctx: StepContext, h: HostHandle, ops: readonly EndpointOp[]): { before: Action[]; after: Action[] } {
  const none = { before: [], after: [] };
  if (!ops.some((op) => op.serviceType === 'identity')) return none;
  const created = runNote<string>(ctx, CREATED_PRIMITIVES);
  const validators = ctx.inv.services.filter((s) => s !== 'keystone' && CATALOG[s] !== undefined && configServiceOf(s) !== undefined);
  if (validators.length === 0) return none;
  const families = [...new Set(validators.map((s) => configServiceOf(s)!))];
  const before = families.map((f) => oweAction(ctx, h, restartRecord(f), `${f} owes a restart to read the moved identity endpoints`));
  const after: Action[] = [
    ...validators.map((s) =>
      restartAction(ctx, h, s, 'it validates tokens through the identity endpoints it read at its start', created.has(primitiveId(s)) ? undefined : `${s} is down while it restarts`),
    ),
    {
      summary: `clear the restart records (${families.join(', ')})`,
      apply: () => clearOwed(ctx, h, families.map(restartRecord)),
    },
  ];
  return { before, after };
}

