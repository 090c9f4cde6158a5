// The high-availability fixture is the README's main command: scripts/demo.sh on a fresh 3-node
// lab whose nodes are OpenStack controllers before HA (`osha lab up --openstack`: MariaDB with its
// data on the lab's shared directory, RabbitMQ, keystone and glance-api, run by node1 under
// systemd), taken over by one `osha deploy`, then status and a drill. Also used by bench/drill.ts.
// Every script goes to a node on stdin (nodeRun), so the passwords in it are on no command line;
// the host talks to keystone and glance over HTTP through the VIP.
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { parse, stringify } from 'yaml';
import { fileURLToPath } from 'node:url';
import { labDown } from '../../src/lab/index.ts';
import { run, type RunOutput } from '../../src/lab/exec.ts';
import { CONTROLLER_SERVICES, KEYSTONE_UWSGI_TUNING, SHARED_MYSQL, controllerFiles, readControllerSecrets, type ControllerSecrets } from '../../src/lab/openstack.ts';
import { dropAfterSuite, labInfoOf, labOk, logPhase, nodeRun, seconds, skipWithoutLab, type LabInfo, type LabNode } from '../support/lab.ts';
import { expect } from 'chai';
import { onTeardown } from '../support/teardown.ts';
import { oshaJson, type OshaRun } from '../support/osha.ts';
import type { RunSummary } from '../../src/runner/types.ts';
import type { Release } from '../../src/lab/image-recipe.ts';
import type { LoadSummary } from '../../src/drill/load.ts';

export const HA_PLACE = { dir: '/tmp/osha-test-ha', subnet: 70 } as const;

export { KEYSTONE_UWSGI_TUNING };
export const ALL_SERVICES = CONTROLLER_SERVICES;

export type HaSecrets = ControllerSecrets;

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

