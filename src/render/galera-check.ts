// osha's Galera check for HAProxy (active-active): a small HTTP responder on every node, at its
// own address, that says whether this node's MariaDB may take the database's clients (200: in the
// primary component, ready and synced; 503 with the reason otherwise). The responder itself is
// playbooks/files/osha-galera-check; here are its systemd units. Pure: same inventory and node
// in, same bytes out.
import type { Inventory, InventoryNode } from '../inventory/schema.ts';
import { GALERA_CHECK_PORT, hostPort } from './haproxy.ts';

export const GALERA_CHECK_UNIT = 'osha-galera-check';
export const GALERA_CHECK_SCRIPT = '/usr/lib/osha/galera-check';
export const GALERA_CHECK_SOCKET = `/etc/systemd/system/${GALERA_CHECK_UNIT}.socket`;
export const GALERA_CHECK_SERVICE = `/etc/systemd/system/${GALERA_CHECK_UNIT}.service`;
/** Where the responder comes from, relative to the repository's playbooks/. */
export const GALERA_CHECK_SOURCE = 'files/osha-galera-check';

const header = (inv: Inventory) => `# Written by osha for cluster ${inv.cluster.name} (topology active-active); edits are replaced on the next deploy.`;

/**
 * The listening socket: the node's own address only (HAProxy on every node asks every node), kept
 * by systemd, which starts the responder at the first check. FreeBind: the socket also comes up at
 * boot before the address is configured.
 */
export function renderGaleraCheckSocket(inv: Inventory, node: InventoryNode): string {
  return [
    header(inv),
    '[Unit]',
    "Description=osha: this node's Galera health for HAProxy (HTTP 200 when synced)",
    '',
    '[Socket]',
    `ListenStream=${hostPort(node.address, GALERA_CHECK_PORT)}`,
    'FreeBind=yes',
    '# One responder for every check: no process and no journal line per connection.',
    'Accept=no',
    '',
    '[Install]',
    'WantedBy=sockets.target',
    '',
  ].join('\n');
}

/**
 * The responder runs as root because MariaDB lets root in over its unix socket without a password
 * (as osha's own SSH commands do); it keeps no capability and sees the file system read-only.
 */
export function renderGaleraCheckService(inv: Inventory): string {
  return [
    header(inv),
    '[Unit]',
    "Description=osha: this node's Galera health for HAProxy (HTTP 200 when synced)",
    `Requires=${GALERA_CHECK_UNIT}.socket`,
    '',
    '[Service]',
    `ExecStart=${GALERA_CHECK_SCRIPT}`,
    'CapabilityBoundingSet=',
    'NoNewPrivileges=yes',
    'ProtectSystem=strict',
    'ProtectHome=read-only',
    'PrivateTmp=yes',
    'RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6',
    '',
  ].join('\n');
}
