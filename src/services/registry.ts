// The service registry: every service osha makes highly available, defined once. Each entry says
// what the service is called (and what the articles called it), which Debian package ships it,
// which init units osha takes away from the init system, which agent Pacemaker runs it with and
// where, which config file it reads, and its keystone catalog entry. Every other list of services
// derives from this file:
//   src/inventory/services.ts      names, aliases, the wizard's default selection
//   src/agents/files.ts            the agents and alias files uploaded from playbooks/agents/
//   src/cluster/catalog.ts         SERVICE_SPECS (agent, placement, ops, config, api)
//   src/steps/init-services.ts     INIT_UNITS
//   src/openstack/rewrites.ts      config files per family and the rewrite rules per file
//   src/steps/openstack.ts         configServiceOf (which config family a service reads)
//   src/openstack/endpoints.ts     CATALOG (keystone endpoints)
// Adding a service: one entry in SERVICES (and its file in CONFIG_FILES if it reads a new one),
// plus its agent in playbooks/agents/NAME. test/services/registry.test.ts checks the rest.
import type { Agent } from '../model/resources.ts';
import type { GroupKey, OpTimings } from '../model/resources.ts';

/** Named sets of rewrite rules; src/openstack/rewrites.ts defines what each one rewrites. */
export type RewriteRuleSet =
  | 'common'
  | 'api-database'
  | 'placement-database'
  | 'keystone-endpoints'
  | 'glance-bind'
  | 'registry-host'
  | 'nova-glance'
  | 'glance-host'
  | 'cinder-glance'
  | 'novnc'
  | 'nova-neutron-url'
  | 'metadata-host'
  | 'heat-urls';

export interface ConfigFileEntry {
  /** The config family: its files are read, rewritten and restarted for together. */
  family: string;
  /** Rewrite rule sets applied to this file, in this order (then the keystone URLs, always). */
  rules: readonly RewriteRuleSet[];
  /** Folsom/Grizzly `notifier_strategy = rabbit`: point its rabbit_host at the VIP when unset. */
  legacyNotifier?: boolean;
  /**
   * Directories whose *.conf files the family's daemons also read when they exist (Debian's
   * scripts pass them as --config-dir). osha does not rewrite them; it says which of them set an
   * option it moves to the VIP in this file.
   */
  alsoRead?: readonly string[];
}

/** The OpenStack config files osha rewrites to use the VIP (Debian/Ubuntu paths; the same on RDO). */
const CONFIG_FILE_TABLE = {
  '/etc/keystone/keystone.conf': { family: 'keystone', rules: ['common', 'keystone-endpoints'] },
  '/etc/glance/glance-api.conf': { family: 'glance', rules: ['common', 'glance-bind', 'registry-host'], legacyNotifier: true },
  '/etc/glance/glance-registry.conf': { family: 'glance', rules: ['common'] },
  '/etc/nova/nova.conf': { family: 'nova', rules: ['common', 'api-database', 'nova-glance', 'glance-host', 'novnc', 'nova-neutron-url'] },
  '/etc/neutron/neutron.conf': { family: 'neutron', rules: ['common'], alsoRead: ['/etc/neutron/server.conf.d', '/etc/neutron/agent.conf.d'] },
  '/etc/neutron/metadata_agent.ini': { family: 'neutron', rules: ['metadata-host'] },
  '/etc/cinder/cinder.conf': { family: 'cinder', rules: ['common', 'cinder-glance', 'glance-host'] },
  '/etc/heat/heat.conf': { family: 'heat', rules: ['common', 'heat-urls'] },
  '/etc/placement/placement.conf': { family: 'placement', rules: ['placement-database'] },
} as const satisfies Record<string, ConfigFileEntry>;

export type ConfigFile = keyof typeof CONFIG_FILE_TABLE;
export type ConfigFamily = (typeof CONFIG_FILE_TABLE)[ConfigFile]['family'];
export const CONFIG_FILES: Readonly<Record<ConfigFile, ConfigFileEntry & { family: ConfigFamily }>> = CONFIG_FILE_TABLE;

const configFileNames = Object.keys(CONFIG_FILES) as ConfigFile[];

/** The config families, in the order their first file appears above. */
export const CONFIG_FAMILIES: readonly ConfigFamily[] = [...new Set(configFileNames.map((file) => CONFIG_FILES[file].family))];

