// The classic layout when the VIP's node dies, as the real crm_simulate lays out the transition.
// On a busy node Pacemaker runs as few as one action at a time, the first ready one in the
// graph's order: keystone, which needs MariaDB but not RabbitMQ, must come before RabbitMQ's start.
import { expect } from 'chai';
import { buildResourceModel, KEYSTONE_PRIORITY } from '../../src/cluster/build.ts';
import { prepareClusterPlan } from '../../src/cluster/plan.ts';
import { havePacemakerTools, inventoryFrom, threeNodeInventory } from './fixtures.ts';
import { dependencies, vipNodeFailure, waitsFor } from './tools.ts';

const FENCED = `openstack: { username: admin, project: admin, password: { env: OS_PASSWORD } }
stonith:
  enabled: true
  devices:
${[1, 2, 3].map((n) => `    - { name: f${n}, agent: fence_dummy, node: node${n} }`).join('\n')}
resources: { storage: { mysql: { device: "198.18.0.50:/srv/mysql", fstype: nfs4 } } }`;

describe('classic layout: the VIP\'s node dies', function () {
  it('keystone\'s start waits for MariaDB, not RabbitMQ, and comes first of the two in the transition', function () {
    if (!havePacemakerTools()) this.skip(); // needs Debian package pacemaker-cli-utils
    const inv = inventoryFrom(threeNodeInventory(['mysql', 'rabbitmq', 'keystone', 'glance-api'], FENCED));
    const plan = prepareClusterPlan(inv, buildResourceModel(inv));
    if (!plan.ok) throw new Error(plan.error.message);
    const { order } = vipNodeFailure(plan.value.desired);
    const graph = dependencies(order);
    const keys = order.map((a) => a.key);
    expect(waitsFor(graph, 'osha-keystone_start_0', 'osha-mysql_start_0'), 'keystone waits for MariaDB').to.equal(true);
    expect(waitsFor(graph, 'osha-keystone_start_0', 'osha-rabbitmq_start_0'), 'keystone does not wait for RabbitMQ').to.equal(false);
    expect(keys.indexOf('osha-keystone_start_0'), JSON.stringify(keys)).to.be.within(0, keys.indexOf('osha-rabbitmq_start_0'));
    expect(order.find((a) => a.key === 'osha-keystone_start_0')!.priority).to.equal(Number(KEYSTONE_PRIORITY));
  });
});
