// The inventory model: what an operator writes in inventory.yaml, checked field by field.
// Every message says what is wrong and how to fix it; the loader adds file:line:col.
import { isIP } from 'node:net';
import { z } from 'zod';
import { SERVICE_NAMES, canonicalService, type ServiceName } from './services.ts';
import { sameSubnet } from './net.ts';
import { perService } from '../services/registry.ts';

/** Which services run osha's own agent (their monitors come per depth). */
const OSHA_AGENT = perService((e) => e.agent === 'osha');
import { GALERA_UNPROMOTED_MONITOR_INTERVAL, clashingDepths, durationMs, effectiveIntervals, type DepthKey, type MonitorInterval } from './monitors.ts';

/** The control-plane layouts osha builds (see `topology` in inventory.example.yaml). */
export const TOPOLOGIES = ['classic', 'active-active'] as const;
export type Topology = (typeof TOPOLOGIES)[number];

const HOSTNAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const IDENT = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
// Values that end up in config files and shell commands: no control characters, no newlines.
// eslint-disable-next-line no-control-regex -- rejecting control characters is the point
const SAFE_TEXT = /^[^\x00-\x1f\x7f]*$/;

const hostname = z
  .string()
  .regex(HOSTNAME, 'must be a hostname label: lowercase letters, digits and "-", 1-63 characters, not starting or ending with "-"');

const ipAddress = z.string().refine((s) => isIP(s) !== 0, 'must be an IPv4 or IPv6 address, such as 198.18.0.11');

const port = z.number().int().min(1, 'must be a TCP port from 1 to 65535').max(65535, 'must be a TCP port from 1 to 65535');

const path = z
  .string()
  .min(1, 'must not be empty')
  .regex(SAFE_TEXT, 'must not contain control characters or newlines');

/**
 * A secret is never required inline: it comes from an environment variable or a file.
 * A plain string is accepted only when the inventory opts in with `allow_plaintext_secrets: true`.
 */
export const secretRef = z.union([
  z.strictObject({ env: z.string().regex(ENV_NAME, 'must be an environment variable name such as OS_PASSWORD') }),
  z.strictObject({ file: path }),
  z.string().regex(SAFE_TEXT, 'must not contain control characters or newlines'),
]);
export type SecretRef = z.infer<typeof secretRef>;

const sshSettings = z.strictObject({
  user: z.string().regex(/^[a-z_][a-z0-9_-]{0,31}$/, 'must be a Unix user name such as root or ubuntu').optional(),
  port: port.optional(),
  private_key: path.optional(),
  known_hosts: path.optional(),
  /** Use ssh-agent ($SSH_AUTH_SOCK) when it is set. */
  agent: z.boolean().optional(),
  /** false: log in as root. true: `sudo -n`. {password: secret}: sudo with a password fed on stdin. */
  sudo: z.union([z.boolean(), z.strictObject({ password: secretRef })]).optional(),
  connect_timeout: z.number().int().min(1).max(600).optional(),
  command_timeout: z.number().int().min(1).max(7200).optional(),
});
export type SshSettings = z.infer<typeof sshSettings>;

const node = z.strictObject({
  name: hostname,
  address: ipAddress,
  /**
   * corosync's node id, pinned. Without it osha keeps the id the running cluster (or the current
   * corosync.conf) gives the node, and a new node gets the lowest free id.
   */
  nodeid: z.number().int().min(1, 'must be a whole number from 1 to 4294967295').max(4294967295, 'must be a whole number from 1 to 4294967295').optional(),
  ssh: sshSettings.optional(),
});

const vip = z.strictObject({
  address: ipAddress,
  cidr_netmask: z.number().int().min(1, 'must be a prefix length such as 24').max(128, 'must be a prefix length such as 24'),
  nic: z.string().regex(/^[A-Za-z0-9_.:-]{1,15}$/, 'must be a network interface name such as eth0').optional(),
});

const corosync = z.strictObject({
  transport: z.enum(['knet', 'udpu'], { error: 'must be knet (corosync 3, the default) or udpu' }).default('knet'),
  crypto: z.boolean().default(true),
  token_timeout: z.number().int().min(100, 'must be at least 100 ms').max(120000, 'must be at most 120000 ms').optional(),
  /** Tuning profile: default (corosync's own timeouts) or fast (quicker failure detection). */
  profile: z.enum(['default', 'fast'], { error: 'must be default or fast' }).default('default'),
  port: port.default(5405),
});

