// notReady on what the real crm_mon prints (CIB_file: a file-backed CIB, no cluster needed):
// all started, a failed monitor, a stopped resource, no quorum.
import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { buildResourceModel } from '../../src/cluster/build.ts';
import { heldByModel, holdingStopped } from '../../src/model/resources.ts';
import { notReady } from '../../src/cluster/status.ts';
import { parseClusterStatus } from '../../src/facts/status.ts';
import { desiredCib } from '../../src/cluster/merge.ts';
import { havePacemakerTools, inventoryFrom, liveCib, run, threeNodeInventory, writeCib } from './fixtures.ts';
import { settled } from './tools.ts';

const model = buildResourceModel(inventoryFrom(threeNodeInventory(['mysql', 'keystone', 'glance-api', 'neutron-openvswitch-agent'])));

function crmMon(cib: string) {
  const r = run('crm_mon', ['--one-shot', '--output-as=xml'], { CIB_file: writeCib(cib, 'mon') });
  expect(r.status, r.stderr).to.equal(0);
  const s = parseClusterStatus(r.stdout);
  if (!s.ok) throw new Error(s.error.message);
  return s.value;
}

describe('cluster status (crm_mon XML)', function () {
  let running: string;
  before(function () {
    if (!havePacemakerTools()) this.skip(); // needs Debian package pacemaker-cli-utils
    const d = desiredCib(liveCib(), model);
    if (!d.ok) throw new Error(d.error.message);
    running = settled(d.value);
  });

  it('nothing to wait for once every osha resource runs', function () {
    const s = crmMon(running);
    expect(s.quorate).to.equal(true);
    expect(s.onlineNodes).to.deep.equal(['node1', 'node2', 'node3']);
    expect(s.resources.get('osha-neutron-openvswitch-agent')!.nodes.sort()).to.deep.equal(['node1', 'node2', 'node3']);
    expect(notReady(s, model)).to.deep.equal([]);
  });

  it('names a failed monitor with its reason', function () {
    const node = crmMon(running).resources.get('osha-keystone')!.nodes[0]!;
    const out = writeCib('', 'injected');
    const r = run('crm_simulate', ['--xml-file', writeCib(running, 'pre'), '--op-inject', `osha-keystone_monitor_30000@${node}=1`, '--save-output', out]);
    expect(r.status, r.stderr).to.equal(0);
    const waiting = notReady(crmMon(readFileSync(out, 'utf8')), model);
    expect(waiting).to.have.length(1);
    expect(waiting[0]!.id).to.equal('osha-keystone');
    expect(waiting[0]!.why).to.match(new RegExp(`^failed: osha-keystone_monitor_30000 on ${node}: error`));
  });

  it('names a stopped resource and a cluster without quorum', function () {
    const stopped = running.replace(
      '<primitive id="osha-glance-api" class="ocf" provider="openstack" type="glance-api">',
      '<primitive id="osha-glance-api" class="ocf" provider="openstack" type="glance-api"><meta_attributes id="x-meta"><nvpair id="x-meta-tr" name="target-role" value="Stopped"/></meta_attributes>',
    );
    expect(stopped).to.not.equal(running);
    const s = crmMon(settled(stopped));
    expect(notReady(s, model)).to.deep.equal([{ id: 'osha-glance-api', why: 'Stopped' }]);
    const noQuorum = crmMon(running.replace('have-quorum="1"', 'have-quorum="0"'));
    expect(notReady(noQuorum, model)[0]).to.deep.equal({ id: '(cluster)', why: 'the cluster has no quorum, so nothing starts' });
  });

  it('waits for nothing the model holds stopped: a group with target-role=Stopped, and the group a mandatory order puts after it', function () {
    const base = buildResourceModel(inventoryFrom(threeNodeInventory(['mysql', 'keystone', 'glance-api', 'nova-api'])));
    const held = holdingStopped(base, ['osha-g-glance']);
    // nova's group starts after glance's (the articles' chain): it cannot start either.
    expect([...heldByModel(held)].sort()).to.deep.equal(['osha-glance-api', 'osha-nova-api']);
    expect(heldByModel(base).size).to.equal(0);
    const d = desiredCib(liveCib(), held);
    if (!d.ok) throw new Error(d.error.message);
    const s = crmMon(settled(d.value));
    expect(s.resources.get('osha-keystone')!.roles).to.include('Started');
    expect(notReady(s, held)).to.deep.equal([]);
    // The same cluster against the model without the hold: both are missing.
    expect(notReady(s, base).map((n) => n.id)).to.deep.equal(['osha-glance-api', 'osha-nova-api']);
  });

  it('refuses what is not crm_mon XML', function () {
    expect(parseClusterStatus('Cluster Summary:').ok).to.equal(false);
    expect(parseClusterStatus('<cib/>').ok).to.equal(false);
  });
});
