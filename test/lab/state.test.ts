// lab.json under concurrent writers: the fence server and `osha lab kill/start/partition/heal`
// (other processes) update it; the lock file keeps every read-modify-write whole. No root needed.
import { expect } from 'chai';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { planLab } from '../../src/lab/plan.ts';
import { lockFile, readState, updateState, writeState, STATE_VERSION, type LabState } from '../../src/lab/state.ts';
import { run } from '../../src/lab/exec.ts';

const ROOT = resolve(import.meta.dirname, '../..');

function fakeState(dir: string): LabState {
  const plan = planLab({ dir, nodes: 2 });
  return {
    ...plan,
    version: STATE_VERSION,
    createdAt: new Date().toISOString(),
    image: { hash: 'x', rootfs: '/nonexistent' },
    cgroupRoots: [],
    ready: true,
    nodes: plan.nodes.map((n) => ({ ...n, killed: false, partitioned: false, hostKey: '0' })),
  };
}

describe('lab state lock', function () {
  this.timeout(60_000);
  let dir: string;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'osha-state-'));
    await writeState(fakeState(dir));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('loses no update when four processes update lab.json at once', async () => {
    const file = join(dir, 'lab.json');
    // Each process counts up node1's field 25 times, re-reading the state inside the lock each time.
    const script = `
      import { updateState } from './src/lab/state.ts';
      for (let i = 0; i < 25; i++) {
        const r = await updateState(${JSON.stringify(file)}, (s) => { s.nodes[0].hostKey = String(Number(s.nodes[0].hostKey) + 1); });
        if (!r.ok) { console.error(r.error.message); process.exit(1); }
      }`;
    const runs = await Promise.all(
      Array.from({ length: 4 }, () => run('sh', ['-c', `cd ${JSON.stringify(ROOT)} && exec ${JSON.stringify(process.execPath)} --import tsx --input-type=module -e "$0"`, script], { timeoutMs: 50_000 })),
    );
    for (const r of runs) expect(r.code, r.stderr).to.equal(0);
    const s = await readState(file);
    expect(s.ok && s.value?.nodes[0]!.hostKey).to.equal('100');
    expect(existsSync(lockFile(file))).to.equal(false);
  });

  it('takes over a lock whose holder died', async () => {
    const file = join(dir, 'lab.json');
    const dead = await run(process.execPath, ['-e', 'console.log(process.pid)']);
    writeFileSync(lockFile(file), dead.stdout.trim());
    const r = await updateState(file, (s) => void (s.nodes[1]!.partitioned = true));
    expect(r.ok).to.equal(true);
    const s = await readState(file);
    expect(s.ok && s.value?.nodes[1]!.partitioned).to.equal(true);
    expect(existsSync(lockFile(file))).to.equal(false);
  });
});
