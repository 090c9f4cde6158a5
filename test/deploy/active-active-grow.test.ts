// End-to-end [lab]: a controller added to a running active-active cluster, then removed. Three
// controllers are deployed (`osha lab up --nodes 4 --openstack --topology active-active`, the 4th
// left out of the inventory); then the 4th goes into the inventory and `osha deploy` runs again,
// without --yes. Nothing of that may need a confirmation: Galera's node list is a file on every
// node that osha's galera agent reads (a parameter change would restart every Galera instance), no
// service on the three restarts (same processes before and after), and the new node runs nothing
// until the resources step has configured it (clone-max): before that, Pacemaker started Galera
// there, the agent refused a node outside its list as misconfigured, and Pacemaker stopped Galera
// on every node for it. Removing it again (its stack stopped first, as README says) restarts
// nothing either. A full outage that one of four controllers does not come back from is the
// opt-in test/deploy/active-active-lost-node.e2e.ts (npm run test:active-active-lost-node).
import { expect } from 'chai';
import { join } from 'node:path';
import { freshLab, inventoryWithout, labOk, type LabInfo } from '../support/lab.ts';
import { osha, oshaJson } from '../support/osha.ts';
import { galeraCheckProbe } from '../../src/facts/galera.ts';
import { GALERA_CHECK_PORT } from '../../src/render/haproxy.ts';
import { allRunning, deployOk, logDeploy, until, wsrep } from '../ha/setup.ts';

const DIR = '/tmp/osha-test-aa-grow';
const THREE = ['node1', 'node2', 'node3'];
const FOUR = [...THREE, 'node4'];

describe("active-active: a controller added to a running cluster, and removed again [lab]", function () {
  this.timeout(20 * 60_000);
  let lab: LabInfo;
  let three: string;
  /** Every host's changes of a step in the cold deploy of node1-3, one per line. */
  let coldChanges: (step: string) => string;
  /** What runs on node1-3 before the 4th is added: MariaDB's and keystone's processes. */
  const processes = async () =>
    Object.fromEntries(await Promise.all(THREE.map(async (n) => [n, (await labOk(lab, n, "echo $(pgrep -x mariadbd) $(pgrep -o -f 'uwsgi.*keystone')")).trim()] as const)));

  /** `osha deploy` without --yes: everything applied, nothing held back for a confirmation. */
  const deployWithoutYes = async (inventory: string) => {
    const { run, summary } = await oshaJson(['deploy', inventory]);
    expect(run.code, run.stdout + run.stderr).to.equal(0);
    expect(summary.failed).to.equal(0);
    expect(summary.skipped, JSON.stringify(summary.unconfirmed)).to.equal(0);
    logDeploy(inventory, summary);
  };

  before(async function () {
    this.timeout(30 * 60_000);
    lab = await freshLab(this, { dir: DIR, nodes: 4, subnet: 240, openstack: true, topology: 'active-active' });
    three = inventoryWithout(lab.inventory, ['node4'], join(DIR, 'inventory-3.yaml'));
    const { summary } = await deployOk(lab, three, ['--yes']);
    coldChanges = (step) => Object.values(summary.hosts).flatMap((steps) => steps.filter((s) => s.step === step).flatMap((s) => s.changes)).join('\n');
    await until(lab, 'every instance running on node1-3', 300_000, () => allRunning(lab, THREE));
  });

  it('the cold deploy created glance-api stopped and started it once the identity endpoints were on the VIP: no restart', () => {
    expect(coldChanges('keystone-endpoints')).to.match(/~ endpoint identity public/);
    expect(coldChanges('keystone-endpoints')).to.include('start osha-cl-glance-api (created stopped by the resources step)');
    expect(coldChanges('keystone-endpoints')).not.to.match(/restart osha-cl-glance-api/);
  });

  it("plans node4 without a disruptive change: Galera's node list changes in a file on every node, every clone gets a 4th instance, nothing restarts on node1-3", async () => {
    // node4 is bare (no HAProxy yet): the dry run plans its haproxy.cfg as new, after the packages step.
    const { run, summary } = await oshaJson(['deploy', lab.inventory, '--dry-run']);
    expect(summary.failed, run.stdout + run.stderr).to.equal(0);
    expect(summary.hosts.node1!.find((s) => s.step === 'resources')!.changes.join('\n')).to.include('patch the CIB');
    // The plan as an operator reads it.
    const text = await osha(['deploy', lab.inventory, '--dry-run']);
    expect(text.code, text.stdout + text.stderr).to.equal(0);
    // The node list changes in a file on every node, not in the CIB: Galera's primitive stays as it is.
    expect(text.stdout).to.include('+gcomm://node1,node2,node3,node4').and.include('-gcomm://node1,node2,node3');
    expect(text.stdout).not.to.match(/~ primitive osha-galera/);
    expect(text.stdout).to.include('clone-max="4"');
    expect(text.stdout).not.to.include('DISRUPTIVE');
    expect(text.stdout).not.to.match(/restart osha-cl-(galera|keystone|glance-api)(?! on node4)/);
  });

  it('adds node4 without --yes: it joins Galera, RabbitMQ, HAProxy and the APIs; MariaDB and keystone on node1-3 keep running (same processes)', async () => {
    const before = await processes();
    await deployWithoutYes(lab.inventory);
    await until(lab, 'every instance running on all four nodes', 300_000, () => allRunning(lab, FOUR));
    expect(await processes()).to.deep.equal(before);
    expect((await wsrep(lab, 'node4')).wsrep_cluster_size).to.equal('4');
    expect((await wsrep(lab, 'node1')).wsrep_local_state_comment).to.equal('Synced');
    // Every HAProxy sends to node4 too, and node4's own Galera check says it is synced.
    // (one server line in each section: MariaDB, RabbitMQ, keystone, glance-api)
    expect(await labOk(lab, 'node1', 'grep -c "server node4 " /etc/haproxy/haproxy.cfg')).to.equal('4\n');
    const node4 = lab.nodes.find((n) => n.name === 'node4')!.address;
    expect(await labOk(lab, 'node1', galeraCheckProbe(node4, GALERA_CHECK_PORT))).to.match(/^HTTP\/1\.0 200 /);
  });

  it('a re-deploy changes nothing', async () => {
    const { summary } = await oshaJson(['deploy', lab.inventory]);
    expect(summary.failed).to.equal(0);
    expect(summary.changed).to.equal(0);
  });

  it('removes node4 again (its stack stopped first) without --yes, restarting nothing on node1-3', async () => {
    await labOk(lab, 'node4', 'systemctl stop pacemaker corosync');
    const before = await processes();
    await deployWithoutYes(three);
    await until(lab, 'every instance running on node1-3', 300_000, () => allRunning(lab, THREE));
    expect(await processes()).to.deep.equal(before);
    expect((await wsrep(lab, 'node1')).wsrep_cluster_size).to.equal('3');
    expect(await labOk(lab, 'node2', 'cat /etc/osha/galera-cluster-address')).to.equal('gcomm://node1,node2,node3\n');
    expect((await oshaJson(['deploy', three])).summary.changed).to.equal(0);
  });
});