const fenceDevice = z.strictObject({
  name: z.string().regex(IDENT, 'must be an id: letters, digits, "_", "." and "-"'),
  agent: z.string().regex(/^fence_[a-z0-9_]+$/, 'must be a fence agent name such as fence_ipmilan'),
  /** The node this device powers off. */
  node: hostname,
  /** The device's own name for that node (its outlet, VM or container name), when it differs
   *  from the node's name: rendered as pcmk_host_map instead of pcmk_host_list. */
  plug: z.string().regex(/^[A-Za-z0-9_.@-]+$/, 'must be a plug name: letters, digits, "_", ".", "@" and "-"').optional(),
  params: z.record(z.string().regex(/^[a-z][a-z0-9_]*$/, 'parameter names are lowercase'), z.union([z.string().regex(SAFE_TEXT), z.number(), z.boolean()])).default({}),
  password: secretRef.optional(),
});

const stonith = z.strictObject({
  enabled: z.boolean().default(false),
  devices: z.array(fenceDevice).default([]),
  /** The one way to run a 2-node cluster, or shared storage, without fencing: said out loud. */
  unsafe_no_fencing: z.boolean().default(false),
});

const quorum = z.strictObject({
  policy: z
    .enum(['auto', 'stop', 'freeze', 'ignore', 'demote', 'fence'], {
      error: 'must be one of auto, stop, freeze, ignore, demote, fence',
    })
    .default('auto'),
});

const serviceName = z.string().transform((s, ctx) => {
  const c = canonicalService(s);
  if (!c) {
    ctx.addIssue({ code: 'custom', message: `unknown service "${s}"; known services: ${SERVICE_NAMES.join(', ')}` });
    return z.NEVER;
  }
  return c;
});

const openstack = z.strictObject({
  /** Keystone URL for deep health checks; defaults to http://VIP:5000/v3. */
  auth_url: z.url({ error: 'must be a URL such as http://198.18.0.100:5000/v3' }).optional(),
  username: z.string().regex(SAFE_TEXT).default('admin'),
  project: z.string().regex(SAFE_TEXT).default('admin'),
  user_domain: z.string().regex(SAFE_TEXT).default('Default'),
  project_domain: z.string().regex(SAFE_TEXT).default('Default'),
  password: secretRef.optional(),
  region: z.string().regex(SAFE_TEXT).default('RegionOne'),
});

// --- resources: what an operator adds to, or changes in, the generated Pacemaker configuration ---

// Custom checks instead of z.union here: the loader words every failed union as a secret reference.
const DURATION = /^[0-9]{1,7}(ms|s|m|min|h)?$/;
/** A Pacemaker duration: a number with an optional unit (ms, s, m/min, h); bare numbers are seconds. */
const duration = z
  .custom<string | number>((v) => (typeof v === 'number' && Number.isInteger(v) && v >= 0) || (typeof v === 'string' && DURATION.test(v)), {
    message: 'must be a duration such as 30s, 500ms, 2min or 1h (a bare number is seconds)',
  })
  .transform((v) => String(v));
const resourceId = z
  .string()
  .regex(/^[A-Za-z][A-Za-z0-9_.-]{0,47}$/, 'must be an id: a letter, then letters, digits, "_", "." or "-", up to 48 characters');
const attrName = z.string().regex(/^[A-Za-z][A-Za-z0-9_-]{0,63}$/, 'attribute names are letters, digits, "_" and "-", starting with a letter');
const attrValue = z.custom<string | number | boolean>(
  (v) => typeof v === 'number' || typeof v === 'boolean' || (typeof v === 'string' && SAFE_TEXT.test(v)),
  { message: 'must be a string, a number or true/false, without control characters or newlines' },
);
const attrs = z.record(attrName, attrValue);
const opTiming = z.strictObject({ interval: duration.optional(), timeout: duration.optional() });
/** Per-operation timing; only the operations osha configures can be changed. */
const ops = z.strictObject({ start: opTiming.optional(), stop: opTiming.optional(), monitor: opTiming.optional() });
const score = z.custom<number | 'INFINITY' | '-INFINITY' | 'inf' | '-inf'>(
  (v) => (typeof v === 'number' && Number.isInteger(v) && Math.abs(v) <= 1000000) || ['INFINITY', '-INFINITY', 'inf', '-inf'].includes(v as string),
  { message: 'must be an integer from -1000000 to 1000000, INFINITY or -INFINITY' },
);

