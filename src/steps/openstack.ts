// Steps that point OpenStack at the VIP: config rewrites on every node (src/openstack does the
// pure planning; this file reads and writes over SSH) and keystone endpoints on the VIP.
import type { Action, HostPlan, Step, StepContext } from '../runner/types.ts';
import { configFamilyOf, configFileEntry, type ServiceName } from '../services/registry.ts';
import { hostHandle, planEachHost, runNote, type HostHandle } from './common.ts';
import { decodeConfig, type FileStep } from '../openstack/backup.ts';
import { controllerAliases, pathsToRead, planNodeConfig, type ConfigFacts, type ConfigFileFact } from '../openstack/node-config.ts';
import { SERVICE_CONFIG_FILES, settingsToMove, type OpenStackService, type RewriteOptions } from '../openstack/rewrites.ts';
import type { Inventory } from '../inventory/schema.ts';
import { CATALOG, desiredEndpoints, parseCatalog, planEndpoints, regionMismatches, type EndpointOp } from '../openstack/endpoints.ts';
import { endpointCall, KEYSTONE_COMMAND, KEYSTONE_UNREACHABLE, keystoneAuth, keystoneStdin, showCall, type KeystoneAuth, type KeystoneCall } from '../openstack/keystone-api.ts';
import { OS_PASSWORD_FILE } from '../cluster/catalog.ts';
import { primitiveId, VIP_ID } from '../cluster/build.ts';
import { sh } from '../ssh/quote.ts';
import { readFiles, readFilesAnd } from '../facts/files.ts';
import { err, ok, type OshaError, type Result } from '../util/result.ts';
import { count } from '../util/text.ts';
import { clearOwed, oweAction, restartAction, restartRecord, CATALOG_HOLD, CREATED_PRIMITIVES, type CatalogHold } from './owed.ts';

/** Which config family each cluster service reads (its registry config file's family). */
export function configServiceOf(s: ServiceName): OpenStackService | undefined {
  return configFamilyOf(s);
}

/** The services besides keystone that validate tokens through the catalog's identity endpoints. */
export function tokenValidators(inv: Inventory): ServiceName[] {
  return inv.services.filter((s) => s !== 'keystone' && CATALOG[s] !== undefined && configServiceOf(s) !== undefined);
}

/** Whether keystone-endpoints manages this inventory's catalog (else it only says why not). */
export function managesCatalog(inv: Inventory): boolean {
  return inv.services.includes('keystone') && desiredEndpoints(inv).length > 0 && Boolean(inv.openstack?.password);
}

/** Run-wide record of the configs this run changes, as "family host" (their resources restart there). */
export const CONFIG_CHANGED = 'openstack-config-changed';

