// The rolling upgrade, applied: one node at a time, in the plan's order. For each node: mark it
// (a re-run resumes it), standby, wait until what it ran runs elsewhere, migrate database schemas
// that a newer service now needs, stop its cluster stack, upgrade its packages (a new release's
// sources first), reboot when needed, wait until it is back in the quorate cluster, take it out
// of standby and wait for the cluster to settle; then the next node. A failure stops the run with
// the node in standby and marked: the next run starts with it.
import type { Inventory } from '../inventory/schema.ts';
import type { SshSession } from '../ssh/session.ts';
import { sh } from '../ssh/quote.ts';
import { primitiveId } from '../cluster/build.ts';
import { backupPathFor } from '../openstack/backup.ts';
import { configFamilyOf, DB_SYNC, registryEntries, SERVICES, type ConfigFamily, type ServiceName } from '../services/registry.ts';
import { startLoad, settleLoad, type LoadSummary, type LoadTarget } from '../drill/load.ts';
import { err, messageOf, ok, type Result } from '../util/result.ts';
import { agentCheckScript, agentFiles, planAgentChecks, readAgentNodeFacts, type AgentFile } from '../agents/files.ts';
import { hostReportScript, packagesOf, parseHostReport, resourcesOn } from './facts.ts';
import { firstStatus } from '../drill/drill.ts';
import { rewriteSources, upstreamVersion, type DebianRelease } from './releases.ts';
import { UPGRADE_MARK, type NodeUpgrade, type UpgradeNodeFacts, type UpgradePlan } from './plan.ts';
import type { ClusterStatus } from '../facts/status.ts';
import { waitSettled } from '../facts/cluster.ts';

export type RebootPolicy = 'auto' | 'always' | 'never';

export interface UpgradeInput {
  inv: Inventory;
  session: SshSession;
  plan: UpgradePlan;
  facts: readonly UpgradeNodeFacts[];
  /** How long each wait (drain, rejoin, settle) may take. */
  timeoutMs: number;
  reboot: RebootPolicy;
  log?: (line: string) => void;
  /** A client loop through the VIP for the whole run (as osha drill --load). */
  load?: LoadTarget;
}

export interface NodeResult {
  node: string;
  skipped?: string;
  /** From standby until what it ran ran elsewhere. */
  drainMs?: number;
  /** Schema migrations run because a newer service started elsewhere when this node went out. */
  migrated: string[];
  packages?: { upgraded: number; installed: number; removed: number };
  aptMs?: number;
  rebooted: boolean;
  /** From the cluster stack's start (or the reboot) until the node was online in a quorate cluster. */
  rejoinMs?: number;
  totalMs?: number;
  error?: string;
}

export interface UpgradeResult {
  target: UpgradePlan['target'];
  nodes: NodeResult[];
  /** From the first upgraded node's rejoin until the last one's: nodes of two versions together. */
  mixedMs?: number;
  after: string[];
  load?: LoadSummary;
  errors: string[];
}

const APT_ENV = 'export DEBIAN_FRONTEND=noninteractive APT_LISTCHANGES_FRONTEND=none NEEDRESTART_MODE=l';
// Keep every config file as it is (osha's and the operator's); the new defaults land as .dpkg-dist.
const APT_OPTS = '-q -y -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold';

/** The apt commands of one node's upgrade (shown as is by --dry-run). */
export function aptCommands(release: boolean): string[] {
  return [
    // Finishes what an interrupted run left half configured (nothing when dpkg is clean).
    `${APT_ENV}; dpkg --configure -a`,
    // A list that cannot be fetched is an error, not the warning apt makes of it by default.
    `${APT_ENV}; apt-get -q update --error-on=any`,
    // Debian's release notes: a minimal upgrade first, then the full one.
    ...(release ? [`${APT_ENV}; apt-get ${APT_OPTS} upgrade --without-new-pkgs`] : []),
    `${APT_ENV}; apt-get ${APT_OPTS} dist-upgrade`,
  ];
}