/** Each config family's files, in the order listed above. */
export const FAMILY_FILES = {} as Record<ConfigFamily, readonly ConfigFile[]>;
for (const family of CONFIG_FAMILIES) FAMILY_FILES[family] = configFileNames.filter((file) => CONFIG_FILES[file].family === family);

/** A config file's registry entry, or undefined for a file osha does not rewrite. */
export function configFileEntry(file: string): ConfigFileEntry | undefined {
  return Object.hasOwn(CONFIG_FILES, file) ? CONFIG_FILES[file as ConfigFile] : undefined;
}

export interface CatalogEntry {
  /** Keystone service type. */
  type: string;
  /** Path of a fresh endpoint on the service's port (an existing endpoint keeps its path). */
  path: string;
}

/**
 * How osha's agent checks the service's health at depth 10 (its OSA_HEALTH): an HTTP GET of a
 * path on its port, a listening socket on its port, or its broker link (amqp).
 */
export type HealthCheck = { kind: 'http'; path: string } | { kind: 'listen' } | { kind: 'amqp' };

export interface ServiceEntry {
  /** Other names an inventory may use: the Folsom-era articles' names. */
  aliases?: readonly string[];
  /** The articles' agent names: accepted like aliases, and shipped in playbooks/agents/ as alias files that exec this agent. */
  agentAliases?: readonly string[];
  /** The Debian package that ships the daemon and its init script (none: Debian dropped the service).
   *  The same in bookworm and trixie; test/agents/debian-packaging checks the agent against both. */
  debianPackage?: string;
  /** The package's init script, /etc/init.d/NAME, when not named after the service (its systemd
   *  unit, NAME.service, runs that script in both releases). */
  debianInitScript?: string;
  /** Init units osha stops and masks (names differ between releases, so all are listed). */
  initUnits: readonly string[];
  /**
   * Services this one does not work without, each run by units of its own (Debian's
   * neutron-rpc-server beside neutron-server's API; placement-api, which nova asks for every
   * scheduling decision; nova's metadata API, which neutron's metadata agent passes requests to;
   * heat's CloudFormation API, which the instances of heat's stacks signal): one the inventory
   * leaves out keeps running under the init system, and init-services says so on every node that
   * has it (a masked one runs nowhere).
   */
  companions?: readonly string[];
  /** 'osha': osha's agent playbooks/agents/NAME (ocf:openstack:NAME); otherwise another package's agent. */
  agent: 'osha' | Agent;
  /** The group it runs in, or `clone` for a service that runs on every node. */
  placement: GroupKey | 'clone';
  /** Operation timings; osha's agents share the OpenStack defaults of src/cluster/catalog.ts. */
  ops?: OpTimings;
  /** Its main config file, passed to osha's agent as `config` (and rewritten to use the VIP). */
  config?: ConfigFile;
  /** A second file its daemon reads (the agent's OSA_EXTRA_CONFIG) that osha rewrites too. */
  extraConfig?: ConfigFile;
  /** The file passed as the agent's `config` when it is not the rewritten one: the daemon's own
   *  file, read together with `config` (the agent's OSA_EXTRA_CONFIG). */
  agentConfig?: string;
  /** An API with a deep (token) health check: gets the monitoring credentials. */
  api?: boolean;
  /** The config rewrite makes it listen on the VIP only, so its health check asks there. */
  listensOnVip?: boolean;
  /** The TCP port it listens on (the agent's OSA_PORT; keystone endpoints use it too). */
  port?: number;
  /** Runs under uwsgi (the agent's OSA_STYLE=uwsgi): the agent's bind_address sets where it listens;
   *  other daemons listen where their config file says. */
  uwsgi?: boolean;
  /** Its agent's health check (playbooks/agents/NAME must say the same). */
  health?: HealthCheck;
  /** Paths of POSTs that are harmless to send twice (matched at the path's end): HAProxy may send
   *  one again to another node when the node it went to dies under it (active-active). */
  retryablePosts?: readonly string[];
  /** Its keystone catalog entry, for an API (every `api`, and heat-api-cfn, which has no token check). */
  catalog?: CatalogEntry;
  /** Asked by other services only, never by clients (nova's metadata API, behind neutron's
   *  metadata agent): active-active's HAProxy serves it on the VIP, not on the public VIP. */
  internal?: boolean;
  /** Made highly available by article 001's Listing 2: the wizard's default selection. */
  listing2?: boolean;
}

