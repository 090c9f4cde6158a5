// Benchmark: how long osha takes to start, finish and exit, for `--version`, `--help` and
// `validate inventory.example.yaml`: the bundle through bin/osha.js (as installed), tsc's modules
// in dist/ unbundled, and the TypeScript sources through tsx (as bin/osha.js runs them when dist/
// is stale). Prints the median and the range of N runs of each, in milliseconds.
// Run: npm run build && npx tsx bench/start.ts [runs]   (default 10 runs)
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '..');
const runs = Number(process.argv[2] ?? 10);

const ways = {
  bundled: ['bin/osha.js'],
  modules: ['dist/cli/main.js'],
  tsx: ['--import', 'tsx', 'src/cli/main.ts'],
};
const commands = [['--version'], ['--help'], ['validate', 'inventory.example.yaml']];

/** Wall time of one run, in ms; throws when osha fails. */
function once(argv: string[], env: NodeJS.ProcessEnv = process.env): { ms: number; stderr: string } {
  const start = process.hrtime.bigint();
  const r = spawnSync(process.execPath, argv, { cwd: ROOT, env, encoding: 'utf8' });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (r.status !== 0) throw new Error(`node ${argv.join(' ')} exited ${r.status}: ${r.stderr}`);
  return { ms, stderr: r.stderr };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

// The bundled numbers mean nothing if bin/osha.js fell back to tsx: check which entry it picks.
const picked = once(['bin/osha.js', '--version'], { ...process.env, OSHA_LAUNCH_TRACE: '1' }).stderr;
if (!picked.includes('osha launch: dist/bundle/osha.js')) {
  console.error(`bench/start: dist/ is missing or stale (${picked.trim()}); run npm run build first`);
  process.exit(2);
}

console.log(`osha start, ${runs} runs each (median, min-max ms); node ${process.version}`);
for (const args of commands) {
  const row: string[] = [];
  for (const [way, prefix] of Object.entries(ways)) {
    once([...prefix, ...args]); // warm the file cache
    const times = Array.from({ length: runs }, () => once([...prefix, ...args]).ms);
    row.push(`${way} ${median(times).toFixed(0)} (${Math.min(...times).toFixed(0)}-${Math.max(...times).toFixed(0)})`);
  }
  console.log(`  ${args.join(' ').padEnd(40)} ${row.join('   ')}`);
}
