// How Pacemaker runs each service: its agent, its group, its parameters and its timeouts. The
// per-service facts come from the service registry (src/services/registry.ts); this file adds the
// topology (groups, start chain, member order) and the timings shared by many resources.
// The topology follows article 001's Listing 2: databases and message queue together on the VIP,
// keystone on the VIP after them, every other OpenStack group with keystone and started after it.
import { perService, type ServiceEntry, type ServiceName } from '../services/registry.ts';
import type { Agent, GroupKey, OpTimings } from '../model/resources.ts';

// The group names and timing types are part of the resource model (src/model), so the service
// registry below this layer can name them too.
export { GROUP_KEYS, type GroupKey, type Timing, type OpTimings } from '../model/resources.ts';

/**
 * Groups that start one after another, as in Listing 2 (lines 47, 50, 51): keystone, then
 * neutron, then glance, then nova. A missing group is skipped, so the chain stays connected.
 */
export const START_CHAIN: GroupKey[] = ['keystone', 'neutron', 'glance', 'nova'];


export interface ServiceSpec {
  agent: Agent;
  /** The group it runs in, or `clone` for a service that runs on every node. */
  placement: GroupKey | 'clone';
  ops: OpTimings;
  /** The service's main configuration file, passed to osha's agents as `config`. */
  config?: string;
  /** An API with a deep (token) health check: gets the monitoring credentials. */
  api?: boolean;
  /** osha's config rewrite makes it listen on the VIP only (src/openstack/rewrites.ts), so its
   *  health check must ask there, not on the agent's default 127.0.0.1. */
  listensOnVip?: boolean;
}

const openstackAgent = (type: string): Agent => ({ class: 'ocf', provider: 'openstack', type });

/**
 * OpenStack daemons: a start that waits for the API to answer, a stop that lets in-flight requests
 * finish (a failed stop means fencing, so stop gets room), and a monitor with time for a token
 * round trip. The articles' 30 s monitor timeouts were too tight for a deep check under load.
 * osha's own agents replace this single monitor by one per check depth (src/inventory/monitors.ts,
 * servicePrimitive in src/cluster/build.ts); user primitives keep it.
 */
const OPENSTACK_OPS: OpTimings = {
  start: { interval: '0s', timeout: '120s' },
  stop: { interval: '0s', timeout: '120s' },
  monitor: { interval: '30s', timeout: '60s' },
};

/** A registry entry as Pacemaker runs it (src/services/registry.ts holds every service's facts). */
function specOf(e: ServiceEntry, service: ServiceName): ServiceSpec {
  if (e.agent !== 'osha') return { agent: e.agent, placement: e.placement, ops: e.ops ?? OPENSTACK_OPS };
  const spec: ServiceSpec = { agent: openstackAgent(service), placement: e.placement, ops: e.ops ?? OPENSTACK_OPS, config: e.agentConfig ?? e.config, api: e.api ?? false };
  if (e.listensOnVip) spec.listensOnVip = true;
  return spec;
}

export const SERVICE_SPECS: Record<ServiceName, ServiceSpec> = perService(specOf);

/**
 * Member order inside each group: Pacemaker starts a group's members in this order and stops them
 * in reverse. It follows Listing 2 where the article lists the service (cinder-volume before the
 * scheduler and API; glance-registry before glance-api); newer services slot in next to their kin.
 */
export const GROUP_MEMBERS: Record<GroupKey, ServiceName[]> = {
  basic: ['mysql', 'rabbitmq'],
  keystone: ['keystone'],
  neutron: ['neutron-server', 'neutron-rpc-server', 'neutron-dhcp-agent', 'neutron-l3-agent', 'neutron-metadata-agent'],
  glance: ['glance-registry', 'glance-api'],
  nova: ['placement-api', 'nova-api', 'nova-api-metadata', 'nova-consoleauth', 'nova-novncproxy', 'nova-conductor', 'nova-scheduler'],
  cinder: ['cinder-volume', 'cinder-scheduler', 'cinder-api'],
  heat: ['heat-engine', 'heat-api', 'heat-api-cfn'],
};

/** Where each stateful service keeps its data, and so where its shared storage is mounted. */
export const DATA_DIRECTORIES = { mysql: '/var/lib/mysql', rabbitmq: '/var/lib/rabbitmq' } as const;

export const VIP_AGENT: Agent = { class: 'ocf', provider: 'heartbeat', type: 'IPaddr2' };
export const VIP_OPS: OpTimings = {
  start: { interval: '0s', timeout: '20s' },
  stop: { interval: '0s', timeout: '20s' },
  monitor: { interval: '10s', timeout: '20s' },
};

export const FILESYSTEM_AGENT: Agent = { class: 'ocf', provider: 'heartbeat', type: 'Filesystem' };
/** Unmounting may have to kill the processes that still hold it: stop gets twice start's time. */
export const FILESYSTEM_OPS: OpTimings = {
  start: { interval: '0s', timeout: '60s' },
  stop: { interval: '0s', timeout: '120s' },
  monitor: { interval: '20s', timeout: '40s' },
};

/** A user primitive's operations when the inventory gives none. */
export const USER_OPS: OpTimings = OPENSTACK_OPS;

export const FENCE_OPS: OpTimings = {
  start: { interval: '0s', timeout: '60s' },
  stop: { interval: '0s', timeout: '60s' },
  monitor: { interval: '60s', timeout: '60s' },
};

/**
 * Meta attributes on every primitive osha generates: after 3 failures on one node, move it to
 * another node instead of restarting it in place forever; forget old failures after 2 minutes.
 */
export const PRIMITIVE_META: [string, string][] = [
  ['migration-threshold', '3'],
  ['failure-timeout', '120s'],
];

/** Where osha's agents read the monitoring password from (written 0600 by deploy; never in the CIB). */
export const OS_PASSWORD_FILE = '/etc/osha/openstack-password';

/** Where a fence device's password lives on every node; the CIB only names the file. */
export function fencePasswordFile(device: string): string {
  return `/etc/osha/fence-${device}.password`;
}
