// Benchmark of the lab: cold image build, `lab up` with a cached image for 3 and 8 nodes, time to
// a real ssh login, `lab down`, and memory (PSS) per idle node. Root and Linux only.
// Run: npx tsx bench/lab.ts [--skip-cold] [--runs N]
// The cold build uses a throw-away cache dir (about 850 MB, removed afterwards).
import { readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { ensureImage } from '../src/lab/image.ts';
import { labDown, labUp } from '../src/lab/index.ts';
import { planLab } from '../src/lab/plan.ts';
import { cgroupPids, cgroupRoots } from '../src/lab/cgroup.ts';
import { run } from '../src/lab/exec.ts';
import { labExec, labSkipReason, type LabInfo } from '../test/support/lab.ts';

const DIR = '/tmp/osha-bench-lab';
const SUBNET = 210;

const args = process.argv.slice(2);
const skipCold = args.includes('--skip-cold');
const runs = Number(args[args.indexOf('--runs') + 1]) || 3;

const secs = (ms: number) => (ms / 1000).toFixed(2);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function coldBuild(): Promise<number> {
  const cacheDir = `/var/tmp/osha-bench-cache-${process.pid}`;
  try {
    const t = Date.now();
    const r = await ensureImage({ cacheDir });
    if (!r.ok) throw new Error(r.error.message);
    return Date.now() - t;
  } finally {
    await rm(cacheDir, { recursive: true, force: true });
  }
}

function fixture(info: { dir: string; nodes: { name: string; address: string }[]; privateKey: string; knownHosts: string }): Pick<LabInfo, 'nodes'> {
  return { nodes: info.nodes.map((n) => ({ name: n.name, address: n.address, labDir: info.dir, privateKey: info.privateKey, knownHosts: info.knownHosts })) };
}

/** Proportional set size of every process in the node's cgroup, in MiB. */
function nodePssMiB(cgroup: string): number {
  let kib = 0;
  for (const pid of cgroupPids(cgroupRoots(), cgroup)) {
    try {
      const m = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
      kib += Number(m?.[1] ?? 0);
    } catch {
      // Exited while we read.
    }
  }
  return kib / 1024;
}

interface UpRun {
  upMs: number;
  sshdMs: number;
  loginMs: number;
  downMs: number;
  pssMiB?: number[];
}

async function upOnce(nodes: number, measureMemory: boolean): Promise<UpRun> {
  await labDown(DIR);
  const t0 = Date.now();
  const r = await labUp({ dir: DIR, nodes, subnet: SUBNET });
  const upMs = Date.now() - t0;
  if (!r.ok) throw new Error(r.error.message);
  const lab = fixture(r.value);
  // A real login with host key checking on every node, in parallel.
  const logins = await Promise.all(lab.nodes.map((n) => labExec(lab, n.name, 'true')));
  const loginMs = Date.now() - t0;
  if (logins.some((l) => l.code !== 0)) throw new Error(`ssh login failed: ${logins.map((l) => l.stderr).join(' ')}`);
  let pssMiB: number[] | undefined;
  if (measureMemory) {
    // Idle = systemd finished booting every unit.
    await Promise.all(lab.nodes.map((n) => labExec(lab, n.name, 'systemctl is-system-running --wait >/dev/null')));
    const plan = planLab({ dir: DIR, nodes, subnet: SUBNET });
    pssMiB = plan.nodes.map((n) => nodePssMiB(n.cgroup));
  }
  const t1 = Date.now();
  const d = await labDown(DIR);
  if (!d.ok) throw new Error(d.error.message);
  return { upMs, sshdMs: r.value.bootSeconds * 1000, loginMs, downMs: Date.now() - t1, pssMiB };
}

async function main(): Promise<void> {
  const reason = await labSkipReason();
  if (reason) {
    console.error(`bench/lab: cannot run: ${reason}`);
    process.exitCode = 2;
    return;
  }
  console.log(`osha lab benchmark (${(await run('nproc', [])).stdout.trim()} cores, runs per size: ${runs})`);
  if (!skipCold) console.log(`image build, cold (debootstrap + offline debs): ${secs(await coldBuild())} s`);
  const warm = await ensureImage();
  if (!warm.ok) throw new Error(warm.error.message);
  if (warm.value.built) console.log(`(built the cached image first: ${warm.value.buildSeconds.toFixed(1)} s)`);

  const report: Record<string, unknown> = {};
  for (const nodes of [3, 8]) {
    const results: UpRun[] = [];
    for (let i = 0; i < runs; i++) results.push(await upOnce(nodes, i === 0));
    const row = {
      upToSshdS: secs(median(results.map((x) => x.sshdMs))),
      upTotalS: secs(median(results.map((x) => x.upMs))),
      allLoggedInS: secs(median(results.map((x) => x.loginMs))),
      downS: secs(median(results.map((x) => x.downMs))),
    };
    report[`${nodes} nodes`] = row;
    console.log(
      `lab up, ${nodes} nodes, cached image (median of ${runs}): every sshd answers after ${row.upToSshdS} s; ` +
        `labUp returns after ${row.upTotalS} s; ssh login done on all after ${row.allLoggedInS} s; lab down ${row.downS} s`,
    );
    const pss = results[0]!.pssMiB!;
    const avg = pss.reduce((a, b) => a + b, 0) / pss.length;
    console.log(`  memory per idle node (PSS of its processes): avg ${avg.toFixed(1)} MiB, min ${Math.min(...pss).toFixed(1)}, max ${Math.max(...pss).toFixed(1)}`);
  }
  const left = (await run('ip', ['netns', 'list'])).stdout.split('\n').filter((l) => l.startsWith(`osha${SUBNET}-`));
  if (left.length) console.log(`WARNING: namespaces left behind: ${left.join(', ')}`);
}

try {
  await main();
} finally {
  await labDown(DIR);
}
