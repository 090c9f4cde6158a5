// The rewrite plan: which lines of which OpenStack config files must change so that each
// service talks to the VIP instead of a node's own address (article 004). Pure: it reads file
// contents handed in by the caller and returns edits; it never touches a host.
//
// Each rule names an option by all the names releases have used for it, newest first
// (`[database] connection`, `[DEFAULT] sql_connection`, ...). An option already set is edited
// under the name(s) it is set with; a missing one that must be added gets the name the
// installed release reads: the one its shipped sample mentions, or `options.release`.
import { isIP } from 'node:net';
import { CONFIG_FAMILIES, configFileEntry, FAMILY_FILES, type ConfigFamily, type RewriteRuleSet } from '../services/registry.ts';
import type { Inventory, ServiceName } from '../inventory/schema.ts';
import { entries as iniEntries, getValue, hasCommentedDefault, parseIni, editIni, type IniDocument } from '../render/ini.ts';
import { maskSecrets, maskUrlPasswords, renderFileDiff } from '../render/diff.ts';
import { err, ok, oshaError, type Result } from '../util/result.ts';
import { hostForUrl, rewriteBareHost, rewriteHostList, rewriteUrlHosts, type HostRewrite, type HostTest } from './url.ts';

/** The config families osha rewrites (src/services/registry.ts). */
export type OpenStackService = ConfigFamily;
export const OPENSTACK_SERVICES: readonly OpenStackService[] = CONFIG_FAMILIES;

/** The files osha rewrites per config family. */
export const SERVICE_CONFIG_FILES: Record<OpenStackService, readonly string[]> = FAMILY_FILES;

/** What `osha rollback` restores by default: the OpenStack config files osha may have rewritten. */
export const DEFAULT_ROLLBACK_FILES = Object.values(SERVICE_CONFIG_FILES).flat();

export interface RewriteEntry {
  file: string;
  section: string;
  key: string;
  /** The value to write. May hold a password kept from the old value: print only via redactRewrite. */
  value: string;
  /** The value found, if the key was set. Same caution as `value`. */
  previous: string | undefined;
  reason: string;
}

export interface RewritePlan {
  service: OpenStackService;
  entries: RewriteEntry[];
  /** Things osha looked at and left alone on purpose, for the plan output. */
  notes: string[];
}

export interface RewriteOptions {
  /** Which option names the installed release reads when a key must be added; inferred from the file when absent. */
  release?: 'current' | 'legacy';
  /** More host names that mean "this node" (e.g. an /etc/hosts alias such as "controller"). */
  localHosts?: readonly string[];
  /** The address of the node these files are on: active-active services listen there (HAProxy has the VIP). */
  nodeAddress?: string;
}

/** What an option points at: a VIP, or (active-active listeners) the node's own address. */
type Target = 'vip' | 'public' | 'self';
/** How its value holds hosts. */
type ValueKind = 'url' | 'host' | 'host-list' | 'fixed';

interface OptionName {
  section: string;
  key: string;
}

interface Rule {
  names: readonly OptionName[];
  kind: ValueKind;
  target: Target;
  /** The cluster service that must sit behind the VIP for this rewrite to make sense. */
  needs: ServiceName;
  reason: string;
  /** Where it points in the active-active topology, when not where `target` says. */
  activeActiveTarget?: Target;
  /** A value to add when the option is not set at all (only where an article asks for it). */
  addWhenMissing?: (hosts: VipHosts, target: Target) => string;
  /** Add only when the release knows the option (its sample mentions it), e.g. registry_host. */
  addOnlyIfKnown?: boolean;
}

interface VipHosts {
  vip: string;
  public: string;
  self?: string;
}

const opt = (section: string, key: string): OptionName => ({ section, key });

