// Article 001's Listing 2, reproduced from an inventory: every group, clone and constraint, in a
// configuration that the real crm_verify accepts and that crm_simulate starts where intended.
import { expect } from 'chai';
import { buildResourceModel } from '../../src/cluster/build.ts';
import { primitivesOf, type Constraint, type Group, type ResourceModel } from '../../src/model/resources.ts';
import { desiredCib } from '../../src/cluster/merge.ts';
import { offlineCib } from '../../src/render/cib.ts';
import { havePacemakerTools, inventoryFrom, LISTING2_INVENTORY, liveCib } from './fixtures.ts';
import { crmVerify, settled, simulate, transitionGraph, waitsFor } from './tools.ts';

/**
 * Listing 2's names → osha's. Deliberate differences, each for a reason:
 * - p_quantum-* → neutron-* (quantum was renamed neutron in Havana); alice/bob/charlie → node1..3.
 * - p_nova-api-ec2, -metadata, -os-compute → one nova-api: one process serves them all today
 *   (EC2 was removed in Kilo, metadata runs inside nova-api). p_nova-objectstore and
 *   p_nova-cert are gone upstream (removed in Mitaka and Pike), so they have no counterpart.
 * - upstart:* primitives (cinder, nova-api, novnc) → osha's ocf:openstack agents: upstart is gone
 *   and an OCF agent can check health, not only that a process exists.
 * - g_basic_services gains the shared-storage Filesystem resources in front of mysql and rabbitmq:
 *   the article keeps their data on shared storage but mounts it outside Pacemaker.
 * - order line 44 (keystone → OVS agent clone) is Optional, not inf: a mandatory order restarts the
 *   agent on every node whenever keystone fails over (see src/cluster/build.ts).
 * - order line 48 (keystone after g_basic_services) becomes keystone after p_mysql: keystone needs
 *   the database, not RabbitMQ, and waiting for the queue cost its recovery ~6 s per failover. The
 *   groups that came after keystone (g_quantum, g_cinder) then also wait for g_basic_services
 *   themselves, as they did through keystone before: they use the queue.
 * - nova-compute-hostN and their location constraints are user primitives/constraints in the
 *   inventory: they carry per-site config files, as in the article.
 */
const P: Record<string, string> = {
  p_IP: 'osha-vip',
  p_mysql: 'osha-mysql',
  p_rabbitmq: 'osha-rabbitmq',
  p_keystone: 'osha-keystone',
  'p_glance-registry': 'osha-glance-registry',
  'p_glance-api': 'osha-glance-api',
  'p_nova-api-ec2': 'osha-nova-api',
  'p_nova-api-metadata': 'osha-nova-api',
  'p_nova-api-os-compute': 'osha-nova-api',
  'p_nova-consoleauth': 'osha-nova-consoleauth',
  'p_nova-novnc': 'osha-nova-novncproxy',
  'p_nova-scheduler': 'osha-nova-scheduler',
  'p_quantum-server': 'osha-neutron-server',
  'p_quantum-agent-dhcp': 'osha-neutron-dhcp-agent',
  'p_quantum-agent-l3': 'osha-neutron-l3-agent',
  'p_quantum-agent-plugin-openvswitch': 'osha-neutron-openvswitch-agent',
  'p_cinder-volume': 'osha-cinder-volume',
  'p_cinder-schedule': 'osha-cinder-scheduler',
  'p_cinder-api': 'osha-cinder-api',
  'p_nova-compute-host1': 'osha-nova-compute-host1',
  'p_nova-compute-host2': 'osha-nova-compute-host2',
  'p_nova-compute-host3': 'osha-nova-compute-host3',
  g_basic_services: 'osha-g-basic',
  g_cinder: 'osha-g-cinder',
  g_glance: 'osha-g-glance',
  g_keystone: 'osha-g-keystone',
  g_nova: 'osha-g-nova',
  g_quantum: 'osha-g-neutron',
  'cl_quantum-agent-plugin-openvswitch': 'osha-cl-neutron-openvswitch-agent',
};
const DROPPED = new Set(['p_nova-objectstore', 'p_nova-cert']);
const NODE: Record<string, string> = { alice: 'node1', bob: 'node2', charlie: 'node3' };