/**
 * The interval of one recurring monitor of osha's OpenStack agents: a duration above zero, or
 * `off` (YAML 1.1 readers make that false, so false is taken too) where the depth may be off.
 */
const monitorInterval = (canBeOff: boolean) =>
  z
    .custom<string | number | boolean>(
      (v) =>
        (canBeOff && (v === 'off' || v === false)) ||
        (typeof v === 'number' && Number.isInteger(v) && v > 0) ||
        (typeof v === 'string' && DURATION.test(v) && durationMs(v) > 0),
      {
        message: canBeOff
          ? 'must be an interval above zero such as 10s, 30s or 5min, or off'
          : 'must be an interval above zero such as 30s or 1min (depth 10, the health check, cannot be off)',
      },
    )
    .transform((v): MonitorInterval => (v === false || v === 'off' ? 'off' : String(v)));
/** Intervals of the monitors at each check depth (OCF_CHECK_LEVEL) of osha's OpenStack agents. */
const monitorIntervals = z.strictObject({
  depth0: monitorInterval(true).optional(),
  depth10: monitorInterval(false).optional(),
  depth20: monitorInterval(true).optional(),
});
/** A generated resource's operations; `monitors` only for services run by osha's OpenStack agents. */
const overrideOps = ops.extend({ monitors: monitorIntervals.optional() });

/** Changes to a resource osha generates (a service, `vip` or `public-vip`): merged over osha's defaults. */
const resourceOverride = z.strictObject({ params: attrs.optional(), meta: attrs.optional(), ops: overrideOps.optional() });

/** Shared storage that holds a stateful service's data and moves with it (as in the articles). */
const sharedStorage = z.strictObject({
  /** What to mount: a block device (/dev/...), an NFS export (host:/path) or a CephFS source (mon:/path). */
  device: z.string().min(1, 'must not be empty').regex(SAFE_TEXT, 'must not contain control characters or newlines'),
  /** Where to mount it; defaults to the service's data directory. */
  directory: path.optional(),
  fstype: z.string().regex(/^[a-z0-9.]{1,16}$/, 'must be a filesystem type such as ext4, xfs, nfs4 or ceph'),
  options: z.string().regex(/^[A-Za-z0-9_,=.:/@-]*$/, 'must be mount options such as noatime,nodiratime').optional(),
});

const userPrimitive = z.strictObject({
  /** osha writes it as osha-<id>; constraints refer to it by this id. */
  id: resourceId,
  agent: z
    .string()
    .regex(
      /^(ocf:[a-z0-9_-]+:[A-Za-z0-9_.-]+|systemd:[A-Za-z0-9@_.:-]+|lsb:[A-Za-z0-9_.-]+|service:[A-Za-z0-9@_.-]+)$/,
      'must be a resource agent such as ocf:heartbeat:apache, ocf:openstack:nova-compute or systemd:haproxy',
    ),
  params: attrs.default({}),
  meta: attrs.default({}),
  ops: ops.default({}),
  /** Run it on every node (a clone with interleave). */
  clone: z.boolean().default(false),
});

