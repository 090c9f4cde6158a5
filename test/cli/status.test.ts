// `osha status` from facts alone: an unfinished `osha upgrade` (its mark, a permanent node
// attribute in the CIB's nodes section) is named with the node and how to finish it.
import { expect } from 'chai';
import { parsePermanentNodeAttributes } from '../../src/facts/cluster.ts';
import { parseClusterStatus } from '../../src/facts/status.ts';
import { isHealthy, renderStatus, statusReport } from '../../src/cli/status.ts';
import { rabbitVerdict, type RabbitNodeState } from '../../src/facts/rabbitmq.ts';
import { upgradeMarkOf } from '../../src/upgrade/plan.ts';
import { inventoryFrom, threeNodeInventory } from '../cluster/fixtures.ts';

// `cibadmin --query --scope nodes` of a lab cluster, node3 marked by an interrupted upgrade.
const NODES_XML = `<nodes>
  <node id="1" uname="node1">
    <instance_attributes id="nodes-1">
      <nvpair id="nodes-1-rmq-node-attr-last-known-osha-rabbitmq" name="rmq-node-attr-last-known-osha-rabbitmq" value="rabbit@node1"/>
    </instance_attributes>
  </node>
  <node id="2" uname="node2"/>
  <node id="3" uname="node3">
    <instance_attributes id="nodes-3">
      <nvpair id="nodes-3-osha-upgrade" name="osha-upgrade" value="trixie"/>
      <nvpair id="nodes-3-standby" name="standby" value="on"/>
    </instance_attributes>
  </node>
</nodes>`;

const CRM_MON = `<pacemaker-result api-version="2.25" request="crm_mon"><summary><current_dc present="true" name="node1" with_quorum="true"/></summary><nodes>
<node name="node1" id="1" online="true" standby="false" maintenance="false" type="member"/>
<node name="node2" id="2" online="true" standby="false" maintenance="false" type="member"/>
<node name="node3" id="3" online="true" standby="true" maintenance="false" type="member"/>
</nodes><resources/><status code="0" message="OK"/></pacemaker-result>`;

describe('osha status: an unfinished upgrade', () => {
  it('reads every node\'s permanent attributes, nodes without any included', () => {
    const attrs = parsePermanentNodeAttributes(NODES_XML);
    if (!attrs.ok) throw new Error(attrs.error.message);
    expect([...attrs.value.keys()]).to.deep.equal(['node1', 'node2', 'node3']);
    expect(attrs.value.get('node2')?.size).to.equal(0);
    expect(upgradeMarkOf(attrs.value, 'node3')).to.equal('trixie');
    expect(upgradeMarkOf(attrs.value, 'node1')).to.equal(undefined);
    expect(upgradeMarkOf(attrs.value, 'node9')).to.equal(undefined);
  });

  it('refuses what is not the nodes section, or not XML', () => {
    expect(parsePermanentNodeAttributes('<cib/>').ok).to.equal(false);
    expect(parsePermanentNodeAttributes('<nodes><node').ok).to.equal(false);
  });

  it('names the node, the release and the command that finishes it', () => {
    const inv = inventoryFrom(threeNodeInventory([], 'stonith: {enabled: false, unsafe_no_fencing: true}'));
    const s = parseClusterStatus(CRM_MON);
    if (!s.ok) throw new Error(s.error.message);
    const report = statusReport(inv, 'node1', [], s.value, 'osha-vip', new Map([['node3', 'trixie']]));
    expect(report.nodes.find((n) => n.name === 'node3')).to.include({ standby: true, upgrade: 'trixie' });
    expect(report.nodes.find((n) => n.name === 'node1')).to.not.have.property('upgrade');
    const text = renderStatus(report);
    expect(text).to.match(/node3: an osha upgrade to trixie did not finish.*run `osha upgrade` again/);
    expect(renderStatus(statusReport(inv, 'node1', [], s.value, 'osha-vip'))).to.not.match(/did not finish/);
  });
});

