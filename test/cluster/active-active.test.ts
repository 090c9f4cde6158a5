// The active-active topology's Pacemaker configuration: Galera, the RabbitMQ cluster, HAProxy with
// the VIP, and the OpenStack services on every node, checked by the real crm_verify and crm_simulate.
import { expect } from 'chai';
import { buildResourceModel, GALERA_CLONE_ID, GALERA_ID, HAPROXY_CLONE_ID, HEARTBEAT_GALERA_AGENT, serviceResourceId } from '../../src/cluster/build.ts';
import { desiredCib, keepLiveGaleraAgent, notInstalledProbes } from '../../src/cluster/merge.ts';
import { prepareClusterPlan, renderClusterPlan } from '../../src/cluster/plan.ts';
import { primitivesOf } from '../../src/model/resources.ts';
import { renderCrmsh } from '../../src/render/crmsh.ts';
import { parseInventory } from '../../src/inventory/load.ts';
import { havePacemakerTools, inventoryFrom, liveCib, threeNodeInventory } from './fixtures.ts';
import { crmVerify, dependencies, settled, simulate, vipNodeFailure, waitsFor } from './tools.ts';

const FENCED = `topology: active-active
openstack: { username: admin, project: admin, password: { env: OS_PASSWORD } }
stonith:
  enabled: true
  devices:
${[1, 2, 3].map((n) => `    - { name: f${n}, agent: fence_dummy, node: node${n} }`).join('\n')}`;
const inv = inventoryFrom(threeNodeInventory(['mysql', 'rabbitmq', 'keystone', 'glance-api', 'nova-scheduler', 'cinder-volume'], FENCED));
const model = buildResourceModel(inv);