/** The fields each constraint type takes (the rest are refused, so a misplaced field is caught). */
const CONSTRAINT_FIELDS = {
  location: { required: ['resource', 'node'], optional: ['score'] },
  colocation: { required: ['resource', 'with'], optional: ['score'] },
  order: { required: ['first', 'then'], optional: ['mandatory'] },
} as const;
const userConstraint = z
  .strictObject({
    type: z.enum(['location', 'colocation', 'order'], { error: 'must be location, colocation or order' }),
    id: resourceId.optional(),
    resource: resourceId.optional(),
    with: resourceId.optional(),
    node: hostname.optional(),
    first: resourceId.optional(),
    then: resourceId.optional(),
    score: score.optional(),
    mandatory: z.boolean().optional(),
  })
  .superRefine((c, ctx) => {
    const spec = CONSTRAINT_FIELDS[c.type];
    const a = c.type === 'order' ? 'an' : 'a';
    const allowed = new Set<string>(['type', 'id', ...spec.required, ...spec.optional]);
    for (const f of spec.required) {
      if (c[f] === undefined) ctx.addIssue({ code: 'custom', path: [f], message: `${a} ${c.type} constraint needs ${f}; add it` });
    }
    for (const [k, v] of Object.entries(c)) {
      if (v !== undefined && !allowed.has(k)) {
        ctx.addIssue({ code: 'custom', path: [k], message: `${a} ${c.type} constraint takes ${[...allowed].join(', ')}; remove ${k}` });
      }
    }
  });

/**
 * A hand-made resource in a cluster being adopted that already does one of osha's jobs: `keep`
 * leaves it alone (osha creates no resource of its own for that job and builds its constraints
 * around this one); `replace` deletes it and starts osha's own in its place (disruptive).
 */
const existingResource = z.strictObject({
  id: z.string().regex(/^[A-Za-z_][A-Za-z0-9_.:-]*$/, 'must be the id of a resource in the running cluster, such as p_keystone'),
  as: z.string().min(1, 'must be vip, public-vip or a service listed under services'),
  action: z.enum(['keep', 'replace'], { error: 'must be keep (leave it, build around it) or replace (swap it for osha\'s own, disruptive)' }),
});

const resources = z.strictObject({
  existing: z.array(existingResource).default([]),
  /** Intervals of the per-depth monitors of every osha OpenStack agent (src/inventory/monitors.ts has the defaults). */
  monitors: monitorIntervals.optional(),
  /** Keyed by service name (aliases work), `vip` or `public-vip`. */
  overrides: z.record(z.string(), resourceOverride).default({}),
  storage: z.strictObject({ mysql: sharedStorage.optional(), rabbitmq: sharedStorage.optional() }).default({}),
  primitives: z.array(userPrimitive).default([]),
  constraints: z.array(userConstraint).default([]),
});
export type ResourcesSettings = z.infer<typeof resources>;
export type UserPrimitive = ResourcesSettings['primitives'][number];
export type UserConstraint = ResourcesSettings['constraints'][number];
export type ResourceOverride = z.infer<typeof resourceOverride>;
export type SharedStorage = z.infer<typeof sharedStorage>;

export const inventorySchema = z
  .strictObject({
    cluster: z.strictObject({
      name: z.string().regex(IDENT, 'must be a cluster name: letters, digits, "_", "." and "-", up to 64 characters'),
    }),
    ssh: sshSettings.default({}),
    nodes: z.array(node).min(2, 'a cluster needs at least 2 nodes; add another entry under nodes'),
    vip,
    public_vip: vip.optional(),
    corosync: corosync.default({ transport: 'knet', crypto: true, profile: 'default', port: 5405 }),
    stonith: stonith.default({ enabled: false, devices: [], unsafe_no_fencing: false }),
    quorum: quorum.default({ policy: 'auto' }),
    /**
     * classic: the articles' layout, everything active/passive behind the VIP. active-active:
     * MariaDB Galera and clustered RabbitMQ on every node, HAProxy behind the VIP, APIs everywhere.
     */
    topology: z.enum(TOPOLOGIES, { error: `must be one of: ${TOPOLOGIES.join(', ')}` }).default('classic'),
    services: z.array(serviceName).default([]),
    openstack: openstack.optional(),
    /** Additions to and changes of the generated Pacemaker configuration. */
    resources: resources.default({ existing: [], overrides: {}, storage: {}, primitives: [], constraints: [] }),
    /** Opt-in for secrets written inline in this file (lab use only). */
    allow_plaintext_secrets: z.boolean().default(false),
  })
  .check(
    // Relations between fields are checked even when some field is wrong, so one `validate`
    // shows every problem; a relation that involves a section with a field problem is left out
    // (that problem explains it), and one that cannot apply to half-parsed data is skipped.
    z.superRefine(
      (inv: RawInventory, ctx) => {
        const broken = new Set(ctx.issues.map((i) => String(i.path?.[0] ?? '')));
        const filtered = {
          addIssue(issue: Parameters<typeof ctx.addIssue>[0]) {
            const top = typeof issue === 'object' && issue.path?.length ? String(issue.path[0]) : '';
            if (!broken.has(top)) ctx.addIssue(issue);
          },
        } as z.RefinementCtx;
        try {
          crossFieldChecks(inv, filtered);
        } catch {
          // Half-parsed data: the field problems already reported say what to fix first.
        }
      },
      { when: (payload) => typeof payload.value === 'object' && payload.value !== null && Array.isArray((payload.value as { nodes?: unknown }).nodes) },
    ),
  );

