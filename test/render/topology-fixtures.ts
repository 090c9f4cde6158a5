// Inventories of the active-active topology for the renderer and step tests.
import { parseInventory } from '../../src/inventory/load.ts';
import type { Inventory } from '../../src/inventory/schema.ts';

export const V4_NODES = ['198.18.0.11', '198.18.0.12', '198.18.0.13'];
export const V6_NODES = ['fd00:18::11', 'fd00:18::12', 'fd00:18::13'];

export function activeActive(opts: { addresses?: string[]; vip?: string; publicVip?: string; services?: string[] } = {}): Inventory {
  const addresses = opts.addresses ?? V4_NODES;
  const v6 = addresses[0]!.includes(':');
  const nodes = addresses.map((a, i) => `  - { name: n${i + 1}, address: "${a}" }`).join('\n');
  const vip = opts.vip ?? (v6 ? 'fd00:18::100' : '198.18.0.100');
  const text = [
    'cluster: { name: c1 }',
    'topology: active-active',
    'nodes:',
    nodes,
    `vip: { address: "${vip}", cidr_netmask: ${v6 ? 64 : 24} }`,
    ...(opts.publicVip ? [`public_vip: { address: "${opts.publicVip}", cidr_netmask: ${opts.publicVip.includes(':') ? 64 : 24} }`] : []),
    `services: [${(opts.services ?? ['mysql', 'rabbitmq', 'keystone', 'glance-api']).join(', ')}]`,
  ].join('\n');
  const r = parseInventory(`${text}\n`, 'x.yaml');
  if (!r.ok) throw new Error(r.error.map((p) => p.message).join('; '));
  return r.value;
}
