// The inventory's resources section: what it accepts, and the message for each mistake.
import { expect } from 'chai';
import { parseInventory } from '../../src/inventory/load.ts';

const BASE = `
cluster: { name: lab }
nodes: [{ name: node1, address: 198.18.0.11 }, { name: node2, address: 198.18.0.12 }]
vip: { address: 198.18.0.100, cidr_netmask: 24 }
services: [mysql, keystone]
`;

function problems(resources: string): string[] {
  // Fencing comes last, so that the lines the messages name stay those of the resources.
  const r = parseInventory(`${BASE}resources:\n${resources}\nstonith: { unsafe_no_fencing: true }\n`, 'inv.yaml');
  return r.ok ? [] : r.error.map((p) => `${p.line}: ${p.field}: ${p.message}`);
}

describe('inventory resources section', function () {
  it('accepts overrides, storage, user primitives and constraints', function () {
    expect(
      problems(`  overrides:
    quantum-server: {}
    keystone: { ops: { monitor: { interval: 20s, timeout: 1min } }, params: { config: /etc/k.conf }, meta: { resource-stickiness: 100 } }
    vip: { params: { nic: eth0 } }
  storage: { mysql: { device: /dev/drbd0, fstype: ext4 } }
  primitives: [{ id: haproxy, agent: "systemd:haproxy", clone: true }]
  constraints:
    - { type: colocation, resource: haproxy, with: vip }
    - { type: order, first: mysql, then: haproxy, mandatory: false }
    - { type: location, id: lo-ks, resource: keystone, node: node1, score: -inf }
`),
    ).to.deep.equal([
      '8: resources.overrides.quantum-server: "quantum-server" is not a resource osha generates here; use vip or a service listed under services (mysql, keystone)',
    ]);
  });

  it('says what is wrong with each mistake, at its line', function () {
    expect(
      problems(`  overrides: { keystone: { ops: { monitor: { timeout: 30 seconds } } } }
  primitives:
    - { id: g-x, agent: "systemd:x" }
    - { id: web, agent: "heartbeat:apache" }
  constraints:
    - { type: colocation, id: web, resource: web, with: nope }
    - { type: order, first: web }
    - { type: location, resource: web, node: node9, with: vip }
    - { type: pin }
`),
    ).to.deep.equal([
      '7: resources.overrides.keystone.ops.monitor.timeout: must be a duration such as 30s, 500ms, 2min or 1h (a bare number is seconds)',
      '10: resources.primitives[1].agent: must be a resource agent such as ocf:heartbeat:apache, ocf:openstack:nova-compute or systemd:haproxy',
      '13: resources.constraints[1].then: an order constraint needs then; add it',
      '14: resources.constraints[2].with: a location constraint takes type, id, resource, node, score; remove with',
      '15: resources.constraints[3].type: must be location, colocation or order',
    ]);
    expect(
      problems(`  primitives:
    - { id: g-x, agent: "systemd:x" }
    - { id: keystone, agent: "systemd:keystone" }
  constraints:
    - { type: colocation, id: g-x, resource: g-x, with: nope }
    - { type: location, resource: keystone, node: node9 }
  storage: { rabbitmq: { device: /dev/sdb, fstype: xfs } }
`),
    ).to.deep.equal([
      '8: resources.primitives[0].id: ids starting with g-, cl-, fs- or fence- are kept for the groups, clones, filesystems and fence devices osha generates; pick another id',
      '9: resources.primitives[1].id: "keystone" is the name of a resource osha generates; change it under resources.overrides.keystone instead, or pick another id',
      '11: resources.constraints[0].id: "g-x" is the id of a resource; give the constraint an id of its own, such as lo-g-x',
      '11: resources.constraints[0].with: no resource named "nope"; use one of: vip, mysql, keystone, g-x',
      '12: resources.constraints[1].node: no node is named "node9"; use one of: node1, node2',
      '13: resources.storage.rabbitmq: shared storage is given for rabbitmq but rabbitmq is not listed under services; add it there or remove this entry',
    ]);
  });

  it('checks the monitor intervals: durations above zero or off, distinct per resource, only on osha\'s agents', function () {
    expect(problems(`  monitors: { depth0: 5s, depth10: 20s, depth20: off }
  overrides:
    keystone: { ops: { monitors: { depth20: 1h } } }
`)).to.deep.equal([]);
    expect(
      problems(`  monitors: { depth0: 30s, depth10: 30s, depth20: never, depth30: 1h }
  overrides:
    keystone: { ops: { monitors: { depth10: off, depth0: 0s } } }
    vip: { ops: { monitors: { depth0: 5s } } }
`),
    ).to.deep.equal([
      '7: resources.monitors.depth20: must be an interval above zero such as 10s, 30s or 5min, or off',
      '7: resources.monitors.depth30: unknown key "depth30"; did you mean "depth0"? Allowed here: depth0, depth10, depth20',
      '9: resources.overrides.keystone.ops.monitors.depth10: must be an interval above zero such as 30s or 1min (depth 10, the health check, cannot be off)',
      '9: resources.overrides.keystone.ops.monitors.depth0: must be an interval above zero such as 10s, 30s or 5min, or off',
    ]);
    expect(
      problems(`  monitors: { depth0: 30s, depth10: 30s }
  overrides:
    keystone: { ops: { monitors: { depth20: 1min, depth10: 60s } } }
    mysql: { ops: { monitors: { depth0: 5s } } }
    vip: { ops: { monitors: { depth0: 5s } } }
`),
    ).to.deep.equal([
      '7: resources.monitors.depth10: the depth0 and depth10 monitors would both run every 30s; Pacemaker needs a different interval for each monitor of a resource, so give them different intervals',
      '9: resources.overrides.keystone.ops.monitors.depth20: the depth10 and depth20 monitors would both run every 1min; Pacemaker needs a different interval for each monitor of a resource, so give them different intervals',
      '10: resources.overrides.mysql.ops.monitors: mysql is not run by one of osha\'s OpenStack agents, so it has a single monitor: set its interval with ops.monitor.interval instead',
      '11: resources.overrides.vip.ops.monitors: vip is not run by one of osha\'s OpenStack agents, so it has a single monitor: set its interval with ops.monitor.interval instead',
    ]);
    expect(
      problems(`  overrides:
    keystone: { ops: { monitor: { interval: 10s } } }
    mysql: { ops: { monitor: { interval: 10s } } }
`),
    ).to.deep.equal([
      '8: resources.overrides.keystone.ops.monitor.interval: the depth0 and depth10 monitors would both run every 10s; Pacemaker needs a different interval for each monitor of a resource, so give them different intervals',
    ]);
    expect(problems(`  overrides: { keystone: { ops: { monitor: { interval: 20s }, monitors: { depth10: 40s } } } }
`)).to.deep.equal([
      '7: resources.overrides.keystone.ops.monitor.interval: for keystone, ops.monitor.interval is the interval of the depth-10 monitor, which ops.monitors.depth10 gives too; keep one of them',
    ]);
  });
});
