// /etc/haproxy/haproxy.cfg of the active-active topology: HAProxy runs on every node and the VIP
// sits on one of them; it spreads clients over the services that run on every node at their own
// addresses. Pure: same inventory in, same bytes out.
import { isIP } from 'node:net';
import type { Inventory } from '../inventory/schema.ts';
import { registryEntries } from '../services/registry.ts';

export const HAPROXY_CFG = '/etc/haproxy/haproxy.cfg';
/** HAProxy's statistics page, on this node's loopback only. */
export const HAPROXY_STATS = { address: '127.0.0.1', port: 8404 } as const;
/** Debian's admin socket (level admin): stick tables, server states. */
export const HAPROXY_ADMIN_SOCKET = '/run/haproxy/admin.sock';
export const MYSQL_PORT = 3306;
export const AMQP_PORT = 5672;
/** osha's Galera check on every node (src/render/galera-check.ts): clustercheck's port, which HAProxy setups for Galera have used for years. */
export const GALERA_CHECK_PORT = 9200;

/** host:port, with an IPv6 host in brackets. */
export function hostPort(address: string, port: number): string {
  return `${isIP(address) === 6 ? `[${address}]` : address}:${port}`;
}

/** One `listen` section: clients reach it on the VIP(s), it passes them to every node. */
export interface Frontend {
  name: string;
  port: number;
  mode: 'tcp' | 'http';
  /** Also bound on the public VIP (the APIs; never the database or the broker). */
  public: boolean;
  /** The section's own settings, between its binds and its servers. */
  settings: string[];
  /** One per node, in inventory order. */
  servers: string[];
}

// Debian bookworm's haproxy.cfg (package haproxy 2.6), kept as it is: logging to journald's
// /dev/log, the chroot, the admin socket, the unprivileged user, and its TLS defaults.
const GLOBAL = [
  'global',
  '\tlog /dev/log\tlocal0',
  '\tlog /dev/log\tlocal1 notice',
  '\tchroot /var/lib/haproxy',
  `\tstats socket ${HAPROXY_ADMIN_SOCKET} mode 660 level admin`,
  '\tstats timeout 30s',
  '\tuser haproxy',
  '\tgroup haproxy',
  '\tdaemon',
  '',
  '\t# Default SSL material locations',
  '\tca-base /etc/ssl/certs',
  '\tcrt-base /etc/ssl/private',
  '',
  '\t# See: https://ssl-config.mozilla.org/#server=haproxy&server-version=2.0.3&config=intermediate',
  '\tssl-default-bind-ciphers ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384',
  '\tssl-default-bind-ciphersuites TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256',
  '\tssl-default-bind-options ssl-min-ver TLSv1.2 no-tls-tickets',
];

// Debian's defaults (its error pages too), with timeouts in units, a retry on another server
// when a connection fails, and an hour for upgraded connections (noVNC's websockets); each
// section sets its own mode and log format. A connect waits 1 s, not Debian's 5: the backends
// are controllers on the same network, and a node that died answers nothing, so a request sent
// to it is retried on another one within a second (the checks then take it out: serverLine).
// `redispatch 1`: every retry goes to another server; plain `redispatch` moves only the last of
// the 3, after three connect timeouts, longer than a client waits.
const DEFAULTS = [
  'defaults',
  '\tlog\tglobal',
  '\tmode\thttp',
  '\toption\tdontlognull',
  '\toption\tredispatch 1',
  '\tretries\t3',
  '\ttimeout connect 1s',
  '\ttimeout client  1m',
  '\ttimeout server  1m',
  '\ttimeout check   5s',
  '\ttimeout queue   1m',
  '\ttimeout http-request    10s',
  '\ttimeout http-keep-alive 10s',
  '\ttimeout tunnel  1h',
  ...[400, 403, 408, 500, 502, 503, 504].map((code) => `\terrorfile ${code} /etc/haproxy/errors/${code}.http`),
];