const DATABASE: Rule = {
  names: [opt('database', 'connection'), opt('DEFAULT', 'sql_connection'), opt('database', 'sql_connection'), opt('sql', 'connection')],
  kind: 'url',
  target: 'vip',
  needs: 'mysql',
  reason: 'the database is reached through the VIP (article 004: sql_connection)',
};
const API_DATABASE: Rule = { ...DATABASE, names: [opt('api_database', 'connection')] };
const PLACEMENT_DATABASE: Rule = { ...DATABASE, names: [opt('placement_database', 'connection')] };
const TRANSPORT: Rule = {
  names: [opt('DEFAULT', 'transport_url')],
  kind: 'url',
  target: 'vip',
  needs: 'rabbitmq',
  reason: 'the message queue is reached through the VIP (article 004: rabbit_host)',
};
const NOTIFY_TRANSPORT: Rule = { ...TRANSPORT, names: [opt('oslo_messaging_notifications', 'transport_url')] };
const RABBIT_HOST: Rule = {
  names: [opt('oslo_messaging_rabbit', 'rabbit_host'), opt('DEFAULT', 'rabbit_host')],
  kind: 'host',
  target: 'vip',
  needs: 'rabbitmq',
  reason: 'the message queue is reached through the VIP (article 004: rabbit_host, before transport_url)',
};
const RABBIT_HOSTS: Rule = { ...RABBIT_HOST, names: [opt('oslo_messaging_rabbit', 'rabbit_hosts'), opt('DEFAULT', 'rabbit_hosts')], kind: 'host-list' };
const GLANCE_BIND: Rule = {
  names: [opt('DEFAULT', 'bind_host')],
  kind: 'fixed',
  target: 'vip',
  activeActiveTarget: 'self',
  needs: 'glance-api',
  reason: 'glance-api listens on the VIP where Pacemaker runs it (article 004: bind_host)',
  addWhenMissing: (hosts, target) => (target === 'self' ? hosts.self! : hosts.vip),
};
const REGISTRY_HOST: Rule = {
  names: [opt('DEFAULT', 'registry_host')],
  kind: 'host',
  target: 'vip',
  needs: 'glance-registry',
  reason: 'glance-api reaches glance-registry through the VIP (article 004: registry_host)',
  addWhenMissing: (v) => v.vip,
  addOnlyIfKnown: true,
};
const NOVA_GLANCE: Rule = {
  names: [opt('glance', 'api_servers'), opt('DEFAULT', 'glance_api_servers')],
  kind: 'host-list',
  target: 'vip',
  needs: 'glance-api',
  reason: 'nova reaches the image API through the VIP (article 004: [glance] api_servers)',
  addWhenMissing: (v) => `http://${hostForUrl(v.vip)}:9292`,
};
const GLANCE_HOST: Rule = {
  names: [opt('DEFAULT', 'glance_host')],
  kind: 'host',
  target: 'vip',
  needs: 'glance-api',
  reason: 'the image API is reached through the VIP (glance_host, before api_servers)',
};
const CINDER_GLANCE: Rule = { ...NOVA_GLANCE, names: [opt('DEFAULT', 'glance_api_servers')], addWhenMissing: undefined, reason: 'cinder reaches the image API through the VIP' };
const NOVNC: Rule = {
  names: [opt('vnc', 'novncproxy_base_url'), opt('DEFAULT', 'novncproxy_base_url')],
  kind: 'url',
  target: 'public',
  needs: 'nova-novncproxy',
  reason: 'browsers reach the console proxy through the (public) VIP',
};
const NOVA_NEUTRON_URL: Rule = {
  names: [opt('neutron', 'url')],
  kind: 'url',
  target: 'vip',
  needs: 'neutron-server',
  reason: 'nova reaches neutron-server through the VIP',
};
const METADATA_HOST: Rule = {
  // nova_metadata_ip until Queens.
  names: [opt('DEFAULT', 'nova_metadata_host'), opt('DEFAULT', 'nova_metadata_ip')],
  kind: 'host',
  target: 'vip',
  needs: 'nova-api-metadata',
  reason: "neutron's metadata agent reaches nova's metadata API through the VIP",
  // Its default, 127.0.0.1, misses an active-active API bound to the node's own address.
  addWhenMissing: (v) => v.vip,
};
const KEYSTONE_ENDPOINTS: Rule[] = [
  { names: [opt('DEFAULT', 'public_endpoint')], kind: 'url', target: 'public', needs: 'keystone', reason: 'keystone advertises its public URL on the (public) VIP' },
  { names: [opt('DEFAULT', 'admin_endpoint')], kind: 'url', target: 'vip', needs: 'keystone', reason: 'keystone advertises its admin URL on the VIP' },
];
// Both name heat's CloudFormation API (port 8000), not heat-api.
const HEAT_URLS: Rule[] = [
  { names: [opt('DEFAULT', 'heat_metadata_server_url')], kind: 'url', target: 'public', needs: 'heat-api-cfn', reason: 'instances reach heat through the (public) VIP' },
  { names: [opt('DEFAULT', 'heat_waitcondition_server_url')], kind: 'url', target: 'public', needs: 'heat-api-cfn', reason: 'instances reach heat through the (public) VIP' },
];

