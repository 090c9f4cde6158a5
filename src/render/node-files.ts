// The per-node files of the active-active topology besides haproxy.cfg: the node's own address
// for osha's agents, its Galera settings, the sysctl that lets a VIP be bound where it is not,
// and RabbitMQ's listening address. Pure: same inventory and node in, same bytes out.
import { isIP } from 'node:net';
import type { Inventory, InventoryNode } from '../inventory/schema.ts';
import { hostPort } from './haproxy.ts';

export const NODE_ADDRESS_FILE = '/etc/osha/node-address';
export const GALERA_CNF = '/etc/mysql/mariadb.conf.d/65-osha-galera.cnf';
export const NONLOCAL_BIND_CONF = '/etc/sysctl.d/60-osha-nonlocal-bind.conf';
export const RABBITMQ_ENV_CONF = '/etc/rabbitmq/rabbitmq-env.conf';
export const GALERA_PROVIDER = '/usr/lib/galera/libgalera_smm.so';
/** Galera's node list, where osha's galera agent (playbooks/agents/galera) reads it at each action. */
export const GALERA_NODES_FILE = '/etc/osha/galera-cluster-address';
const GALERA_PORT = 4567;

/** Galera's node list: Pacemaker's node names, which osha's /etc/hosts block resolves on every node. */
export function galeraClusterAddress(inv: Inventory): string {
  return `gcomm://${inv.nodes.map((n) => n.name).join(',')}`;
}

/** GALERA_NODES_FILE: the list in one line. Every node has the same; it changes with the inventory's nodes, and no Pacemaker resource does. */
export function renderGaleraNodes(inv: Inventory): string {
  return `${galeraClusterAddress(inv)}\n`;
}

/** The node names a Galera node list (GALERA_NODES_FILE's `gcomm://a,b,c`) holds; undefined when the text has none. */
export function parseGaleraNodes(text: string | undefined): string[] | undefined {
  const m = /^gcomm:\/\/(.*)$/m.exec(text ?? '');
  return m ? m[1]!.split(',').map((n) => n.trim()).filter((n) => n !== '') : undefined;
}

/** The address osha's agents take for `@node`: one line. */
export function renderNodeAddress(node: InventoryNode): string {
  return `${node.address}\n`;
}

/** Galera's own failure detection (evs.*), in milliseconds; src/cluster/profiles.ts chooses it. */
export interface GaleraEviction {
  /** evs.suspect_timeout: silence after which the others drop a node (writes stall until then). */
  suspectMs: number;
  /** evs.keepalive_period: Galera refuses to start unless it is under a third of suspectMs. */
  keepaliveMs: number;
}

/** Galera's own values (galera 4): a node is dropped after 5 s of silence, keepalives every 1 s. */
export const GALERA_EVICTION_DEFAULTS: GaleraEviction = { suspectMs: 5000, keepaliveMs: 1000 };

export function sameEviction(a: GaleraEviction, b: GaleraEviction): boolean {
  return a.suspectMs === b.suspectMs && a.keepaliveMs === b.keepaliveMs;
}

/** A duration as Galera writes it (ISO 8601): 500 ms is PT0.5S. */
export function isoSeconds(ms: number): string {
  return `PT${ms / 1000}S`;
}

/** The evs.* provider options for an eviction timing, keepalive first; none for Galera's defaults. */
export function evictionOptions(e: GaleraEviction): string[] {
  if (sameEviction(e, GALERA_EVICTION_DEFAULTS)) return [];
  return [`evs.keepalive_period=${isoSeconds(e.keepaliveMs)}`, `evs.suspect_timeout=${isoSeconds(e.suspectMs)}`];
}

/**
 * This node's Galera settings. Debian's 60-galera.cnf has them all commented out; this file
 * comes after it and after 50-server.cnf, whose bind-address=127.0.0.1 it overrides.
 * read_only is never set: the galera agent refuses to promote a read-only server.
 */
