// The lab's nodes as OpenStack controllers before HA: what an operator has when they reach for
// osha. MariaDB, RabbitMQ, keystone and glance-api (installed in the image from Debian's
// packages) are configured on every node with that node's own address. node1 bootstrapped the
// databases, keystone (schema, fernet keys, admin, catalog on its own address) and glance, and
// runs all four under systemd, MariaDB's data on the shared storage (bind-mounted by hand, as an
// operator mounts a SAN volume); node2 and node3 are configured standbys with nothing running.
// For topology active-active, MariaDB's data stays in node1's own /var/lib/mysql (Galera will
// copy it to the others) and RabbitMQ has the `openstack` user the services log in with.
// `osha deploy` then takes the services over: this is the starting point of the demo and of the
// HA tests. Secrets go to nodes on ssh's stdin and live on the host in 0600 files only.
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { HostConnection } from '../ssh/connection.ts';
import type { SshTarget } from '../ssh/target.ts';
import { writeWhole } from '../util/write-file.ts';
import { err, ok, oshaError, type Result } from '../util/result.ts';
import { SHARED_MOUNT } from './plan.ts';
import { renderInventory } from './inventory.ts';
import { readState, updateState, type LabState, type NodeState } from './state.ts';
import type { Topology } from '../inventory/schema.ts';

/** The services the lab's controllers run before HA, in the order osha deploys them. */
export const CONTROLLER_SERVICES = ['mysql', 'rabbitmq', 'keystone', 'glance-api'] as const;

/** Inside every node: MariaDB's data directory and glance's image store on the shared storage. */
export const SHARED_MYSQL = `${SHARED_MOUNT}/mysql`;
export const SHARED_IMAGES = `${SHARED_MOUNT}/glance-images`;
/** Marks MariaDB's data directory on the shared storage as the lab's own. */
const LAB_MARK = '.osha-lab';

/**
 * keystone-uwsgi.ini asks for 8 processes of 32 threads: about 40 s to load on a 2-core host.
 * The lab runs one process (osha's agent passes these to uwsgi; the bootstrap edits the ini).
 */
export const KEYSTONE_UWSGI_TUNING = '--processes 1 --threads 8';

/**
 * Active-active: how often the lab's Pacemaker runs the two monitors that cost the most CPU, on
 * nodes that all share this machine's cores. rabbitmq-cluster's starts three rabbitmqctl processes,
 * each an Erlang VM of about 1 s of CPU on a lab node (2.9 s per run, measured), so osha's 30 s kept
 * a tenth of a core per node busy watching; the promoted Galera instances' runs several mysql and
 * crm_attribute calls (about 1 s). Nothing in the lab's scenarios waits for either: corosync sees a
 * dead node, HAProxy's checks take a failed database out, and a broker's clients move by themselves.
 * The unpromoted Galera monitor, which a full outage's bootstrap waits for, keeps osha's 20 s.
 */
export const LAB_ACTIVE_ACTIVE_MONITORS = { rabbitmq: '120s', mysql: '60s' } as const;

export interface ControllerSecrets {
  /** keystone's admin user. */
  admin: string;
  /** keystone's glance service user. */
  glanceService: string;
  keystoneDb: string;
  glanceDb: string;
  /** RabbitMQ's `openstack` user (active-active labs; absent in secrets files of older labs). */
  rabbit?: string;
}

export interface ControllersInfo {
  /** The admin password alone (the inventory's openstack.password reads it). */
  passwordFile: string;
  /** Every secret as JSON, for tests and for the operator. */
  secretsFile: string;
  /** The node that ran the bootstrap and runs the services now. */
  primary: string;
  /** False when the lab's controllers were already bootstrapped (nothing was done). */
  bootstrapped: boolean;
}

export function controllerFiles(dir: string): { passwordFile: string; secretsFile: string } {
  return { passwordFile: join(dir, 'openstack-admin.password'), secretsFile: join(dir, 'openstack-secrets.json') };
}

export async function readControllerSecrets(dir: string): Promise<ControllerSecrets> {
  return JSON.parse(await readFile(controllerFiles(dir).secretsFile, 'utf8')) as ControllerSecrets;
}

