// The high-availability fixture: a fresh 3-node lab with real MariaDB (data on the lab's shared
// directory), RabbitMQ, keystone and glance-api, all run by Pacemaker through `osha deploy`.
// Also used by bench/drill.ts. Every script goes to a node on ssh's stdin, so the passwords in
// it are on no command line; the host talks to keystone and glance over HTTP through the VIP.
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { labDown, labUp } from '../../src/lab/index.ts';
import type { RunOutput } from '../../src/lab/exec.ts';
import { databasesSql, labInfoOf, nodeRun, type LabInfo, type LabNode } from '../support/lab.ts';
import { oshaJson, type OshaRun } from '../support/osha.ts';
import type { RunSummary } from '../../src/runner/types.ts';

export const HA_PLACE = { dir: '/tmp/osha-test-ha', shared: '/tmp/osha-test-ha-shared', subnet: 70 } as const;

/** Where the lab's shared directory appears in every node, and what the fixture keeps there. */
const SHARED = '/srv/shared';
const MYSQL_DATA = `${SHARED}/mysql`;
const IMAGE_STORE = `${SHARED}/glance-images`;

/** keystone-uwsgi.ini asks for 8 processes of 32 threads: about 40 s to load on a 2-core host. */
export const KEYSTONE_UWSGI_TUNING = '--processes 1 --threads 8';

export const ALL_SERVICES = ['mysql', 'rabbitmq', 'keystone', 'glance-api'] as const;

export interface HaSecrets {
  admin: string;
  glanceService: string;
  keystoneDb: string;
  glanceDb: string;
}

export interface HaLab extends LabInfo {
  shared: string;
  secrets: HaSecrets;
  /** The admin password in a 0600 file on the host, which the inventory references. */
  passwordFile: string;
}

export interface InventoryOptions {
  services?: readonly string[];
  profile?: 'default' | 'fast';
  /** File name inside the lab directory. */
  name?: string;
}

/** Writes an inventory for the HA lab (the lab's own plus services, storage and credentials). */
export function haInventory(ha: HaLab, opts: InventoryOptions = {}): string {
  const inv = parse(readFileSync(ha.inventory, 'utf8')) as Record<string, unknown>;
  const services = [...(opts.services ?? ALL_SERVICES)];
  inv.services = services;
  if (opts.profile) inv.corosync = { profile: opts.profile };
  inv.openstack = { password: { file: ha.passwordFile } };
  inv.resources = {
    // The lab's shared directory is a plain directory: a bind mount is what moves with MariaDB.
    storage: { mysql: { device: MYSQL_DATA, fstype: 'none', options: 'bind' } },
    overrides: services.includes('keystone') ? { keystone: { params: { additional_parameters: KEYSTONE_UWSGI_TUNING } } } : {},
  };
  const path = join(ha.dir, opts.name ?? 'inventory-ha.yaml');
  writeFileSync(path, stringify(inv));
  return path;
}

/** Runs a bash script on a node, the script on stdin. */
export function nodeScript(node: LabNode, script: string, timeoutMs = 300_000): Promise<RunOutput> {
  return nodeRun(node, 'bash -s', { input: script, timeoutMs });
}

/** Like nodeScript, but a failure throws with the script's stderr. */
export async function nodeOk(node: LabNode, what: string, script: string, timeoutMs?: number): Promise<string> {
  const r = await nodeScript(node, script, timeoutMs);
  if (r.code !== 0) throw new Error(`${node.name}: ${what} failed (exit ${r.code}): ${(r.stderr || r.stdout).trim().slice(-3000)}`);
  return r.stdout;
}

function nodeByName(ha: LabInfo, name: string): LabNode {
  const n = ha.nodes.find((x) => x.name === name);
  if (!n) throw new Error(`no node ${name} in the lab`);
  return n;
}

// --- node scripts ---

const UIDS = 'echo "uids mysql=$(id -u mysql):$(id -g mysql) glance=$(id -u glance):$(id -g glance)"\n';

