// `osha lab` as a user runs it: the shared lab through the CLI, and one clear line with exit 2
// for each bad environment (not root, missing tools, address range in use, lab already up).
import { expect } from 'chai';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { run, which, type RunOutput } from '../../src/lab/exec.ts';
import { labExec, nodeSsh, skipWithoutLab, sharedLab } from '../support/lab.ts';
import { labKill, labPartition } from '../../src/lab/index.ts';
import { STACK_PACKAGES, STACK_UNITS } from '../../src/lab/image-recipe.ts';
import { onTeardown } from '../support/teardown.ts';

const ROOT = resolve(import.meta.dirname, '../..');

/** Runs the real CLI (node + tsx) with optional environment and user. */
function osha(args: string[], opts: { env?: NodeJS.ProcessEnv; uid?: number } = {}): Promise<RunOutput> {
  const argv = ['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), ...args];
  if (opts.uid === undefined) return run(process.execPath, argv, { env: opts.env, timeoutMs: 120_000 });
  // setpriv drops to another user without a login shell.
  return run('setpriv', [`--reuid=${opts.uid}`, `--regid=${opts.uid}`, '--clear-groups', process.execPath, ...argv], { env: opts.env, timeoutMs: 120_000 });
}

function oneLine(stderr: string): string {
  return stderr.trim().split('\n')[0]!;
}

describe('osha lab CLI', function () {
  this.timeout(15 * 60_000);

  before(async function () {
    await skipWithoutLab(this);
  });

  it('runs commands in every node of the shared lab through labExec', async function () {
    const lab = await sharedLab(this);
    const names = await Promise.all(lab.nodes.map((n) => labExec(lab, n.name, 'hostname')));
    expect(names.map((r) => r.stdout.trim())).to.deep.equal(lab.nodes.map((n) => n.name));
    const failing = await labExec(lab, lab.nodes[0]!.name, 'exit 3');
    expect(failing.code).to.equal(3);
  });

  it("comes with the cluster stack from the image's stack layer: installed, not enabled, not running", async function () {
    const lab = await sharedLab(this);
    const node = lab.nodes[1]!.name;
    const pkgs = await labExec(lab, node, `dpkg-query -W -f '\${Package} \${db:Status-Abbrev}\\n' ${STACK_PACKAGES.join(' ')}`);
    expect(pkgs.stdout.trim().split('\n').map((l) => l.trim()).sort()).to.deep.equal(STACK_PACKAGES.map((p) => `${p} ii`).sort());
    const enabled = await labExec(lab, node, `systemctl is-enabled ${STACK_UNITS.join(' ')}`);
    expect(enabled.stdout.trim().split('\n')).to.deep.equal(STACK_UNITS.map(() => 'disabled'));
    const active = await labExec(lab, node, `systemctl is-active ${STACK_UNITS.join(' ')}`);
    expect(active.stdout.trim().split('\n')).to.deep.equal(STACK_UNITS.map(() => 'inactive'));
    // Only the lab's own files over the layer: the install left no policy-rc.d behind.
    expect((await labExec(lab, node, 'test -e /usr/sbin/policy-rc.d')).code).to.equal(1);
  });

  it('keeps every node at normal priority: no realtime scheduling, no negative nice (the nodes share the host cores)', async function () {
    const lab = await sharedLab(this);
    // Over ssh, as the node's own root: labExec enters a node with the host's capabilities.
    const node = lab.nodes[0]!;
    const rt = await nodeSsh(node, 'chrt --rr 99 true');
    expect(rt.code, rt.stderr).to.not.equal(0);
    expect(rt.stderr).to.match(/not permitted/i);
    // What corosync falls back to when sched_rr fails: the highest nice, refused as well.
    const nice = await nodeSsh(node, 'nice -n -5 nice');
    expect(nice.stdout.trim()).to.equal('0');
    expect((await nodeSsh(node, 'chrt --other 0 true')).code).to.equal(0);
  });

  it('hands out a repaired lab after a test killed and partitioned nodes', async function () {
    const lab = await sharedLab(this);
    const [a, b] = [lab.nodes[0]!.name, lab.nodes[1]!.name];
    expect((await labKill(lab.dir, a)).ok).to.equal(true);
    expect((await labPartition(lab.dir, b)).ok).to.equal(true);
    const again = await sharedLab(this);
    for (const n of [a, b]) expect((await labExec(again, n, 'hostname')).stdout.trim()).to.equal(n);
  });

  it('status lists the nodes and their state', async function () {
    const lab = await sharedLab(this);
    const r = await osha(['lab', 'status', '--dir', lab.dir]);
    expect(r.code, r.stderr).to.equal(0);
    for (const n of lab.nodes) expect(r.stdout).to.match(new RegExp(`${n.name}\\s+${n.address.replace(/\./g, '\\.')}\\s+running\\s+up\\s+yes`));
  });

  it('refuses a second lab in the same directory (exit 2)', async function () {
    const lab = await sharedLab(this);
    const subnet = lab.nodes[0]!.address.split('.')[2]!;
    const r = await osha(['lab', 'up', '--dir', lab.dir, '--subnet', subnet]);
    expect(r.code).to.equal(2);
    expect(oneLine(r.stderr)).to.equal(`osha lab: a lab is already up in ${lab.dir}`);
  });

  it('refuses an address range already in use (exit 2)', async () => {
    const bridge = 'oshatest202';
    onTeardown(async () => void (await run('ip', ['link', 'del', bridge])));
    await run('ip', ['link', 'add', bridge, 'type', 'bridge']);
    await run('ip', ['addr', 'add', '198.18.202.1/24', 'dev', bridge]);
    try {
      const r = await osha(['lab', 'up', '--subnet', '202', '--dir', join(tmpdir(), 'osha-test-lab-inuse')]);
      expect(r.code).to.equal(2);
      expect(oneLine(r.stderr)).to.match(/198\.18\.202\.0\/24 is already in use on this host \(198\.18\.202\.1 on oshatest202\)/);
    } finally {
      await run('ip', ['link', 'del', bridge]);
    }
  });

  it('says to install systemd-container when systemd-nspawn is missing (exit 2)', async () => {
    // A PATH with every tool the lab needs except systemd-nspawn.
    const bin = mkdtempSync(join(tmpdir(), 'osha-path-'));
    try {
      for (const tool of ['sh', 'bash', 'ip', 'mount', 'ssh-keygen', 'debootstrap']) {
        const path = await which(tool);
        if (path) symlinkSync(path, join(bin, tool));
      }
      const r = await osha(['lab', 'up', '--subnet', '203', '--dir', join(bin, 'lab')], { env: { ...process.env, PATH: bin } });
      expect(r.code).to.equal(2);
      expect(r.stderr).to.match(/^osha lab: missing systemd-nspawn on this host\n {2}fix: apt-get install systemd-container\n$/);
    } finally {
      rmSync(bin, { recursive: true, force: true });
    }
  });

  it('says it must run as root (exit 2)', async () => {
    const r = await osha(['lab', 'up', '--dir', join(tmpdir(), 'osha-test-lab-nobody')], { uid: 65534, env: { ...process.env, HOME: '/tmp' } });
    expect(r.code, r.stderr).to.equal(2);
    expect(oneLine(r.stderr)).to.equal('osha lab: osha lab must run as root (it creates containers, mounts and network namespaces)');
  });
});
