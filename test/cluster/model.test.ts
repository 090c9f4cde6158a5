// buildResourceModel on inventories other than Listing 2: smaller service sets, overrides, user
// additions, a public VIP and fencing. Every variant is also checked by the real crm_verify.
import { expect } from 'chai';
import { buildResourceModel } from '../../src/cluster/build.ts';
import { primitivesOf, type Constraint, type Primitive, type ResourceModel } from '../../src/model/resources.ts';
import { desiredCib } from '../../src/cluster/merge.ts';
import { havePacemakerTools, inventoryFrom, liveCib } from './fixtures.ts';
import { crmVerify, simulate } from './tools.ts';

const BASE = `
cluster: { name: lab }
nodes:
  - { name: node1, address: 198.18.0.11 }
  - { name: node2, address: 198.18.0.12 }
  - { name: node3, address: 198.18.0.13 }
vip: { address: 198.18.0.100, cidr_netmask: 24 }
`;

const model = (extra: string): ResourceModel => buildResourceModel(inventoryFrom(BASE + extra));
const prim = (m: ResourceModel, id: string): Primitive => {
  const p = primitivesOf(m.resources).find((x) => x.id === id);
  if (!p) throw new Error(`no primitive ${id}`);
  return p;
};
const has = (m: ResourceModel, want: Partial<Constraint>): boolean =>
  m.constraints.some((c) => Object.entries(want).every(([k, v]) => (c as unknown as Record<string, unknown>)[k] === v));

/** The model must be a configuration Pacemaker accepts and can start. */
function checkWithPacemaker(m: ResourceModel): void {
  if (!havePacemakerTools()) return;
  const d = desiredCib(liveCib(), m);
  if (!d.ok) throw new Error(d.error.message);
  const v = crmVerify(d.value);
  expect(v.ok, v.output).to.equal(true);
  const placed = simulate(d.value).placement;
  for (const p of primitivesOf(m.resources)) expect(placed[p.id], p.id).to.have.length.greaterThan(0);
}