/** What each rule set named in the registry's config files rewrites. */
const RULE_SETS: Record<RewriteRuleSet, readonly Rule[]> = {
  common: [DATABASE, TRANSPORT, NOTIFY_TRANSPORT, RABBIT_HOST, RABBIT_HOSTS],
  'api-database': [API_DATABASE],
  'placement-database': [PLACEMENT_DATABASE],
  'keystone-endpoints': KEYSTONE_ENDPOINTS,
  'glance-bind': [GLANCE_BIND],
  'registry-host': [REGISTRY_HOST],
  'nova-glance': [NOVA_GLANCE],
  'glance-host': [GLANCE_HOST],
  'cinder-glance': [CINDER_GLANCE],
  novnc: [NOVNC],
  'nova-neutron-url': [NOVA_NEUTRON_URL],
  'metadata-host': [METADATA_HOST],
  'heat-urls': HEAT_URLS,
};

/**
 * The options a file of a directory the service also reads (configFileEntry(file).alsoRead) sets
 * that osha would move to the VIP in `file`, as "[section] key": osha leaves that directory as it
 * is, so the operator must change them there. Only options the file sets; nothing is added.
 */
export function settingsToMove(inv: Inventory, service: OpenStackService, file: string, content: string, options: RewriteOptions = {}): Result<string[]> {
  const plan = planRewrites(inv, service, { [file]: content }, options);
  if (!plan.ok) return plan;
  return ok([...new Set(plan.value.entries.filter((e) => e.file === file && e.previous !== undefined).map((e) => `[${e.section}] ${e.key}`))]);
}

/** The rules for one config file, in the order the registry lists their sets. */
function fileRules(file: string): Rule[] {
  return (configFileEntry(file)?.rules ?? []).flatMap((set) => RULE_SETS[set]);
}

/** Keys that point at keystone, in whatever section they appear ([keystone_authtoken], [neutron], [placement], [trustee]...). */
const KEYSTONE_URL_KEYS: Record<string, Target> = {
  auth_url: 'vip',
  identity_uri: 'vip',
  www_authenticate_uri: 'public',
  auth_uri: 'public',
};
/** Folsom-era [keystone_authtoken] host option. */
const KEYSTONE_HOST_KEYS = ['auth_host'];

interface Context {
  inv: Inventory;
  file: string;
  doc: IniDocument;
  hosts: VipHosts;
  ours: HostTest;
  options: RewriteOptions;
  services: ReadonlySet<string>;
  entries: RewriteEntry[];
  notes: string[];
}

/**
 * The edits that make `service` use the VIP, for the files of it found in `currentFiles`
 * (path → content; a missing path means "not installed here").
 */
