// Benchmark: failover as a client sees it, per topology. `osha drill --load` runs (kill mode: the
// VIP's node is powered off, then fenced through the lab's fence device) with corosync's default
// profile and with the fast profile, on the classic lab of test/ha (the demo: MariaDB on shared
// storage, RabbitMQ, keystone, glance-api behind the VIP) and on an active-active lab (Galera,
// RabbitMQ cluster, HAProxy, the APIs on every node). Prints every run, where its time went
// (detection, fencing, each service's start from Pacemaker's operation history), what the client
// loop through the VIP saw (failed requests, longest gap, lost writes) and the medians as a README
// table, the topologies side by side.
// Root and Linux only. Run: npx tsx bench/drill.ts [--runs N] [--topology classic,active-active]
//   [--kill vip,other] (other: a node without the VIP, and not the first node, active-active's
//   database writer, unless only it is left)
//   [--profiles default,fast,fast@500] (a profile@MS row sets corosync.token_timeout to MS: what a
//   shorter token than the profiles' would give, and cost, here)
//   or, on an HA lab that is already up: npx tsx bench/drill.ts --lab DIR --inventory FILE
import { writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { osha } from '../test/support/osha.ts';
import { deployOk, haInventory, haLabDown, haLabUp } from '../test/ha/setup.ts';
import { labInfoOf, labOk, type LabInfo } from '../test/support/lab.ts';
import { labDown, labUp } from '../src/lab/index.ts';
import { fenceFiles } from '../src/lab/fence.ts';

interface DrillJson {
  node: string;
  phases: { detectionMs?: number; fencing?: { action: string; doneMs?: number; ms?: number } };
  vipMs?: number;
  services: { id: string; recoveryMs?: number; start?: { execMs: number } }[];
  errors: string[];
  load?: { requests: number; failed: number; longestGapMs: number; lostWrites: number; byKind: { write?: { longestGapMs: number } } };
}

/** One run's figures, in ms: the columns of the table. */
interface Run {
  node: string;
  vip: number;
  keystone: number;
  detection: number;
  fencing: number;
  mysqlStart: number;
  rabbitmqStart: number;
  keystoneStart: number;
  /** The client loop through the VIP (--load). */
  failed: number;
  gap: number;
  /** The longest time without an acknowledged write (the loop's write kind). */
  writeGap: number;
  lost: number;
}

const COLUMNS: [keyof Omit<Run, 'node'>, string][] = [
  ['detection', 'detection'],
  ['fencing', 'fencing'],
  ['vip', 'VIP back'],
  ['mysqlStart', 'MariaDB start'],
  ['rabbitmqStart', 'RabbitMQ start'],
  ['keystoneStart', 'keystone start'],
  ['keystone', 'keystone healthy'],
  ['gap', 'longest gap (clients)'],
  ['writeGap', 'longest gap (writes)'],
];

const args = process.argv.slice(2);
const opt = (name: string): string | undefined => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
const RUNS = Number(opt('--runs') ?? 5);
// Where the bench's own lab goes: away from the test's lab, so both can run at once.
const BENCH = { dir: '/tmp/osha-bench-drill', subnet: 71 };
const BENCH_AA = { dir: '/tmp/osha-bench-drill-aa', subnet: 73 };
type Topology = 'classic' | 'active-active';
const TOPOLOGIES = (opt('--topology') ?? 'classic,active-active').split(',') as Topology[];

/** A row's corosync settings: a profile, and optionally a token_timeout that replaces its token. */
interface ProfileRow {
  profile: 'default' | 'fast';
  tokenMs?: number;
}

function parseProfileRow(text: string): ProfileRow {
  const m = /^(default|fast)(?:@(\d+))?$/.exec(text);
  if (!m) throw new Error(`--profiles: "${text}" is not default, fast or PROFILE@MS (such as fast@500)`);
  return { profile: m[1] as ProfileRow['profile'], ...(m[2] ? { tokenMs: Number(m[2]) } : {}) };
}

const rowName = (r: ProfileRow): string => (r.tokenMs === undefined ? r.profile : `${r.profile}, token ${r.tokenMs} ms`);
const PROFILE_ROWS = (opt('--profiles') ?? 'default,fast').split(',').map(parseProfileRow);
type Kill = 'vip' | 'other';
const KILLS = (opt('--kill') ?? 'vip').split(',') as Kill[];
for (const k of KILLS) if (k !== 'vip' && k !== 'other') throw new Error(`--kill: "${k}" is not vip or other`);

function median(xs: number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

const sec = (ms: number | undefined): string => (ms === undefined || !Number.isFinite(ms) ? '-' : `${(ms / 1000).toFixed(1)} s`);

/** One drill; a failed drill stops the benchmark (its numbers would not mean anything). */
async function drill(lab: string, inventory: string, node?: string): Promise<Run> {
  const r = await osha(['drill', inventory, '--lab', lab, '--load', '--json', '--timeout', '300', ...(node ? ['--node', node] : [])]);
  let d: DrillJson;
  try {
    d = JSON.parse(r.stdout) as DrillJson;
  } catch {
    throw new Error(`osha drill printed no JSON (exit ${r.code}):\n${r.stdout}\n${r.stderr}`);
  }
  const keystone = d.services.find((s) => s.id === 'osha-keystone')?.recoveryMs;
  // active-active runs keystone everywhere (a clone the drill does not wait for): no recovery of its own.
  if (r.code !== 0 || d.vipMs === undefined || !d.load) throw new Error(`drill failed (exit ${r.code}): ${d.errors.join('; ')}`);
  const start = (id: string) => d.services.find((s) => s.id === id)?.start?.execMs ?? NaN;
  return {
    node: d.node,
    vip: d.vipMs,
    keystone: keystone ?? NaN,
    detection: d.phases.detectionMs ?? NaN,
    fencing: d.phases.fencing?.ms ?? NaN,
    mysqlStart: start('osha-mysql'),
    rabbitmqStart: start('osha-rabbitmq'),
    keystoneStart: start('osha-keystone'),
    failed: d.load.failed,
    gap: d.load.longestGapMs,
    writeGap: d.load.byKind.write?.longestGapMs ?? NaN,
    lost: d.load.lostWrites,
  };
}

/** The same inventory with another corosync profile (and token, when the row has one). */
function withProfile(inventory: string, row: ProfileRow): string {
  const inv = parse(readFileSync(inventory, 'utf8')) as Record<string, unknown>;
  const { token_timeout: _, ...corosync } = (inv.corosync ?? {}) as Record<string, unknown>;
  inv.corosync = { ...corosync, profile: row.profile, ...(row.tokenMs === undefined ? {} : { token_timeout: row.tokenMs }) };
  const path = join(inventory, '..', `inventory-bench-${row.profile}${row.tokenMs === undefined ? '' : `-${row.tokenMs}`}.yaml`);
  writeFileSync(path, stringify(inv));
  return path;
}

/** A node for a `--kill other` drill: not the VIP's, not the first node (unless only it is left), in turn. */
async function otherNode(lab: LabInfo, i: number): Promise<string> {
  const located = await labOk(lab, lab.nodes[0]!.name, 'crm_resource --locate --resource osha-vip 2>/dev/null || true');
  const vipNode = /running on: (\S+)/.exec(located)?.[1];
  const names = lab.nodes.map((n) => n.name).filter((n) => n !== vipNode);
  const candidates = names.length > 1 ? names.filter((n) => n !== lab.nodes[0]!.name) : names;
  return candidates[i % candidates.length]!;
}

async function profileRuns(lab: LabInfo, base: string, row: ProfileRow): Promise<Record<Kill, Run[]>> {
  const inventory = withProfile(base, row);
  const profile = rowName(row);
  const d = await deployOk(lab, inventory);
  console.log(`${profile} deployed (${d.summary.changed} changed)`);
  const out: Record<Kill, Run[]> = { vip: [], other: [] };
  const since = new Date().toISOString();
  for (let i = 1; i <= RUNS; i++) {
    for (const kill of KILLS) {
      // Each drill starts from a settled cluster: after a kill, the rejoined node's instances (a
      // Galera state transfer, a broker joining) take a while, and a drill on top of that measures both.
      await labOk(lab, lab.nodes[0]!.name, 'crm_resource --wait --timeout=600', 620_000);
      const drilled = await drill(lab.dir, inventory, kill === 'other' ? await otherNode(lab, i) : undefined);
      // The VIP and the classic layout's keystone stay where they are when another node dies: no recovery to show.
      const r = kill === 'vip' ? drilled : { ...drilled, vip: NaN, keystone: NaN };
      out[kill].push(r);
      const figures = COLUMNS.filter(([k]) => Number.isFinite(r[k]) || !['vip', 'keystone'].includes(k)).map(([k, label]) => `${label} ${sec(r[k])}`);
      console.log(`  ${profile} #${i} (kill ${kill}): ${r.node} killed; ${figures.join(', ')}; ${r.failed} requests failed, ${r.lost} writes lost`);
    }
  }
  // A token too short for this host declares live nodes dead: every power-off beyond one per drill
  // is a false failover (the lab's fence server logs each request).
  const drills = RUNS * KILLS.length;
  const offs = powerOffsSince(lab.dir, since);
  console.log(`  ${profile}: ${offs} power-offs by the fence device in ${drills} drills${offs > drills ? ` (${offs - drills} not asked for by a drill)` : ''}`);
  return out;
}

/** Power-offs (`off NODE`, `reboot NODE`) the lab's fence server carried out since an ISO time. */
function powerOffsSince(dir: string, since: string): number {
  let log: string;
  try {
    log = readFileSync(fenceFiles(dir).log, 'utf8');
  } catch {
    return NaN;
  }
  return log.split('\n').filter((l) => l.slice(0, since.length) >= since && /"(off|reboot) \S+" -> /.test(l)).length;
}

/** An active-active lab of OpenStack controllers, deployed (its inventory has fencing and the four services). */
async function activeActiveLab(): Promise<{ lab: LabInfo; inventory: string }> {
  await labDown(BENCH_AA.dir);
  const up = await labUp({ ...BENCH_AA, nodes: 3, openstack: true, topology: 'active-active' });
  if (!up.ok) throw new Error(`active-active lab: ${up.error.message}`);
  const lab = labInfoOf(up.value);
  const d = await deployOk(lab, lab.inventory, ['--yes']);
  console.log(`active-active lab deployed (${d.summary.changed} changed)`);
  return { lab, inventory: lab.inventory };
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('needs root (it boots a lab)');
  const reuse = opt('--lab');
  const results: Record<string, Run[]> = {};
  for (const topology of TOPOLOGIES) {
    let lab: LabInfo;
    let base: string;
    if (reuse) {
      const inventory = opt('--inventory');
      if (!inventory) throw new Error('--lab needs --inventory (the HA lab\'s full inventory)');
      const state = JSON.parse(readFileSync(join(reuse, 'lab.json'), 'utf8')) as { files: { key: string; knownHosts: string }; nodes: { name: string; address: string }[] };
      lab = { dir: reuse, inventory, privateKey: state.files.key, knownHosts: state.files.knownHosts, vip: '', nic: 'eth0', nodes: state.nodes.map((n) => ({ name: n.name, address: n.address, labDir: reuse, privateKey: state.files.key, knownHosts: state.files.knownHosts })) };
      base = inventory;
    } else if (topology === 'classic') {
      const t = Date.now();
      const ha = await haLabUp({ ...BENCH, log: (l) => console.log(l) });
      console.log(`HA lab ready in ${((Date.now() - t) / 1000).toFixed(0)} s`);
      lab = ha;
      base = haInventory(ha);
    } else {
      ({ lab, inventory: base } = await activeActiveLab());
    }
    // A lab brought along is labelled by its inventory's topology, not by the loop's first one.
    const label = reuse ? ((parse(readFileSync(base, 'utf8')) as { topology?: string }).topology ?? 'classic') : topology;
    for (const row of PROFILE_ROWS) {
      const runs = await profileRuns(lab, base, row);
      for (const kill of KILLS) results[`${label} | ${rowName(row)} | ${kill === 'vip' ? "the VIP's node" : 'a node without the VIP'}`] = runs[kill];
    }
    // One lab at a time: two labs would share the 2 cores and slow each other's failovers.
    if (!reuse) await labCleanup(topology);
    if (reuse) break;
  }
  // Detection and fencing are measured from the kill; the starts are the agents' own run times;
  // VIP back, keystone healthy and the clients' longest gap are from the kill, as a client sees them.
  console.log(`\nmedian of ${RUNS} drills per row (fencing on, --load), README table:\n`);
  console.log(`| topology | profile | killed | ${COLUMNS.map(([, label]) => label).join(' | ')} | failed requests | lost writes |`);
  console.log(`|---|---|---|${COLUMNS.map(() => '---').join('|')}|---|---|`);
  for (const [row, runs] of Object.entries(results)) {
    const med = (xs: number[]) => median(xs.filter((x) => Number.isFinite(x)));
    console.log(`| ${row} | ${COLUMNS.map(([k]) => sec(med(runs.map((r) => r[k])))).join(' | ')} | ${med(runs.map((r) => r.failed))} | ${Math.max(...runs.map((r) => r.lost))} |`);
  }
  console.log('\ntargets: classic fast profile VIP within 5 s, keystone within 10 s; active-active longest gap under 3 s, no write lost, and no failed request when a node without the VIP dies');
}

async function labCleanup(topology: Topology): Promise<void> {
  if (topology === 'classic') await haLabDown(BENCH.dir).catch((e: Error) => console.error(e.message));
  else {
    const r = await labDown(BENCH_AA.dir);
    if (!r.ok) console.error(r.error.message);
  }
}

const cleanup = async () => {
  if (!opt('--lab')) for (const t of TOPOLOGIES) await labCleanup(t);
};
process.once('SIGINT', () => void cleanup().finally(() => process.exit(130)));
main()
  .catch((e) => {
    console.error(e instanceof Error ? e.message : e);
    process.exitCode = 1;
  })
  .finally(() => void cleanup());