export function renderGaleraCnf(inv: Inventory, node: InventoryNode, timing: GaleraEviction): string {
  // Galera wants IPv6 addresses in brackets; MariaDB's bind-address takes them bare.
  const bracketed = isIP(node.address) === 6 ? `[${node.address}]` : node.address;
  const eviction = evictionOptions(timing);
  const providerOptions = [`gmcast.listen_addr=tcp://${hostPort(node.address, GALERA_PORT)}`, ...eviction];
  return [
    `# Written by osha for cluster ${inv.cluster.name} (topology active-active); edits are replaced on the next deploy.`,
    `# Pacemaker starts MariaDB (osha's ocf:openstack:galera) and gives it the cluster address itself, from ${GALERA_NODES_FILE}.`,
    '[mysqld]',
    `bind-address = ${node.address}`,
    "# HAProxy checks every node's port each second: no count of interrupted connections may ever",
    '# block a checking node (MariaDB blocks a host after max_connect_errors of them, 100 by default).',
    'max_connect_errors = 4294967295',
    '',
    '[galera]',
    'wsrep_on = ON',
    `wsrep_provider = ${GALERA_PROVIDER}`,
    `wsrep_cluster_name = ${inv.cluster.name}`,
    `wsrep_cluster_address = ${galeraClusterAddress(inv)}`,
    `wsrep_node_name = ${node.name}`,
    `wsrep_node_address = ${bracketed}`,
    'wsrep_sst_method = rsync',
    ...(eviction.length > 0
      ? [`# A silent node is dropped after ${timing.suspectMs / 1000} s, as fast as corosync's timing (the profile) notices it.`]
      : []),
    `wsrep_provider_options = "${providerOptions.join(';')}"`,
    'binlog_format = ROW',
    'default_storage_engine = InnoDB',
    'innodb_autoinc_lock_mode = 2',
    '',
  ].join('\n');
}

/** The VIP families that need non-local binds. */
export function nonlocalBindFamilies(inv: Inventory): (4 | 6)[] {
  const vips = [inv.vip.address, ...(inv.public_vip ? [inv.public_vip.address] : [])];
  return [4, 6].filter((f) => f === 4 || vips.some((a) => isIP(a) === 6)) as (4 | 6)[];
}

export function nonlocalBindKey(family: 4 | 6): string {
  return `net.ipv${family}.ip_nonlocal_bind`;
}

export function renderNonlocalBindConf(inv: Inventory): string {
  return [
    `# Written by osha for cluster ${inv.cluster.name} (topology active-active): HAProxy on every node binds`,
    '# the VIP, also where the VIP is not.',
    ...nonlocalBindFamilies(inv).map((f) => `${nonlocalBindKey(f)} = 1`),
    '',
  ].join('\n');
}

const NODE_IP_LINE = /^\s*(export\s+)?NODE_IP_ADDRESS\s*=/;
const NODE_IP_EXAMPLE = /^\s*#\s*NODE_IP_ADDRESS\s*=/;

/**
 * rabbitmq-env.conf with NODE_IP_ADDRESS set to the node's address (AMQP listens there only:
 * HAProxy holds VIP:5672). Every other line stays: a setting already there is changed in place
 * (a repeated one is dropped), otherwise it goes below Debian's commented example, or at the end.
 */
export function withNodeIpAddress(current: string, address: string): string {
  const setting = `NODE_IP_ADDRESS=${address}`;
  const lines = current === '' ? [] : current.replace(/\n$/, '').split('\n');
  const at = lines.findIndex((l) => NODE_IP_LINE.test(l));
  if (at >= 0) {
    const kept = lines.filter((l, i) => i <= at || !NODE_IP_LINE.test(l));
    kept[at] = setting;
    return `${kept.join('\n')}\n`;
  }
  const added = ['# osha: AMQP on this node\'s own address only; HAProxy listens on the VIP.', setting];
  const example = lines.map((l) => NODE_IP_EXAMPLE.test(l)).lastIndexOf(true);
  if (example >= 0) lines.splice(example + 1, 0, ...added);
  else lines.push(...added);
  return `${lines.join('\n')}\n`;
}
