// Active-active only: the files every node needs before Pacemaker runs Galera, RabbitMQ and
// HAProxy on all of them (its address for osha's agents, Galera's settings, haproxy.cfg, the
// non-local bind sysctl, RabbitMQ's listening address) and one Erlang cookie on every node.
// Every node's facts come in one round trip; each file is written only where it differs.
import { createHash, randomInt } from 'node:crypto';
import type { Action, HostPlan, Step, StepContext } from '../runner/types.ts';
import { commandAction, forgetFactAfter, hostHandle, writeFileActions, type HostHandle } from './common.ts';
import { keyFingerprint } from './authkey.ts';
import { ERLANG_COOKIE, readTopologyFacts, type TopologyFacts } from '../facts/topology.ts';
import { HAPROXY_CFG, renderHaproxyCfg } from '../render/haproxy.ts';
import { inventoryGaleraEviction } from '../cluster/profiles.ts';
import {
  GALERA_CNF,
  GALERA_NODES_FILE,
  isoSeconds,
  type GaleraEviction,
  NODE_ADDRESS_FILE,
  NONLOCAL_BIND_CONF,
  RABBITMQ_ENV_CONF,
  nonlocalBindFamilies,
  nonlocalBindKey,
  parseGaleraNodes,
  renderGaleraCnf,
  renderGaleraNodes,
  renderNodeAddress,
  renderNonlocalBindConf,
  sameEviction,
  withNodeIpAddress,
} from '../render/node-files.ts';
import type { InventoryNode } from '../inventory/schema.ts';
import { sh } from '../ssh/quote.ts';
import { clusterPackages } from './packages.ts';
import { mapLimit } from '../util/concurrency.ts';
import { err, ok, type Result } from '../util/result.ts';

const FACT = 'topology-files';
const PATHS = [NODE_ADDRESS_FILE, GALERA_NODES_FILE, GALERA_CNF, HAPROXY_CFG, NONLOCAL_BIND_CONF, RABBITMQ_ENV_CONF];
const OSHA_DIR = '/etc/osha';
const SYSCTL_DIR = '/etc/sysctl.d';
/** Directories a package makes: missing, the package is not installed. */
const PACKAGE_DIRS: readonly (readonly [dir: string, pkg: string])[] = [
  ['/etc/mysql/mariadb.conf.d', 'mariadb-server'],
  ['/etc/haproxy', 'haproxy'],
  ['/etc/rabbitmq', 'rabbitmq-server'],
];
const DIRS = [OSHA_DIR, SYSCTL_DIR, ...PACKAGE_DIRS.map(([d]) => d)];

/** What each node has of the cookie, in inventory order. */
export interface CookieNode {
  host: string;
  sha256?: string;
  running: boolean;
}

export type CookieDecision =
  | { kind: 'keep'; sha256: string }
  | { kind: 'copy'; sha256: string; from: string; to: string[] }
  | { kind: 'generate'; to: string[] }
  | { kind: 'refuse'; message: string; fix: string };

/**
 * Pure: the first node (inventory order) that has a cookie gives it to the others; with none
 * anywhere, a new one. A running RabbitMQ keeps its cookie: changing it cuts rabbitmqctl and
 * its peers off from it, so a running node whose cookie differs stops the step.
 */
export function decideCookie(nodes: readonly CookieNode[]): CookieDecision {
  const source = nodes.find((n) => n.sha256);
  const to = nodes.filter((n) => n.sha256 === undefined || n.sha256 !== source?.sha256);
  if (source && to.length === 0) return { kind: 'keep', sha256: source.sha256! };
  const running = to.filter((n) => n.running);
  if (running.length > 0) {
    const list = nodes.map((n) => `${n.host}: ${n.sha256 ? keyFingerprint(n.sha256) : 'none'}`).join(', ');
    return {
      kind: 'refuse',
      message: `the Erlang cookies differ between nodes (${list}) while RabbitMQ runs on ${running.map((n) => n.host).join(', ')}; osha changes no running node's cookie (rabbitmqctl and its peers would lose it)`,
      fix: `stop RabbitMQ on ${running.map((n) => n.host).join(', ')} (or give every node the same ${ERLANG_COOKIE} by hand), then re-run`,
    };
  }
  if (!source) return { kind: 'generate', to: to.map((n) => n.host) };
  return { kind: 'copy', sha256: source.sha256!, from: source.host, to: to.map((n) => n.host) };
}