export function planRewrites(
  inv: Inventory,
  service: OpenStackService,
  currentFiles: Readonly<Record<string, string>>,
  options: RewriteOptions = {},
): Result<RewritePlan> {
  if (!(OPENSTACK_SERVICES as readonly string[]).includes(service)) {
    return err(oshaError(`unknown OpenStack service "${String(service)}"`, { fix: `use one of ${OPENSTACK_SERVICES.join(', ')}` }));
  }
  const hosts: VipHosts = { vip: inv.vip.address, public: inv.public_vip?.address ?? inv.vip.address };
  if (inv.topology === 'active-active') {
    if (!options.nodeAddress) return err(oshaError('active-active config rewrites need the address of the node the files are on'));
    hosts.self = options.nodeAddress;
  }
  const ours = ownHostTest(inv, options.localHosts ?? []);
  const plan: RewritePlan = { service, entries: [], notes: [] };
  for (const file of SERVICE_CONFIG_FILES[service]) {
    const content = currentFiles[file];
    if (content === undefined) {
      plan.notes.push(`${file}: not present, nothing to rewrite`);
      continue;
    }
    const ctx: Context = {
      inv,
      file,
      doc: parseIni(content),
      hosts,
      ours,
      options,
      services: new Set(inv.services),
      entries: plan.entries,
      notes: plan.notes,
    };
    for (const rule of fileRules(file)) applyRule(ctx, rule);
    keystoneUrls(ctx);
    if (configFileEntry(file)?.legacyNotifier) legacyGlanceNotifier(ctx);
    if (inv.topology === 'active-active') quorumQueues(ctx);
  }
  return ok(plan);
}

/** Hosts that mean "a node's own address": loopback, the nodes' addresses and names, the VIPs. */
export function ownHostTest(inv: Inventory, extra: readonly string[]): HostTest {
  const names = new Set<string>(['localhost', 'localhost.localdomain', 'ip6-localhost', '0.0.0.0', '::', ...extra.map((h) => h.toLowerCase())]);
  for (const n of inv.nodes) {
    names.add(n.address.toLowerCase());
    names.add(n.name.toLowerCase());
  }
  names.add(inv.vip.address.toLowerCase());
  if (inv.public_vip) names.add(inv.public_vip.address.toLowerCase());
  const nodeNames = inv.nodes.map((n) => n.name.toLowerCase());
  return (host: string) => {
    const h = host.toLowerCase();
    if (names.has(h)) return true;
    if (isIP(h) === 4 && h.startsWith('127.')) return true;
    if (isIP(h) === 6 && expandsToLoopback(h)) return true;
    return nodeNames.some((n) => h.startsWith(`${n}.`));
  };
}

function expandsToLoopback(v6: string): boolean {
  return /^(0{0,4}:){2,7}0{0,3}1$/.test(v6) || v6 === '::1';
}

function targetHost(ctx: Context, target: Target): string {
  if (target === 'self') return ctx.hosts.self!;
  return target === 'public' ? ctx.hosts.public : ctx.hosts.vip;
}

/** The rule's target in this inventory's topology. */
function ruleTarget(ctx: Context, rule: Rule): Target {
  return ctx.inv.topology === 'active-active' && rule.activeActiveTarget ? rule.activeActiveTarget : rule.target;
}

const QUORUM_QUEUE = opt('oslo_messaging_rabbit', 'rabbit_quorum_queue');

/**
 * A RabbitMQ cluster keeps a queue's messages on one node unless the queue is replicated, and
 * RabbitMQ 4 dropped classic mirroring: services that talk to the broker declare quorum queues
 * (oslo.messaging's rabbit_quorum_queue, in bookworm's 14.0 already).
 */
function quorumQueues(ctx: Context): void {
  if (!ctx.services.has('rabbitmq')) return;
  const talksToBroker = [opt('DEFAULT', 'transport_url'), ...RABBIT_HOST.names].some((n) => findSet(ctx.doc, n) !== undefined);
  if (!talksToBroker) return;
  const current = findSet(ctx.doc, QUORUM_QUEUE);
  if (current?.toLowerCase() === 'true') return;
  ctx.entries.push(
    entry({ file: ctx.file, ...QUORUM_QUEUE, value: 'true', previous: current, reason: 'the clustered RabbitMQ replicates a queue only when it is a quorum queue (active-active)' }),
  );
}

