// buildResourceModel: the inventory's services, VIPs, storage, fencing and user additions turned
// into Pacemaker primitives, groups, clones and constraints. Pure: same inventory, same model.
import type { FenceDevice, Inventory, ResourceOverride, UserConstraint, UserPrimitive, Vip } from '../inventory/schema.ts';
import { GALERA_PROMOTED_MONITOR_INTERVAL, GALERA_UNPROMOTED_MONITOR_INTERVAL, MONITOR_DEPTHS, RABBITMQ_CLUSTER_MONITOR_INTERVAL, MONITOR_TIMEOUTS, depthKey, effectiveIntervals, type MonitorIntervals } from '../inventory/monitors.ts';
import { canonicalService, type ServiceName } from '../inventory/services.ts';
import { SERVICES } from '../services/registry.ts';
import {
  DATA_DIRECTORIES,
  FENCE_OPS,
  FILESYSTEM_AGENT,
  FILESYSTEM_OPS,
  GROUP_KEYS,
  GROUP_MEMBERS,
  OS_PASSWORD_FILE,
  PRIMITIVE_META,
  SERVICE_SPECS,
  START_CHAIN,
  USER_OPS,
  VIP_AGENT,
  VIP_OPS,
  fencePasswordFile,
  type GroupKey,
  type OpTimings,
} from './catalog.ts';
import {
  OSHA_PREFIX,
  isOshaId,
  type Agent,
  type Attributes,
  type ClusterOption,
  type Clone,
  type Constraint,
  type Group,
  type Operation,
  type Order,
  type Primitive,
  type Resource,
  type ResourceModel,
} from '../model/resources.ts';

export const VIP_ID = `${OSHA_PREFIX}vip`;
export const PUBLIC_VIP_ID = `${OSHA_PREFIX}public-vip`;

export const primitiveId = (name: string): string => `${OSHA_PREFIX}${name}`;
export const groupId = (key: GroupKey): string => `${OSHA_PREFIX}g-${key}`;
export const cloneId = (name: string): string => `${OSHA_PREFIX}cl-${name}`;
export const filesystemId = (service: 'mysql' | 'rabbitmq'): string => `${OSHA_PREFIX}fs-${service}`;

/** An id without osha's prefix, for building readable constraint ids. */
const short = (id: string): string => (id.startsWith(OSHA_PREFIX) ? id.slice(OSHA_PREFIX.length) : id);

/**
 * Hand-made resources of an adopted cluster that osha builds around (src/cluster/existing.ts):
 * `kept` maps a job (vip, public-vip, a service) to the id osha's constraints name instead of an
 * object of its own; `replaced` are foreign resources deleted for osha's own.
 */
export interface Adoption {
  kept: Map<string, string>;
  replaced: string[];
}

export function buildResourceModel(inv: Inventory, adoption?: Adoption): ResourceModel {
  if (inv.topology === 'active-active') return activeActiveModel(inv);
  const overrides = normaliseOverrides(inv.resources.overrides);
  const kept = adoption?.kept ?? new Map<string, string>();
  const services = new Set<ServiceName>(inv.services.filter((s) => !kept.has(s)));
  const resources: Resource[] = [];
  const constraints: Constraint[] = [];

  resources.push(...fenceDevices(inv));
  if (!kept.has('vip')) {
    const vip = vipPrimitive(VIP_ID, 'vip', inv.vip, overrides);
    // The node holding the VIP wins a 2-node fence race (see FENCE_RACE).
    if (twoNodeFenceRace(inv) && !vip.meta.some(([k]) => k === 'priority')) vip.meta.push(['priority', FENCE_RACE.vipPriority]);
    resources.push(vip);
  }
  if (inv.public_vip && !kept.has('public-vip')) resources.push(vipPrimitive(PUBLIC_VIP_ID, 'public-vip', inv.public_vip, overrides));

  const groups = new Map<GroupKey, Group>();
  /** What stands for each group in the constraints: osha's group, or a kept resource doing its job. */
  const units = new Map<GroupKey, string>();
  for (const key of GROUP_KEYS) {
    const members = GROUP_MEMBERS[key].filter((s) => services.has(s)).flatMap((s) => withStorage(s, inv, overrides));
    const stand = GROUP_MEMBERS[key].filter((s) => inv.services.includes(s) && kept.has(s)).map((s) => kept.get(s)!)[0];
    if (members.length === 0) {
      if (stand) units.set(key, stand);
      continue;
    }
    const meta = GROUP_META[key];
    const group: Group = { kind: 'group', id: groupId(key), members, ...(meta ? { meta } : {}) };
    groups.set(key, group);
    units.set(key, group.id);
    resources.push(group);
  }
  const clones = inv.services
    .filter((s) => SERVICE_SPECS[s].placement === 'clone' && services.has(s))
    .map((s): Clone => cloneOf(cloneId(s), servicePrimitive(s, inv, overrides)));
  resources.push(...clones);

  const database = kept.get('mysql') ?? (groups.get('basic')?.members.some((m) => m.id === primitiveId('mysql')) ? primitiveId('mysql') : undefined);
  const refs: TopologyRefs = { units, vip: kept.get('vip') ?? VIP_ID, publicVip: inv.public_vip ? (kept.get('public-vip') ?? PUBLIC_VIP_ID) : undefined, database };
  constraints.push(...fenceConstraints(inv));
  // Between two kept resources the operator's own constraints rule: osha adds none there.
  constraints.push(...topologyConstraints(refs, clones).filter((c) => constraintEnds(c).some((id) => isOshaId(id))));

  const user = userPrimitives(inv.resources.primitives);
  resources.push(...user.resources);
  const refsTable = referenceTable(inv, user.ids, kept);
  mergeConstraints(constraints, inv.resources.constraints.map((c) => userConstraint(c, refsTable)));

  const model: ResourceModel = { resources, constraints, options: clusterOptions(inv), warnings: warnings(inv) };
  if (adoption?.replaced.length) model.replaceForeign = [...adoption.replaced];
  return model;
}