/** A cookie as RabbitMQ makes one: 20 capital letters. */
function newCookie(): Buffer {
  return Buffer.from(Array.from({ length: 20 }, () => String.fromCharCode(65 + randomInt(26))).join(''));
}

interface Read {
  h: HostHandle;
  node: InventoryNode;
  facts: TopologyFacts;
}

/** Where the cookie's bytes come from, read at most once and never shown. */
type CookieSource = () => Promise<Result<Buffer>>;

function cookieSource(ctx: StepContext, decision: CookieDecision, reads: Map<string, Read>): { source?: CookieSource; sha256?: string } {
  if (decision.kind === 'generate') {
    const cookie = newCookie();
    const sha256 = createHash('sha256').update(cookie).digest('hex');
    for (const host of decision.to) ctx.note(host, `new Erlang cookie ${keyFingerprint(sha256)} (no node has one yet)`);
    return { source: async () => ok(cookie), sha256 };
  }
  if (decision.kind !== 'copy') return decision.kind === 'keep' ? { sha256: decision.sha256 } : {};
  const from = reads.get(decision.from)!.h;
  let cached: Promise<Result<Buffer>> | undefined;
  const source: CookieSource = () => {
    cached ??= from.c.readFile(ERLANG_COOKIE).then((r): Result<Buffer> => {
      if (!r.ok) return r;
      const same = r.value && createHash('sha256').update(r.value).digest('hex') === decision.sha256;
      return same ? ok(r.value!) : err({ host: decision.from, message: `the Erlang cookie of ${decision.from} changed since it was planned; re-run` });
    });
    return cached;
  };
  return { source, sha256: decision.sha256 };
}

function cookieActions(h: HostHandle, f: TopologyFacts, sha256: string | undefined, source: CookieSource | undefined): Action[] {
  if (!sha256) return [];
  if (f.cookie?.sha256 !== sha256 && source) {
    return [
      {
        summary: `install Erlang cookie ${keyFingerprint(sha256)} at ${ERLANG_COOKIE} (mode 0400 rabbitmq${f.cookie ? `; this node's own kept as ${ERLANG_COOKIE}.osha-orig` : ''})`,
        apply: async () => {
          const cookie = await source();
          if (!cookie.ok) return cookie;
          // The node's own cookie is kept beside it, as every file osha replaces is.
          if (f.cookie) {
            const kept = await h.c.run(sh`[ -e ${`${ERLANG_COOKIE}.osha-orig`} ] || cp -p -- ${ERLANG_COOKIE} ${`${ERLANG_COOKIE}.osha-orig`}`);
            if (!kept.ok) return kept;
          }
          return h.c.upload(ERLANG_COOKIE, cookie.value, { mode: 0o400, owner: 'rabbitmq', group: 'rabbitmq' });
        },
      },
    ];
  }
  if (f.cookie && (f.cookie.mode !== '400' || f.cookie.owner !== 'rabbitmq:rabbitmq')) {
    const fix = sh`chown rabbitmq:rabbitmq ${ERLANG_COOKIE} && chmod 0400 ${ERLANG_COOKIE}`;
    return [commandAction(h, `fix ${ERLANG_COOKIE} permissions (${f.cookie.mode} ${f.cookie.owner} -> 400 rabbitmq:rabbitmq)`, fix)];
  }
  return [];
}