/** Listing 2, lines 28-51, verbatim. */
const LISTING2 = `
28 group g_basic_services p_mysql p_rabbitmq
29 group g_cinder p_cinder-volume p_cinder-schedule p_cinder-api
30 group g_glance p_glance-registry p_glance-api
31 group g_keystone p_keystone
32 group g_nova p_nova-api-ec2 p_nova-api-metadata p_nova-api-os-compute p_nova-consoleauth p_nova-novnc p_nova-objectstore p_nova-cert p_nova-scheduler
33 group g_quantum p_quantum-server p_quantum-agent-dhcp p_quantum-agent-l3
34 clone cl_quantum-agent-plugin-openvswitch p_quantum-agent-plugin-openvswitch
35 location lo_host1_prefer_alice p_nova-compute-host1 10000: alice
36 location lo_host2_prefer_bob p_nova-compute-host2 10000: bob
37 location lo_host3_prefer_charlie p_nova-compute-host3 10000: charlie
38 colocation co_g_basic_services_always_with_p_IP inf: g_basic_services p_IP
39 colocation co_g_cinder_always_with_g_keystone inf: g_cinder g_keystone
40 colocation co_g_glance_always_with_g_keystone inf: g_glance g_keystone
41 colocation co_g_keystone_always_with_p_IP inf: g_keystone p_IP
42 colocation co_g_nova_always_with_g_keystone inf: g_nova g_keystone
43 colocation co_g_quantum_always_with_g_keystone inf: g_quantum g_keystone
44 order o_cl_quantum-agent-plugin-openvswitch_after_g_keystone inf: g_keystone:start cl_quantum-agent-plugin-openvswitch:start
45 order o_g_basic_services_always_after_p_IP inf: p_IP:start g_basic_services:start
46 order o_g_cinder_always_after_g_keystone inf: g_keystone:start g_cinder:start
47 order o_g_glance_always_after_g_quantum inf: g_quantum:start g_glance:start
48 order o_g_keystone_always_after_g_basic_services inf: g_basic_services:start g_keystone:start
49 order o_g_keystone_always_after_p_IP inf: p_IP:start g_keystone:start
50 order o_g_nova_always_after_g_glance inf: g_glance:start g_nova:start
51 order o_g_quantum_always_after_g_keystone inf: g_keystone:start g_quantum:start
`;

const OPTIONAL_ON_PURPOSE = new Set(['o_cl_quantum-agent-plugin-openvswitch_after_g_keystone']);
/** Listing 2's orders that osha draws from another resource (see the list of differences above). */
const FIRST_ON_PURPOSE: Record<string, string> = { o_g_keystone_always_after_g_basic_services: 'osha-mysql' };
/** Orders osha adds to Listing 2's, [first, then]. */
const ADDED_ORDERS = [
  ['osha-g-basic', 'osha-g-neutron'],
  ['osha-g-basic', 'osha-g-cinder'],
];
const FILESYSTEMS_IN_BASIC = ['osha-fs-mysql', 'osha-fs-rabbitmq'];

function listingLines(keyword: string): string[][] {
  return LISTING2.trim()
    .split('\n')
    .map((l) => l.split(/\s+/).slice(1))
    .filter((w) => w[0] === keyword);
}

const map = (name: string): string => {
  const bare = name.replace(/:start$/, '');
  const m = P[bare];
  if (!m) throw new Error(`no mapping for ${bare}`);
  return m;
};

function findConstraint(model: ResourceModel, want: Partial<Constraint>): Constraint | undefined {
  return model.constraints.find((c) => Object.entries(want).every(([k, v]) => (c as unknown as Record<string, unknown>)[k] === v));
}