function labTarget(state: LabState, node: NodeState): SshTarget {
  return {
    name: node.name,
    host: node.address,
    port: 22,
    user: 'root',
    privateKey: state.files.key,
    knownHosts: state.files.knownHosts,
    agent: false,
    sudo: { mode: 'none' },
    connectTimeoutMs: 10_000,
    commandTimeoutMs: 600_000,
  };
}

// --- node scripts (bash on stdin: the secrets in them are on no command line) ---

/** Appends a block once: a marker line says it is there, so an interrupted bootstrap re-runs cleanly. */
function appendOnce(file: string, block: string): string {
  const marker = '# --- osha lab: controller before HA ---';
  return `grep -qxF '${marker}' ${file} || cat >> ${file} <<'EOF'\n\n${marker}\n${block.trim()}\nEOF\n`;
}

/** Every node: its services configured with its own address, as a single controller would be. */
export function nodeConfigScript(address: string, s: ControllerSecrets): string {
  return [
    'set -eu',
    // Debian's MariaDB listens on 127.0.0.1 only; a controller's clients come over the network.
    `printf '[mysqld]\\nbind-address = %s\\n' '${address}' > /etc/mysql/mariadb.conf.d/60-controller.cnf`,
    `sed -i -e 's/^processes = .*/processes = 1/' -e 's/^threads = .*/threads = 8/' /etc/keystone/keystone-uwsgi.ini`,
    appendOnce(
      '/etc/keystone/keystone.conf',
      `
[database]
connection = mysql+pymysql://keystone:${s.keystoneDb}@${address}/keystone
[token]
provider = fernet
[healthcheck]
backends = disable_by_file
disable_by_file_path = /etc/keystone/healthcheck_disable`,
    ),
    appendOnce(
      '/etc/glance/glance-api.conf',
      `
[DEFAULT]
bind_host = ${address}
bind_port = 9292
[database]
connection = mysql+pymysql://glance:${s.glanceDb}@${address}/glance
[keystone_authtoken]
www_authenticate_uri = http://${address}:5000
auth_url = http://${address}:5000
auth_type = password
project_domain_name = Default
user_domain_name = Default
project_name = service
username = glance
password = ${s.glanceService}
region_name = RegionOne
[paste_deploy]
flavor = keystone
[glance_store]
stores = file
default_store = file
filesystem_store_datadir = ${SHARED_IMAGES}
[healthcheck]
backends = disable_by_file
disable_by_file_path = /etc/glance/healthcheck_disable`,
    ),
  ].join('\n');
}

/**
 * SQL creating each OpenStack database and its user of the same name, with its password, for
 * clients from `host` ('%' by default: they come over the network, later through the VIP;
 * 'localhost' for a single node). Re-runnable.
 */
export function databasesSql(passwords: Record<string, string>, host: 'localhost' | '%' = '%'): string {
  return Object.entries(passwords)
    .flatMap(([db, password]) => [
      `CREATE DATABASE IF NOT EXISTS ${db};`,
      `CREATE USER IF NOT EXISTS '${db}'@'${host}';`,
      `ALTER USER '${db}'@'${host}' IDENTIFIED BY '${password}';`,
      `GRANT ALL PRIVILEGES ON ${db}.* TO '${db}'@'${host}';`,
    ])
    .concat('FLUSH PRIVILEGES;')
    .join('\n');
}

/** Waits (bounded) until a URL answers with any HTTP status: a condition, not a fixed sleep. */
const waitHttp = (url: string, what: string, seconds: number) =>
  `for i in $(seq ${seconds * 5}); do curl -s -o /dev/null -m 2 ${url} && break; [ "$i" -lt ${seconds * 5} ] || { echo "${what} did not answer on ${url} within ${seconds} s" >&2; exit 1; }; sleep 0.2; done`;

/**
 * The primary node: MariaDB from the shared storage, the databases, keystone's schema, keys and
 * admin (its catalog on the node's own address), then keystone started. A shared directory that
 * already holds data the lab did not put there is refused, never wiped.
 */