/** Every service, in the order the inventory documentation and the wizard list them. */
const SERVICE_TABLE = {
  // MariaDB through resource-agents' mysql agent; Listing 2 gives it 240 s to start and stop
  // (crash recovery of a large journal after a failover takes a while).
  mysql: {
    aliases: ['mariadb'],
    debianPackage: 'mariadb-server',
    initUnits: ['mariadb', 'mysql'],
    agent: { class: 'ocf', provider: 'heartbeat', type: 'mysql' },
    placement: 'basic',
    ops: { start: { interval: '0s', timeout: '240s' }, stop: { interval: '0s', timeout: '240s' }, monitor: { interval: '30s', timeout: '60s' } },
    listing2: true,
  },
  // Debian's rabbitmq-server package ships this agent (ocf:rabbitmq:rabbitmq-server), the one
  // Listing 2 uses; it runs one broker that moves between nodes with its mnesia directory.
  // Start gets the 600 s its meta-data asks for (mnesia recovery after a crash can be slow).
  rabbitmq: {
    debianPackage: 'rabbitmq-server',
    initUnits: ['rabbitmq-server'],
    agent: { class: 'ocf', provider: 'rabbitmq', type: 'rabbitmq-server' },
    placement: 'basic',
    ops: { start: { interval: '0s', timeout: '600s' }, stop: { interval: '0s', timeout: '120s' }, monitor: { interval: '20s', timeout: '30s' } },
    listing2: true,
  },
  keystone: {
    debianPackage: 'keystone',
    initUnits: ['keystone'],
    agent: 'osha',
    port: 5000,
    uwsgi: true,
    health: { kind: 'http', path: '/healthcheck' },
    // A token issue stores nothing (Fernet tokens): a second one costs only a token.
    retryablePosts: ['/auth/tokens'],
    placement: 'keystone',
    config: '/etc/keystone/keystone.conf',
    api: true,
    catalog: { type: 'identity', path: '/v3' },
    listing2: true,
  },
  'glance-api': {
    debianPackage: 'glance-api',
    initUnits: ['glance-api'],
    agent: 'osha',
    port: 9292,
    health: { kind: 'http', path: '/healthcheck' },
    placement: 'glance',
    config: '/etc/glance/glance-api.conf',
    api: true,
    listensOnVip: true,
    catalog: { type: 'image', path: '' },
    listing2: true,
  },
  'glance-registry': {
    initUnits: ['glance-registry'],
    agent: 'osha',
    port: 9191,
    health: { kind: 'listen' },
    placement: 'glance',
    config: '/etc/glance/glance-registry.conf',
    listing2: true,
  },
  // nova's scheduler and compute nodes find resources through it (nova needs it since Ocata);
  // its own project and database since Stein. Debian runs it under uwsgi, and placement's WSGI
  // script reads placement.conf from the directory OS_PLACEMENT_CONFIG_DIR names.
  'placement-api': {
    debianPackage: 'placement-api',
    initUnits: ['placement-api'],
    agent: 'osha',
    port: 8778,
    uwsgi: true,
    // Its root answers its version document without a token.
    health: { kind: 'http', path: '/' },
    placement: 'nova',
    config: '/etc/placement/placement.conf',
    api: true,
    catalog: { type: 'placement', path: '' },
  },
  'nova-api': {
    debianPackage: 'nova-api',
    initUnits: ['nova-api'],
    companions: ['placement-api'],
    agent: 'osha',
    port: 8774,
    uwsgi: true,
    health: { kind: 'http', path: '/' },
    placement: 'nova',
    config: '/etc/nova/nova.conf',
    api: true,
    catalog: { type: 'compute', path: '/v2.1' },
    listing2: true,
  },
  // Debian's nova-api package runs nova's metadata API apart, under a unit and uwsgi ini of its
  // own (port 8775): neutron-metadata-agent passes instances' metadata requests to it. No token
  // API and no catalog entry; its paste pipeline starts with oslo's /healthcheck.
  'nova-api-metadata': {
    debianPackage: 'nova-api',
    debianInitScript: 'nova-api-metadata',
    initUnits: ['nova-api-metadata'],
    agent: 'osha',
    port: 8775,
    uwsgi: true,
    health: { kind: 'http', path: '/healthcheck' },
    placement: 'nova',
    config: '/etc/nova/nova.conf',
    internal: true,
  },
  'nova-scheduler': { debianPackage: 'nova-scheduler', initUnits: ['nova-scheduler'], agent: 'osha', health: { kind: 'amqp' }, placement: 'nova', config: '/etc/nova/nova.conf', listing2: true },
  'nova-conductor': { debianPackage: 'nova-conductor', initUnits: ['nova-conductor'], agent: 'osha', health: { kind: 'amqp' }, placement: 'nova', config: '/etc/nova/nova.conf' },
  'nova-consoleauth': { initUnits: ['nova-consoleauth'], agent: 'osha', health: { kind: 'amqp' }, placement: 'nova', config: '/etc/nova/nova.conf', listing2: true },
  'nova-novncproxy': {
    agentAliases: ['nova-novnc'],
    debianPackage: 'nova-consoleproxy',
    initUnits: ['nova-novncproxy'],
    agent: 'osha',
    port: 6080,
    health: { kind: 'listen' },
    placement: 'nova',
    config: '/etc/nova/nova.conf',
    listing2: true,
  },
  'neutron-server': {
    agentAliases: ['quantum-server'],
    debianPackage: 'neutron-api',
    debianInitScript: 'neutron-api',
    initUnits: ['neutron-server', 'neutron-api'],
    companions: ['neutron-rpc-server'],
    agent: 'osha',
    port: 9696,
    uwsgi: true,
    health: { kind: 'http', path: '/healthcheck' },
    placement: 'neutron',
    config: '/etc/neutron/neutron.conf',
    api: true,
    catalog: { type: 'network', path: '' },
    listing2: true,
  },
  // Debian runs neutron's API under uwsgi (neutron-api) and its RPC workers apart, in this daemon
  // (package neutron-rpc-server): the agents and nova-compute talk to it over the broker.
  'neutron-rpc-server': {
    debianPackage: 'neutron-rpc-server',
    initUnits: ['neutron-rpc-server'],
    agent: 'osha',
    health: { kind: 'amqp' },
    placement: 'neutron',
    config: '/etc/neutron/neutron.conf',
  },
  'neutron-dhcp-agent': {
    agentAliases: ['quantum-agent-dhcp'],
    debianPackage: 'neutron-dhcp-agent',
    initUnits: ['neutron-dhcp-agent'],
    agent: 'osha',
    health: { kind: 'amqp' },
    placement: 'neutron',
    config: '/etc/neutron/neutron.conf',
    listing2: true,
  },
  'neutron-l3-agent': {
    agentAliases: ['quantum-agent-l3'],
    debianPackage: 'neutron-l3-agent',
    initUnits: ['neutron-l3-agent'],
    agent: 'osha',
    health: { kind: 'amqp' },
    placement: 'neutron',
    config: '/etc/neutron/neutron.conf',
    listing2: true,
  },
  'neutron-metadata-agent': {
    debianPackage: 'neutron-metadata-agent',
    initUnits: ['neutron-metadata-agent'],
    companions: ['nova-api-metadata'],
    agent: 'osha',
    health: { kind: 'amqp' },
    placement: 'neutron',
    config: '/etc/neutron/neutron.conf',
    // Where nova's metadata API is: nova_metadata_host.
    extraConfig: '/etc/neutron/metadata_agent.ini',
  },
  'neutron-openvswitch-agent': {
    aliases: ['quantum-agent-plugin-openvswitch', 'quantum-plugin-openvswitch-agent'],
    debianPackage: 'neutron-openvswitch-agent',
    initUnits: ['neutron-openvswitch-agent'],
    agent: 'osha',
    health: { kind: 'amqp' },
    placement: 'clone',
    config: '/etc/neutron/neutron.conf',
    // Debian runs it with neutron.conf and openvswitch_agent.ini; the agent adds neutron.conf.
    agentConfig: '/etc/neutron/plugins/ml2/openvswitch_agent.ini',
    listing2: true,
  },
  'cinder-api': {
    debianPackage: 'cinder-api',
    initUnits: ['cinder-api'],
    agent: 'osha',
    port: 8776,
    uwsgi: true,
    health: { kind: 'http', path: '/healthcheck' },
    placement: 'cinder',
    config: '/etc/cinder/cinder.conf',
    api: true,
    catalog: { type: 'volumev3', path: '/v3/%(project_id)s' },
    listing2: true,
  },
  'cinder-scheduler': {
    agentAliases: ['cinder-schedule'],
    debianPackage: 'cinder-scheduler',
    initUnits: ['cinder-scheduler'],
    agent: 'osha',
    health: { kind: 'amqp' },
    placement: 'cinder',
    config: '/etc/cinder/cinder.conf',
    listing2: true,
  },
  'cinder-volume': { debianPackage: 'cinder-volume', initUnits: ['cinder-volume'], agent: 'osha', health: { kind: 'amqp' }, placement: 'cinder', config: '/etc/cinder/cinder.conf', listing2: true },
  'heat-api': {
    debianPackage: 'heat-api',
    initUnits: ['heat-api'],
    companions: ['heat-api-cfn'],
    agent: 'osha',
    port: 8004,
    uwsgi: true,
    health: { kind: 'http', path: '/healthcheck' },
    placement: 'heat',
    config: '/etc/heat/heat.conf',
    api: true,
    catalog: { type: 'orchestration', path: '/v1/%(tenant_id)s' },
  },
  // Heat's CloudFormation-compatible API (Debian's heat-api-cfn, uwsgi, port 8000): instances poll
  // it for their metadata and signal wait conditions through it (heat.conf's
  // heat_metadata_server_url and heat_waitcondition_server_url). Its clients sign their requests
  // EC2-style: a catalog entry, but no token check at depth 20.
  'heat-api-cfn': {
    debianPackage: 'heat-api-cfn',
    initUnits: ['heat-api-cfn'],
    agent: 'osha',
    port: 8000,
    uwsgi: true,
    health: { kind: 'http', path: '/healthcheck' },
    placement: 'heat',
    config: '/etc/heat/heat.conf',
    catalog: { type: 'cloudformation', path: '/v1' },
  },
  'heat-engine': { debianPackage: 'heat-engine', initUnits: ['heat-engine'], agent: 'osha', health: { kind: 'amqp' }, placement: 'heat', config: '/etc/heat/heat.conf' },
} as const satisfies Record<string, ServiceEntry>;

