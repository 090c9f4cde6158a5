// The rolling point-release upgrade on the active-active topology, end to end: `osha upgrade` takes
// each node of a Galera + RabbitMQ cluster (HAProxy and the APIs on every node, fencing on) out in
// turn, installs the pending updates of its bookworm image through the lab's apt proxy, brings it
// back and waits for the cluster to settle, while a client loop through the VIP counts failures and
// writes. Not part of `npm test`: with its own lab and deploy it takes 8-10 minutes, which CI's 30
// have no room for on a machine without cached images. Run it with `npm run test:active-active-upgrade`.
import { expect } from 'chai';
import { freshLab, labOk, type LabInfo } from '../support/lab.ts';
import { osha } from '../support/osha.ts';
import { AA_NODES as NODES, allRunning, deployOk, until, wsrep, type UpgradeJson } from '../ha/setup.ts';

const PLACE = { dir: '/tmp/osha-test-aa-upgrade', subnet: 88 } as const;

describe('[lab] osha upgrade (the point release) on the active-active topology, under a client loop', function () {
  this.timeout(20 * 60_000);
  let lab: LabInfo;

  before(async function () {
    this.timeout(30 * 60_000);
    lab = await freshLab(this, { dir: PLACE.dir, nodes: 3, subnet: PLACE.subnet, openstack: true, topology: 'active-active' });
    await deployOk(lab, lab.inventory, ['--yes']);
    await until(lab, 'every instance running after the deploy', 300_000, () => allRunning(lab));
  });

  it('osha upgrade (the point release) with --load: node by node, Galera and RabbitMQ stay clustered, no acknowledged write lost; a re-run has nothing to do', async () => {
    const pending = await labOk(lab, 'node1', 'apt-get -s -o Debug::NoLocking=1 dist-upgrade | grep -c "^Inst " || true');
    expect(Number(pending), 'the bookworm image has no pending update: nothing for a point-release upgrade to do').to.be.greaterThan(0);
    const run = await osha(['upgrade', lab.inventory, '--yes', '--load', '--json', '--timeout', '300']);
    expect(run.code, `${run.stdout}\n${run.stderr}`).to.equal(0);
    const r = JSON.parse(run.stdout) as UpgradeJson;
    const done = r.nodes.filter((n) => !n.skipped);
    const load = r.load!;
    console.log(`      upgrade: ${done.map((n) => `${n.node} drained ${n.drainMs} ms, apt ${n.aptMs} ms (${n.packages?.upgraded} upgraded), total ${n.totalMs} ms`).join('; ')}`);
    console.log(`      load: ${load.requests} requests, ${load.failed} failed ${JSON.stringify(load.failures)}; longest gap ${load.longestGapMs} ms; writes ${load.acknowledgedWrites} acknowledged, ${load.lostWrites} lost`);
    expect(r.errors).to.deep.equal([]);
    expect(done.map((n) => n.node).sort()).to.deep.equal(NODES);
    for (const n of done) expect(n.packages!.upgraded, n.node).to.be.greaterThan(0);
    expect(load.acknowledgedWrites).to.be.greaterThan(0);
    expect(load.lostWrites).to.equal(0);
    expect(load.stillFailing).to.deep.equal([]);
    // Every instance back on every node, one Galera component of three, nobody left marked.
    await until(lab, 'every instance running after the upgrade', 300_000, () => allRunning(lab));
    for (const n of NODES) {
      const w = await wsrep(lab, n);
      expect([w.wsrep_cluster_status, w.wsrep_cluster_size], n).to.deep.equal(['Primary', '3']);
      expect(await labOk(lab, n, 'apt-get -s -o Debug::NoLocking=1 dist-upgrade | grep -c "^Inst " || true'), n).to.equal('0\n');
    }
    expect(await labOk(lab, 'node1', 'cibadmin --query --scope nodes | grep -c osha-upgrade || true')).to.equal('0\n');
    const rabbit = JSON.parse(await labOk(lab, 'node2', 'rabbitmqctl cluster_status --formatter json')) as { running_nodes: string[] };
    expect(rabbit.running_nodes.sort()).to.deep.equal(NODES.map((n) => `rabbit@${n}`));
    const again = await osha(['upgrade', lab.inventory, '--dry-run']);
    expect(again.code, again.stderr).to.equal(0);
    expect(again.stdout.match(/skipped: no package to upgrade/g) ?? []).to.have.length(NODES.length);
  });
});