export type Inventory = z.infer<typeof inventorySchema>;
export type InventoryNode = Inventory['nodes'][number];
export type Vip = Inventory['vip'];
export type FenceDevice = Inventory['stonith']['devices'][number];
export type { ServiceName };

type RawInventory = z.infer<typeof inventorySchema>;

const WITHOUT_FENCING = 'set stonith.enabled: true with a fence device per node under stonith.devices, or, if you accept the risk (a lab), set stonith.unsafe_no_fencing: true';

/**
 * Where running without fencing is not just unsupported but dangerous, refuse unless the inventory
 * says so in one named key: a 2-node cluster (split brain) and shared storage (corrupted data).
 */
function fencingPolicy(inv: RawInventory, add: (path: (string | number)[], message: string) => void): void {
  const fences = inv.stonith.enabled;
  if (fences && inv.stonith.unsafe_no_fencing) {
    add(['stonith', 'unsafe_no_fencing'], 'unsafe_no_fencing: true says this cluster runs without fencing, but stonith.enabled is true; remove one of them');
    return;
  }
  if (fences || inv.stonith.unsafe_no_fencing) return;
  if (inv.nodes.length === 2) {
    add(
      ['stonith', 'enabled'],
      `a 2-node cluster without fencing can split brain: when the two nodes lose sight of each other, corosync's two_node keeps both quorate and both run the VIP and the database; ${WITHOUT_FENCING}`,
    );
  }
  for (const svc of ['mysql', 'rabbitmq'] as const) {
    if (!inv.resources.storage[svc]) continue;
    add(
      ['resources', 'storage', svc],
      `shared storage for ${svc} without fencing corrupts data: a node that hangs still has the filesystem mounted and writing when another node mounts it; ${WITHOUT_FENCING}`,
    );
  }
}