export function primaryBootstrapScript(address: string, s: ControllerSecrets, topology: Topology = 'classic'): string {
  const sharedData = String.raw`mkdir -p ${SHARED_MYSQL}
if [ ! -e ${SHARED_MYSQL}/${LAB_MARK} ]; then
  if [ -n "$(ls -A ${SHARED_MYSQL})" ]; then echo "${SHARED_MYSQL} already holds data this lab did not put there; refusing to overwrite it" >&2; exit 3; fi
  cp -a /var/lib/mysql/. ${SHARED_MYSQL}/
  touch ${SHARED_MYSQL}/${LAB_MARK}
fi
chown mysql:mysql ${SHARED_MYSQL}
mountpoint -q /var/lib/mysql || mount --bind ${SHARED_MYSQL} /var/lib/mysql`;
  // Active-active: the data stays in the node's own /var/lib/mysql (the image's, local to it).
  return String.raw`set -eu
mkdir -p ${SHARED_IMAGES}
${topology === 'active-active' ? '' : sharedData}
chown glance:glance ${SHARED_IMAGES}
systemctl start mariadb
mysql <<'SQL'
${databasesSql({ keystone: s.keystoneDb, glance: s.glanceDb })}
SQL
su -s /bin/sh -c 'keystone-manage db_sync' keystone
[ -e /etc/keystone/fernet-keys/0 ] || keystone-manage fernet_setup --keystone-user keystone --keystone-group keystone
[ -e /etc/keystone/credential-keys/0 ] || keystone-manage credential_setup --keystone-user keystone --keystone-group keystone
OS_BOOTSTRAP_PASSWORD='${s.admin}' keystone-manage bootstrap \
  --bootstrap-username admin --bootstrap-project-name admin --bootstrap-role-name admin \
  --bootstrap-service-name keystone --bootstrap-region-id RegionOne \
  --bootstrap-admin-url http://${address}:5000/v3/ \
  --bootstrap-internal-url http://${address}:5000/v3/ \
  --bootstrap-public-url http://${address}:5000/v3/ >/dev/null
systemctl start keystone
${waitHttp(`http://${address}:5000/v3`, 'keystone', 90)}
`;
}

/**
 * RabbitMQ's user for the OpenStack services, with every right on /; the password on stdin only.
 * The script itself comes on bash's stdin: every other rabbitmqctl reads /dev/null, or it would
 * swallow the rest of the script.
 */
export function rabbitUserScript(password: string): string {
  return String.raw`rabbitmqctl await_startup </dev/null >/dev/null
rabbitmqctl list_users --quiet --no-table-headers </dev/null | cut -f1 | grep -qx openstack || rabbitmqctl add_user openstack <<'PASSWORD' >/dev/null
${password}
PASSWORD
rabbitmqctl set_permissions -p / openstack '.*' '.*' '.*' </dev/null >/dev/null
`;
}

/** The primary node, once glance's user exists: glance's schema, then glance and RabbitMQ started. */
export function primaryGlanceScript(address: string, rabbitPassword?: string): string {
  return String.raw`set -eu
su -s /bin/sh -c 'glance-manage db_sync' glance >/dev/null 2>&1 || su -s /bin/sh -c 'glance-manage db_sync' glance
systemctl start glance-api rabbitmq-server
${rabbitPassword === undefined ? '' : rabbitUserScript(rabbitPassword)}${waitHttp(`http://${address}:9292/healthcheck`, 'glance-api', 90)}
`;
}

/** keystone's fernet and credential keys as one base64 tar (read and unpacked over stdio only). */
const PACK_KEYS = 'tar -C /etc/keystone -czf - fernet-keys credential-keys | base64 -w0';
const unpackKeysScript = (b64: string): string =>
  `set -eu\nrm -rf /etc/keystone/fernet-keys /etc/keystone/credential-keys\nbase64 -d <<'EOF' | tar -C /etc/keystone -xzf -\n${b64}\nEOF\n`;

// --- keystone's REST API, from the host (it reaches the lab's subnet directly) ---

async function keystoneCall(base: string, token: string | undefined, method: string, path: string, body?: unknown): Promise<Result<{ status: number; json: Record<string, unknown>; token?: string }>> {
  try {
    const r = await fetch(`${base}/v3${path}`, {
      method,
      headers: { 'content-type': 'application/json', ...(token ? { 'x-auth-token': token } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(30_000),
    });
    const text = await r.text();
    if (!r.ok) return err(oshaError(`keystone ${method} ${path}: HTTP ${r.status} ${text.slice(0, 200)}`));
    return ok({ status: r.status, json: text ? (JSON.parse(text) as Record<string, unknown>) : {}, token: r.headers.get('x-subject-token') ?? undefined });
  } catch (e) {
    return err(oshaError(`keystone ${method} ${path} at ${base}: ${(e as Error).message}`));
  }
}

/**
 * The `service` project, the `glance` user with the admin role in it and the image service in the
 * catalog (its endpoints are osha's job). Over REST: the openstack client reads a new user's
 * password only from a terminal or argv, and argv would show it to every process on the node.
 */
export async function createGlanceUser(address: string, s: ControllerSecrets): Promise<Result<void>> {
  const base = `http://${address}:5000`;
  const auth = await keystoneCall(base, undefined, 'POST', '/auth/tokens', {
    auth: {
      identity: { methods: ['password'], password: { user: { name: 'admin', domain: { name: 'Default' }, password: s.admin } } },
      scope: { project: { name: 'admin', domain: { name: 'Default' } } },
    },
  });
  if (!auth.ok) return auth;
  const token = auth.value.token;
  const idOf = async (path: string, key: string, name: string): Promise<Result<string | undefined>> => {
    const r = await keystoneCall(base, token, 'GET', `${path}?name=${encodeURIComponent(name)}`);
    return r.ok ? ok((r.value.json[key] as { id: string }[])[0]?.id) : r;
  };
  const ensure = async (path: string, key: string, name: string, create: Record<string, unknown>): Promise<Result<string>> => {
    const found = await idOf(path, key, name);
    if (!found.ok || found.value) return found as Result<string>;
    const made = await keystoneCall(base, token, 'POST', path, create);
    return made.ok ? ok((made.value.json[key.slice(0, -1)] as { id: string }).id) : made;
  };
  const project = await ensure('/projects', 'projects', 'service', { project: { name: 'service', domain_id: 'default' } });
  if (!project.ok) return project;
  const user = await ensure('/users', 'users', 'glance', { user: { name: 'glance', domain_id: 'default', password: s.glanceService } });
  if (!user.ok) return user;
  const role = await idOf('/roles', 'roles', 'admin');
  if (!role.ok) return role;
  if (!role.value) return err(oshaError('keystone has no admin role after its bootstrap'));
  const grant = await keystoneCall(base, token, 'PUT', `/projects/${project.value}/users/${user.value}/roles/${role.value}`);
  if (!grant.ok) return grant;
  const service = await ensure('/services', 'services', 'glance', { service: { name: 'glance', type: 'image' } });
  return service.ok ? ok(undefined) : service;
}