/**
 * Long-lived connections (database sessions, AMQP channels): kept open, idle for up to 90 minutes
 * (in TCP mode the tunnel timeout takes over once a connection is established).
 */
const LONG_TCP = ['option tcpka', 'timeout client 90m', 'timeout server 90m', 'timeout tunnel 90m'];

/**
 * How a dead node's connections end: by TCP keepalives (sent once a connection to it is idle 1 s,
 * 2 unanswered probes 1 s apart), not by `on-marked-down shutdown-sessions`. HAProxy 3.0 (Debian
 * 13) leaves every connection still being made to a server that is marked down open forever, with
 * no timer, when that option ends its sessions; and a session it ends is never retried elsewhere.
 * A node that is only slow answers the probes, so its requests go on. (The section turns
 * keepalives on: `option tcpka` in TCP mode, `option srvtcpka` in HTTP mode.)
 */
const DEAD_NODE_KEEPALIVES = ['srvtcpka-idle 1s', 'srvtcpka-intvl 1s', 'srvtcpka-cnt 2'];
/** The same in a TCP section (its `option tcpka` turns them on), with the line that says so in the file. */
const TCP_DEAD_NODE_KEEPALIVES = ['# a dead node\'s sessions end after 1 s idle and 2 unanswered keepalives', ...DEAD_NODE_KEEPALIVES];

/**
 * Every node's server line: out after 2 failed checks, back after 2 good ones. A steady server is
 * checked every 2 s, one whose last check disagreed with its state every 0.5 s (`fastinter`). A
 * dead node's checks fail when their connect times out (1 s: the smaller of `timeout connect` and
 * `inter`), so it is out 2.5 to 4.5 s after it died, 3.5 s on average: as soon on average as with a
 * check every second (3 to 4 s), at half the checks. Every HAProxy checks every node, so the
 * checks per second grow with the square of the node count, and each is a request the API serves
 * (a broker logs each as a dropped connection).
 */
const serverLine = (n: { name: string; address: string }, port: number, extra = '') =>
  `server ${n.name} ${hostPort(n.address, port)} check inter 2s fastinter 500ms fall 2 rise 2${extra}`;

/**
 * An API request in flight to a node that dies (or whose connection fails) is sent again to another
 * node, but only when sending it twice is harmless: GET, HEAD and OPTIONS, and the POSTs the
 * service's registry entry names (keystone's token issue). Any other request fails as before: a
 * retried POST could create something twice. HAProxy keeps a copy of the request to do this; one
 * larger than its buffer (an image upload) is never retried.
 */
function apiRetries(retryablePosts: readonly string[]): string[] {
  const posts = retryablePosts.map((path) => ` || METH_POST { path_end ${path} }`).join('');
  return [
    '# a request a dead node had is sent again to another node when sending it twice is harmless',
    'option srvtcpka',
    ...DEAD_NODE_KEEPALIVES,
    'retry-on conn-failure empty-response response-timeout',
    `http-request disable-l7-retry unless METH_GET || METH_OPTIONS${posts}`,
  ];
}

/**
 * The frontends the inventory's services need, in this order: the database (one writer at a time:
 * the first node that is up, kept until it fails), the broker (every node), then each API with a
 * port, in the registry's order.
 */