function crossFieldChecks(inv: RawInventory, ctx: z.RefinementCtx): void {
  const add = (path: (string | number)[], message: string) => ctx.addIssue({ code: 'custom', path, message });

  const names = new Map<string, number>();
  const addresses = new Map<string, number>();
  const nodeids = new Map<number, number>();
  inv.nodes.forEach((n, i) => {
    if (n.nodeid !== undefined) {
      const other = nodeids.get(n.nodeid);
      if (other !== undefined) add(['nodes', i, 'nodeid'], `nodeid ${n.nodeid} is also used by nodes[${other}]; give every node its own nodeid, or leave it out and osha keeps or picks one`);
      else nodeids.set(n.nodeid, i);
    }
    const seen = names.get(n.name);
    if (seen !== undefined) add(['nodes', i, 'name'], `node name "${n.name}" is also used by nodes[${seen}]; give every node its own name`);
    else names.set(n.name, i);
    const a = addresses.get(n.address);
    if (a !== undefined) add(['nodes', i, 'address'], `address ${n.address} is also used by nodes[${a}]; give every node its own address`);
    else addresses.set(n.address, i);
  });

  // corosync puts every node on one link: it refuses to start when IPv4 and IPv6 addresses mix.
  const firstFamily = isIP(inv.nodes[0]?.address ?? '');
  inv.nodes.forEach((n, i) => {
    const family = isIP(n.address);
    if (i > 0 && firstFamily && family && family !== firstFamily) {
      add(['nodes', i, 'address'], `${n.address} is IPv${family} but nodes[0] is IPv${firstFamily}: corosync refuses to start a cluster whose nodes mix IPv4 and IPv6 on one link; give every node an address of one family`);
    }
  });

  const checkVip = (key: 'vip' | 'public_vip') => {
    const v = inv[key];
    if (!v) return;
    const nodeIndex = addresses.get(v.address);
    if (nodeIndex !== undefined) {
      add([key, 'address'], `${v.address} is the address of node ${inv.nodes[nodeIndex]?.name}; the VIP must be a free address that no node owns`);
    }
    const family = isIP(v.address);
    if (family === 4 && v.cidr_netmask > 32) add([key, 'cidr_netmask'], 'an IPv4 prefix length is at most 32; use e.g. 24');
    if (key === 'vip' && !inv.nodes.some((n) => sameSubnet(n.address, v.address, v.cidr_netmask))) {
      add([key, 'address'], `${v.address}/${v.cidr_netmask} is not in the subnet of any node; pick an address in the nodes' subnet or fix cidr_netmask`);
    }
  };
  checkVip('vip');
  checkVip('public_vip');
  if (inv.public_vip && inv.public_vip.address === inv.vip.address) {
    add(['public_vip', 'address'], 'public_vip must differ from vip; remove public_vip or give it its own address');
  }

  const keptFencing = inv.resources.existing.some((e) => e.as === 'fencing');
  if (inv.stonith.enabled && inv.stonith.devices.length === 0 && !keptFencing) {
    add(['stonith', 'devices'], 'stonith is enabled but no fence device is listed; add a device under stonith.devices or set stonith.enabled: false');
  }
  const deviceNames = new Set<string>();
  inv.stonith.devices.forEach((d, i) => {
    if (!names.has(d.node)) add(['stonith', 'devices', i, 'node'], `no node is named "${d.node}"; use one of: ${[...names.keys()].join(', ')}`);
    if (deviceNames.has(d.name)) add(['stonith', 'devices', i, 'name'], `fence device "${d.name}" is listed twice; names must be unique`);
    deviceNames.add(d.name);
  });
  fencingPolicy(inv, add);

  const seenServices = new Set<string>();
  inv.services.forEach((s, i) => {
    if (seenServices.has(s)) add(['services', i], `service "${s}" is listed twice (aliases count); list it once`);
    seenServices.add(s);
  });

  checkResources(inv, add);
  if (inv.topology === 'active-active') activeActiveChecks(inv, add);

  // Secrets given inline need an explicit opt-in: they end up in version control otherwise.
  if (!inv.allow_plaintext_secrets) {
    const plain = 'is a plaintext secret; give it as {env: VAR} or {file: /path}, or set allow_plaintext_secrets: true';
    if (typeof inv.openstack?.password === 'string') add(['openstack', 'password'], `openstack.password ${plain}`);
    const sudo = inv.ssh.sudo;
    if (typeof sudo === 'object' && typeof sudo.password === 'string') add(['ssh', 'sudo', 'password'], `the sudo password ${plain}`);
    inv.nodes.forEach((n, i) => {
      const s = n.ssh?.sudo;
      if (typeof s === 'object' && typeof s.password === 'string') add(['nodes', i, 'ssh', 'sudo', 'password'], `the sudo password ${plain}`);
    });
    inv.stonith.devices.forEach((d, i) => {
      if (typeof d.password === 'string') add(['stonith', 'devices', i, 'password'], `the fence device password ${plain}`);
    });
  }
}

/**
 * What the active-active topology needs: a Galera majority (3+ nodes), the database and broker it
 * clusters, and each node's own copy of their data (Galera and RabbitMQ replicate, nothing is shared).
 */
