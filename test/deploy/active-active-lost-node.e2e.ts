// End-to-end [lab], opt-in (npm run test:active-active-lost-node; not in npm test, for the
// suite's time): a full outage of a 4-controller active-active cluster from which one controller
// does not come back. The galera agent waits for every listed node's report before it bootstraps,
// so Galera stays down: `osha status` says so and names the missing node, and taking it out of the
// inventory (the way on) is asked first, since Galera then starts without what only that node may
// have committed. With --yes, Galera starts from the most advanced of the others.
import { expect } from 'chai';
import { join } from 'node:path';
import { freshLab, inventoryWithout, labOk, type LabInfo } from '../support/lab.ts';
import { labKill, labStart } from '../../src/lab/index.ts';
import { osha, oshaJson } from '../support/osha.ts';
import { allRunning, deployOk, until, wsrep } from '../ha/setup.ts';

const DIR = '/tmp/osha-test-aa-lost';
const THREE = ['node1', 'node2', 'node3'];
const FOUR = [...THREE, 'node4'];

describe('active-active: a full outage from which one of four controllers does not come back [lab]', function () {
  this.timeout(20 * 60_000);
  let lab: LabInfo;
  let three: string;

  before(async function () {
    this.timeout(30 * 60_000);
    lab = await freshLab(this, { dir: DIR, nodes: 4, subnet: 241, openstack: true, topology: 'active-active' });
    three = inventoryWithout(lab.inventory, ['node4'], join(DIR, 'inventory-3.yaml'));
    await deployOk(lab, lab.inventory, ['--yes']);
    await until(lab, 'every instance running on all four nodes', 300_000, () => allRunning(lab, FOUR));
  });

  it("osha status names the node Galera waits for; taking it out of the inventory is asked first, and then Galera starts from the most advanced of the others", async () => {
    // node4 does not come back: its cluster stack no longer starts at boot (fencing may power it on).
    await labOk(lab, 'node4', 'systemctl disable corosync pacemaker');
    for (const n of FOUR) {
      const r = await labKill(DIR, n);
      if (!r.ok) throw new Error(r.error.message);
    }
    await Promise.all(
      THREE.map(async (n) => {
        const r = await labStart(DIR, n);
        if (!r.ok) throw new Error(r.error.message);
      }),
    );
    type Galera = { galera: { waitingFor?: string[]; reported?: Record<string, string> } };
    await until(lab, 'osha status names node4 as the node Galera waits for', 300_000, async () => {
      const { galera } = JSON.parse((await osha(['status', lab.inventory, '--json'])).stdout) as Galera;
      expect(galera.waitingFor).to.deep.equal(['node4']);
      expect(Object.keys(galera.reported ?? {}).sort()).to.deep.equal(THREE);
    });
    const text = (await osha(['status', lab.inventory])).stdout;
    expect(text).to.include('it waits for node4 (not in the cluster)').and.include('take node4 out of the inventory and run osha deploy');
    // Without --yes: asked, refused, and the node list still waits for node4.
    const refused = await oshaJson(['deploy', three]);
    expect(refused.run.code).to.not.equal(0);
    expect((refused.summary.unconfirmed ?? []).join('\n')).to.include('Galera has no primary component').and.include('what only node4 committed is lost');
    expect(await labOk(lab, 'node1', 'cat /etc/osha/galera-cluster-address')).to.equal('gcomm://node1,node2,node3,node4\n');
    // With it: Galera starts on node1-3 from the most advanced, every service with it.
    await deployOk(lab, three, ['--yes']);
    await until(lab, 'every instance running on node1-3', 300_000, () => allRunning(lab, THREE));
    expect((await wsrep(lab, 'node1')).wsrep_cluster_size).to.equal('3');
    expect((await oshaJson(['deploy', three])).summary.changed).to.equal(0);
  });
});