export function haproxyFrontends(inv: Inventory): Frontend[] {
  const out: Frontend[] = [];
  const nodes = inv.nodes;
  if (inv.services.includes('mysql')) {
    out.push({
      name: 'mysql',
      port: MYSQL_PORT,
      mode: 'tcp',
      public: false,
      // Galera accepts writes on every node, but two writers conflict at commit: one node takes
      // them all. Every server is a backup, so HAProxy picks the first that is up (inventory order),
      // and the stick table keeps that choice: the writer stays the writer until a connection to
      // it fails or its checks take it out, then the next one that is up takes over and keeps the
      // writes when the first comes back. A failback would cut every session the backup held
      // (`on-marked-up shutdown-backup-sessions`, as before): each query under way then failed
      // (keystone's 500) when a dead writer rejoined.
      // A dead node's sessions end by keepalives (DEAD_NODE_KEEPALIVES): with shutdown-sessions,
      // a client waiting for MariaDB's greeting from the dead writer waited with HAProxy 3.0's
      // stuck connection (keystone: for as long as its own client waits); all new sessions go to
      // the writer until it is marked down, so that hit most of them (13 of 20 in a lab probe; 0
      // of 20 with keepalives).
      settings: [
        `# one writer at a time: the first node that is up (${nodes.map((n) => n.name).join(', ')}); it keeps the writes until it fails`,
        'option tcplog',
        ...LONG_TCP,
        ...TCP_DEAD_NODE_KEEPALIVES,
        'stick-table type integer size 1',
        'stick on int(1)',
        `# a node takes clients only when synced in the primary component: osha's Galera check on port ${GALERA_CHECK_PORT}`,
        'option httpchk',
        'http-check expect status 200',
      ],
      // A node is also taken out once 2 connections in a row to it failed (`observe layer4`), not
      // only by its checks (2.5 to 4.5 s for a dead one), so that HAProxy's state says so at once.
      servers: nodes.map((n) => serverLine(n, MYSQL_PORT, ` port ${GALERA_CHECK_PORT} observe layer4 error-limit 2 on-error mark-down backup`)),
    });
  }
  if (inv.services.includes('rabbitmq')) {
    out.push({
      name: 'rabbitmq',
      port: AMQP_PORT,
      mode: 'tcp',
      public: false,
      settings: ['option tcplog', 'balance leastconn', ...LONG_TCP, ...TCP_DEAD_NODE_KEEPALIVES],
      servers: nodes.map((n) => serverLine(n, AMQP_PORT)),
    });
  }
  for (const [service, e] of registryEntries()) {
    if (!inv.services.includes(service) || e.port === undefined) continue;
    const port = e.port;
    // A service without an HTTP health path gets HAProxy's plain TCP check.
    const check = e.health?.kind === 'http' ? [`option httpchk GET ${e.health.path}`, 'http-check expect status 200'] : [];
    out.push({
      name: service,
      port,
      mode: 'http',
      public: e.internal !== true,
      settings: ['option httplog', 'balance roundrobin', 'option forwardfor', ...check, ...apiRetries(e.retryablePosts ?? [])],
      servers: nodes.map((n) => serverLine(n, port)),
    });
  }
  return out;
}

function listenSection(inv: Inventory, f: Frontend): string[] {
  const vips = [inv.vip.address, ...(f.public && inv.public_vip ? [inv.public_vip.address] : [])];
  // `transparent` binds the VIP on every node, also where it is not (yet): HAProxy sets
  // IP_TRANSPARENT (IP_FREEBIND where that is refused), so no sysctl is needed for it.
  return [`listen ${f.name}`, ...vips.map((a) => `\tbind ${hostPort(a, f.port)} transparent`), `\tmode ${f.mode}`, ...[...f.settings, ...f.servers].map((l) => `\t${l}`)];
}

const STATS = [
  'listen stats',
  `\tbind ${hostPort(HAPROXY_STATS.address, HAPROXY_STATS.port)}`,
  '\tmode http',
  '\tstats enable',
  '\tstats uri /',
  '\tstats refresh 10s',
];

export function renderHaproxyCfg(inv: Inventory): string {
  const header = [
    `# Written by osha for cluster ${inv.cluster.name} (topology active-active); edits are replaced on the next deploy.`,
    '# HAProxy runs on every node; clients reach it on the VIP, held by one node at a time.',
    `# Debian's original is kept as ${HAPROXY_CFG}.osha-orig.`,
  ];
  const sections = [header.concat(GLOBAL), DEFAULTS, ...haproxyFrontends(inv).map((f) => listenSection(inv, f)), STATS];
  return sections.map((s) => s.join('\n')).join('\n\n') + '\n';
}
