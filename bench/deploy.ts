// Benchmark: a cold deploy (packages not installed) and a no-change re-run on a fresh 3-node lab,
// phase by phase, plus how long the cluster took to form after its services were started.
// Root and Linux only. Run: npx tsx bench/deploy.ts [--nodes N]
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { labDown, labUp } from '../src/lab/index.ts';
import type { RunSummary } from '../src/runner/types.ts';

const run = promisify(execFile);
const args = process.argv.slice(2);
const nodes = Number(args[args.indexOf('--nodes') + 1]) || 3;
const DIR = `/tmp/osha-bench-deploy-${nodes}`;

async function deploy(inventory: string): Promise<{ wallMs: number; summary: RunSummary }> {
  const t = Date.now();
  const r = await run(process.execPath, ['bin/osha.js', 'deploy', inventory, '--json', '--verbose'], { maxBuffer: 64 * 1024 * 1024 }).catch((e: { stdout?: string; stderr?: string }) => {
    throw new Error(`deploy failed:\n${e.stdout ?? ''}\n${e.stderr ?? ''}`);
  });
  const summary = JSON.parse(r.stdout) as RunSummary;
  const formed = [...r.stderr.matchAll(/cluster formed ([\d.]+) s after start/g)].map((m) => Number(m[1]));
  if (formed.length) console.log(`  cluster formed after its services started: ${Math.max(...formed).toFixed(1)} s (slowest node)`);
  return { wallMs: Date.now() - t, summary };
}

function phases(label: string, d: { wallMs: number; summary: RunSummary }): void {
  console.log(`${label}: ${(d.wallMs / 1000).toFixed(1)} s wall (process start included), ${(d.summary.durationMs / 1000).toFixed(1)} s in steps, ${d.summary.changed} changed`);
  for (const s of d.summary.steps) console.log(`  ${s.name.padEnd(20)} ${(s.durationMs / 1000).toFixed(2)} s`);
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('needs root (it boots a lab)');
  await labDown(DIR);
  const up = await labUp({ dir: DIR, nodes, subnet: 200 + nodes });
  if (!up.ok) throw new Error(up.error.message);
  try {
    console.log(`lab: ${nodes} fresh nodes`);
    phases('cold deploy', await deploy(up.value.inventory));
    const reruns = [];
    for (let i = 0; i < 3; i++) reruns.push(await deploy(up.value.inventory));
    reruns.sort((a, b) => a.summary.durationMs - b.summary.durationMs);
    phases('no-change re-run (median of 3)', reruns[1]!);
  } finally {
    await labDown(DIR);
  }
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exitCode = 1;
});