function rewriteValue(kind: ValueKind, value: string, ours: HostTest, host: string): HostRewrite {
  switch (kind) {
    case 'url':
      return rewriteUrlHosts(value, ours, host);
    case 'host':
      return rewriteBareHost(value, ours, host);
    case 'host-list':
      return rewriteHostList(value, ours, host);
    case 'fixed':
      return { value: host, foreign: [], hostless: false };
  }
}

function applyRule(ctx: Context, rule: Rule): void {
  if (!ctx.services.has(rule.needs)) return;
  const set = rule.names.filter((n) => findSet(ctx.doc, n) !== undefined);
  if (set.length === 0) {
    addMissing(ctx, rule);
    return;
  }
  // Every name the option is set under is rewritten: whichever the release reads ends on the VIP.
  for (const name of set) {
    const current = findSet(ctx.doc, name)!;
    rewriteOne(ctx, name, current, rule.kind, ruleTarget(ctx, rule), activeActiveReason(ctx, rule));
  }
}

function rewriteOne(ctx: Context, name: OptionName, current: string, kind: ValueKind, target: Target, reason: string): void {
  const where = `${ctx.file} [${name.section}] ${name.key}`;
  const r = rewriteValue(kind, current, ctx.ours, targetHost(ctx, target));
  if (r.hostless) {
    ctx.notes.push(`${where}: no network host in it (e.g. sqlite or a unix socket), left as found`);
    return;
  }
  if (r.foreign.length > 0) {
    ctx.notes.push(`${where}: host ${r.foreign.join(', ')} is not a cluster node, left as found`);
  }
  if (r.value !== current) {
    ctx.entries.push(entry({ file: ctx.file, section: name.section, key: name.key, value: r.value, previous: current, reason }));
  }
}

function activeActiveReason(ctx: Context, rule: Rule): string {
  return ruleTarget(ctx, rule) === 'self' ? `${rule.needs} runs on every node and listens on the node's own address; HAProxy listens on the VIP (active-active)` : rule.reason;
}

function addMissing(ctx: Context, rule: Rule): void {
  if (!rule.addWhenMissing) return;
  const name = nameForRelease(ctx, rule);
  if (!name) return;
  ctx.entries.push(
    entry({ file: ctx.file, section: name.section, key: name.key, value: rule.addWhenMissing(ctx.hosts, ruleTarget(ctx, rule)), previous: undefined, reason: activeActiveReason(ctx, rule) }),
  );
}

/**
 * The option name the installed release reads: the newest one its shipped sample mentions (the
 * oldest with `release: 'legacy'`); with no hint, the newest name, or the oldest for a legacy
 * release. An option only some releases have (registry_host) is added only when known.
 */
function nameForRelease(ctx: Context, rule: Rule): OptionName | undefined {
  const legacy = ctx.options.release === 'legacy';
  const known = rule.names.filter((n) => hasCommentedDefault(ctx.doc, n.section, n.key));
  const hinted = legacy ? known[known.length - 1] : known[0];
  if (hinted) return hinted;
  if (rule.addOnlyIfKnown && !legacy) return undefined;
  return legacy ? rule.names[rule.names.length - 1] : rule.names[0];
}

function findSet(doc: IniDocument, name: OptionName): string | undefined {
  return getValue(doc, name.section, name.key);
}