function activeActiveChecks(inv: RawInventory, add: (path: (string | number)[], message: string) => void): void {
  if (inv.nodes.length < 3) {
    add(['topology'], `active-active needs at least 3 nodes (Galera keeps a primary component only with a majority; ${inv.nodes.length} nodes cannot lose one); add nodes or use topology: classic`);
  }
  for (const svc of ['mysql', 'rabbitmq'] as const) {
    if (!inv.services.includes(svc)) add(['services'], `active-active clusters ${svc === 'mysql' ? 'MariaDB (Galera)' : 'RabbitMQ'} on every node: add ${svc} to services, or use topology: classic`);
    if (inv.resources.storage[svc]) {
      add(['resources', 'storage', svc], `active-active keeps ${svc}'s data on every node (${svc === 'mysql' ? 'Galera' : 'RabbitMQ'} replicates it); remove resources.storage.${svc}, or use topology: classic`);
    }
  }
  // mysql's ops.monitor is the promoted Galera instances' monitor here; the unpromoted one keeps its interval.
  for (const [key, o] of Object.entries(inv.resources.overrides)) {
    const interval = o.ops?.monitor?.interval;
    if (canonicalService(key) !== 'mysql' || interval === undefined) continue;
    if (durationMs(interval) === durationMs(GALERA_UNPROMOTED_MONITOR_INTERVAL)) {
      add(
        ['resources', 'overrides', key, 'ops', 'monitor', 'interval'],
        `in the active-active topology this is the monitor of Galera's promoted instances, and ${GALERA_UNPROMOTED_MONITOR_INTERVAL} is the unpromoted instances' (a full outage's bootstrap waits for it); Pacemaker needs a different interval for each monitor of a resource: pick another`,
      );
    }
  }
  inv.resources.existing.forEach((e, i) => {
    if (e.as !== 'fencing') add(['resources', 'existing', i, 'as'], `active-active adopts only hand-made fence devices (as: fencing); "${e.as}" would be replaced by osha's clone: remove this entry and the hand-made resource, or use topology: classic`);
  });
}

/** Names a constraint may refer to: vip, public-vip, listed services (aliases too) and user primitives. */
function checkResources(inv: RawInventory, add: (path: (string | number)[], message: string) => void): void {
  const r = inv.resources;
  const generated = new Set<string>(['vip', ...inv.services]);
  if (inv.public_vip) generated.add('public-vip');
  const known = new Set(generated);
  r.primitives.forEach((p, i) => {
    const clash = canonicalService(p.id) ?? (p.id === 'vip' || p.id === 'public-vip' ? p.id : undefined);
    if (clash) add(['resources', 'primitives', i, 'id'], `"${p.id}" is the name of a resource osha generates; change it under resources.overrides.${clash} instead, or pick another id`);
    else if (/^(g|cl|fs|fence)-/.test(p.id)) add(['resources', 'primitives', i, 'id'], `ids starting with g-, cl-, fs- or fence- are kept for the groups, clones, filesystems and fence devices osha generates; pick another id`);
    else if (known.has(p.id)) add(['resources', 'primitives', i, 'id'], `primitive id "${p.id}" is used twice; ids must be unique`);
    known.add(p.id);
  });
  const names = () => [...known].join(', ');
  const resolve = (name: string) => (known.has(name) ? name : canonicalService(name));
  const existingIds = new Map<string, number>();
  const existingRoles = new Map<string, number>();
  r.existing.forEach((e, i) => {
    // A hand-made fence device: osha leaves it fencing (it makes no device of its own for it).
    if (e.as === 'fencing') {
      if (e.action !== 'keep') add(['resources', 'existing', i, 'action'], 'a hand-made fence device can only be kept (action: keep); list a device under stonith.devices for osha to make its own');
    }
    const role = e.as === 'fencing' ? 'fencing' : resolve(e.as);
    if (role === 'fencing') {
      // nothing more to check: the id is checked against the running cluster
    } else if (!role || !generated.has(role)) {
      add(['resources', 'existing', i, 'as'], `"${e.as}" is not a job osha does here; use vip${inv.public_vip ? ', public-vip' : ''}, fencing or a service listed under services (${inv.services.join(', ') || 'none listed'})`);
    } else if (existingRoles.has(role) && r.existing[existingRoles.get(role)!]!.action === 'replace' && e.action === 'replace') {
      add(['resources', 'existing', i, 'as'], `${role} is replaced by resources.existing[${existingRoles.get(role)}] already; osha can take one ${role} over`);
    } else existingRoles.set(role, i);
    // osha's own objects carry the osha- prefix (src/model/resources.ts).
    if (e.id.startsWith('osha-')) add(['resources', 'existing', i, 'id'], `"${e.id}" is osha's own resource; list only resources osha did not make`);
    const seen = existingIds.get(e.id);
    if (seen !== undefined) add(['resources', 'existing', i, 'id'], `"${e.id}" is listed twice (also resources.existing[${seen}]); keep one entry`);
    else existingIds.set(e.id, i);
  });
  for (const key of Object.keys(r.overrides)) {
    const c = resolve(key);
    if (!c || !generated.has(c)) {
      add(['resources', 'overrides', key], `"${key}" is not a resource osha generates here; use vip${inv.public_vip ? ', public-vip' : ''} or a service listed under services (${inv.services.join(', ') || 'none listed'})`);
    }
  }
  checkMonitors(inv, resolve, add);
  r.constraints.forEach((c, i) => {
    const refs = (['resource', 'with', 'first', 'then'] as const).flatMap((f) => (c[f] === undefined ? [] : [[f, c[f]] as const]));
    for (const [field, name] of refs) {
      const found = resolve(name);
      if (!found || !known.has(found)) add(['resources', 'constraints', i, field], `no resource named "${name}"; use one of: ${names()}`);
    }
    if (c.node !== undefined && !inv.nodes.some((n) => n.name === c.node)) {
      add(['resources', 'constraints', i, 'node'], `no node is named "${c.node}"; use one of: ${inv.nodes.map((n) => n.name).join(', ')}`);
    }
  });
  for (const svc of ['mysql', 'rabbitmq'] as const) {
    if (r.storage[svc] && !inv.services.includes(svc)) add(['resources', 'storage', svc], `shared storage is given for ${svc} but ${svc} is not listed under services; add it there or remove this entry`);
  }
  const ids = new Set<string>();
  r.constraints.forEach((c, i) => {
    if (!c.id) return;
    if (ids.has(c.id)) add(['resources', 'constraints', i, 'id'], `constraint id "${c.id}" is used twice; ids must be unique`);
    else if (known.has(c.id) || canonicalService(c.id) || /^(g|cl|fs|fence)-/.test(c.id)) {
      add(['resources', 'constraints', i, 'id'], `"${c.id}" is the id of a resource; give the constraint an id of its own, such as lo-${c.id}`);
    }
    ids.add(c.id);
  });
}

