// The cluster part of `osha plan`: against a new cluster and against a live CIB, with the real
// crm_verify and crm_simulate run on the prepared CIB as the CLI does.
import { expect } from 'chai';
import { buildResourceModel } from '../../src/cluster/build.ts';
import { prepareClusterPlan, renderClusterPlan } from '../../src/cluster/plan.ts';
import { havePacemakerTools, inventoryFrom, LISTING2_INVENTORY, liveCib } from './fixtures.ts';
import { crmDiff, crmVerify, simulate } from './tools.ts';
import { activeActive } from '../render/topology-fixtures.ts';

const inv = inventoryFrom(LISTING2_INVENTORY);
const model = buildResourceModel(inv);

describe('cluster plan', function () {
  before(function () {
    if (!havePacemakerTools()) this.skip(); // needs Debian package pacemaker-cli-utils
  });

  it('for a new cluster: the whole Listing 2 configuration, verified, and where everything starts', function () {
    const plan = prepareClusterPlan(inv, model);
    if (!plan.ok) throw new Error(plan.error.message);
    expect(plan.value.offline).to.equal(true);
    expect(crmVerify(plan.value.desired).ok).to.equal(true);
    const text = renderClusterPlan(inv, model, plan.value, simulate(plan.value.desired));
    expect(text).to.match(/^Pacemaker configuration change against a new cluster \(crm shell syntax\):\n {2}\+ primitive osha-vip ocf:heartbeat:IPaddr2/);
    expect(text).to.include('  + group osha-g-keystone osha-keystone \\\n        meta priority="5"\n');
    expect(text).to.include('  + order osha-o-g-nova-after-g-glance inf: osha-g-glance:start osha-g-nova:start\n');
    expect(text).to.match(/What crm_simulate predicts:\n( {2}start osha-[a-z0-9:-]+ on node\d\n)+/);
    expect(text).to.include('  start osha-nova-compute-host2 on node2\n');
    expect(text).to.match(/Corosync profile: default: a failed node is detected in ~3\.7 s/);
    expect(text).to.include('  ! fencing is disabled');
    expect(text).to.not.include('Galera:');
  });

  it("active-active: says when Galera drops a silent node, in step with the corosync profile", function () {
    for (const [profile, said] of [
      ['default', "Galera: a silent node is dropped after 5 s (Galera's own evs.suspect_timeout)"],
      ['fast', "Galera: a silent node is dropped after 2 s (evs.suspect_timeout, Galera's own is 5 s), in step with corosync's timing"],
    ] as const) {
      const aa = activeActive();
      aa.corosync.profile = profile;
      const aaModel = buildResourceModel(aa);
      const plan = prepareClusterPlan(aa, aaModel);
      if (!plan.ok) throw new Error(plan.error.message);
      expect(renderClusterPlan(aa, aaModel, plan.value)).to.include(said);
    }
  });

  it('against a live CIB that already has it all: no change, nothing to do', function () {
    const first = prepareClusterPlan(inv, model, liveCib());
    if (!first.ok) throw new Error(first.error.message);
    const again = prepareClusterPlan(inv, model, first.value.desired);
    if (!again.ok) throw new Error(again.error.message);
    expect(again.value.changes).to.deep.equal([]);
    expect(crmDiff(again.value.base, again.value.desired).status).to.equal(0);
    const text = renderClusterPlan(inv, model, again.value);
    expect(text).to.include('against the live CIB (crm shell syntax):\n  no change to the Pacemaker configuration\n');
  });
});