/** Where a node keeps the units that were masked while osha unmasks them for an upgrade. */
export const MASKED_STATE = '/var/lib/osha/upgrade-masked-units';
const POLICY_RC = '/usr/sbin/policy-rc.d';
const POLICY_MARK = '# osha upgrade';

/**
 * Before apt: a Debian package's postinst enables its unit (update-rc.d, deb-systemd-helper) and
 * fails when the unit is masked, as osha masks the services Pacemaker runs (trixie's keystone:
 * "Unit file keystone.service is masked", exit 1). So those of osha's units (the service
 * registry's init units; no other mask is touched) that are masked are recorded, then unmasked
 * while policy-rc.d (Debian's switch that maintainer scripts ask before starting a daemon) keeps
 * every daemon from starting.
 * An operator's own policy-rc.d is left in place.
 */
export function holdServices(units: readonly string[]): string {
  return [
    'set -e',
    'mkdir -p /var/lib/osha',
    `if [ ! -e ${MASKED_STATE} ]; then`,
    `  : > ${MASKED_STATE}.tmp`,
    `  for u in ${units.map((u) => sh`${u}.service`).join(' ')}; do if [ "$(readlink "/etc/systemd/system/$u")" = /dev/null ]; then echo "$u" >> ${MASKED_STATE}.tmp; fi; done`,
    `  mv ${MASKED_STATE}.tmp ${MASKED_STATE}`,
    'fi',
    `if [ ! -e ${POLICY_RC} ]; then printf '#!/bin/sh\\n${POLICY_MARK}: no daemon starts while packages are upgraded\\nexit 101\\n' > ${POLICY_RC}.tmp && chmod 755 ${POLICY_RC}.tmp && mv ${POLICY_RC}.tmp ${POLICY_RC}; fi`,
    `units=$(cat ${MASKED_STATE}); if [ -n "$units" ]; then systemctl unmask $units; fi`,
  ].join('\n');
}

/** After apt, failed or not: the same services disabled (a postinst enabled them) and masked again. */
export const RELEASE_SERVICES = [
  `if [ -e ${MASKED_STATE} ]; then`,
  `  units=$(cat ${MASKED_STATE})`,
  '  if [ -n "$units" ]; then systemctl disable $units >/dev/null 2>&1 || true; systemctl mask $units; fi',
  `  rm -f ${MASKED_STATE}`,
  'fi',
  `if grep -qs '${POLICY_MARK}' ${POLICY_RC}; then rm -f ${POLICY_RC}; fi`,
].join('\n');

/** Sums apt's "N upgraded, M newly installed, K to remove" lines. */
export function parseAptCounts(out: string): { upgraded: number; installed: number; removed: number } {
  const total = { upgraded: 0, installed: 0, removed: 0 };
  for (const m of out.matchAll(/(\d+) upgraded, (\d+) newly installed, (\d+) to remove/g)) {
    total.upgraded += Number(m[1]);
    total.installed += Number(m[2]);
    total.removed += Number(m[3]);
  }
  return total;
}

export async function runUpgrade(input: UpgradeInput): Promise<UpgradeResult> {
  const { plan } = input;
  const log = input.log ?? (() => undefined);
  const result: UpgradeResult = { target: plan.target, nodes: [], after: [], errors: [] };
  const versions = new Map(input.facts.map((f) => [f.name, { ...f.versions }]));
  // A round a second: an upgrade lasts minutes to hours, and gaps of interest last seconds.
  const load = input.load ? startLoad(input.load, { until: Date.now() + 24 * 3600_000, minRoundMs: 1000 }) : undefined;
  let firstRejoin: number | undefined;
  let lastRejoin: number | undefined;
  for (const step of plan.nodes) {
    if (step.skip) {
      result.nodes.push({ node: step.node, skipped: step.skip, migrated: [], rebooted: false });
      log(`${step.node}: ${step.skip}`);
      continue;
    }
    const r = await upgradeNode(input, step, versions, log);
    result.nodes.push(r);
    if (r.error) {
      result.errors.push(`${step.node}: ${r.error}`);
      break;
    }
    lastRejoin = Date.now();
    firstRejoin ??= lastRejoin;
  }
  if (result.errors.length === 0) {
    if (firstRejoin !== undefined && lastRejoin !== undefined && plan.target.kind === 'release') result.mixedMs = lastRejoin - firstRejoin;
    await afterAll(input, versions, result, log);
  }
  if (load) {
    const record = await load.stop(30_000);
    result.load = await settleLoad(input.load!, record);
    if (result.load.lostWrites > 0) result.errors.push(`load: ${result.load.lostWrites} acknowledged writes are gone`);
  }
  return result;
}