/** The running non-local bind values: set where they differ and the node lets us, else said. */
function sysctlActions(ctx: StepContext, r: Read): Action[] {
  const actions: Action[] = [];
  for (const key of nonlocalBindFamilies(ctx.inv).map(nonlocalBindKey)) {
    const s = r.facts.sysctl.get(key);
    if (s?.value === '1') continue;
    if (s?.writable) {
      actions.push(commandAction(r.h, `set ${key} = 1 (running value ${s.value})`, sh`sysctl -q -w ${`${key}=1`}`));
      continue;
    }
    ctx.note(
      r.h.host,
      `${key} is ${s?.value || 'absent'} and cannot be changed on this node (/proc/sys is read-only, as in a container): ${NONLOCAL_BIND_CONF} applies at boot where it can; HAProxy binds the VIP without it (transparent binds)`,
    );
  }
  return actions;
}

/**
 * A running Galera takes a new eviction timing at once (the evs.* options are dynamic), so a
 * profile change needs no restart. MariaDB 10.11 (Debian 12) takes them in wsrep_provider_options;
 * MariaDB 11 with its wsrep_provider plugin (Debian 13) refuses that while it runs and has a
 * variable per option, in seconds. Keepalives stay under a third of the suspect timeout at every
 * step, as Galera requires at its start: shortened first when the timeout shrinks, last when it grows.
 */
export function galeraEvictionCommand(running: GaleraEviction & { variables: boolean }, wanted: GaleraEviction): string | undefined {
  if (sameEviction(running, wanted)) return undefined;
  const set = (option: 'keepalive_period' | 'suspect_timeout', ms: number) =>
    running.variables ? `SET GLOBAL wsrep_provider_evs_${option} = ${ms / 1000};` : `SET GLOBAL wsrep_provider_options='evs.${option}=${isoSeconds(ms)}';`;
  const keepalive = set('keepalive_period', wanted.keepaliveMs);
  const suspect = set('suspect_timeout', wanted.suspectMs);
  const sql = wanted.suspectMs < running.suspectMs ? `${keepalive} ${suspect}` : `${suspect} ${keepalive}`;
  return sh`mysql -e ${sql}`;
}

function galeraEvictionActions(h: HostHandle, facts: TopologyFacts, wanted: GaleraEviction): Action[] {
  const running = facts.galeraEviction;
  const command = running && galeraEvictionCommand(running, wanted);
  if (!running || !command) return [];
  const show = (e: GaleraEviction) => `suspect ${isoSeconds(e.suspectMs)}, keepalive ${isoSeconds(e.keepaliveMs)}`;
  return [commandAction(h, `set the running Galera's eviction timing: ${show(running)} -> ${show(wanted)} (no restart)`, command)];
}

/** The nodes a Galera node list (`gcomm://a,b,c`, GALERA_NODES_FILE) names that the inventory no longer has. */
export function nodesLeavingList(current: string | undefined, names: readonly string[]): string[] {
  return (parseGaleraNodes(current) ?? []).filter((n) => !names.includes(n));
}

/**
 * Pure: why taking nodes out of Galera's node list needs the operator's yes, if it does. With no
 * primary component anywhere (a full outage), the galera agent starts Galera only once every
 * listed node has reported its last committed seqno, and then from the most advanced: a node that
 * leaves the list is no longer waited for, so whatever only it had committed is lost. While
 * Galera runs, a node leaves as any member does.
 */
export function nodeListRisk(leaving: readonly string[], galeraRuns: boolean, remaining: readonly string[]): string | undefined {
  if (leaving.length === 0 || galeraRuns) return undefined;
  const them = leaving.join(', ');
  return `Galera has no primary component: the galera agent waits for ${them} to report ${leaving.length > 1 ? 'their' : 'its'} last committed seqno; without ${them} in the list it starts Galera from the most advanced of ${remaining.join(', ')}, and what only ${them} committed is lost`;
}

