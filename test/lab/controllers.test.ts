// `osha lab up --openstack` never overwrites what it did not make: a shared directory that already
// holds a MariaDB data directory is refused before any node changes, and survives `lab down`.
// (The bootstrap itself is what the demo and test/ha run: see test/ha/setup.ts.)
import { expect } from 'chai';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { labDown, labUp } from '../../src/lab/index.ts';
import { readState } from '../../src/lab/state.ts';
import { nodeRun, skipWithoutLab } from '../support/lab.ts';
import { onTeardown } from '../support/teardown.ts';

describe('[lab] lab controllers: the shared storage is the operator\'s', function () {
  this.timeout(5 * 60_000);
  const dir = '/tmp/osha-test-controllers';
  const shared = '/tmp/osha-test-controllers-shared';

  before(async function () {
    await skipWithoutLab(this);
    const drop = async () => {
      await labDown(dir);
      rmSync(dir, { recursive: true, force: true });
      rmSync(shared, { recursive: true, force: true });
    };
    onTeardown(drop);
    await drop();
  });
  after(async () => {
    if (existsSync(dir)) await labDown(dir);
    rmSync(dir, { recursive: true, force: true });
    rmSync(shared, { recursive: true, force: true });
  });

  it('refuses a shared directory holding data it did not put there, changing no node and no file; lab down keeps the directory', async () => {
    mkdirSync(join(shared, 'mysql'), { recursive: true });
    writeFileSync(join(shared, 'mysql', 'ibdata1'), 'precious');
    const r = await labUp({ dir, nodes: 2, subnet: 214, shared, fencing: false, openstack: true });
    expect(r.ok).to.equal(false);
    if (r.ok) return;
    expect(r.error.message).to.match(/mysql already holds data this lab did not put there; nothing was changed/);
    expect(r.error.fix).to.match(/osha lab controllers --dir/);
    expect(readFileSync(join(shared, 'mysql', 'ibdata1'), 'utf8')).to.equal('precious');
    // The lab is up (to look at), its nodes untouched: no controller configuration was written.
    const state = await readState(join(dir, 'lab.json'));
    if (!state.ok || !state.value) throw new Error('no lab state');
    expect(state.value.controllers).to.equal(undefined);
    const node1 = { name: 'node1', address: state.value.nodes[0]!.address, labDir: dir, privateKey: state.value.files.key, knownHosts: state.value.files.knownHosts };
    const conf = await nodeRun(node1, 'grep -c "osha lab: controller before HA" /etc/keystone/keystone.conf; ls /etc/mysql/mariadb.conf.d/');
    expect(conf.stdout).to.match(/^0\n/);
    expect(conf.stdout).to.not.contain('60-controller.cnf');
    expect((await labDown(dir)).ok).to.equal(true);
    expect(readFileSync(join(shared, 'mysql', 'ibdata1'), 'utf8')).to.equal('precious');
  });
});