/** Writes an inventory for the HA lab (the lab's own, with other services or a corosync profile). */
export function haInventory(ha: HaLab, opts: InventoryOptions = {}): string {
  const inv = parse(readFileSync(ha.inventory, 'utf8')) as Record<string, unknown>;
  const services = [...(opts.services ?? ALL_SERVICES)];
  inv.services = services;
  if (opts.profile) inv.corosync = { profile: opts.profile };
  inv.openstack = { password: { file: ha.passwordFile } };
  inv.resources = {
    // The lab's shared directory is a plain directory: a bind mount is what moves with MariaDB.
    storage: { mysql: { device: SHARED_MYSQL, fstype: 'none', options: 'bind' } },
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

/** The names of every keystone project, through the VIP. */
export async function listProjects(vip: string, password: string): Promise<string[]> {
  const token = await adminToken(vip, password);
  const r = await fetch(`http://${vip}:5000/v3/projects`, { headers: { 'x-auth-token': token }, signal: AbortSignal.timeout(30_000) });
  const body = (await r.json()) as { projects?: { name: string }[] };
  if (r.status !== 200 || !body.projects) throw new Error(`keystone project list: HTTP ${r.status}`);
  return body.projects.map((p) => p.name);
}

// --- cluster facts ---

/** What the tests read of `osha upgrade --json`. */
export interface UpgradeJson {
  nodes: { node: string; skipped?: string; drainMs?: number; aptMs?: number; rejoinMs?: number; totalMs?: number; packages?: { upgraded: number } }[];
  load?: LoadSummary;
  errors: string[];
}

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
  logDeploy(inventory, r.summary);
  return r;
}

/** Says how long a deploy took and which of its steps took 5 s or more, slowest first. */
export function logDeploy(inventory: string, summary: RunSummary): void {
  logPhase(`osha deploy ${basename(inventory)}: ${seconds(summary.durationMs)}; ${slowestSteps(summary)}`);
}

function slowestSteps(summary: RunSummary): string {
  const slow = summary.steps.filter((s) => s.durationMs >= 5000).sort((a, b) => b.durationMs - a.durationMs);
  return slow.length === 0 ? 'no step took 5 s' : slow.map((s) => `${s.name} ${seconds(s.durationMs)}`).join(', ');
}

// --- the fixture ---

export interface HaLabOptions {
  dir?: string;
  subnet?: number;
  /** The nodes' Debian release (bookworm by default). */
  release?: Release;
  log?: (line: string) => void;
}

const DEMO = fileURLToPath(new URL('../../scripts/demo.sh', import.meta.url));

/** Runs the README's main command (scripts/demo.sh) on the lab in `dir`; throws with its output's tail. */
export async function runDemo(dir: string, subnet: number, release: Release = 'bookworm'): Promise<RunOutput> {
  const env = { ...process.env, OSHA_LAB_DIR: dir, OSHA_LAB_SUBNET: String(subnet), OSHA_LAB_RELEASE: release, FORCE_COLOR: '0' };
  const r = await run('bash', [DEMO], { env, timeoutMs: 30 * 60_000 });
  if (r.code !== 0) throw new Error(`scripts/demo.sh failed (exit ${r.code}):\n${(r.stdout + r.stderr).slice(-5000)}`);
  return r;
}

/** Removes the HA lab (its shared storage is the lab's own DIR/shared); safe when there is none. */
export async function haLabDown(dir: string = HA_PLACE.dir): Promise<void> {
  const r = await labDown(dir);
  if (!r.ok) throw new Error(`HA lab teardown: ${r.error.message}`);
  rmSync(dir, { recursive: true, force: true });
}

/**
 * The demo, as a newcomer runs it: a fresh lab of OpenStack controllers before HA, one
 * `osha deploy` that makes their services highly available (configs and keystone's catalog
 * moved to the VIP), status and a drill. The caller removes the lab (haLabDown) even when this
 * throws; `demo` is what the demo printed.
 */
export async function haLabUp(opts: HaLabOptions = {}): Promise<HaLab & { demo: string }> {
  const log = opts.log ?? (() => undefined);
  const dir = opts.dir ?? HA_PLACE.dir;
  const t0 = Date.now();
  await haLabDown(dir); // a crashed earlier run's lab, if any
  const demo = await runDemo(dir, opts.subnet ?? HA_PLACE.subnet, opts.release);
  log(`[ha ${Math.round((Date.now() - t0) / 1000)} s] scripts/demo.sh done: controllers taken over, status shown, one drill`);
  const state = JSON.parse(readFileSync(join(dir, 'lab.json'), 'utf8')) as {
    vip: string;
    shared: string;
    files: { inventory: string; key: string; knownHosts: string };
    nodes: { name: string; address: string; iface: string }[];
  };
  const files = controllerFiles(dir);
  return {
    ...labInfoOf({ dir, inventory: state.files.inventory, privateKey: state.files.key, knownHosts: state.files.knownHosts, vip: state.vip, nodes: state.nodes }),
    shared: state.shared,
    secrets: await readControllerSecrets(dir),
    passwordFile: files.passwordFile,
    demo: demo.stdout,
  };
}

/**
 * A suite's own HA lab (the demo on it), from its `before`: skipped without root, and removed
 * after the suite and on Ctrl-C, also when bringing it up fails.
 */
export async function suiteHaLab(ctx: Mocha.Context, opts: HaLabOptions & { dir: string; subnet: number }): Promise<HaLab & { demo: string }> {
  await skipWithoutLab(ctx);
  const drop = () => haLabDown(opts.dir);
  dropAfterSuite(ctx, drop);
  onTeardown(drop);
  return haLabUp({ log: (l) => console.log(`      ${l}`), ...opts });
}

// --- the active-active topology (test/ha/active-active.e2e.ts, test/upgrade/active-active.e2e.ts) ---

export const AA_NODES = ['node1', 'node2', 'node3'];

/** Per resource: the nodes where an instance is in the role, from crm_mon's XML. */
export function instances(xml: string, primitive: string, role: 'Started' | 'Promoted'): string[] {
  const re = new RegExp(`<resource id="${primitive}"[^>]*role="${role}"[^>]*>\\s*<node name="([^"]+)"`, 'g');
  return [...xml.matchAll(re)].map((m) => m[1]!).sort();
}

/** Waits until `check` passes (it throws until then), or throws its last error with the cluster's state. */
export async function until(lab: LabInfo, what: string, timeoutMs: number, check: () => Promise<void>): Promise<void> {
  const started = Date.now();
  const deadline = started + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      await check();
      if (Date.now() - started >= 5000) logPhase(`waited ${seconds(Date.now() - started)}: ${what}`);
      return;
    } catch (e) {
      last = e;
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
  throw new Error(`${what}: not within ${timeoutMs / 1000} s: ${last instanceof Error ? last.message : String(last)}\n${await evidence(lab)}`);
}

/** Everything of the active-active topology runs on these nodes (all three by default). */
export async function allRunning(lab: LabInfo, nodes: string[] = AA_NODES): Promise<void> {
  const xml = await crmMon(lab);
  expect(instances(xml, 'osha-galera', 'Promoted'), 'galera promoted').to.deep.equal(nodes);
  for (const p of ['osha-rabbitmq', 'osha-haproxy', 'osha-keystone', 'osha-glance-api']) expect(instances(xml, p, 'Started'), p).to.deep.equal(nodes);
  expect(instances(xml, 'osha-vip', 'Started'), 'vip').to.have.length(1);
}

/** A node's wsrep status variables. */
export async function wsrep(lab: LabInfo, node: string): Promise<Record<string, string>> {
  const out = await labOk(lab, node, `mysql -N -B -e "SHOW GLOBAL STATUS LIKE 'wsrep_%'"`);
  return Object.fromEntries(out.trim().split('\n').map((l) => l.split('\t') as [string, string]));
}