function hostActions(ctx: StepContext, r: Read, haproxyCfg: string, sysctlConf: string, galeraRuns: boolean): HostPlan {
  const { h, node, facts } = r;
  // A dry run plans every step against the nodes as they are: HAProxy, which the packages step
  // installs before this one applies, may not be there yet. Its file is then planned as new.
  const installedFirst = (pkg: string) => ctx.options.dryRun && clusterPackages(h.os, false, 'active-active').includes(pkg);
  const missing = PACKAGE_DIRS.filter(([dir, pkg]) => !facts.dirs.has(dir) && !installedFirst(pkg));
  for (const [dir, pkg] of PACKAGE_DIRS.filter(([d]) => !facts.dirs.has(d) && !missing.some(([m]) => m === d))) {
    ctx.note(h.host, `${pkg} is not installed yet: the packages step installs it before this step applies (${dir} planned as new)`);
  }
  if (missing.length > 0 || !facts.rabbitmqUser) {
    const pkgs = [...new Set([...missing.map(([, p]) => p), ...(facts.rabbitmqUser ? [] : ['rabbitmq-server'])])];
    return err({ host: h.host, message: `active-active needs ${pkgs.join(', ')} on every node; not installed here (${missing.map(([d]) => d).join(', ') || 'no rabbitmq user'})`, fix: `install ${pkgs.join(' ')}, then re-run` });
  }
  const file = (path: string) => facts.files.get(path) ?? { exists: false };
  const actions: Action[] = [];
  if (!facts.dirs.has(OSHA_DIR)) actions.push(commandAction(h, `create ${OSHA_DIR} (mode 0700 root)`, sh`mkdir -p -m 0700 ${OSHA_DIR}`));
  actions.push(...writeFileActions(h, NODE_ADDRESS_FILE, file(NODE_ADDRESS_FILE), renderNodeAddress(node), { mode: 0o644 }));
  // Before cluster-start: a node being added is in every node's list before Pacemaker can start
  // Galera there, and a node removed is out of it.
  const names = ctx.inv.nodes.map((n) => n.name);
  const listRisk = nodeListRisk(nodesLeavingList(file(GALERA_NODES_FILE).content?.toString('utf8'), names), galeraRuns, names);
  for (const a of writeFileActions(h, GALERA_NODES_FILE, file(GALERA_NODES_FILE), renderGaleraNodes(ctx.inv), { mode: 0o644 })) {
    actions.push(listRisk ? { ...a, disruptive: listRisk } : a);
  }

  const eviction = inventoryGaleraEviction(ctx.inv);
  const galera = writeFileActions(h, GALERA_CNF, file(GALERA_CNF), renderGaleraCnf(ctx.inv, node, eviction), { mode: 0o644 });
  // Only the eviction timing differs (a profile change): the live setting below is all it takes.
  const running = facts.galeraEviction;
  const timingOnly = running !== undefined && file(GALERA_CNF).content?.toString('utf8') === renderGaleraCnf(ctx.inv, node, running);
  if (galera.length > 0 && facts.mariadbRunning && !timingOnly) ctx.note(h.host, `MariaDB runs: ${GALERA_CNF} takes effect when it restarts`);
  actions.push(...galera, ...galeraEvictionActions(h, facts, eviction));

  const haproxy = writeFileActions(h, HAPROXY_CFG, file(HAPROXY_CFG), haproxyCfg, { mode: 0o644, backup: true });
  actions.push(...haproxy);
  // A running HAProxy reloads without dropping connections (its reload checks the file first).
  if (haproxy.length > 0 && facts.haproxyRunning) {
    const reload = commandAction(h, 'reload haproxy for its new configuration', 'systemctl reload haproxy');
    // A HAProxy that serves a configuration osha did not write loses its frontends to osha's.
    const ours = file(HAPROXY_CFG).content?.toString('utf8').includes('# Written by osha') ?? false;
    if (!ours) reload.disruptive = "the running HAProxy's own frontends are replaced by osha's (its file is kept as .osha-orig)";
    if (h.os.init === 'systemd') actions.push(reload);
    else ctx.note(h.host, `HAProxy runs: ${HAPROXY_CFG} takes effect when it reloads`);
  }

  if (!facts.dirs.has(SYSCTL_DIR)) actions.push(commandAction(h, `create ${SYSCTL_DIR}`, sh`mkdir -p ${SYSCTL_DIR}`));
  actions.push(...writeFileActions(h, NONLOCAL_BIND_CONF, file(NONLOCAL_BIND_CONF), sysctlConf, { mode: 0o644 }));
  actions.push(...sysctlActions(ctx, r));

  const envFile = file(RABBITMQ_ENV_CONF);
  const env = withNodeIpAddress(envFile.content?.toString('utf8') ?? '', node.address);
  const rabbit = writeFileActions(h, RABBITMQ_ENV_CONF, envFile, env, { mode: 0o644, backup: true });
  if (rabbit.length > 0 && facts.rabbitmqRunning) ctx.note(h.host, `RabbitMQ runs: ${RABBITMQ_ENV_CONF} takes effect when it restarts`);
  actions.push(...rabbit);
  return ok(actions);
}