describe('active-active topology: the resource set', function () {
  it('Galera is a promotable clone on every node, RabbitMQ and HAProxy plain clones, the VIP goes with HAProxy', function () {
    const crm = renderCrmsh(model);
    expect(crm).to.include('primitive osha-galera ocf:openstack:galera \\\n    params config="/etc/mysql/my.cnf"');
    // Monitors paced by what they cost (a rabbitmqctl call is an Erlang VM start), each interval unique.
    expect(crm).to.include('op monitor interval="20s" timeout="30s" \\\n    op promote');
    expect(crm).to.include('op monitor interval="15s" timeout="30s" role="Promoted"');
    expect(crm).to.match(/primitive osha-rabbitmq ocf:heartbeat:rabbitmq-cluster[^]*?op monitor interval="30s" timeout="40s"/);
    expect(crm).to.include('clone osha-cl-galera osha-galera \\\n    meta promotable="true" promoted-max="3" ordered="true" interleave="true" clone-max="3"');
    // Every clone has one instance per inventory node, none on a node the resources step has not configured yet.
    const clones = crm.split(/\n(?=\S)/).filter((b) => b.startsWith('clone '));
    expect(clones).to.have.length.at.least(6);
    for (const c of clones) expect(c).to.include('clone-max="3"');
    expect(crm).to.include('primitive osha-rabbitmq ocf:heartbeat:rabbitmq-cluster');
    expect(crm).to.include('clone osha-cl-rabbitmq osha-rabbitmq \\\n    meta ordered="true" interleave="true" notify="true"');
    expect(crm).to.include('primitive osha-haproxy systemd:haproxy');
    expect(crm).to.include('colocation osha-co-vip-with-cl-haproxy inf: osha-vip osha-cl-haproxy');
    expect(crm).to.include('order osha-o-cl-haproxy-after-vip Optional: osha-vip:start osha-cl-haproxy:start');
    expect(crm).to.include('order osha-o-cl-keystone-after-cl-galera Optional: osha-cl-galera:promote osha-cl-keystone:start');
    expect(crm).not.to.match(/\bms\b|master/);
  });

  it('APIs run everywhere on the node\'s own address; workers are clones; cinder-volume stays a single primitive', function () {
    const byId = new Map(primitivesOf(model.resources).map((p) => [p.id, p]));
    const keystone = byId.get('osha-keystone')!;
    expect(keystone.params).to.deep.include(['bind_address', '@node']);
    expect(keystone.params).to.deep.include(['monitor_host', '@node']);
    expect(keystone.params.map(([k]) => k)).to.include('os_username').and.not.include('os_auth_url');
    expect(byId.get('osha-glance-api')!.params).to.deep.include(['os_auth_url', 'http://198.18.0.100:5000/v3']);
    expect(byId.get('osha-glance-api')!.params.map(([k]) => k)).not.to.include('bind_address');
    expect(byId.get('osha-glance-api')!.params).to.deep.include(['monitor_host', '@node']);
    expect(byId.get('osha-nova-scheduler')!.params.map(([k]) => k)).not.to.include('bind_address');
    expect(serviceResourceId(inv, 'keystone')).to.equal('osha-cl-keystone');
    expect(serviceResourceId(inv, 'nova-scheduler')).to.equal('osha-cl-nova-scheduler');
    expect(serviceResourceId(inv, 'cinder-volume')).to.equal('osha-cinder-volume');
    expect(serviceResourceId(inv, 'mysql')).to.equal(GALERA_CLONE_ID);
    expect(model.resources.some((r) => r.id === 'osha-cinder-volume' && r.kind === 'primitive')).to.equal(true);
    expect(model.resources.some((r) => r.id === HAPROXY_CLONE_ID)).to.equal(true);
  });

  it('crm_verify accepts it and crm_simulate starts an instance of every clone on all three nodes', function () {
    if (!havePacemakerTools()) this.skip(); // needs Debian package pacemaker-cli-utils
    const plan = prepareClusterPlan(inv, model);
    if (!plan.ok) throw new Error(plan.error.message);
    const verify = crmVerify(plan.value.desired);
    expect(verify.ok, verify.output).to.equal(true);
    expect(plan.value.desired).to.match(/validate-with="pacemaker-3\.7"/);
    const sim = simulate(plan.value.desired);
    const text = renderClusterPlan(inv, model, plan.value, sim);
    expect(text).to.include('What crm_simulate predicts:');
    // Promotion waits for the scores the galera agent sets once every node reported its seqno:
    // crm_simulate runs no agent, so it predicts the starts only.
    for (const id of ['osha-galera', 'osha-keystone', 'osha-glance-api', 'osha-rabbitmq', 'osha-haproxy', 'osha-nova-scheduler']) {
      expect([...(sim.placement[id] ?? [])].sort(), id).to.deep.equal(['node1', 'node2', 'node3']);
    }
    expect(sim.placement['osha-cinder-volume']).to.have.length(1);
    expect(settled(plan.value.desired)).to.include('osha-vip');
  });

  it('the VIP\'s node dies: the VIP\'s start waits for the fencing only and is the first resource action of the transition', function () {
    if (!havePacemakerTools()) this.skip(); // needs Debian package pacemaker-cli-utils
    // Under load Pacemaker runs one action at a time, walking the graph in order: a VIP behind
    // RabbitMQ's notifications (seconds each) or behind HAProxy's pseudo-stops, which come later in
    // the graph, waited until the fenced node had rebooted and rejoined, and then went back there.
    const plan = prepareClusterPlan(inv, model);
    if (!plan.ok) throw new Error(plan.error.message);
    const { dead, order } = vipNodeFailure(plan.value.desired);
    const graph = dependencies(order);
    expect(waitsFor(graph, 'osha-vip_start_0', `stonith-${dead}-reboot`), 'the VIP waits for the fencing').to.equal(true);
    for (const other of ['osha-cl-haproxy_stopped_0', 'osha-cl-rabbitmq_stopped_0', 'osha-cl-galera_stopped_0']) expect(waitsFor(graph, 'osha-vip_start_0', other), other).to.equal(false);
    // The controller's order: the VIP's start and its (pseudo) stop before any other resource's action.
    const resourceActions = order.filter((a) => a.kind !== 'crm_event');
    const firstOther = resourceActions.findIndex((a) => !a.key.startsWith('osha-vip_'));
    const vip = ['osha-vip_start_0', 'osha-vip_stop_0'].map((k) => resourceActions.findIndex((a) => a.key === k));
    expect(Math.min(...vip), JSON.stringify(resourceActions.map((a) => a.key))).to.be.at.least(0);
    expect(Math.max(...vip), JSON.stringify(resourceActions.map((a) => a.key))).to.be.below(firstOther);
    expect(order.find((a) => a.key === 'osha-vip_start_0')!.priority).to.equal(10);
  });

  it('the inventory checks: 3+ nodes, mysql and rabbitmq listed, no shared storage', function () {
    const two = parseInventory(
      ['cluster: { name: lab }', 'topology: active-active', 'nodes: [{ name: a, address: 198.18.0.11 }, { name: b, address: 198.18.0.12 }]', 'vip: { address: 198.18.0.100, cidr_netmask: 24 }', 'services: [keystone]', 'stonith: { unsafe_no_fencing: true }'].join('\n'),
      'aa.yaml',
    );
    expect(two.ok).to.equal(false);
    const messages = two.ok ? [] : two.error.map((p) => `${p.field}: ${p.message}`);
    expect(messages.join('\n')).to.match(/topology: active-active needs at least 3 nodes/);
    expect(messages.join('\n')).to.match(/services: active-active clusters MariaDB \(Galera\) on every node: add mysql/);
    expect(messages.join('\n')).to.match(/services: active-active clusters RabbitMQ on every node: add rabbitmq/);
    const shared = parseInventory(threeNodeInventory(['mysql', 'rabbitmq'], 'topology: active-active\nstonith: { unsafe_no_fencing: true }\nresources: { storage: { mysql: { device: "198.18.0.50:/x", fstype: nfs4 } } }'), 'aa.yaml');
    expect(shared.ok ? '' : shared.error.map((p) => `${p.field}: ${p.message}`).join('\n')).to.match(/resources\.storage\.mysql: active-active keeps mysql's data on every node/);
  });

  it("mysql's ops.monitor sets the monitor of the promoted Galera instances (the one that runs); the unpromoted one keeps 20 s, and an override of 20 s is refused", function () {
    const text = (monitor: string) => threeNodeInventory(['mysql', 'rabbitmq'], `topology: active-active\nstonith: { unsafe_no_fencing: true }\nresources: { overrides: { mariadb: { ops: { monitor: ${monitor} } } } }`);
    const crm = renderCrmsh(buildResourceModel(inventoryFrom(text('{ interval: 60s, timeout: 40s }'))));
    expect(crm).to.include('op monitor interval="20s" timeout="30s" \\\n    op promote');
    expect(crm).to.include('op monitor interval="60s" timeout="40s" role="Promoted"');
    // Only the interval given: the promoted monitor keeps its timeout.
    expect(renderCrmsh(buildResourceModel(inventoryFrom(text('{ interval: 45s }'))))).to.include('op monitor interval="45s" timeout="30s" role="Promoted"');
    const clash = parseInventory(text('{ interval: 20 }'), 'aa.yaml');
    expect(clash.ok ? '' : clash.error.map((p) => `${p.field}: ${p.message}`).join('\n')).to.match(
      /resources\.overrides\.mariadb\.ops\.monitor\.interval: in the active-active topology this is the monitor of Galera's promoted instances, and 20s is the unpromoted instances'/,
    );
  });
});

describe("active-active topology: Galera's agent on a running cluster", function () {
  const LIST = 'gcomm://node1,node2,node3';
  /** A CIB of osha's earlier layout: heartbeat's galera with the node list as its parameter. */
  const heartbeatCib = (address: string) => {
    const desired = desiredCib(liveCib(), model);
    if (!desired.ok) throw new Error(desired.error.message);
    const param = `<nvpair id="osha-galera-instance_attributes-wsrep_cluster_address" name="wsrep_cluster_address" value="${address}"/>`;
    return desired.value.replace('provider="openstack" type="galera"', 'provider="heartbeat" type="galera"').replace('<instance_attributes id="osha-galera-instance_attributes">', `$&${param}`);
  };
  const galeraOf = (m: typeof model) => primitivesOf(m.resources).find((p) => p.id === GALERA_ID)!;
  const keep = (cib: string | undefined) => keepLiveGaleraAgent(cib, model, GALERA_ID, HEARTBEAT_GALERA_AGENT, LIST);

  it("is osha's galera, without the node list as a parameter (it reads the list from a file): a new cluster, and one that runs osha's already", function () {
    expect(galeraOf(model).agent).to.deep.equal({ class: 'ocf', provider: 'openstack', type: 'galera' });
    expect(galeraOf(model).params.map(([k]) => k)).not.to.include('wsrep_cluster_address');
    expect(keep(undefined).kept).to.equal(false);
    const ours = desiredCib(liveCib(), model);
    expect(ours.ok && keep(ours.value).kept).to.equal(false);
  });

  it("a cluster that runs heartbeat's galera keeps it, with its node list, while its nodes stay the same (switching restarts every instance)", function () {
    const cib = heartbeatCib(LIST);
    expect(cib).to.include(`value="${LIST}"`);
    const kept = keep(cib);
    expect(kept.kept).to.equal(true);
    expect(galeraOf(kept.model).agent).to.deep.equal(HEARTBEAT_GALERA_AGENT);
    expect(galeraOf(kept.model).params[0]).to.deep.equal(['wsrep_cluster_address', LIST]);
    // So the CIB stays as it is: nothing to apply.
    const again = desiredCib(cib, kept.model);
    expect(again.ok && again.value).to.equal(cib);
    // Nothing else changes, and the model it came from is left as it was.
    expect(primitivesOf(kept.model.resources).filter((p) => p.id !== GALERA_ID)).to.deep.equal(primitivesOf(model.resources).filter((p) => p.id !== GALERA_ID));
    expect(galeraOf(model).agent.provider).to.equal('openstack');
  });

  it("a change of nodes, which restarts heartbeat's galera anyway, moves it to osha's", function () {
    const moved = keep(heartbeatCib('gcomm://node1,node2'));
    expect(moved.kept).to.equal(false);
    expect(galeraOf(moved.model).agent.provider).to.equal('openstack');
  });
});

describe('a node probed before it had osha\'s agents', function () {
  const op = (id: string, key: string, rc: string) => `<lrm_rsc_op id="${id}" operation_key="${key}" operation="monitor" rc-code="${rc}"/>`;
  const state = (node: string, rscs: string) => `<node_state id="${node}" uname="${node}"><lrm id="${node}"><lrm_resources>${rscs}</lrm_resources></lrm></node_state>`;
  it('is found per resource and node: osha\'s only, a probe\'s "not installed" only, and only while it is the last word', function () {
    const cib = liveCib().replace(
      /<status>[^]*<\/status>|<status\/>/,
      `<status>${state('node4', [
        `<lrm_resource id="osha-galera">${op('osha-galera_last_0', 'osha-galera_monitor_0', '5')}</lrm_resource>`,
        `<lrm_resource id="osha-keystone">${op('osha-keystone_last_0', 'osha-keystone_monitor_0', '7')}</lrm_resource>`,
        `<lrm_resource id="p_handmade">${op('p_handmade_last_0', 'p_handmade_monitor_0', '5')}</lrm_resource>`,
        `<lrm_resource id="osha-glance-api">${op('osha-glance-api_last_0', 'osha-glance-api_start_0', '5')}</lrm_resource>`,
      ].join(''))}${state('node1', `<lrm_resource id="osha-galera">${op('osha-galera_last_0', 'osha-galera_promote_0', '0')}</lrm_resource>`)}</status>`,
    );
    expect(cib).to.include('node_state id="node4"');
    expect(notInstalledProbes(cib)).to.deep.equal([{ resource: 'osha-galera', node: 'node4' }]);
    expect(notInstalledProbes(liveCib())).to.deep.equal([]);
  });
});

describe('active-active topology: switching a running cluster', function () {
  it('is refused with the steps to do it, both ways; a cluster with only a VIP fits either', async function () {
    const { topologySwitchProblem, oshaTopologyOf } = await import('../../src/cluster/existing.ts');
    const { configurationXml } = await import('../../src/render/cib.ts');
    const { liveCib } = await import('./fixtures.ts');
    const classic = inventoryFrom(threeNodeInventory(['mysql', 'rabbitmq', 'keystone'], 'stonith: { unsafe_no_fencing: true }'));
    const cibOf = (m: ReturnType<typeof buildResourceModel>) => liveCib({ resources: /<resources>([\s\S]*)<\/resources>/.exec(configurationXml(m))![1] });
    const classicCib = cibOf(buildResourceModel(classic));
    const aaCib = cibOf(model);
    expect(oshaTopologyOf(classicCib)).to.equal('classic');
    expect(oshaTopologyOf(aaCib)).to.equal('active-active');
    expect(oshaTopologyOf(liveCib())).to.equal(undefined);
    expect(topologySwitchProblem(inv, aaCib)).to.equal(undefined);
    const toAa = topologySwitchProblem(inv, classicCib)!;
    expect(toAa.message).to.match(/runs osha's classic topology and the inventory says topology: active-active; osha does not convert a running cluster in place/);
    expect(toAa.fix).to.match(/services: \[\]/);
    expect(topologySwitchProblem(classic, aaCib)!.message).to.match(/runs osha's active-active topology/);
  });
});