async function upgradeNode(input: UpgradeInput, step: NodeUpgrade, versions: Map<string, Record<string, string>>, log: (l: string) => void): Promise<NodeResult> {
  const { session, inv, timeoutMs, plan } = input;
  const node = step.node;
  const others = inv.nodes.map((n) => n.name).filter((n) => n !== node);
  const res: NodeResult = { node, migrated: [], rebooted: false };
  const t0 = Date.now();
  const fail = (e: string) => ({ ...res, error: e, totalMs: Date.now() - t0 });
  // A resumed node may already say the new release (base-files came first): it still needs the rest.
  const release = plan.target.kind === 'release' && (step.from !== step.to || step.resumes);
  const on = async (command: string, timeout = 300_000) => {
    const c = await session.connect(node);
    if (!c.ok) return c;
    return c.value.run(command, { timeoutMs: timeout });
  };

  // Asked through another node: a resumed node may have its cluster stack stopped already.
  const viaOther = async (command: string) => {
    const errors: string[] = [];
    for (const o of others) {
      const c = await session.connect(o);
      const r = c.ok ? await c.value.run(command, { timeoutMs: 60_000 }) : c;
      if (r.ok) return r;
      errors.push(r.error.message);
    }
    return err({ message: errors.join('; ') || 'no other node' });
  };

  log(`${node}: standby${step.moves.length ? ` (moves ${step.moves.join(', ')})` : ''}`);
  const out = await viaOther(sh`crm_attribute --node ${node} --name ${UPGRADE_MARK} --update ${step.to} --lifetime forever && crm_attribute --node ${node} --name standby --update on --lifetime forever`);
  if (!out.ok) return fail(out.error.message);
  const drained = await waitStatus(session, others, timeoutMs, (s) => {
    const still = resourcesOn(s, node, { movable: false });
    if (still.length > 0) return `${node} still runs ${still.join(', ')}`;
    const missing = step.moves.filter((id) => !s.resources.get(id)?.roles.some((r) => r === 'Started' || r === 'Promoted'));
    return missing.length ? `not running elsewhere yet: ${missing.join(', ')}` : undefined;
  });
  if (!drained.ok) return fail(`after standby: ${drained.error.message}`);
  res.drainMs = Date.now() - t0;
  log(`${node}: drained in ${(res.drainMs / 1000).toFixed(1)} s`);

  if (step.moves.length > 0) {
    const m = await migrateSchemas(input, drained.value, node, versions, log);
    res.migrated = m.done;
    if (m.error) return fail(m.error);
  }

  log(`${node}: stopping its cluster stack, upgrading packages${release ? ` (${step.from} -> ${step.to})` : ''}`);
  const stop = await on('systemctl stop pacemaker && systemctl stop corosync', 600_000);
  if (!stop.ok) return fail(stop.error.message);
  if (release) {
    const src = await switchSources(input, node, step.from as DebianRelease, step.to as DebianRelease);
    if (!src.ok) return fail(src.error.message);
  }
  const aptStart = Date.now();
  let aptOut = '';
  // Every unit osha masks for any service: one dropped from the inventory since stays masked.
  const units = [...new Set(registryEntries().flatMap(([, e]) => e.initUnits))];
  const held = await on(holdServices(units));
  if (!held.ok) return fail(`before apt: ${held.error.message}`);
  for (const cmd of aptCommands(release)) {
    const c = await session.connect(node);
    const r = c.ok ? await c.value.exec(cmd, { timeoutMs: 3600_000 }) : c;
    if (!r.ok || r.value.code !== 0) {
      const restored = await on(RELEASE_SERVICES);
      const why = r.ok ? aptFailure(r.value.stdout, r.value.stderr, r.value.code) : r.error.message;
      return fail(`apt: ${why}${restored.ok ? '' : `; restoring the masked services also failed: ${restored.error.message}`}`);
    }
    aptOut += r.value.stdout;
  }
  const restored = await on(RELEASE_SERVICES);
  if (!restored.ok) return fail(`after apt, masking the services again: ${restored.error.message}`);
  res.aptMs = Date.now() - aptStart;
  res.packages = parseAptCounts(aptOut);
  const report = await on(hostReportScript(packagesOf(inv)), 60_000);
  if (report.ok) versions.set(node, parseHostReport(report.value.stdout).versions);
  log(`${node}: ${res.packages.upgraded} upgraded, ${res.packages.installed} newly installed in ${(res.aptMs / 1000).toFixed(0)} s`);

  const flagged = await on('test -e /run/reboot-required || test -e /var/run/reboot-required');
  const reboot = input.reboot === 'always' || (input.reboot === 'auto' && (release || flagged.ok));
  const startAt = Date.now();
  if (reboot) {
    const rb = await rebootNode(input, node);
    if (!rb.ok) return fail(rb.error.message);
    res.rebooted = true;
  } else {
    const st = await on('systemctl start corosync pacemaker', 300_000);
    if (!st.ok) return fail(st.error.message);
  }
  const back = await waitStatus(session, others, timeoutMs, (s) => {
    const n = s.nodes.find((x) => x.name === node);
    if (!n?.online) return `${node} is not online in the cluster yet`;
    return s.quorate ? undefined : 'the cluster has no quorum';
  });
  if (!back.ok) return fail(`after the upgrade: ${back.error.message}`);
  res.rejoinMs = Date.now() - startAt;
  log(`${node}: back in the cluster after ${(res.rejoinMs / 1000).toFixed(1)} s${res.rebooted ? ' (rebooted)' : ''}`);

  // It leaves standby only once its new Pacemaker and OCF library load osha's agents.
  const agents = await checkAgents(input, node);
  if (!agents.ok) return fail(agents.error.message);
  if (agents.value) log(`${node}: ${agents.value}`);

  const online = await viaOther(sh`crm_attribute --node ${node} --name standby --delete --lifetime forever && crm_attribute --node ${node} --name ${UPGRADE_MARK} --delete --lifetime forever`);
  if (!online.ok) return fail(online.error.message);
  const c = await session.connect(node);
  const settled = c.ok ? await waitSettled(c.value, Math.ceil(timeoutMs / 1000)) : c;
  if (!settled.ok) return fail(`the cluster did not settle after ${node} came back: ${settled.error.message}`);
  res.totalMs = Date.now() - t0;
  return res;
}