function constraintEnds(c: Constraint): string[] {
  if (c.kind === 'colocation') return [c.rsc, c.withRsc];
  if (c.kind === 'order') return [c.first, c.then];
  return [c.rsc];
}

// --- primitives ---

/**
 * The id osha's constraints and restarts use for a service: its clone when it runs on every node,
 * else its primitive. In the active-active topology MariaDB is Galera's promotable clone.
 */
export function serviceResourceId(inv: Pick<Inventory, 'topology'>, service: ServiceName): string {
  if (inv.topology === 'active-active') {
    if (service === 'mysql') return GALERA_CLONE_ID;
    if (service !== ACTIVE_PASSIVE_IN_ACTIVE_ACTIVE) return cloneId(service);
    return primitiveId(service);
  }
  return SERVICE_SPECS[service].placement === 'clone' ? cloneId(service) : primitiveId(service);
}

function vipPrimitive(id: string, name: string, vip: Vip, overrides: Overrides): Primitive {
  const params: Attributes = [
    ['ip', vip.address],
    ['cidr_netmask', String(vip.cidr_netmask)],
  ];
  if (vip.nic) params.push(['nic', vip.nic]);
  return primitive(id, name, VIP_AGENT, params, VIP_OPS, overrides.get(name));
}

function servicePrimitive(service: ServiceName, inv: Inventory, overrides: Overrides): Primitive {
  const spec = SERVICE_SPECS[service];
  const params: Attributes = [];
  if (service === 'mysql') params.push(...mysqlParams(inv));
  if (service === 'rabbitmq') params.push(['mnesia_base', inv.resources.storage.rabbitmq?.directory ?? DATA_DIRECTORIES.rabbitmq]);
  if (spec.config) params.push(['config', spec.config]);
  if (spec.listensOnVip) params.push(['monitor_host', inv.vip.address]);
  const deep = spec.api === true && inv.openstack?.password !== undefined;
  if (deep) params.push(...monitoringCredentials(inv));
  const override = overrides.get(service);
  const p = primitive(primitiveId(service), service, spec.agent, params, spec.ops, override);
  if (spec.agent.provider === 'openstack') p.ops = [...p.ops.filter((op) => op.name !== 'monitor'), ...depthMonitors(deep, inv.resources.monitors, override?.ops)];
  return p;
}

/**
 * osha's agents get one recurring monitor per check depth (OCF_CHECK_LEVEL), each at its own
 * interval: 0 the process, 10 its health (HTTP, listening socket or AMQP link, per service), 20 a
 * login to the API, only when osha has credentials for it. ops.monitor.interval is the depth-10
 * interval (what the single monitor of older osha versions checked); ops.monitor.timeout applies
 * to every depth. A depth switched off keeps the credentials in the params: changing a
 * primitive's params restarts it, changing its monitors does not.
 */