describe('resource model', function () {
  it('with only the VIP: one primitive, fencing property off, nothing else', function () {
    const m = model('services: []\n');
    expect(m.resources.map((r) => r.id)).to.deep.equal(['osha-vip']);
    expect(m.constraints).to.deep.equal([]);
    expect(m.options.map(({ name, value }) => ({ name, value }))).to.deep.equal([
      { name: 'fencing', value: 'false' },
      { name: 'no-quorum-policy', value: 'stop' },
    ]);
    expect(prim(m, 'osha-vip').params).to.deep.equal([
      ['ip', '198.18.0.100'],
      ['cidr_netmask', '24'],
    ]);
    checkWithPacemaker(m);
  });

  it('without keystone: groups sit on the VIP and wait for the database', function () {
    const m = model('services: [mysql, glance-api, nova-api, cinder-api]\n');
    expect(has(m, { kind: 'colocation', rsc: 'osha-g-glance', withRsc: 'osha-vip' })).to.equal(true);
    expect(has(m, { kind: 'order', first: 'osha-g-basic', then: 'osha-g-glance' })).to.equal(true);
    expect(has(m, { kind: 'order', first: 'osha-g-glance', then: 'osha-g-nova' })).to.equal(true);
    expect(has(m, { kind: 'order', first: 'osha-g-basic', then: 'osha-g-cinder' })).to.equal(true);
    expect(m.warnings.join('\n')).to.include('mysql has no shared storage');
    checkWithPacemaker(m);
  });

  it('a public VIP runs with the VIP and comes up before keystone', function () {
    const m = model('public_vip: { address: 198.19.0.100, cidr_netmask: 24, nic: eth1 }\nservices: [keystone]\n');
    expect(prim(m, 'osha-public-vip').params).to.deep.include(['nic', 'eth1']);
    expect(has(m, { kind: 'colocation', rsc: 'osha-public-vip', withRsc: 'osha-vip' })).to.equal(true);
    expect(has(m, { kind: 'order', first: 'osha-public-vip', then: 'osha-g-keystone' })).to.equal(true);
    checkWithPacemaker(m);
  });

  it('applies overrides of params, meta and operation timings (article aliases work as keys)', function () {
    const m = model(`services: [mysql, quantum-server]
resources:
  overrides:
    quantum-server: { ops: { monitor: { interval: 60s, timeout: 2min } }, params: { config: /etc/neutron/other.conf } }
    mysql: { ops: { start: { timeout: 600 } }, meta: { migration-threshold: 1, resource-stickiness: 200 } }
    vip: { params: { nic: br-mgmt } }
`);
    const neutron = prim(m, 'osha-neutron-server');
    // On osha's agents ops.monitor sets the depth-10 interval and every monitor's timeout.
    expect(neutron.ops.filter((o) => o.name === 'monitor')).to.deep.equal([
      { name: 'monitor', interval: '10s', timeout: '2min', depth: 0 },
      { name: 'monitor', interval: '60s', timeout: '2min', depth: 10 },
    ]);
    expect(neutron.params).to.deep.include(['config', '/etc/neutron/other.conf']);
    const mysql = prim(m, 'osha-mysql');
    expect(mysql.ops.find((o) => o.name === 'start')!.timeout).to.equal('600');
    expect(mysql.meta).to.deep.equal([
      ['migration-threshold', '1'],
      ['failure-timeout', '120s'],
      ['resource-stickiness', '200'],
    ]);
    expect(prim(m, 'osha-vip').params).to.deep.include(['nic', 'br-mgmt']);
    checkWithPacemaker(m);
  });

  it('adds user primitives (cloned or not) and user constraints, which may replace a generated one', function () {
    const m = model(`services: [keystone]
resources:
  primitives:
    - { id: haproxy, agent: "systemd:haproxy", clone: true }
    - { id: memcached, agent: "lsb:memcached", ops: { monitor: { interval: 15s } } }
  constraints:
    - { type: colocation, resource: memcached, with: keystone, score: 500 }
    - { type: order, first: haproxy, then: keystone, mandatory: false }
    - { type: colocation, id: co-g-keystone-with-vip, resource: keystone, with: vip, score: inf }
`);
    expect(m.resources.map((r) => r.id)).to.include.members(['osha-cl-haproxy', 'osha-memcached']);
    const memcached = prim(m, 'osha-memcached');
    expect(memcached.agent).to.deep.equal({ class: 'lsb', type: 'memcached' });
    expect(memcached.ops.find((o) => o.name === 'monitor')).to.deep.equal({ name: 'monitor', interval: '15s', timeout: '60s' });
    expect(prim(m, 'osha-haproxy').agent).to.deep.equal({ class: 'systemd', type: 'haproxy' });
    expect(has(m, { kind: 'colocation', id: 'osha-co-memcached-with-keystone', rsc: 'osha-memcached', withRsc: 'osha-keystone', score: '500' })).to.equal(true);
    expect(has(m, { kind: 'order', first: 'osha-cl-haproxy', then: 'osha-keystone', mandatory: false })).to.equal(true);
    // Same id as the generated constraint: replaced in place, not duplicated.
    const replaced = m.constraints.filter((c) => c.id === 'osha-co-g-keystone-with-vip');
    expect(replaced).to.have.length(1);
    expect(replaced[0]).to.include({ rsc: 'osha-keystone', withRsc: 'osha-vip', score: 'INFINITY' });
    checkWithPacemaker(m);
  });

  it('fence devices: a stonith primitive per device, kept off the node it powers off, password by file', function () {
    const m = model(`services: [keystone]
stonith:
  enabled: true
  devices:
    - { name: ipmi-node1, agent: fence_ipmilan, node: node1, params: { ip: 198.18.1.11, username: admin, lanplus: 1 }, password: { env: IPMI_PASSWORD } }
quorum: { policy: freeze }
`);
    const fence = prim(m, 'osha-fence-ipmi-node1');
    expect(fence.agent).to.deep.equal({ class: 'stonith', type: 'fence_ipmilan' });
    expect(fence.params).to.deep.include(['pcmk_host_list', 'node1']);
    expect(fence.params).to.deep.include(['password_script', 'cat /etc/osha/fence-ipmi-node1.password']);
    expect(fence.params.map(([k]) => k)).to.not.include('password');
    expect(has(m, { kind: 'location', rsc: 'osha-fence-ipmi-node1', node: 'node1', score: '-INFINITY' })).to.equal(true);
    expect(m.options.map(({ name, value }) => ({ name, value }))).to.deep.equal([
      { name: 'fencing', value: 'true' },
      { name: 'no-quorum-policy', value: 'freeze' },
    ]);
    expect(m.warnings.join('\n')).to.not.include('fencing is disabled');
    // Three nodes: only a majority fences, so no fence-race delays.
    expect(fence.params.map(([k]) => k)).to.not.include('pcmk_delay_base');
    checkWithPacemaker(m);
  });

  it('2 nodes fencing each other: exactly one wins (VIP holder by priority, else the first node by a fixed delay)', function () {
    const m = buildResourceModel(
      inventoryFrom(`cluster: { name: two }
nodes: [{ name: a, address: 198.18.0.11 }, { name: b, address: 198.18.0.12 }]
vip: { address: 198.18.0.100, cidr_netmask: 24 }
stonith:
  enabled: true
  devices:
    - { name: fa, agent: fence_nspawn, node: a, plug: osha-a }
    - { name: fb, agent: fence_nspawn, node: b }
`),
    );
    const fa = prim(m, 'osha-fence-fa');
    const fb = prim(m, 'osha-fence-fb');
    expect(fa.params).to.deep.include(['pcmk_host_map', 'a:osha-a']);
    expect(fa.params.map(([k]) => k)).to.not.include('pcmk_host_list');
    expect(fa.params).to.deep.include(['pcmk_delay_base', '5s']);
    expect(fb.params.map(([k]) => k)).to.not.include('pcmk_delay_base');
    expect(prim(m, 'osha-vip').meta).to.deep.include(['priority', '10']);
    expect(m.options.find((o) => o.name === 'priority-fencing-delay')?.value).to.equal('10s');
    checkWithPacemaker(m);
  });

  it('shared storage: a Filesystem resource in front of the service, datadir on it', function () {
    const m = model(`services: [mysql]
stonith: { unsafe_no_fencing: true }
resources:
  storage:
    mysql: { device: /dev/drbd0, fstype: ext4, directory: /srv/mysql }
`);
    const group = m.resources.find((r) => r.id === 'osha-g-basic');
    expect(group?.kind === 'group' && group.members.map((x) => x.id)).to.deep.equal(['osha-fs-mysql', 'osha-mysql']);
    expect(prim(m, 'osha-fs-mysql').params).to.deep.equal([
      ['device', '/dev/drbd0'],
      ['directory', '/srv/mysql'],
      ['fstype', 'ext4'],
    ]);
    expect(prim(m, 'osha-mysql').params).to.deep.include(['datadir', '/srv/mysql']);
    expect(prim(m, 'osha-mysql').params).to.deep.include(['additional_parameters', '--bind-address=198.18.0.100']);
    expect(m.warnings.join('\n')).to.not.include('mysql has no shared storage');
  });

  describe('monitors: one per depth on osha\'s agents', function () {
    const monitors = (m: ResourceModel, id: string) =>
      prim(m, id)
        .ops.filter((o) => o.name === 'monitor')
        .map((o) => `${o.interval}/${o.timeout}@${o.depth ?? '-'}`);
    const CREDENTIALS = 'openstack: { password: { file: /etc/osha/pw } }\n';

    it('depth 0 every 10s, depth 10 every 30s; depth 20 every 300s only with credentials and only on APIs', function () {
      const m = model('services: [mysql, rabbitmq, keystone, nova-scheduler]\n');
      expect(prim(m, 'osha-keystone').params).to.deep.equal([['config', '/etc/keystone/keystone.conf']]);
      expect(monitors(m, 'osha-keystone')).to.deep.equal(['10s/20s@0', '30s/60s@10']);
      expect(monitors(m, 'osha-nova-scheduler')).to.deep.equal(['10s/20s@0', '30s/60s@10']);
      const deep = model(`services: [mysql, rabbitmq, keystone, nova-scheduler, nova-novncproxy]\n${CREDENTIALS}`);
      expect(monitors(deep, 'osha-keystone')).to.deep.equal(['10s/20s@0', '30s/60s@10', '300s/60s@20']);
      // Workers get no credentials from osha, so no login check.
      expect(monitors(deep, 'osha-nova-scheduler')).to.deep.equal(['10s/20s@0', '30s/60s@10']);
      expect(monitors(deep, 'osha-nova-novncproxy')).to.deep.equal(['10s/20s@0', '30s/60s@10']);
      // Other agents keep their single monitor, without OCF_CHECK_LEVEL.
      expect(monitors(deep, 'osha-mysql')).to.deep.equal(['30s/60s@-']);
      expect(monitors(deep, 'osha-rabbitmq')).to.deep.equal(['20s/30s@-']);
      expect(monitors(deep, 'osha-vip')).to.deep.equal(['10s/20s@-']);
      expect(prim(deep, 'osha-keystone').ops.slice(0, 2).map((o) => o.name)).to.deep.equal(['start', 'stop']);
      checkWithPacemaker(deep);
    });

    it('takes the intervals from resources.monitors, and per service from overrides.<service>.ops', function () {
      const m = model(`services: [mysql, keystone, glance-api, nova-api, cinder-api, quantum-server]
${CREDENTIALS}resources:
  monitors: { depth0: 15s, depth10: 1min, depth20: 10min }
  overrides:
    glance-api: { ops: { monitors: { depth20: off, depth0: off } } }
    nova-api: { ops: { monitors: { depth10: 45s }, monitor: { timeout: 90s } } }
    cinder-api: { ops: { monitor: { interval: 2min } } }
    quantum-server: { ops: { monitors: { depth20: 1h } } }
    mysql: { ops: { monitor: { interval: 45s } } }
`);
      expect(monitors(m, 'osha-keystone')).to.deep.equal(['15s/20s@0', '1min/60s@10', '10min/60s@20']);
      expect(monitors(m, 'osha-glance-api')).to.deep.equal(['1min/60s@10']);
      expect(monitors(m, 'osha-nova-api')).to.deep.equal(['15s/90s@0', '45s/90s@10', '10min/90s@20']);
      expect(monitors(m, 'osha-cinder-api')).to.deep.equal(['15s/20s@0', '2min/60s@10', '10min/60s@20']);
      expect(monitors(m, 'osha-neutron-server')).to.deep.equal(['15s/20s@0', '1min/60s@10', '1h/60s@20']);
      expect(monitors(m, 'osha-mysql')).to.deep.equal(['45s/60s@-']);
      // depth 20 off keeps the credentials: a change of params would restart the service.
      expect(prim(m, 'osha-glance-api').params.map(([k]) => k)).to.include('os_password_file');
      checkWithPacemaker(m);
    });

    it('without credentials a depth20 setting has no effect', function () {
      const m = model('services: [keystone]\nresources: { monitors: { depth20: 2min } }\n');
      expect(monitors(m, 'osha-keystone')).to.deep.equal(['10s/20s@0', '30s/60s@10']);
    });
  });
});