describe('Listing 2 (article 001) reproduced from the inventory', function () {
  const model = buildResourceModel(inventoryFrom(LISTING2_INVENTORY));

  it('has every group of lines 28-33 with the same members in the same order', function () {
    const groups = new Map(model.resources.filter((r): r is Group => r.kind === 'group').map((g) => [g.id, g]));
    for (const [, id, ...members] of listingLines('group')) {
      const g = groups.get(map(id!));
      expect(g, `group ${id}`).to.not.equal(undefined);
      const expected = [...new Set(members.filter((m) => !DROPPED.has(m)).map(map))];
      const actual = g!.members.map((m) => m.id).filter((m) => !FILESYSTEMS_IN_BASIC.includes(m));
      expect(actual, `members of ${id}`).to.deep.equal(expected);
    }
    // The storage goes in front of the service that uses it.
    const basic = groups.get('osha-g-basic')!.members.map((m) => m.id);
    expect(basic).to.deep.equal(['osha-fs-mysql', 'osha-mysql', 'osha-fs-rabbitmq', 'osha-rabbitmq']);
  });

  it('has the clone of line 34, interleaved', function () {
    for (const [, id, child] of listingLines('clone')) {
      const clone = model.resources.find((r) => r.id === map(id!));
      expect(clone?.kind).to.equal('clone');
      if (clone?.kind !== 'clone') return;
      expect(clone.child.id).to.equal(map(child!));
      expect(clone.meta).to.deep.include(['interleave', 'true']);
    }
  });

  it('has every location (35-37), colocation (38-43) and order (44-51) constraint', function () {
    for (const [, name, rsc, score, node] of listingLines('location')) {
      const c = findConstraint(model, { kind: 'location', rsc: map(rsc!), node: NODE[node!], score: score!.replace(/:$/, '') });
      expect(c, `location ${name}`).to.not.equal(undefined);
    }
    for (const [, name, score, rsc, withRsc] of listingLines('colocation')) {
      expect(score).to.equal('inf:');
      const c = findConstraint(model, { kind: 'colocation', rsc: map(rsc!), withRsc: map(withRsc!), score: 'INFINITY' });
      expect(c, `colocation ${name}`).to.not.equal(undefined);
    }
    for (const [, name, , first, then] of listingLines('order')) {
      const mandatory = !OPTIONAL_ON_PURPOSE.has(name!);
      const c = findConstraint(model, { kind: 'order', first: FIRST_ON_PURPOSE[name!] ?? map(first!), then: map(then!), mandatory });
      expect(c, `order ${name}`).to.not.equal(undefined);
    }
    for (const [first, then] of ADDED_ORDERS) {
      expect(findConstraint(model, { kind: 'order', first, then, mandatory: true }), `order ${first} -> ${then}`).to.not.equal(undefined);
    }
    expect(findConstraint(model, { kind: 'order', first: 'osha-g-basic', then: 'osha-g-keystone' })).to.equal(undefined);
    // Nothing beyond Listing 2 and the added orders (the user's own constraints are the locations).
    const listed = listingLines('location').length + listingLines('colocation').length + listingLines('order').length;
    expect(model.constraints).to.have.length(listed + ADDED_ORDERS.length);
  });

  it('gives every id osha\'s prefix and keeps secrets out of the configuration', function () {
    for (const p of primitivesOf(model.resources)) {
      expect(p.id).to.match(/^osha-/);
      for (const [name, value] of p.params) {
        expect(name).to.not.match(/^(os_)?password$/);
        expect(value).to.not.include('OS_PASSWORD');
      }
    }
    for (const c of model.constraints) expect(c.id).to.match(/^osha-/);
    const keystone = primitivesOf(model.resources).find((p) => p.id === 'osha-keystone')!;
    expect(keystone.params).to.deep.include(['os_password_file', '/etc/osha/openstack-password']);
    expect(keystone.ops.filter((o) => o.name === 'monitor').map((o) => [o.interval, o.depth])).to.deep.equal([
      ['10s', 0],
      ['30s', 10],
      ['300s', 20],
    ]);
  });

  describe('with the real Pacemaker tools', function () {
    let cib: string;
    before(function () {
      if (!havePacemakerTools()) this.skip(); // needs Debian package pacemaker-cli-utils
      const d = desiredCib(liveCib(), model);
      if (!d.ok) throw new Error(d.error.message);
      cib = d.value;
    });

    it('osha plan without a cluster: merged into an offline CIB, crm_verify accepts it and crm_simulate starts it all', function () {
      const d = desiredCib(offlineCib(['node1', 'node2', 'node3']), model);
      if (!d.ok) throw new Error(d.error.message);
      const v = crmVerify(d.value);
      expect(v.ok, v.output).to.equal(true);
      expect(v.output).to.not.match(/error|warning/i);
      const started = new Set(simulate(d.value).actions.filter((a) => a.action === 'start').map((a) => a.resource.replace(/:\d+$/, '')));
      expect([...started].sort()).to.deep.equal(primitivesOf(model.resources).map((p) => p.id).sort());
    });

    it('crm_verify accepts the configuration', function () {
      const v = crmVerify(cib);
      expect(v.ok, v.output).to.equal(true);
      expect(v.output).to.not.match(/error|warning/i);
    });

    it('crm_simulate starts every osha resource, the active/passive ones together on the VIP\'s node', function () {
      const sim = simulate(cib);
      const placed = sim.placement;
      const vipNode = placed['osha-vip']?.[0];
      expect(vipNode).to.be.a('string');
      for (const p of primitivesOf(model.resources)) {
        expect(placed[p.id], `${p.id} placed`).to.have.length.greaterThan(0);
      }
      const activePassive = model.resources.flatMap((r) => (r.kind === 'group' ? r.members.map((m) => m.id) : []));
      for (const id of activePassive) expect(placed[id], id).to.deep.equal([vipNode]);
      expect(placed['osha-neutron-openvswitch-agent']).to.deep.equal(['node1', 'node2', 'node3']);
      for (const n of [1, 2, 3]) expect(placed[`osha-nova-compute-host${n}`]).to.deep.equal([`node${n}`]);
      // Start order follows the articles: VIP, storage, database, keystone, neutron, glance, nova;
      // the queue before every service that uses it (keystone does not).
      const starts = sim.steps.filter((s) => s.op === 'start').map((s) => s.resource);
      const at = (id: string) => starts.indexOf(id);
      const chain = ['osha-vip', 'osha-fs-mysql', 'osha-mysql', 'osha-keystone', 'osha-neutron-server', 'osha-neutron-l3-agent', 'osha-glance-registry', 'osha-glance-api', 'osha-nova-api'];
      for (let i = 1; i < chain.length; i++) expect(at(chain[i]!), `${chain[i - 1]} before ${chain[i]}`).to.be.greaterThan(at(chain[i - 1]!));
      for (const user of ['osha-neutron-server', 'osha-cinder-volume', 'osha-glance-registry', 'osha-nova-api']) {
        expect(at(user), `osha-rabbitmq before ${user}`).to.be.greaterThan(at('osha-rabbitmq'));
      }
      expect(at('osha-cinder-volume')).to.be.greaterThan(at('osha-keystone'));
    });

    it('crm_simulate moves everything active/passive to one surviving node when the VIP\'s node fails', function () {
      const running = settled(cib);
      const before = simulate(running).placement['osha-vip']![0]!;
      const after = simulate(running, ['--node-fail', before]);
      const target = after.placement['osha-vip']![0]!;
      expect(target).to.not.equal(before);
      for (const r of model.resources) {
        if (r.kind !== 'group') continue;
        for (const m of r.members) expect(after.placement[m.id], m.id).to.deep.equal([target]);
      }
      // Keystone waits for the database only; the services after it wait for the queue too.
      const graph = transitionGraph(running, ['--node-fail', before]);
      expect(waitsFor(graph, 'osha-keystone_start_0', 'osha-mysql_start_0')).to.equal(true);
      expect(waitsFor(graph, 'osha-keystone_start_0', 'osha-rabbitmq_start_0')).to.equal(false);
      expect(waitsFor(graph, 'osha-neutron-server_start_0', 'osha-rabbitmq_start_0')).to.equal(true);
      expect(waitsFor(graph, 'osha-cinder-volume_start_0', 'osha-rabbitmq_start_0')).to.equal(true);
      expect(waitsFor(graph, 'osha-nova-api_start_0', 'osha-keystone_start_0')).to.equal(true);
      // The per-node agent keeps running on the survivors: a keystone failover does not restart it.
      const restarts = after.actions.filter((a) => a.resource.startsWith('osha-neutron-openvswitch-agent') && a.action !== 'stop');
      expect(restarts).to.deep.equal([]);
    });
  });
});