function depthMonitors(deep: boolean, defaults: Partial<MonitorIntervals> | undefined, ops: ResourceOverride['ops']): Operation[] {
  const intervals = effectiveIntervals({ defaults, service: ops?.monitors, legacyInterval: ops?.monitor?.interval });
  return MONITOR_DEPTHS.filter((d) => d !== 20 || deep).flatMap((depth): Operation[] => {
    const key = depthKey(depth);
    const interval = intervals[key];
    if (interval === 'off') return [];
    return [{ name: 'monitor', interval, timeout: ops?.monitor?.timeout ?? MONITOR_TIMEOUTS[key], depth }];
  });
}

/** Debian's MariaDB paths, as in Listing 2; the server listens on the VIP it is colocated with. */
function mysqlParams(inv: Inventory): Attributes {
  return [
    ['config', '/etc/mysql/my.cnf'],
    ['datadir', inv.resources.storage.mysql?.directory ?? DATA_DIRECTORIES.mysql],
    ['pid', '/run/mysqld/mysqld.pid'],
    ['socket', '/run/mysqld/mysqld.sock'],
    // The agent's Debian default, /var/log/mysql/error.log, is in a directory MariaDB's package no
    // longer makes (it logs to the journal): the start fails. The agent creates a file in /var/log.
    ['log', '/var/log/mysqld.log'],
    ['additional_parameters', `--bind-address=${inv.vip.address}`],
  ];
}

/** The password is never a CIB value: the agent reads it from a root-only file. */
function monitoringCredentials(inv: Inventory): Attributes {
  const os = inv.openstack!;
  return [
    ['os_auth_url', os.auth_url ?? `http://${urlHost(inv.vip.address)}:5000/v3`],
    ['os_username', os.username],
    ['os_project_name', os.project],
    ['os_user_domain_name', os.user_domain],
    ['os_project_domain_name', os.project_domain],
    ['os_password_file', OS_PASSWORD_FILE],
  ];
}

const urlHost = (address: string): string => (address.includes(':') ? `[${address}]` : address);

/** A stateful service with shared storage: the filesystem first, then the service on it. */
function withStorage(service: ServiceName, inv: Inventory, overrides: Overrides): Primitive[] {
  const p = servicePrimitive(service, inv, overrides);
  if (service !== 'mysql' && service !== 'rabbitmq') return [p];
  const storage = inv.resources.storage[service];
  if (!storage) return [p];
  const params: Attributes = [
    ['device', storage.device],
    ['directory', storage.directory ?? DATA_DIRECTORIES[service]],
    ['fstype', storage.fstype],
  ];
  if (storage.options) params.push(['options', storage.options]);
  return [primitive(filesystemId(service), `fs-${service}`, FILESYSTEM_AGENT, params, FILESYSTEM_OPS, undefined), p];
}

function primitive(id: string, origin: string, agent: Agent, params: Attributes, ops: OpTimings, override: ResourceOverride | undefined): Primitive {
  return {
    kind: 'primitive',
    id,
    agent,
    params: mergeAttributes(params, override?.params),
    meta: mergeAttributes(PRIMITIVE_META, override?.meta),
    ops: operations(ops, override?.ops),
    origin,
  };
}

function operations(defaults: OpTimings, override: ResourceOverride['ops']): Operation[] {
  return (['start', 'stop', 'monitor'] as const).map((name) => ({
    name,
    interval: override?.[name]?.interval ?? defaults[name].interval,
    timeout: override?.[name]?.timeout ?? defaults[name].timeout,
  }));
}

/** Defaults first, in their order; an override replaces a value in place or appends a new name. */
function mergeAttributes(defaults: Attributes, override: Record<string, string | number | boolean> | undefined): Attributes {
  const out: Attributes = defaults.map(([k, v]) => [k, v]);
  for (const [k, v] of Object.entries(override ?? {})) {
    const i = out.findIndex(([name]) => name === k);
    if (i >= 0) out[i] = [k, String(v)];
    else out.push([k, String(v)]);
  }
  return out;
}

function cloneOf(id: string, child: Primitive): Clone {
  // interleave: an instance waits only for the instance it depends on on its own node.
  return { kind: 'clone', id, child, meta: [['interleave', 'true']] };
}

function userPrimitives(list: UserPrimitive[]): { resources: Resource[]; ids: Map<string, string> } {
  const ids = new Map<string, string>();
  const resources = list.map((u): Resource => {
    const p = primitive(primitiveId(u.id), `user:${u.id}`, parseAgent(u.agent), [], USER_OPS, u);
    if (!u.clone) {
      ids.set(u.id, p.id);
      return p;
    }
    const c = cloneOf(cloneId(u.id), p);
    ids.set(u.id, c.id);
    return c;
  });
  return { resources, ids };
}