/** Every osha agent's meta-data on an upgraded node, recorded as the deploy does (src/agents/files.ts). */
async function checkAgents(input: UpgradeInput, node: string): Promise<Result<string | undefined>> {
  const c = await input.session.connect(node);
  if (!c.ok) return c;
  let files: AgentFile[];
  try {
    files = await agentFiles();
  } catch (e) {
    return err({ message: `cannot read osha's agents: ${messageOf(e)}` });
  }
  const facts = await readAgentNodeFacts(c.value, files);
  if (!facts.ok) return facts;
  const p = planAgentChecks(files, new Map([[node, facts.value]])).get(node)!;
  if (p.upload.length > 0) return ok(`its osha agents differ from this osha's, not checked: the next deploy uploads and checks them`);
  if (p.check.length === 0) return ok(undefined);
  const r = await c.value.exec(agentCheckScript(p.check, p.record), { timeoutMs: 120_000 });
  if (!r.ok) return r;
  if (r.value.code !== 0) return err({ host: node, message: `after the upgrade, Pacemaker there cannot load osha's agents (the node stays in standby): ${r.value.stderr.trim()}` });
  return ok(`Pacemaker loads every osha agent (${p.check.length})`);
}

/** What failed in an apt run: dpkg's "error processing package" lines, else the output's end. */
export function aptFailure(stdout: string, stderr: string, code: number): string {
  const lines = `${stdout}\n${stderr}`.split('\n');
  const dpkg = lines.filter((l) => /^dpkg: error processing|^ .*(returned error exit status|subprocess)|^E: /.test(l));
  const tail = dpkg.length ? dpkg : lines.filter((l) => l.trim()).slice(-5);
  return `exit ${code}: ${tail.join('\n').trim()}`;
}