/** MariaDB's fresh data directory copied once to the shared directory; the image store next to it. */
const INIT_SHARED = String.raw`set -eu
rm -rf ${MYSQL_DATA} ${IMAGE_STORE}
mkdir -m 0755 ${MYSQL_DATA} ${IMAGE_STORE}
cp -a /var/lib/mysql/. ${MYSQL_DATA}/
chown mysql:mysql ${MYSQL_DATA}
chown glance:glance ${IMAGE_STORE}
`;

/** Databases and users for keystone and glance; '%' because clients come through the VIP. */
function databasesScript(s: HaSecrets): string {
  return String.raw`set -eu
mysql <<'SQL'
${databasesSql({ keystone: s.keystoneDb, glance: s.glanceDb }, '%')}
SQL
`;
}

/** keystone.conf on every node: the database through the VIP, fernet tokens, the health check. */
function keystoneConfScript(vip: string, s: HaSecrets): string {
  // oslo.config lets a later section override an earlier one: append, keep Debian's file intact.
  return String.raw`set -eu
cat >> /etc/keystone/keystone.conf <<'EOF'

# --- osha HA test ---
[database]
connection = mysql+pymysql://keystone:${s.keystoneDb}@${vip}/keystone
[token]
provider = fernet
[healthcheck]
backends = disable_by_file
disable_by_file_path = /etc/keystone/healthcheck_disable
EOF
`;
}

/** Once, on the node with the database: schema, keys and the admin user (password from env). */
function keystoneInitScript(vip: string, s: HaSecrets): string {
  return String.raw`set -eu
su -s /bin/sh -c 'keystone-manage db_sync' keystone
rm -rf /etc/keystone/fernet-keys /etc/keystone/credential-keys
keystone-manage fernet_setup --keystone-user keystone --keystone-group keystone
keystone-manage credential_setup --keystone-user keystone --keystone-group keystone
OS_BOOTSTRAP_PASSWORD='${s.admin}' keystone-manage bootstrap \
  --bootstrap-username admin --bootstrap-project-name admin --bootstrap-role-name admin \
  --bootstrap-service-name keystone --bootstrap-region-id RegionOne \
  --bootstrap-admin-url http://${vip}:5000/v3/ \
  --bootstrap-internal-url http://${vip}:5000/v3/ \
  --bootstrap-public-url http://${vip}:5000/v3/ >/dev/null
`;
}

/** The key directories as one base64 tar, read and unpacked over stdio only. */
const PACK_KEYS = 'tar -C /etc/keystone -czf - fernet-keys credential-keys | base64 -w0';
const unpackKeysScript = (b64: string): string =>
  `set -eu\nrm -rf /etc/keystone/fernet-keys /etc/keystone/credential-keys\nbase64 -d <<'EOF' | tar -C /etc/keystone -xzf -\n${b64}\nEOF\n`;
const KEYS_SUM = 'cd /etc/keystone && find fernet-keys credential-keys -type f | sort | xargs sha256sum | sha256sum';

/** glance-api.conf on every node: database and keystone through the VIP, images on shared storage. */
function glanceConfScript(vip: string, s: HaSecrets): string {
  return String.raw`set -eu
cat >> /etc/glance/glance-api.conf <<'EOF'

# --- osha HA test ---
[DEFAULT]
bind_host = 0.0.0.0
bind_port = 9292
[database]
connection = mysql+pymysql://glance:${s.glanceDb}@${vip}/glance
[keystone_authtoken]
www_authenticate_uri = http://${vip}:5000
auth_url = http://${vip}:5000
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
filesystem_store_datadir = ${IMAGE_STORE}
[healthcheck]
backends = disable_by_file
disable_by_file_path = /etc/glance/healthcheck_disable
EOF
`;
}

const GLANCE_DB_SYNC = `set -eu\nsu -s /bin/sh -c 'glance-manage db_sync' glance >/dev/null 2>&1 || su -s /bin/sh -c 'glance-manage db_sync' glance\n`;

// --- HTTP through the VIP (from the host: it reaches the lab subnet directly) ---