// --- the bootstrap ---

export interface ControllersOptions {
  log?: (line: string) => void;
  /** The layout to prepare for, when the lab has none recorded yet (default classic). */
  topology?: Topology;
}

/**
 * Makes the lab in DIR a set of OpenStack controllers before HA (see the top of this file).
 * Done once: a lab whose controllers are bootstrapped is left as it is.
 */
export async function labControllers(dir: string, opts: ControllersOptions = {}): Promise<Result<ControllersInfo>> {
  const log = opts.log ?? (() => undefined);
  const stateFile = join(dir, 'lab.json');
  const read = await readState(stateFile);
  if (!read.ok) return read;
  const state = read.value;
  if (!state?.ready) return err(oshaError(`no lab is up in ${dir}`, { fix: `start one with: osha lab up --dir ${dir} --openstack` }));
  const files = controllerFiles(state.dir);
  const primary = state.nodes[0]!;
  if (opts.topology && state.topology && opts.topology !== state.topology) {
    return err(oshaError(`the lab in ${state.dir} is made for topology ${state.topology}, not ${opts.topology}`, { fix: `use --topology ${state.topology}, or recreate the lab` }));
  }
  const topology = state.topology ?? opts.topology ?? 'classic';
  if (state.controllers) return ok({ ...files, primary: primary.name, bootstrapped: false });
  if (topology === 'classic' && !state.shared) return err(oshaError(`the lab in ${state.dir} has no shared storage for MariaDB's data`, { fix: 'make the lab with --openstack (or --shared DIR)' }));
  if (state.nodes.some((n) => n.killed || n.partitioned)) return err(oshaError('every node must be up and connected for the bootstrap', { fix: `osha lab start/heal the node, or recreate the lab` }));
  // The shared directory is the host's: data in it that this lab did not put there is refused
  // before any node changes (the node script checks again, where the copy happens).
  const hostMysql = join(state.shared ?? '', SHARED_MYSQL.slice(SHARED_MOUNT.length + 1));
  if (topology === 'classic' && existsSync(hostMysql) && readdirSync(hostMysql).length > 0 && !existsSync(join(hostMysql, LAB_MARK))) {
    return err(oshaError(`${hostMysql} already holds data this lab did not put there; nothing was changed`, { fix: 'move it away, or give the lab another --shared directory' }));
  }

  const secrets: ControllerSecrets = {
    admin: randomBytes(12).toString('hex'),
    glanceService: randomBytes(12).toString('hex'),
    keystoneDb: randomBytes(12).toString('hex'),
    glanceDb: randomBytes(12).toString('hex'),
    ...(topology === 'active-active' ? { rabbit: randomBytes(12).toString('hex') } : {}),
  };
  // A re-run after an interrupted bootstrap must reuse the secrets already written into configs.
  const kept = await readControllerSecrets(state.dir).catch(() => undefined);
  const s = kept ?? secrets;
  if (!kept) {
    await writeWhole(files.secretsFile, JSON.stringify(s, null, 2) + '\n', { overwrite: true, mode: 0o600 });
    await writeWhole(files.passwordFile, `${s.admin}\n`, { overwrite: true, mode: 0o600 });
  }

  const conns: HostConnection[] = [];
  try {
    for (const opened of await Promise.all(state.nodes.map((n) => HostConnection.open(labTarget(state, n))))) {
      if (!opened.ok) return opened;
      conns.push(opened.value);
    }
    const script = async (c: HostConnection, what: string, text: string): Promise<Result<string>> => {
      const r = await c.exec('bash -s', { stdin: text });
      if (!r.ok) return r;
      if (r.value.code !== 0) return err(oshaError(`${c.target.name}: ${what} failed (exit ${r.value.code}): ${(r.value.stderr || r.value.stdout).trim().split('\n').slice(-8).join('\n')}`));
      return ok(r.value.stdout);
    };
    const first = conns[0]!;
    log('controllers: configuring MariaDB, keystone and glance-api on every node with its own address');
    for (const r of await Promise.all(conns.map((c, i) => script(c, 'configuration', nodeConfigScript(state.nodes[i]!.address, s))))) if (!r.ok) return r;
    log(`controllers: ${primary.name}: MariaDB ${topology === 'classic' ? 'on the shared storage' : 'in its own /var/lib/mysql'}, keystone's schema, keys, admin and catalog`);
    const boot = await script(first, 'MariaDB and keystone bootstrap', primaryBootstrapScript(primary.address, s, topology));
    if (!boot.ok) return boot;
    const keys = await script(first, 'reading keystone keys', PACK_KEYS);
    if (!keys.ok) return keys;
    for (const r of await Promise.all(conns.slice(1).map((c) => script(c, 'keystone keys', unpackKeysScript(keys.value.trim()))))) if (!r.ok) return r;
    log(`controllers: ${primary.name}: glance's user, schema and service; RabbitMQ`);
    const user = await createGlanceUser(primary.address, s);
    if (!user.ok) return user;
    const glance = await script(first, 'glance bootstrap', primaryGlanceScript(primary.address, topology === 'active-active' ? s.rabbit : undefined));
    if (!glance.ok) return glance;
  } finally {
    for (const c of conns) c.close();
  }
  const inventory = renderInventory({
    ...state,
    mission: { passwordFile: files.passwordFile, services: CONTROLLER_SERVICES, mysqlData: SHARED_MYSQL, keystoneTuning: KEYSTONE_UWSGI_TUNING, monitors: LAB_ACTIVE_ACTIVE_MONITORS, topology },
  });
  await writeWhole(state.files.inventory, inventory, { overwrite: true, mode: 0o644 });
  const saved = await updateState(stateFile, (st) => {
    st.controllers = { bootstrappedAt: new Date().toISOString(), primary: primary.name };
    st.topology = topology;
  });
  if (!saved.ok) return saved;
  return ok({ ...files, primary: primary.name, bootstrapped: true });
}