export function parseAgent(text: string): Agent {
  const parts = text.split(':');
  if (parts[0] === 'ocf' && parts.length === 3) return { class: 'ocf', provider: parts[1]!, type: parts[2]! };
  return { class: parts[0]!, type: parts.slice(1).join(':') };
}

// --- fencing ---

function fenceDevices(inv: Inventory): Primitive[] {
  const race = twoNodeFenceRace(inv);
  return inv.stonith.devices.map((d) => {
    const params: Attributes = Object.entries(d.params).map(([k, v]) => [k, String(v)]);
    params.push(d.plug ? ['pcmk_host_map', `${d.node}:${d.plug}`] : ['pcmk_host_list', d.node]);
    // Fence agents run password_script through a shell and read the password from its output.
    if (d.password !== undefined) params.push(['password_script', `cat ${fencePasswordFile(d.name)}`]);
    if (race && d.node === race.delayedNode) params.push(['pcmk_delay_base', FENCE_RACE.deviceDelay]);
    return primitive(fenceId(d), `fence:${d.name}`, { class: 'stonith', type: d.agent }, params, FENCE_OPS, undefined);
  });
}

/**
 * The classic keystone group's resource priority. Pacemaker lays out a transition in resource
 * priority order, and on a busy node (load-threshold) runs as few as one action at a time, the
 * first ready one in that order: after a failover keystone's start, ready once MariaDB runs, came
 * after RabbitMQ's, which it does not need, and every client waited for both (crm_simulate shows
 * the order). Below the 2-node VIP's 10, so a fence race still goes to the VIP's node.
 */
export const KEYSTONE_PRIORITY = '5';
/** Meta attributes of osha's classic groups, beside their members' own. */
const GROUP_META: Partial<Record<GroupKey, Attributes>> = { keystone: [['priority', KEYSTONE_PRIORITY]] };

/**
 * Two nodes that lose sight of each other both stay quorate (two_node) and each asks to fence the
 * other. Two delays make exactly one of them win, always: fencing the node that runs the VIP (the
 * higher resource priority) waits priority-fencing-delay, and fencing the first node waits
 * pcmk_delay_base, so with the VIP nowhere or on the first node, the first node wins. A cluster of
 * three or more needs neither: only the side with a majority fences.
 */
export const FENCE_RACE = { priorityDelay: '10s', deviceDelay: '5s', vipPriority: '10' } as const;

function twoNodeFenceRace(inv: Inventory): { delayedNode: string } | undefined {
  if (!inv.stonith.enabled || inv.nodes.length !== 2 || inv.stonith.devices.length === 0) return undefined;
  return { delayedNode: inv.nodes[0]!.name };
}

/** osha's fence devices are named osha-fence-NAME. */
export const FENCE_ID_PREFIX = `${OSHA_PREFIX}fence-`;
export const fenceId = (d: FenceDevice): string => `${FENCE_ID_PREFIX}${d.name}`;

/** A node cannot be trusted to fence itself: keep each device off the node it powers off. */
function fenceConstraints(inv: Inventory): Constraint[] {
  return inv.stonith.devices.map((d) => ({
    kind: 'location',
    id: `${OSHA_PREFIX}lo-fence-${d.name}-avoids-${d.node}`,
    rsc: fenceId(d),
    node: d.node,
    score: '-INFINITY',
  }));
}

// --- constraints: the articles' topology ---

/** The ids the topology's constraints name: osha's objects, or kept resources in their place. */
interface TopologyRefs {
  units: Map<GroupKey, string>;
  vip: string;
  publicVip?: string;
  /** MariaDB's primitive (keystone waits for it alone), when there is one. */
  database?: string;
}