/** Polls the cluster's status (from `nodes`) until `wrong` finds nothing wrong; its last complaint otherwise. */
async function waitStatus(session: SshSession, nodes: readonly string[], timeoutMs: number, wrong: (s: ClusterStatus) => string | undefined): Promise<Result<ClusterStatus>> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no status read';
  for (;;) {
    const s = await firstStatus(session, nodes);
    if (s.ok) {
      const w = wrong(s.value.status);
      if (!w) return ok(s.value.status);
      last = w;
    } else last = s.error.message;
    if (Date.now() > deadline) return err({ message: `${last} (after ${timeoutMs / 1000} s)` });
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** apt's sources, from one release to the next, each file kept once as FILE.osha-orig. */
async function switchSources(input: UpgradeInput, node: string, from: DebianRelease, to: DebianRelease): Promise<Result<void>> {
  const c = await input.session.connect(node);
  if (!c.ok) return c;
  const list = await c.value.run('for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do [ -f "$f" ] && echo "$f"; done; true');
  if (!list.ok) return list;
  let changed = 0;
  for (const file of list.value.stdout.split('\n').filter(Boolean)) {
    const text = await c.value.readFile(file);
    if (!text.ok) return text;
    if (!text.value) continue;
    const next = rewriteSources(text.value.toString('utf8'), from, to);
    if (next === text.value.toString('utf8')) continue;
    const b = await c.value.run(sh`[ -e ${backupPathFor(file)} ] || cp -p -- ${file} ${backupPathFor(file)}`);
    if (!b.ok) return b;
    const w = await c.value.upload(file, next, { mode: 0o644 });
    if (!w.ok) return w;
    changed++;
  }
  if (changed === 0) {
    const already = await c.value.exec(sh`grep -rqsw ${to} /etc/apt/sources.list /etc/apt/sources.list.d/`);
    if (!(already.ok && already.value.code === 0)) return err({ host: node, message: `no apt source names ${from} or ${to}`, fix: `point the node's apt sources at ${to} by hand, then re-run` });
  }
  return ok(undefined);
}

/** Reboots a node and waits until it answers from a new boot. */
async function rebootNode(input: UpgradeInput, node: string): Promise<Result<void>> {
  const { session, timeoutMs } = input;
  // A container keeps the host's boot_id; PID 1's start time changes with every boot of either.
  const bootMark = sh`cat /proc/sys/kernel/random/boot_id; cut -d' ' -f22 /proc/1/stat`;
  const c = await session.connect(node);
  if (!c.ok) return c;
  const before = await c.value.run(bootMark);
  if (!before.ok) return before;
  await c.value.exec('systemctl reboot', { timeoutMs: 15_000 });
  await session.reset(node);
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 1000));
    const again = await session.connect(node);
    if (!again.ok) {
      await session.reset(node);
      continue;
    }
    const now = await again.value.run(bootMark);
    if (now.ok && now.value.stdout !== before.value.stdout) return ok(undefined);
    await session.reset(node);
  }
  return err({ host: node, message: `did not come back from its reboot within ${timeoutMs / 1000} s` });
}

/**
 * Once services left `from` for an upgraded node: MariaDB's system tables (mariadb-upgrade)
 * and each OpenStack project's schema (its db_sync), where they now run, when that node has a
 * newer version than `from`. Resources that failed before the schema was ready are cleaned up.
 */