/** Every keystone URL option, in any section, that points at a node: move it to the VIP. */
function keystoneUrls(ctx: Context): void {
  if (!ctx.services.has('keystone')) return;
  const last = new Map<string, { section: string; key: string; value: string }>();
  for (const e of iniEntries(ctx.doc)) {
    if (e.key in KEYSTONE_URL_KEYS || KEYSTONE_HOST_KEYS.includes(e.key)) last.set(`${e.section}\0${e.key}`, e);
  }
  for (const e of last.values()) {
    const isHost = KEYSTONE_HOST_KEYS.includes(e.key);
    const target = keystoneTarget(e.section, e.key);
    rewriteOne(ctx, { section: e.section, key: e.key }, e.value, isHost ? 'host' : 'url', target, 'services reach keystone through the VIP');
  }
}

/** Public VIP for the URL keystone hands to clients; the internal VIP for service-to-keystone calls. */
function keystoneTarget(section: string, key: string): Target {
  if (key === 'www_authenticate_uri') return 'public';
  if (section === 'keystone_authtoken') return KEYSTONE_URL_KEYS[key] ?? 'vip';
  return 'vip';
}

/**
 * Folsom/Grizzly glance (article 004): `notifier_strategy = rabbit` sends notifications to
 * rabbit_host, which defaults to localhost. With no transport configured, point it at the VIP.
 */
function legacyGlanceNotifier(ctx: Context): void {
  if (!ctx.services.has('rabbitmq')) return;
  const strategy = findSet(ctx.doc, opt('DEFAULT', 'notifier_strategy'));
  if (strategy !== 'rabbit') return;
  const configured = [opt('DEFAULT', 'transport_url'), ...RABBIT_HOST.names].some((n) => findSet(ctx.doc, n) !== undefined);
  if (configured) return;
  ctx.entries.push(
    entry({
      file: ctx.file,
      section: 'DEFAULT',
      key: 'rabbit_host',
      value: ctx.hosts.vip,
      previous: undefined,
      reason: 'notifier_strategy = rabbit sends notifications to rabbit_host (default localhost); use the VIP (article 004)',
    }),
  );
}

/** An entry whose JSON form is already masked, so that a stray JSON.stringify cannot leak a password. */
function entry(e: RewriteEntry): RewriteEntry {
  Object.defineProperty(e, 'toJSON', { value: () => redactRewrite(e), enumerable: false });
  return e;
}

/** The entry with passwords masked: the form to print, log or put in JSON. */
export function redactRewrite(e: RewriteEntry): RewriteEntry {
  const hide = (v: string | undefined) => (v === undefined ? v : maskUrlPasswords(v));
  return { file: e.file, section: e.section, key: e.key, value: hide(e.value)!, previous: hide(e.previous), reason: e.reason };
}

/** One line for the plan: `[section] key: old -> new (reason)`, secrets masked. */
export function describeRewrite(e: RewriteEntry): string {
  const r = redactRewrite(e);
  const from = r.previous === undefined ? '(not set)' : r.previous;
  return `${r.file} [${r.section}] ${r.key}: ${from} -> ${r.value} (${r.reason})`;
}

export interface FileChange {
  file: string;
  before: string;
  after: string;
}

/** Applies the plan's entries to the files' contents; only files that change are returned. */
export function applyRewrites(plan: RewritePlan, currentFiles: Readonly<Record<string, string>>): Result<FileChange[]> {
  const byFile = new Map<string, RewriteEntry[]>();
  for (const e of plan.entries) byFile.set(e.file, [...(byFile.get(e.file) ?? []), e]);
  const out: FileChange[] = [];
  for (const [file, edits] of byFile) {
    const before = currentFiles[file];
    if (before === undefined) return err(oshaError(`${file}: the plan edits a file that was not read`));
    try {
      const r = editIni(before, edits);
      if (r.changed) out.push({ file, before, after: r.text });
    } catch (e) {
      return err(oshaError(`${file}: ${e instanceof Error ? e.message : String(e)}`));
    }
  }
  return ok(out);
}

/** The unified diff of every changed file, secrets masked; '' when nothing changes. */
export function renderPlanDiff(changes: readonly FileChange[]): string {
  return changes.map((c) => renderFileDiff(c.file, c.before, c.after, maskSecrets)).join('');
}
