// Benchmark: failover time of the VIP and of keystone, 5 `osha drill` runs (kill mode: the VIP's
// node is powered off) with corosync's default profile and 5 with the fast profile, on the HA lab
// of test/ha (real MariaDB, RabbitMQ, keystone, glance-api). Prints every run and the medians.
// Root and Linux only. Run: npx tsx bench/drill.ts [--runs N]
//   or, on an HA lab that is already up: npx tsx bench/drill.ts --lab DIR --inventory FILE
import { writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { osha } from '../test/support/osha.ts';
import { deployOk, haInventory, haLabDown, haLabUp } from '../test/ha/setup.ts';
import type { LabInfo } from '../test/support/lab.ts';

interface DrillJson {
  node: string;
  vipMs?: number;
  services: { id: string; recoveryMs?: number }[];
  errors: string[];
}

const args = process.argv.slice(2);
const opt = (name: string): string | undefined => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
const RUNS = Number(opt('--runs') ?? 5);
// Where the bench's own lab goes: away from the test's lab, so both can run at once.
const BENCH = { dir: '/tmp/osha-bench-drill', shared: '/tmp/osha-bench-drill-shared', subnet: 71 };

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

const sec = (ms: number | undefined): string => (ms === undefined ? '-' : `${(ms / 1000).toFixed(1)} s`);

/** One drill; a failed drill stops the benchmark (its numbers would not mean anything). */
async function drill(lab: string, inventory: string): Promise<{ node: string; vip: number; keystone: number }> {
  const r = await osha(['drill', inventory, '--lab', lab, '--json', '--timeout', '300']);
  let d: DrillJson;
  try {
    d = JSON.parse(r.stdout) as DrillJson;
  } catch {
    throw new Error(`osha drill printed no JSON (exit ${r.code}):\n${r.stdout}\n${r.stderr}`);
  }
  const keystone = d.services.find((s) => s.id === 'osha-keystone')?.recoveryMs;
  if (r.code !== 0 || d.vipMs === undefined || keystone === undefined) throw new Error(`drill failed (exit ${r.code}): ${d.errors.join('; ')}`);
  return { node: d.node, vip: d.vipMs, keystone };
}

/** The same inventory with another corosync profile. */
function withProfile(inventory: string, profile: 'default' | 'fast'): string {
  const inv = parse(readFileSync(inventory, 'utf8')) as Record<string, unknown>;
  inv.corosync = { ...(inv.corosync as object | undefined), profile };
  const path = join(inventory, '..', `inventory-bench-${profile}.yaml`);
  writeFileSync(path, stringify(inv));
  return path;
}

async function profileRuns(lab: LabInfo, base: string, profile: 'default' | 'fast'): Promise<{ vip: number[]; keystone: number[] }> {
  const inventory = withProfile(base, profile);
  const d = await deployOk(lab, inventory);
  console.log(`${profile} profile deployed (${d.summary.changed} changed)`);
  const out = { vip: [] as number[], keystone: [] as number[] };
  for (let i = 1; i <= RUNS; i++) {
    const r = await drill(lab.dir, inventory);
    out.vip.push(r.vip);
    out.keystone.push(r.keystone);
    console.log(`  ${profile} #${i}: ${r.node} killed; VIP back ${sec(r.vip)}, keystone ${sec(r.keystone)}`);
  }
  return out;
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('needs root (it boots a lab)');
  const reuse = opt('--lab');
  let lab: LabInfo;
  let base: string;
  if (reuse) {
    const inventory = opt('--inventory');
    if (!inventory) throw new Error('--lab needs --inventory (the HA lab\'s full inventory)');
    const state = JSON.parse(readFileSync(join(reuse, 'lab.json'), 'utf8')) as { files: { key: string; knownHosts: string }; nodes: { name: string; address: string }[] };
    lab = { dir: reuse, inventory, privateKey: state.files.key, knownHosts: state.files.knownHosts, vip: '', nic: 'eth0', nodes: state.nodes.map((n) => ({ ...n, privateKey: state.files.key, knownHosts: state.files.knownHosts })) };
    base = inventory;
  } else {
    const t = Date.now();
    const ha = await haLabUp({ ...BENCH, log: (l) => console.log(l) });
    console.log(`HA lab ready in ${((Date.now() - t) / 1000).toFixed(0)} s`);
    lab = ha;
    base = haInventory(ha);
  }
  const results: Record<string, { vip: number[]; keystone: number[] }> = {};
  for (const profile of ['default', 'fast'] as const) results[profile] = await profileRuns(lab, base, profile);
  console.log(`\nmedian of ${RUNS} drills (kill the VIP's node; time until the VIP answers / keystone passes its depth-10 check elsewhere):`);
  for (const [profile, r] of Object.entries(results)) {
    console.log(`  ${profile.padEnd(8)} VIP ${sec(median(r.vip))}   keystone ${sec(median(r.keystone))}`);
  }
  console.log('target (fast profile): VIP within 5 s, keystone within 10 s');
}

const cleanup = async () => {
  if (!opt('--lab')) await haLabDown(BENCH.dir, BENCH.shared).catch((e: Error) => console.error(e.message));
};
process.once('SIGINT', () => void cleanup().finally(() => process.exit(130)));
main()
  .catch((e) => {
    console.error(e instanceof Error ? e.message : e);
    process.exitCode = 1;
  })
  .finally(() => void cleanup());