function topologyConstraints(refs: TopologyRefs, clones: Clone[]): Constraint[] {
  const out: Constraint[] = [];
  const id = (key: GroupKey) => refs.units.get(key);
  const VIP = refs.vip;
  const basic = id('basic');
  const keystone = id('keystone');
  // Everything active/passive runs where keystone runs; keystone (and the DB/MQ) where the VIP is.
  const anchor = keystone ?? VIP;
  // What a group waits for when nothing earlier in the chain is there.
  const base = keystone ?? basic ?? VIP;

  if (refs.publicVip) out.push(colocation(refs.publicVip, VIP));
  if (basic) out.push(colocation(basic, VIP), order(VIP, basic));
  if (keystone) {
    out.push(colocation(keystone, VIP));
    // Keystone needs the database, not the message queue. Listing 2 (line 48) orders it after
    // the whole basic group, which holds keystone back for RabbitMQ's start on every failover
    // (bench/drill.ts measured about 6 s of its recovery there) and restarts it with RabbitMQ.
    if (refs.database) out.push(order(refs.database, keystone));
    out.push(order(VIP, keystone));
  }
  // Each chain member waits for the one before it that is present; the others wait for the base.
  const after = new Map<GroupKey, string>();
  let previous = base;
  for (const key of START_CHAIN) {
    const g = id(key);
    if (!g || key === 'keystone') continue;
    after.set(key, previous);
    previous = g;
  }
  for (const key of GROUP_KEYS) {
    const g = id(key);
    if (!g || key === 'basic' || key === 'keystone') continue;
    const first = after.get(key) ?? base;
    out.push(colocation(g, anchor), order(first, g));
    // The services that follow keystone do use RabbitMQ: they still wait for the whole group.
    if (basic && first === keystone) out.push(order(basic, g));
  }
  // The API services bind to the public VIP too: it must be up before the first of them starts.
  if (refs.publicVip) {
    const entries = keystone ? [keystone] : [...refs.units.values()].filter((g) => g !== basic);
    for (const g of entries) out.push(order(refs.publicVip, g));
  }
  // Listing 2, line 44: the per-node agents start once keystone is up. Optional, unlike the
  // article's inf: a mandatory order restarts every node's agent whenever keystone fails over
  // (crm_simulate shows it), cutting VM networking cluster-wide for a control-plane failover.
  const cloneBase = keystone ?? basic;
  if (cloneBase) for (const c of clones) out.push(order(cloneBase, c.id, false));
  return out;
}

function colocation(rsc: string, withRsc: string, score = 'INFINITY', id?: string): Constraint {
  return { kind: 'colocation', id: id ?? `${OSHA_PREFIX}co-${short(rsc)}-with-${short(withRsc)}`, rsc, withRsc, score };
}

function order(first: string, then: string, mandatory = true, id?: string): Order {
  return { kind: 'order', id: id ?? `${OSHA_PREFIX}o-${short(then)}-after-${short(first)}`, first, then, mandatory };
}

function location(rsc: string, node: string, score: string, id?: string): Constraint {
  return { kind: 'location', id: id ?? `${OSHA_PREFIX}lo-${short(rsc)}-on-${node}`, rsc, node, score };
}

// --- the active-active topology ---

export const GALERA_ID = `${OSHA_PREFIX}galera`;
export const GALERA_CLONE_ID = cloneId('galera');
export const HAPROXY_CLONE_ID = cloneId('haproxy');
/**
 * The VIP's resource priority in the active-active topology. Pacemaker assigns resources and lays
 * out its transition graph in priority order, and under load (load-threshold) it runs as few as one
 * action at a time cluster-wide: after a node dies the VIP's start then comes first, before the
 * clones' notifications, and is not overtaken by the fenced node rebooting and rejoining.
 */
export const AA_VIP_PRIORITY = '10';
/** The one service that stays active/passive beside the clones: a volume has one writer (as TripleO ran it). */
const ACTIVE_PASSIVE_IN_ACTIVE_ACTIVE: ServiceName = 'cinder-volume';
/** osha's agents read the node's own address from this file (written by the topology-files step). */
export const NODE_ADDRESS = '@node';

/**
 * osha's galera (playbooks/agents/galera): heartbeat's, reading Galera's node list from a file osha
 * writes on every node (GALERA_NODES_FILE), not from a parameter: a controller added or removed
 * changes no resource, so Pacemaker restarts no Galera instance for it.
 */