export function changedConfigs(ctx: StepContext): Set<`${OpenStackService} ${string}`> {
  return runNote<`${OpenStackService} ${string}`>(ctx, CONFIG_CHANGED);
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

/**
 * Builds a service's config facts from files already read (absent files are skipped): each
 * config with its osha backup, decoded as the service reads it.
 */
function configFacts(h: HostHandle, service: OpenStackService, files: Map<string, Buffer | undefined>, backups: ReadonlySet<string>): Result<ConfigFacts> {
  const facts: Record<string, ConfigFileFact> = {};
  for (const p of pathsToRead(service)) {
    const file = files.get(p.file);
    if (file === undefined) continue;
    const text = decodeConfig(p.file, file);
    if (!text.ok) return err({ ...text.error, host: h.host });
    facts[p.file] = { content: text.value, hasBackup: backups.has(p.backup) };
  }
  return ok(facts);
}

const BACKUP_LINE = 'backup ';

/**
 * Prints `backup PATH` for each of these backups that exists. Planning needs no more: a backup is
 * never overwritten, so its content would be read (as large as the config) for nothing.
 */
function existingBackupsScript(paths: readonly string[]): string {
  return sh`for b in ${[...paths]}; do if [ -f "$b" ]; then echo ${BACKUP_LINE}"$b"; fi; done`;
}

/** The directories a family's daemons also read (the registry's alsoRead), each with the file it follows. */
function alsoReadDirs(service: OpenStackService): { dir: string; file: string }[] {
  return SERVICE_CONFIG_FILES[service].flatMap((file) => (configFileEntry(file)?.alsoRead ?? []).map((dir) => ({ dir, file })));
}

/** Lists the *.conf files of these directories, one path per line (none when a directory is missing). */
function listConfScript(dirs: readonly { dir: string }[]): string {
  if (dirs.length === 0) return '';
  return sh`for d in ${dirs.map((d) => d.dir)}; do for f in "$d"/*.conf; do if [ -f "$f" ]; then echo "$f"; fi; done; done`;
}

/**
 * What the files of a family's extra directories set that osha moves to the VIP in the family's
 * own file: osha leaves those files alone (they are the operator's), so it says which to change.
 * Reads them in one more round trip, only when there are any.
 */
async function dirNotes(h: HostHandle, inv: Inventory, service: OpenStackService, dirFiles: readonly string[], options: RewriteOptions): Promise<Result<string[]>> {
  const mine = alsoReadDirs(service).flatMap(({ dir, file }) => dirFiles.filter((f) => f.startsWith(`${dir}/`)).map((path) => ({ path, dir, file })));
  if (mine.length === 0) return ok([]);
  const read = await readFiles(h.c, mine.map((m) => m.path));
  if (!read.ok) return read;
  const notes: string[] = [];
  for (const m of mine) {
    const text = decodeConfig(m.path, read.value.get(m.path) ?? Buffer.alloc(0));
    if (!text.ok) return err({ ...text.error, host: h.host });
    const moved = settingsToMove(inv, service, m.file, text.value, options);
    if (!moved.ok) return err({ ...moved.error, host: h.host });
    if (moved.value.length > 0) {
      notes.push(`${m.path} sets ${moved.value.join(', ')} to a node's own address; osha moves these to the VIP in ${m.file} but leaves ${m.dir} as it is, and ${service}'s daemons read it too (Debian's --config-dir): point them at the VIP there`);
    }
  }
  return ok(notes);
}

export const openstackConfig: Step = {
  name: 'openstack-config',
  title: 'OpenStack configs on every node point at the VIP (backups kept as FILE.osha-orig)',
  plan(ctx) {
    const services = [...new Set(ctx.inv.services.map(configServiceOf).filter((s): s is OpenStackService => s !== undefined))];
    const changed = changedConfigs(ctx);
    return planEachHost(ctx, async (h): Promise<HostPlan> => {
      const actions: Action[] = [];
      // The install guide names the controller by a host name (`controller` in /etc/hosts):
      // a name this node resolves to a cluster node's address means the controller too.
      let localHosts: string[] = [];
      // Every file this step looks at, in one round trip: /etc/hosts and each config, which of their
      // backups exist, and the names of the *.conf files in the directories the services also read.
      const configs = services.flatMap((svc) => pathsToRead(svc));
      const dirs = services.flatMap((svc) => alsoReadDirs(svc));
      const script = [existingBackupsScript(configs.map((p) => p.backup)), listConfScript(dirs)].filter((s) => s !== '').join('\n');
      const read = services.length > 0 ? await readFilesAnd(h.c, ['/etc/hosts', ...configs.map((p) => p.file)], script) : ok({ files: new Map<string, Buffer | undefined>(), output: '' });
      if (!read.ok) return read;
      const files = read.value.files;
      const lines = read.value.output.split('\n');
      const dirFiles = lines.filter((l) => l.startsWith('/'));
      const backups = new Set(lines.filter((l) => l.startsWith(BACKUP_LINE)).map((l) => l.slice(BACKUP_LINE.length)));
      if (services.length > 0) {
        const aliases = controllerAliases(files.get('/etc/hosts')?.toString('utf8') ?? '', ctx.inv);
        localHosts = [...aliases.keys()];
        for (const [name, address] of aliases) {
          const node = ctx.inv.nodes.find((n) => n.address.toLowerCase() === address.toLowerCase())!;
          ctx.note(h.host, `/etc/hosts resolves "${name}" to ${address} (${node.name}): options naming ${name} are pointed at the VIP too`);
        }
      }
      for (const service of services) {
        const facts = configFacts(h, service, files, backups);
        if (!facts.ok) return facts;
        if (Object.keys(facts.value).length === 0) {
          ctx.note(h.host, `${service}: no config file on this node (not installed here), nothing to rewrite`);
          continue;
        }
        const rewriteOptions = { localHosts, nodeAddress: ctx.inv.nodes.find((n) => n.name === h.host)?.address };
        const plan = planNodeConfig(ctx.inv, service, facts.value, rewriteOptions);
        if (!plan.ok) return err({ ...plan.error, host: h.host });
        for (const n of plan.value.notes) ctx.note(h.host, `${service}: ${n}`);
        const extra = await dirNotes(h, ctx.inv, service, dirFiles, rewriteOptions);
        if (!extra.ok) return extra;
        for (const n of extra.value) ctx.note(h.host, `${service}: ${n}`);
        if (plan.value.steps.length === 0) continue;
        changed.add(`${service} ${h.host}`);
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

export const keystoneEndpoints: Step = {
  name: 'keystone-endpoints',
  title: 'keystone catalog endpoints on the VIP, each exactly once',
  needsAllHosts: true,
  async plan(ctx) {
    const first = ctx.hosts[0]!;
    const single = (p: HostPlan) => new Map([[first, p]]);
    const desired = desiredEndpoints(ctx.inv);
    const hold = ctx.shared.get(CATALOG_HOLD) as CatalogHold | undefined;
    if (!ctx.inv.services.includes('keystone') || desired.length === 0) return single(ok([]));
    if (!ctx.inv.openstack?.password) {
      ctx.note(first, 'keystone endpoints not managed: the inventory has no openstack.password');
      return single(ok([]));
    }
    // Ask where keystone runs (the VIP's node) and talk to it from there, through the VIP.
    const hh = await hostHandle(ctx, first);
    if (!hh.ok) return single(hh);
    const where = await hh.value.c.exec(sh`crm_resource --locate --resource ${primitiveId('keystone')} 2>/dev/null || crm_resource --locate --resource ${VIP_ID}`);
    const node = where.ok ? (where.value.stdout.match(/running on: (\S+)/)?.[1] ?? first) : first;
    const h = await hostHandle(ctx, ctx.hosts.includes(node) ? node : first);
    if (!h.ok) return single(h);
    const host = h.value.host;
    const auth = keystoneAuth(ctx.inv, OS_PASSWORD_FILE);
    // Right after this run changed the cluster (keystone, HAProxy or the database just started),
    // keystone may not answer at once: the list asks again for up to --timeout (at most 2 minutes:
    // a wrong auth_url should not hold the run for active-active's 10) before the step fails. A
    // run that changed nothing fails at the first unanswered request, as before.
    const wait = !ctx.options.dryRun && ctx.appliedSoFar() > 0 ? Math.round(Math.min(ctx.options.settleTimeoutMs, KEYSTONE_WAIT_MAX_MS) / 1000) : 0;
    const request = { action: 'list' as const, saveToken: !ctx.options.dryRun, ...(wait > 0 ? { wait } : {}) };
    const list = await h.value.c.exec(KEYSTONE_COMMAND, { stdin: keystoneStdin(auth, request), timeoutMs: Math.max(120_000, (wait + 90) * 1000) });
    if (!list.ok) return new Map([[host, list]]);
    if (list.value.code !== 0) {
      const why = lastLines(list.value.stderr) || `exit ${list.value.code}`;
      // Before the resource set exists (a first dry run) keystone cannot answer yet: say so.
      if (ctx.options.dryRun) {
        ctx.note(host, `keystone endpoints: cannot list them yet (${why}); deploy will create/update them on the VIP`);
        return new Map([[host, ok(hold ? [hold.release(ctx, h.value)] : [])]]);
      }
      const held = hold ? `; ${hold.units.join(', ')} stay stopped until then (held for the moved endpoints): the next deploy starts them` : '';
      return new Map([[host, err({ host, message: `reading the keystone catalog failed: ${why}${held}`, fix: keystoneFix(list.value.code, auth.url, 'check openstack.username/project/password and the domains in the inventory') })]]);
    }
    let json: unknown;
    try {
      json = JSON.parse(list.value.stdout);
    } catch {
      return new Map([[host, err({ host, message: 'reading the keystone catalog printed no JSON' })]]);
    }
    const catalog = parseCatalog(json);
    if (!catalog.ok) return new Map([[host, err({ ...catalog.error, host })]]);
    for (const w of regionMismatches(catalog.value.endpoints, desired)) ctx.note(host, w);
    const ops = planEndpoints(catalog.value.endpoints, desired);
    const calls: KeystoneCall[] = [];
    for (const op of ops) {
      const c = endpointCall(op, catalog.value.serviceIds);
      if (!c.ok) return new Map([[host, err({ ...c.error, host })]]);
      calls.push(c.value);
    }
    const restarts = catalogRestarts(ctx, h.value, ops, hold);
    return new Map([[host, ok([...restarts.before, ...batchedCalls(h.value, auth, calls), ...restarts.after])]]);
  },
};

/** The longest a catalog read waits for keystone to answer at all, after the run changed something. */
const KEYSTONE_WAIT_MAX_MS = 120_000;

/** The last lines of a program's stderr, on one line. */
function lastLines(stderr: string): string {
  return stderr.trim().split('\n').slice(-3).join(' ');
}

/** What to check after the keystone program failed with this exit status; otherwise is for the rest. */
function keystoneFix(code: number, url: string, otherwise: string): string {
  if (code === KEYSTONE_UNREACHABLE) return `check that keystone runs (crm status) and answers at ${url} from the nodes (openstack.auth_url in the inventory)`;
  if (code === 127) return 'install python3 on the nodes (every OpenStack node has it)';
  return otherwise;
}

/**
 * One action per call, so the plan and the report name each change, but one python run makes
 * them all: the first action to apply starts the batch, each action then reports whether its
 * own call was done (the program prints a line per call) or is the one that failed.
 */
function batchedCalls(h: HostHandle, auth: KeystoneAuth, calls: readonly KeystoneCall[]): Action[] {
  let batch: Promise<{ done: number; error?: OshaError }> | undefined;
  const runBatch = async (): Promise<{ done: number; error?: OshaError }> => {
    const r = await h.c.exec(KEYSTONE_COMMAND, { stdin: keystoneStdin(auth, { action: 'apply', calls: [...calls] }), timeoutMs: 120_000 });
    if (!r.ok) return { done: 0, error: r.error };
    const done = r.value.stdout.split('\n').filter((l) => l.startsWith('done: ')).length;
    if (r.value.code === 0 && done === calls.length) return { done };
    const why = lastLines(r.value.stderr) || `exit ${r.value.code} after ${done} of ${calls.length} changes`;
    return { done, error: { host: h.host, message: why, fix: keystoneFix(r.value.code, auth.url, 'the changes before it were made; deploy again once keystone accepts it (the plan is made anew from the catalog)') } };
  };
  return calls.map((c, i) => ({
    summary: c.label,
    commands: [showCall(auth, c)],
    apply: async () => {
      batch ??= runBatch();
      const b = await batch;
      return i < b.done ? ok(undefined) : err(b.error ?? { host: h.host, message: `change ${i + 1} was not made` });
    },
  }));
}

/**
 * After the identity endpoints move, the APIs that validate tokens still hold the catalog they
 * read at their start: each restarts once. Recorded first (src/steps/owed.ts), so a run cut short
 * restarts them on the next run. A resource this run created only just started: its restart
 * interrupts nobody. Those the resources step held stopped for this (a first deploy: CATALOG_HOLD)
 * start now instead, after the endpoints moved, whether any moved or not.
 */
function catalogRestarts(ctx: StepContext, h: HostHandle, ops: readonly EndpointOp[], hold: CatalogHold | undefined): { before: Action[]; after: Action[] } {
  const release = hold ? [hold.release(ctx, h)] : [];
  const none = { before: [], after: release };
  if (!ops.some((op) => op.serviceType === 'identity')) return none;
  const created = runNote<string>(ctx, CREATED_PRIMITIVES);
  const validators = tokenValidators(ctx.inv).filter((s) => !hold?.services.includes(s));
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
    ...release,
  ];
  return { before, after };
}