async function migrateSchemas(input: UpgradeInput, status: ClusterStatus, from: string, versions: Map<string, Record<string, string>>, log: (l: string) => void): Promise<{ done: string[]; error?: string }> {
  const { session, inv } = input;
  const done: string[] = [];
  const newer = (pkg: string | undefined, where: string) => {
    const a = pkg ? versions.get(from)?.[pkg] : undefined;
    const b = pkg ? versions.get(where)?.[pkg] : undefined;
    const va = a ? upstreamVersion(a) : undefined;
    const vb = b ? upstreamVersion(b) : undefined;
    return Boolean(va && vb && (vb.major > va.major || (vb.major === va.major && vb.minor > va.minor)));
  };
  const where = (service: string) => status.resources.get(primitiveId(service))?.nodes.find((n) => n !== from);
  const jobs: { label: string; node: string; command: string }[] = [];
  const mysqlAt = inv.services.includes('mysql') ? where('mysql') : undefined;
  if (mysqlAt && newer('mariadb-server', mysqlAt)) jobs.push({ label: `mariadb-upgrade on ${mysqlAt}`, node: mysqlAt, command: 'mariadb-upgrade --silent' });
  const seen = new Set<ConfigFamily>();
  for (const service of inv.services as ServiceName[]) {
    const family = SERVICES[service] ? configFamilyOf(service) : undefined;
    if (!family || seen.has(family)) continue;
    seen.add(family);
    const at = where(service);
    if (!at || !newer(SERVICES[service].debianPackage, at)) continue;
    const sync = DB_SYNC[family];
    jobs.push({ label: `${family} db sync on ${at}`, node: at, command: sh`runuser -u ${sync.user} -- sh -c ${sync.command}` });
  }
  for (const job of jobs) {
    log(`  ${job.label}`);
    const c = await session.connect(job.node);
    if (!c.ok) return { done, error: c.error.message };
    const r = await c.value.run(job.command, { timeoutMs: 1800_000 });
    if (!r.ok) return { done, error: `${job.label}: ${r.error.message}` };
    done.push(job.label);
  }
  if (jobs.length > 0) {
    // A service that started before its schema was migrated may have failed its monitor.
    const failed = [...new Set(status.failures.map((f) => f.resource))];
    const c = await session.connect(jobs[0]!.node);
    if (c.ok) for (const id of failed) await c.value.exec(sh`crm_resource --cleanup --resource ${id}`);
  }
  return { done };
}

/** After the last node: the CIB schema and a live check, on a new Pacemaker major release. */
async function afterAll(input: UpgradeInput, versions: Map<string, Record<string, string>>, result: UpgradeResult, log: (l: string) => void): Promise<void> {
  const names = input.inv.nodes.map((n) => n.name);
  const majors = new Set(names.map((n) => upstreamVersion(versions.get(n)?.pacemaker ?? '')?.major));
  const before = new Set(input.facts.map((f) => upstreamVersion(f.versions.pacemaker ?? '')?.major));
  const c = await input.session.connect(names[0]!);
  if (!c.ok) {
    result.errors.push(c.error.message);
    return;
  }
  if (majors.size === 1 && [...before].some((m) => !majors.has(m))) {
    log('every node runs the new Pacemaker: upgrading the CIB schema');
    const up = await c.value.run('cibadmin --upgrade --force');
    if (up.ok) result.after.push('cibadmin --upgrade --force');
    else result.errors.push(`cibadmin --upgrade: ${up.error.message}`);
  }
  const verify = await c.value.exec('crm_verify --live-check');
  if (verify.ok) {
    const text = (verify.value.stdout + verify.value.stderr).trim();
    result.after.push(`crm_verify --live-check: ${text ? text.split('\n').slice(0, 5).join('; ') : 'no problem'}`);
    if (verify.value.code !== 0) result.errors.push(`crm_verify --live-check exited ${verify.value.code}: ${text.split('\n')[0] ?? ''}`);
  } else result.errors.push(verify.error.message);
}