export const topologyFiles: Step = {
  name: 'topology-files',
  title: 'active-active: Galera, HAProxy, RabbitMQ and sysctl files on every node, one Erlang cookie',
  topology: 'active-active',
  needsAllHosts: true,
  async plan(ctx) {
    const plans = new Map<string, HostPlan>();
    const keys = nonlocalBindFamilies(ctx.inv).map(nonlocalBindKey);
    const hosts = ctx.inv.nodes.filter((n) => ctx.hosts.includes(n.name));
    const results = await mapLimit(hosts, ctx.session.concurrency, async (node): Promise<Result<Read>> => {
      const h = await hostHandle(ctx, node.name);
      if (!h.ok) return h;
      const facts = await ctx.facts.get(node.name, FACT, () => readTopologyFacts(h.value.c, PATHS, DIRS, keys));
      return facts.ok ? ok({ h: h.value, node, facts: facts.value }) : facts;
    });
    const reads = new Map<string, Read>();
    results.forEach((r, i) => (r.ok ? reads.set(hosts[i]!.name, r.value) : plans.set(hosts[i]!.name, r)));
    // One cookie for all: decided from every node's, so a node that could not be read stops it.
    if (plans.size > 0) return plans;

    // A RabbitMQ that runs as the init system's service is stopped by init-services before this
    // step applies (a dry run plans both at once); one that runs otherwise is Pacemaker's.
    const decision = decideCookie(
      hosts.map((n) => {
        const f = reads.get(n.name)!.facts;
        return { host: n.name, sha256: f.cookie?.sha256, running: f.rabbitmqRunning && !f.rabbitmqUnitActive };
      }),
    );
    if (decision.kind === 'refuse') {
      for (const n of hosts) plans.set(n.name, err({ host: n.name, message: decision.message, fix: decision.fix }));
      return plans;
    }
    const { source, sha256 } = cookieSource(ctx, decision, reads);
    // Read on every node of the inventory: a Galera that runs anywhere takes a node's leaving as usual.
    const galeraRuns = [...reads.values()].some((r) => r.facts.galeraPrimary);
    const haproxyCfg = renderHaproxyCfg(ctx.inv);
    const sysctlConf = renderNonlocalBindConf(ctx.inv);
    for (const n of hosts) {
      const r = reads.get(n.name)!;
      const plan = hostActions(ctx, r, haproxyCfg, sysctlConf, galeraRuns);
      if (!plan.ok) {
        plans.set(n.name, plan);
        continue;
      }
      plans.set(n.name, ok(forgetFactAfter(ctx, n.name, FACT, [...plan.value, ...cookieActions(r.h, r.facts, sha256, source)])));
    }
    return plans;
  },
};
