// Inventories for the OpenStack rewrite tests, built through the real schema.
import { inventorySchema, type Inventory } from '../../src/inventory/schema.ts';

export const VIP = '198.18.0.100';
export const PUBLIC_VIP = '198.19.0.100';

export function labInventory(extra: Record<string, unknown> = {}): Inventory {
  return inventorySchema.parse({
    cluster: { name: 'osha-test' },
    nodes: [
      { name: 'alice', address: '198.18.0.11' },
      { name: 'bob', address: '198.18.0.12' },
    ],
    vip: { address: VIP, cidr_netmask: 24 },
    services: ['mysql', 'rabbitmq', 'keystone', 'glance-api', 'glance-registry', 'nova-api', 'nova-api-metadata', 'neutron-server', 'cinder-api', 'heat-api', 'heat-api-cfn'],
    // Two nodes without fencing must be said out loud (these tests are about config files).
    stonith: { unsafe_no_fencing: true },
    ...extra,
  });
}