export const GALERA_AGENT: Agent = { class: 'ocf', provider: 'openstack', type: 'galera' };
/** What osha used before, and a cluster it built then still runs until its node list changes. */
export const HEARTBEAT_GALERA_AGENT: Agent = { class: 'ocf', provider: 'heartbeat', type: 'galera' };
const RABBITMQ_CLUSTER_AGENT: Agent = { class: 'ocf', provider: 'heartbeat', type: 'rabbitmq-cluster' };
const HAPROXY_AGENT: Agent = { class: 'systemd', type: 'haproxy' };
const HAPROXY_OPS: OpTimings = { start: { interval: '0s', timeout: '60s' }, stop: { interval: '0s', timeout: '60s' }, monitor: { interval: '10s', timeout: '20s' } };
// rabbitmq-cluster joins (and may wait for) the other brokers at start: TripleO gave it 200 s.
// Its monitor runs rabbitmqctl three times, each a new Erlang VM: 4 s of CPU per run on a lab
// node (measured), so TripleO's 10 s kept more than half a core per node busy watching. Every
// 30 s instead: a dead broker's clients move to the other brokers at once anyway (oslo.messaging
// lists them all), the monitor only decides when Pacemaker restarts it.
const RABBITMQ_CLUSTER_OPS: OpTimings = { start: { interval: '0s', timeout: '200s' }, stop: { interval: '0s', timeout: '200s' }, monitor: { interval: RABBITMQ_CLUSTER_MONITOR_INTERVAL, timeout: '40s' } };
/**
 * The galera monitor of a promoted instance (about 1 s of CPU per run on a lab node: several
 * mysql and crm_attribute calls). Clients never wait for it: HAProxy's own checks take a node out
 * within seconds; it decides when Pacemaker restarts a server. 15 s, not TripleO's 10 s; it must
 * differ from the unpromoted monitor's 20 s (Pacemaker keys a recurring operation by its interval),
 * which stays as it is because a full outage's bootstrap waits for it. The inventory's
 * resources.overrides.mysql.ops.monitor sets this one: it is the monitor that runs.
 */
const GALERA_PROMOTED_MONITOR = { name: 'monitor', interval: GALERA_PROMOTED_MONITOR_INTERVAL, timeout: '30s', role: 'Promoted' } as const;
const GALERA_OPS: OpTimings = { start: { interval: '0s', timeout: '120s' }, stop: { interval: '0s', timeout: '120s' }, monitor: { interval: GALERA_UNPROMOTED_MONITOR_INTERVAL, timeout: '30s' } };

/**
 * MariaDB Galera and a RabbitMQ cluster on every node, HAProxy on every node with the VIP where
 * one of them runs, and the OpenStack services on every node behind it (TripleO's layout since
 * Newton; ../shared/reference/topology-fencing-pacemaker3.md section 1). Losing a node moves only
 * the VIP: every service already runs elsewhere.
 */