/** Asks keystone for a token as `user` in `project`; resolves with the HTTP status and token. */
export async function issueToken(vip: string, password: string, user = 'admin', project = 'admin', timeoutMs = 20_000): Promise<{ status: number; token?: string }> {
  const body = {
    auth: {
      identity: { methods: ['password'], password: { user: { name: user, domain: { name: 'Default' }, password } } },
      scope: { project: { name: project, domain: { name: 'Default' } } },
    },
  };
  const r = await fetch(`http://${vip}:5000/v3/auth/tokens`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(timeoutMs),
  });
  await r.arrayBuffer();
  return { status: r.status, token: r.headers.get('x-subject-token') ?? undefined };
}

async function adminToken(vip: string, password: string): Promise<string> {
  const t = await issueToken(vip, password);
  if (t.status !== 201 || !t.token) throw new Error(`keystone at ${vip} gave no admin token (HTTP ${t.status})`);
  return t.token;
}

async function keystoneApi(vip: string, token: string, method: string, path: string, body?: unknown): Promise<Record<string, unknown>> {
  const r = await fetch(`http://${vip}:5000/v3${path}`, {
    method,
    headers: { 'x-auth-token': token, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(20_000),
  });
  const text = await r.text();
  if (!r.ok) throw new Error(`keystone ${method} ${path}: HTTP ${r.status} ${text.slice(0, 300)}`);
  return text ? (JSON.parse(text) as Record<string, unknown>) : {};
}

/**
 * The `service` project, the `glance` user with the admin role in it and the image service in the
 * catalog, through the VIP. Over
 * the REST API from the host: the openstack client reads a new user's password only from a
 * terminal (or from argv, which would leak it), so it cannot be used here without a pty.
 */
export async function createGlanceUser(vip: string, s: HaSecrets): Promise<void> {
  const token = await adminToken(vip, s.admin);
  const idOf = async (path: string, key: string, name: string): Promise<string | undefined> => {
    const list = (await keystoneApi(vip, token, 'GET', `${path}?name=${encodeURIComponent(name)}`))[key] as { id: string }[];
    return list[0]?.id;
  };
  const project =
    (await idOf('/projects', 'projects', 'service')) ??
    ((await keystoneApi(vip, token, 'POST', '/projects', { project: { name: 'service', domain_id: 'default' } })).project as { id: string }).id;
  const user =
    (await idOf('/users', 'users', 'glance')) ??
    ((await keystoneApi(vip, token, 'POST', '/users', { user: { name: 'glance', domain_id: 'default', password: s.glanceService } })).user as { id: string }).id;
  const role = await idOf('/roles', 'roles', 'admin');
  if (!role) throw new Error('keystone has no admin role after bootstrap');
  await keystoneApi(vip, token, 'PUT', `/projects/${project}/users/${user}/roles/${role}`);
  // The image service in the catalog, as the install guide has it; its endpoints are osha's job.
  if (!(await idOf('/services', 'services', 'glance'))) await keystoneApi(vip, token, 'POST', '/services', { service: { name: 'glance', type: 'image' } });
}

export interface Image {
  id: string;
  checksum: string;
  size: number;
}

/** Creates an image and uploads its data through glance v2 on the VIP. */
export async function uploadImage(vip: string, password: string, name: string, data: Buffer): Promise<Image> {
  const token = await adminToken(vip, password);
  const base = `http://${vip}:9292/v2/images`;
  const created = await fetch(base, {
    method: 'POST',
    headers: { 'x-auth-token': token, 'content-type': 'application/json' },
    body: JSON.stringify({ name, disk_format: 'raw', container_format: 'bare', visibility: 'private' }),
    signal: AbortSignal.timeout(30_000),
  });
  const meta = (await created.json()) as { id?: string };
  if (created.status !== 201 || !meta.id) throw new Error(`glance image create: HTTP ${created.status} ${JSON.stringify(meta).slice(0, 300)}`);
  const put = await fetch(`${base}/${meta.id}/file`, {
    method: 'PUT',
    headers: { 'x-auth-token': token, 'content-type': 'application/octet-stream' },
    body: new Uint8Array(data),
    signal: AbortSignal.timeout(60_000),
  });
  const putText = await put.text();
  if (put.status !== 204) throw new Error(`glance image upload: HTTP ${put.status} ${putText.slice(0, 300)}`);
  const listed = (await listImages(vip, password)).find((i) => i.id === meta.id);
  if (!listed) throw new Error(`image ${meta.id} uploaded but not listed`);
  return listed;
}

/** Every image glance lists through the VIP (active ones carry their checksum). */
export async function listImages(vip: string, password: string): Promise<Image[]> {
  const token = await adminToken(vip, password);
  const r = await fetch(`http://${vip}:9292/v2/images`, { headers: { 'x-auth-token': token }, signal: AbortSignal.timeout(30_000) });
  const body = (await r.json()) as { images?: { id: string; checksum: string; size: number }[] };
  if (r.status !== 200 || !body.images) throw new Error(`glance image list: HTTP ${r.status}`);
  return body.images.map((i) => ({ id: i.id, checksum: i.checksum, size: i.size }));
}

// --- cluster facts ---

/** crm_mon's XML status, read on the first node that answers. */
export async function crmMon(ha: LabInfo, nodes = ha.nodes): Promise<string> {
  for (const n of nodes) {
    const r = await nodeScript(n, 'crm_mon --one-shot --inactive --output-as=xml', 30_000);
    if (r.code === 0) return r.stdout;
  }
  throw new Error('no node answered crm_mon');
}

/** The node a resource is active on, from crm_mon XML. */
export function activeNode(crmMonXml: string, resource: string): string | undefined {
  const m = new RegExp(`<resource id="${resource}"[^>]*role="Started"[^>]*>\\s*<node name="([^"]+)"`).exec(crmMonXml);
  return m?.[1];
}

/** What went wrong, for an error message: crm_mon and the agents' recent log lines per node. */
export async function evidence(ha: LabInfo): Promise<string> {
  const parts: string[] = [];
  for (const n of ha.nodes) {
    const r = await nodeScript(
      n,
      'crm_mon --one-shot --inactive --output-as=text 2>&1 | head -60; journalctl -q --no-pager -n 60 -u pacemaker 2>/dev/null | grep -Ei "error|fail|warn|timed out" | tail -40',
      30_000,
    );
    parts.push(`--- ${n.name} ---\n${r.stdout}${r.stderr}`);
  }
  return parts.join('\n');
}

/** osha deploy --json; a failed run throws with the run's output and the cluster's evidence. */
export async function deployOk(ha: LabInfo, inventory: string, extra: string[] = []): Promise<{ run: OshaRun; summary: RunSummary }> {
  const r = await oshaJson(['deploy', inventory, ...extra]);
  if (r.run.code !== 0 || r.summary.failed !== 0) {
    throw new Error(`osha deploy ${inventory} failed (exit ${r.run.code}):\n${r.run.stderr.slice(-4000)}\n${await evidence(ha)}`);
  }
  return r;
}

// --- the fixture ---

export interface HaLabOptions {
  dir?: string;
  shared?: string;
  subnet?: number;
  log?: (line: string) => void;
  /** Development only: use the lab already up in `dir` whose packages are installed. */
  afterInstall?: boolean;
}

type LabFacts = { dir: string; inventory: string; privateKey: string; knownHosts: string; vip: string; nodes: { name: string; address: string; iface: string }[] };

async function freshLab(dir: string, shared: string, subnet: number): Promise<LabFacts> {
  await labDown(dir); // a crashed earlier run's lab, if any
  const up = await labUp({ dir, nodes: 3, subnet, shared });
  if (!up.ok) throw new Error(`lab did not come up: ${up.error.message}`);
  return up.value;
}

/** The facts of a lab that is already up, from its lab.json. */
function labFromState(dir: string): LabFacts {
  const s = JSON.parse(readFileSync(join(dir, 'lab.json'), 'utf8')) as {
    vip: string;
    files: { inventory: string; key: string; knownHosts: string };
    nodes: { name: string; address: string; iface: string }[];
  };
  return { dir, inventory: s.files.inventory, privateKey: s.files.key, knownHosts: s.files.knownHosts, vip: s.vip, nodes: s.nodes };
}

/** Removes the HA lab and its shared directory (safe when there is none). */
export async function haLabDown(dir: string = HA_PLACE.dir, shared: string = HA_PLACE.shared): Promise<void> {
  const r = await labDown(dir);
  if (!r.ok) throw new Error(`HA lab teardown: ${r.error.message}`);
  rmSync(dir, { recursive: true, force: true });
  rmSync(shared, { recursive: true, force: true });
}

/**
 * Brings up a fresh lab and deploys MariaDB, RabbitMQ, keystone and glance-api on it through osha,
 * configured for the VIP, in the order the services need each other. The caller removes the lab
 * (haLabDown) even when this throws.
 */
export async function haLabUp(opts: HaLabOptions = {}): Promise<HaLab> {
  const log = opts.log ?? (() => undefined);
  const dir = opts.dir ?? HA_PLACE.dir;
  const sharedDir = opts.shared ?? HA_PLACE.shared;
  const t0 = Date.now();
  const step = (what: string) => log(`[ha ${Math.round((Date.now() - t0) / 1000)} s] ${what}`);
  const info = opts.afterInstall ? labFromState(dir) : await freshLab(dir, sharedDir, opts.subnet ?? HA_PLACE.subnet);
  const secrets: HaSecrets = {
    admin: `adm-${randomBytes(12).toString('hex')}`,
    glanceService: randomBytes(12).toString('hex'),
    keystoneDb: randomBytes(12).toString('hex'),
    glanceDb: randomBytes(12).toString('hex'),
  };
  mkdirSync(info.dir, { recursive: true });
  const passwordFile = join(info.dir, 'openstack-admin.password');
  writeFileSync(passwordFile, `${secrets.admin}\n`, { mode: 0o600 });
  chmodSync(passwordFile, 0o600);
  const ha: HaLab = {
    ...labInfoOf(info),
    shared: sharedDir,
    secrets,
    passwordFile,
  };
  step('lab up (mariadb, rabbitmq, keystone, glance come installed and stopped with the image)');

  const installs = await Promise.all(ha.nodes.map((n) => nodeOk(n, 'user ids', UIDS)));
  const uids = new Set(installs.map((o) => /uids .*/.exec(o)?.[0]));
  // The data moves between nodes on one shared directory: its owner must mean the same everywhere.
  if (uids.size !== 1) throw new Error(`mysql/glance uids differ between nodes: ${[...uids].join(' | ')}`);
  await nodeOk(ha.nodes[0]!, 'shared storage init', INIT_SHARED);
  step('deploying the cluster with mysql and rabbitmq');

  await deployOk(ha, haInventory(ha, { services: ['mysql', 'rabbitmq'], name: 'inventory-basic.yaml' }));
  const dbNode = nodeByName(ha, activeNode(await crmMon(ha), 'osha-mysql') ?? '');
  await nodeOk(dbNode, 'databases', databasesScript(secrets));
  await Promise.all(ha.nodes.map((n) => nodeOk(n, 'keystone.conf', keystoneConfScript(ha.vip, secrets))));
  await nodeOk(dbNode, 'keystone db_sync/bootstrap', keystoneInitScript(ha.vip, secrets), 10 * 60_000);
  const keys = (await nodeOk(dbNode, 'pack keystone keys', PACK_KEYS)).trim();
  const others = ha.nodes.filter((n) => n !== dbNode);
  await Promise.all(others.map((n) => nodeOk(n, 'keystone keys', unpackKeysScript(keys))));
  const sums = await Promise.all(ha.nodes.map((n) => nodeOk(n, 'key checksum', KEYS_SUM)));
  if (new Set(sums).size !== 1) throw new Error(`fernet/credential keys differ between nodes: ${sums.join(' | ')}`);
  step('keystone configured; deploying with keystone');

  await deployOk(ha, haInventory(ha, { services: ['mysql', 'rabbitmq', 'keystone'], name: 'inventory-keystone.yaml' }));
  await createGlanceUser(ha.vip, secrets);
  await Promise.all(ha.nodes.map((n) => nodeOk(n, 'glance-api.conf', glanceConfScript(ha.vip, secrets))));
  await nodeOk(dbNode, 'glance db_sync', GLANCE_DB_SYNC, 10 * 60_000);
  step('glance configured; deploying all four services');

  // Room for one failed glance-api start and its retry after failure-timeout (120 s).
  await deployOk(ha, haInventory(ha), ['--timeout', '300']);
  step('all services deployed');
  return ha;
}