// crm_mon after a heal, as CI once saw it: glance-api Stopped with no failure recorded.
const monWith = (glanceRole: string) => `<pacemaker-result api-version="2.25" request="crm_mon"><summary><current_dc present="true" name="node1" with_quorum="true"/></summary><nodes>
<node name="node1" id="1" online="true" standby="false" maintenance="false" type="member"/>
<node name="node2" id="2" online="true" standby="false" maintenance="false" type="member"/>
<node name="node3" id="3" online="true" standby="false" maintenance="false" type="member"/>
</nodes><resources>
<resource id="osha-vip" resource_agent="ocf:heartbeat:IPaddr2" role="Started" active="true" managed="true" failed="false" blocked="false" nodes_running_on="1"><node name="node1" id="1" cached="true"/></resource>
<group id="osha-g-glance" number_resources="1" managed="true" disabled="false">
<resource id="osha-glance-api" resource_agent="ocf:openstack:glance-api" role="${glanceRole}" active="${glanceRole === 'Started'}" managed="true" failed="false" blocked="false" nodes_running_on="${glanceRole === 'Started' ? 1 : 0}">${glanceRole === 'Started' ? '<node name="node1" id="1" cached="true"/>' : ''}</resource>
</group>
<resource id="handmade-dummy" resource_agent="ocf:heartbeat:Dummy" role="Stopped" active="false" managed="true" failed="false" blocked="false" nodes_running_on="0"/>
</resources><status code="0" message="OK"/></pacemaker-result>`;

describe('osha status: healthy only when every osha resource runs', () => {
  const inv = inventoryFrom(threeNodeInventory([], 'stonith: {enabled: false, unsafe_no_fencing: true}'));
  const report = (xml: string) => {
    const s = parseClusterStatus(xml);
    if (!s.ok) throw new Error(s.error.message);
    return statusReport(inv, 'node1', [], s.value, 'osha-vip');
  };

  it('an osha resource stopped without a failure makes the cluster unhealthy, and is named', () => {
    const r = report(monWith('Stopped'));
    expect(r.failedActions).to.deep.equal([]);
    expect(r.notRunning).to.deep.equal(['osha-glance-api']);
    expect(r.healthy).to.equal(false);
    expect(renderStatus(r)).to.match(/^not running: osha-glance-api$/m);
  });

  it('a stopped resource osha did not make is shown, not counted against the cluster', () => {
    const r = report(monWith('Started'));
    expect(r.notRunning).to.deep.equal([]);
    expect(r.healthy).to.equal(true);
    expect(renderStatus(r)).to.not.match(/not running/);
    expect(renderStatus(r)).to.match(/handmade-dummy .*Stopped/);
  });
});

describe('osha status: a RabbitMQ split into clusters', () => {
  const inv = inventoryFrom(threeNodeInventory([], 'stonith: {enabled: false, unsafe_no_fencing: true}'));
  const base = () => {
    const s = parseClusterStatus(monWith('Started'));
    if (!s.ok) throw new Error(s.error.message);
    return statusReport(inv, 'node1', [], s.value, 'osha-vip');
  };
  const broker = (node: string, running: string[]): RabbitNodeState => ({ node, running: true, runningNodes: running, partitions: {} });
  const withBrokers = (states: RabbitNodeState[]) => {
    const r = base();
    r.rabbitmq = { ...rabbitVerdict(states), nodes: states, resource: 'osha-cl-rabbitmq' };
    r.healthy = isHealthy(r);
    return r;
  };

  it('one cluster of every broker is healthy, and shown', () => {
    const all = ['node1', 'node2', 'node3'];
    const r = withBrokers(all.map((n) => broker(n, all)));
    expect(r.healthy).to.equal(true);
    expect(renderStatus(r)).to.match(/^rabbitmq: one cluster of node1, node2, node3$/m);
  });

  it('a split is unhealthy though Pacemaker shows every broker started; the fix restarts the smaller side through Pacemaker', () => {
    const r = withBrokers([broker('node1', ['node1', 'node2']), broker('node2', ['node1', 'node2']), broker('node3', ['node3'])]);
    expect(r.healthy).to.equal(false);
    const text = renderStatus(r);
    expect(text).to.match(/^rabbitmq: SPLIT into 2 clusters: \{node1, node2\} \{node3\}$/m);
    expect(text).to.include('crm_resource --restart --resource osha-cl-rabbitmq --node node3.').and.include('joins it to node1, node2').and.include('messages held only there are lost');
  });

  it('with no larger side, the operator chooses which to keep', () => {
    const text = renderStatus(withBrokers([broker('node1', ['node1']), broker('node2', ['node2']), broker('node3', ['node3'])]));
    expect(text).to.match(/SPLIT into 3 clusters/).and.match(/no cluster is larger; choose the one to keep/);
    expect(text).not.to.match(/--node node\d/);
  });
});