function activeActiveModel(inv: Inventory): ResourceModel {
  const overrides = normaliseOverrides(inv.resources.overrides);
  const resources: Resource[] = [...fenceDevices(inv)];
  const vips = [vipPrimitive(VIP_ID, 'vip', inv.vip, overrides)];
  if (inv.public_vip) vips.push(vipPrimitive(PUBLIC_VIP_ID, 'public-vip', inv.public_vip, overrides));
  // The VIPs first in every transition: a busy node makes Pacemaker run one action at a time
  // (load throttling), and the VIP's start must not wait behind RabbitMQ's notifications.
  for (const v of vips) if (!v.meta.some(([k]) => k === 'priority')) v.meta.push(['priority', AA_VIP_PRIORITY]);
  resources.push(...vips);

  const names = inv.nodes.map((n) => n.name);
  // mysql's ops.monitor is the promoted instances' monitor (the one that runs); the unpromoted one keeps GALERA_OPS'.
  const mysqlOverride = overrides.get('mysql');
  const monitorOverride = mysqlOverride?.ops?.monitor;
  const promotedMonitor = { ...GALERA_PROMOTED_MONITOR, interval: monitorOverride?.interval ?? GALERA_PROMOTED_MONITOR.interval, timeout: monitorOverride?.timeout ?? GALERA_PROMOTED_MONITOR.timeout };
  const overrideWithoutMonitor = mysqlOverride && { ...mysqlOverride, ops: mysqlOverride.ops && { ...mysqlOverride.ops, monitor: undefined } };
  const galera = primitive(GALERA_ID, 'mysql', GALERA_AGENT, GALERA_PARAMS, GALERA_OPS, overrideWithoutMonitor);
  // promote: an SST of a large database takes long. Not on-fail=block as TripleO had it: bookworm's
  // agent (4.12, without resource-agents PR #1910) can fail a promote while a joiner briefly reports
  // non-Primary during IST; a failed promote is then retried instead of waiting for a human.
  galera.ops.push({ name: 'promote', interval: '0s', timeout: '300s' }, { name: 'demote', interval: '0s', timeout: '120s' }, promotedMonitor);
  const galeraClone: Clone = {
    kind: 'clone',
    id: GALERA_CLONE_ID,
    child: galera,
    // Every node a writer (HAProxy sends writes to one at a time); ordered: one SST donor at a time.
    meta: [['promotable', 'true'], ['promoted-max', String(names.length)], ['ordered', 'true'], ['interleave', 'true']],
  };
  const rabbit = primitive(primitiveId('rabbitmq'), 'rabbitmq', RABBITMQ_CLUSTER_AGENT, [], RABBITMQ_CLUSTER_OPS, overrides.get('rabbitmq'));
  const rabbitClone: Clone = { kind: 'clone', id: cloneId('rabbitmq'), child: rabbit, meta: [['ordered', 'true'], ['interleave', 'true'], ['notify', 'true']] };
  const haproxy = cloneOf(HAPROXY_CLONE_ID, primitive(primitiveId('haproxy'), 'haproxy', HAPROXY_AGENT, [], HAPROXY_OPS, overrides.get('haproxy')));
  resources.push(galeraClone, rabbitClone, haproxy);

  const constraints: Constraint[] = [...fenceConstraints(inv)];
  // The VIP goes where HAProxy runs; starting HAProxy does not wait for the VIP (it binds with
  // freebind). Not symmetrical: a dead node's VIP must not wait for the pseudo-stops of its HAProxy
  // instance, which a throttled transition (one action at a time) reaches only after the slow ones.
  for (const v of inv.public_vip ? [VIP_ID, PUBLIC_VIP_ID] : [VIP_ID]) constraints.push(colocation(v, HAPROXY_CLONE_ID), { ...order(v, HAPROXY_CLONE_ID, false), symmetrical: false });

  for (const s of inv.services) {
    if (s === 'mysql' || s === 'rabbitmq') continue;
    const p = servicePrimitive(s, inv, overrides);
    if (SERVICE_SPECS[s].agent.provider === 'openstack') localAddress(p, s);
    const id = serviceResourceId(inv, s);
    resources.push(id === p.id ? p : cloneOf(id, p));
    // Optional: they start after the database and broker when all start together (the first deploy,
    // a full outage), but a Galera or RabbitMQ instance that restarts does not restart them: the
    // services reach both through the VIP and reconnect by themselves.
    constraints.push({ ...order(GALERA_CLONE_ID, id, false), firstAction: 'promote' });
    if (s !== 'keystone') constraints.push(order(rabbitClone.id, id, false));
  }

  // One instance per inventory node and no more. A node joins Pacemaker (cluster-start) before the
  // resources step gives it its place in Galera's node list: without this, Pacemaker starts a Galera
  // instance on it at once, the agent refuses a node outside the list as misconfigured, and
  // Pacemaker stops Galera on every node for that (measured: adding a 4th controller took the
  // database down until the CIB named it). With it, the instances stay where they run until the
  // patch raises clone-max; a new node gets its services only then, configured.
  for (const r of resources) if (r.kind === 'clone') r.meta.push(['clone-max', String(names.length)]);

  const user = userPrimitives(inv.resources.primitives);
  resources.push(...user.resources);
  mergeConstraints(constraints, inv.resources.constraints.map((c) => userConstraint(c, referenceTable(inv, user.ids, new Map()))));
  const warnings = inv.stonith.enabled ? [] : ['fencing is disabled: a Galera node that hangs instead of dying keeps the other nodes from knowing whether it still writes'];
  return { resources, constraints, options: clusterOptions(inv), warnings };
}

/** Galera's node list is not among them: osha's agent reads it from GALERA_NODES_FILE. */
const GALERA_PARAMS: Attributes = [
  ['config', '/etc/mysql/my.cnf'],
  ['datadir', DATA_DIRECTORIES.mysql],
  ['pid', '/run/mysqld/mysqld.pid'],
  ['socket', '/run/mysqld/mysqld.sock'],
  // As for the mysql agent: Debian's MariaDB no longer makes /var/log/mysql (see mysqlParams).
  ['log', '/var/log/mysqld.log'],
  ['enable_creation', 'true'],
];

/** An API on every node listens on that node's own address (HAProxy has the VIP) and is checked there. */
function localAddress(p: Primitive, service: ServiceName): void {
  const set = (name: string) => {
    const i = p.params.findIndex(([k]) => k === name);
    if (i >= 0) p.params[i] = [name, NODE_ADDRESS];
    else p.params.push([name, NODE_ADDRESS]);
  };
  if (SERVICES[service].port === undefined) return;
  // A uwsgi API listens where the agent says; the others where their rewritten config says.
  if (SERVICES[service].uwsgi) set('bind_address');
  set('monitor_host');
  // keystone's login check asks its own instance (the agent's default without os_auth_url), not
  // the VIP: through HAProxy it would meet another node's keystone, or none while they all start,
  // and fail this one for it.
  if (service === 'keystone') p.params = p.params.filter(([k]) => k !== 'os_auth_url');
}

// --- user constraints ---