const clashMessage = (a: DepthKey, b: DepthKey, interval: MonitorInterval) =>
  `the ${a} and ${b} monitors would both run every ${interval}; Pacemaker needs a different interval for each monitor of a resource, so give them different intervals`;

/** Per-depth monitor intervals: distinct, and only on services osha's OpenStack agents run. */
function checkMonitors(inv: RawInventory, resolve: (name: string) => string | undefined, add: (path: (string | number)[], message: string) => void): void {
  const r = inv.resources;
  const defaults = r.monitors;
  if (defaults) {
    const eff = effectiveIntervals({ defaults });
    for (const [a, b] of clashingDepths(eff)) add(['resources', 'monitors', defaults[b] !== undefined ? b : a], clashMessage(a, b, eff[b]));
  }
  for (const [key, o] of Object.entries(r.overrides)) {
    const service = resolve(key);
    const ops = o.ops;
    if (!ops) continue;
    const oshaAgent = service !== undefined && OSHA_AGENT[service as ServiceName] === true;
    const where = ['resources', 'overrides', key, 'ops'];
    if (ops.monitors && !oshaAgent) {
      add([...where, 'monitors'], `${key} is not run by one of osha's OpenStack agents, so it has a single monitor: set its interval with ops.monitor.interval instead`);
      continue;
    }
    if (!oshaAgent) continue;
    if (ops.monitor?.interval !== undefined && ops.monitors?.depth10 !== undefined) {
      add([...where, 'monitor', 'interval'], `for ${key}, ops.monitor.interval is the interval of the depth-10 monitor, which ops.monitors.depth10 gives too; keep one of them`);
      continue;
    }
    if (ops.monitors === undefined && ops.monitor?.interval === undefined) continue;
    const eff = effectiveIntervals({ defaults, service: ops.monitors, legacyInterval: ops.monitor?.interval });
    for (const [a, b] of clashingDepths(eff)) {
      const field = ops.monitors?.[b] !== undefined ? ['monitors', b] : ops.monitors?.[a] !== undefined ? ['monitors', a] : ['monitor', 'interval'];
      add([...where, ...field], clashMessage(a, b, eff[b]));
    }
  }
}