export type ServiceName = keyof typeof SERVICE_TABLE;
/** Services run by osha's own agents (playbooks/agents/NAME). */
export type OshaAgentService = { [K in ServiceName]: (typeof SERVICE_TABLE)[K]['agent'] extends 'osha' ? K : never }[ServiceName];

export const SERVICES: Readonly<Record<ServiceName, ServiceEntry>> = SERVICE_TABLE;

/** Registry entries in registry order, with their names. */
export function registryEntries(): [ServiceName, ServiceEntry][] {
  return Object.entries(SERVICES) as [ServiceName, ServiceEntry][];
}

/** A table with one value per service, computed from its registry entry (in registry order). */
export function perService<T>(value: (entry: ServiceEntry, service: ServiceName) => T): Record<ServiceName, T> {
  return Object.fromEntries(registryEntries().map(([service, e]) => [service, value(e, service)])) as Record<ServiceName, T>;
}

/** A service's companions (ServiceEntry.companions), as service names: test/services/registry.test.ts checks each is one. */
export function companionsOf(service: ServiceName): ServiceName[] {
  return [...((SERVICES[service].companions ?? []) as readonly ServiceName[])];
}

/** The config family a service's main config file belongs to. */
export function configFamilyOf(service: ServiceName): ConfigFamily | undefined {
  const file = SERVICES[service].config;
  return file === undefined ? undefined : CONFIG_FILES[file].family;
}

/**
 * Each config family's database schema migration, run as the project's user (never with a
 * secret on its command line: the tools read the connection from their config file). osha upgrade
 * runs it where the family's first service runs, once that service has started on a node with a
 * newer release of it. Idempotent: an up-to-date schema is left as is.
 */
export const DB_SYNC: Readonly<Record<ConfigFamily, { user: string; command: string }>> = {
  keystone: { user: 'keystone', command: 'keystone-manage db_sync' },
  glance: { user: 'glance', command: 'glance-manage db_sync' },
  nova: { user: 'nova', command: 'nova-manage api_db sync && nova-manage db sync' },
  neutron: { user: 'neutron', command: 'neutron-db-manage --config-file /etc/neutron/neutron.conf upgrade heads' },
  cinder: { user: 'cinder', command: 'cinder-manage db sync' },
  heat: { user: 'heat', command: 'heat-manage db_sync' },
  placement: { user: 'placement', command: 'placement-manage db sync' },
};