/** Name in the inventory → id in the CIB: vip, public-vip, services (aliases too), user primitives. */
function referenceTable(inv: Inventory, userIds: Map<string, string>, kept: Map<string, string>): (name: string) => string {
  return (name: string) => {
    if (name === 'vip') return kept.get('vip') ?? VIP_ID;
    if (name === 'public-vip') return kept.get('public-vip') ?? PUBLIC_VIP_ID;
    const user = userIds.get(name);
    if (user) return user;
    const service = canonicalService(name);
    if (service && kept.has(service)) return kept.get(service)!;
    if (service && inv.services.includes(service)) return serviceResourceId(inv, service);
    // The inventory schema checks every reference, so this is a bug, not a user error.
    throw new Error(`constraint refers to unknown resource "${name}" (the inventory check should have caught it)`);
  };
}

function userConstraint(c: UserConstraint, ref: (name: string) => string): Constraint {
  const id = c.id === undefined ? undefined : `${OSHA_PREFIX}${c.id}`;
  if (c.type === 'location') return location(ref(c.resource!), c.node!, scoreText(c.score ?? 10000), id);
  if (c.type === 'colocation') return colocation(ref(c.resource!), ref(c.with!), scoreText(c.score ?? 'INFINITY'), id);
  return order(ref(c.first!), ref(c.then!), c.mandatory ?? true, id);
}

function scoreText(s: number | string): string {
  if (s === 'inf') return 'INFINITY';
  if (s === '-inf') return '-INFINITY';
  return String(s);
}

/** A user constraint with the id of a generated one replaces it (that is how a score is changed). */
function mergeConstraints(into: Constraint[], extra: Constraint[]): void {
  for (const c of extra) {
    const i = into.findIndex((x) => x.id === c.id);
    if (i >= 0) into[i] = c;
    else into.push(c);
  }
}

// --- overrides, options, warnings ---

type Overrides = Map<string, ResourceOverride>;

/** Override keys may be article aliases (quantum-server); the model uses canonical names. */
function normaliseOverrides(raw: Record<string, ResourceOverride>): Overrides {
  const out: Overrides = new Map();
  for (const [key, value] of Object.entries(raw)) out.set(canonicalService(key) ?? key, value);
  return out;
}

/** The cluster properties the inventory decides; osha writes each of them from here only. */
export function clusterOptions(inv: Inventory): ClusterOption[] {
  const n = inv.nodes.length;
  const options: ClusterOption[] = [
    {
      name: 'fencing',
      value: inv.stonith.enabled ? 'true' : 'false',
      why: inv.stonith.enabled ? 'fence devices are configured' : 'no fencing (stonith.unsafe_no_fencing: true, or 3+ nodes without shared storage): a hung node is trusted to be down',
    },
  ];
  if (inv.quorum.policy === 'auto') {
    options.push({
      name: 'no-quorum-policy',
      value: 'stop',
      why:
        n === 2
          ? 'auto: stop; with 2 nodes corosync two_node keeps the survivor quorate, so stop only triggers if both lose contact'
          : `auto: stop; with ${n} nodes a partition without a majority stops its resources, so the majority side can take over safely`,
    });
  } else {
    options.push({ name: 'no-quorum-policy', value: inv.quorum.policy, why: `set in the inventory (quorum.policy: ${inv.quorum.policy})` });
  }
  if (twoNodeFenceRace(inv)) {
    options.push({
      name: 'priority-fencing-delay',
      value: FENCE_RACE.priorityDelay,
      why: `2 nodes: in a fence race the node running the VIP (priority ${FENCE_RACE.vipPriority}) wins; ${inv.nodes[0]!.name} wins when priorities are equal (pcmk_delay_base ${FENCE_RACE.deviceDelay} on its device)`,
    });
  }
  return options;
}

function warnings(inv: Inventory): string[] {
  const out: string[] = [];
  const storage = inv.resources.storage;
  if (inv.services.includes('mysql') && !storage.mysql) {
    out.push(
      'mysql has no shared storage (resources.storage.mysql): every node keeps its own /var/lib/mysql, so after a failover the database starts with that node\'s copy of the data',
    );
  }
  if (inv.services.includes('rabbitmq') && !storage.rabbitmq) {
    out.push('rabbitmq has no shared storage (resources.storage.rabbitmq): durable queues stay behind on the failed node');
  }
  if (!inv.stonith.enabled) {
    out.push('fencing is disabled: a node that hangs instead of dying can keep the VIP or the database, and the cluster cannot take them over safely');
  }
  return out;
}
