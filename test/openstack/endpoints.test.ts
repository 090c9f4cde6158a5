// Endpoint planning on samples shaped like `openstack endpoint list -f json` output
// (columns ID, Region, Service Name, Service Type, Enabled, Interface, URL), written for these tests.
import { expect } from 'chai';
import {
  describeEndpointOp,
  desiredEndpoints,
  endpointArgv,
  parseEndpointList,
  planEndpoints,
  regionMismatches,
  type DesiredEndpoint,
  type EndpointOp,
  type EndpointRow,
} from '../../src/openstack/endpoints.ts';
import { labInventory, PUBLIC_VIP, VIP } from './fixtures.ts';

/** The catalog of a single-node install: everything on node alice (198.18.0.11). */
const SINGLE_NODE = [
  { ID: '0b1f3c6e2a9d4e0f8a1b2c3d4e5f6071', Region: 'RegionOne', 'Service Name': 'keystone', 'Service Type': 'identity', Enabled: true, Interface: 'public', URL: 'http://198.18.0.11:5000/v3/' },
  { ID: '1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f', Region: 'RegionOne', 'Service Name': 'keystone', 'Service Type': 'identity', Enabled: true, Interface: 'internal', URL: 'http://198.18.0.11:5000/v3/' },
  { ID: '2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f70', Region: 'RegionOne', 'Service Name': 'keystone', 'Service Type': 'identity', Enabled: true, Interface: 'admin', URL: 'http://198.18.0.11:5000/v3/' },
  { ID: '3e4f5a6b7c8d9e0f1a2b3c4d5e6f7081', Region: 'RegionOne', 'Service Name': 'glance', 'Service Type': 'image', Enabled: true, Interface: 'public', URL: 'http://198.18.0.11:9292' },
  // Someone ran the article's commands twice: a duplicate internal image endpoint.
  { ID: '4f5a6b7c8d9e0f1a2b3c4d5e6f708192', Region: 'RegionOne', 'Service Name': 'glance', 'Service Type': 'image', Enabled: true, Interface: 'internal', URL: 'http://198.18.0.11:9292' },
  { ID: '5a6b7c8d9e0f1a2b3c4d5e6f708192a3', Region: 'RegionOne', 'Service Name': 'glance', 'Service Type': 'image', Enabled: true, Interface: 'internal', URL: 'http://198.18.0.12:9292' },
  // An endpoint osha does not manage (another region): left alone.
  { ID: '6b7c8d9e0f1a2b3c4d5e6f708192a3b4', Region: 'RegionTwo', 'Service Name': 'glance', 'Service Type': 'image', Enabled: true, Interface: 'public', URL: 'http://198.18.1.5:9292' },
];

function rows(json: unknown): EndpointRow[] {
  const r = parseEndpointList(json);
  if (!r.ok) throw new Error(r.error.message);
  return r.value;
}

const inv = labInventory({ services: ['keystone', 'glance-api'] });

/** Applies operations to a catalog the way keystone would, to check the end state. */
function simulate(current: EndpointRow[], ops: EndpointOp[]): EndpointRow[] {
  let out = current.map((r) => ({ ...r }));
  let n = 0;
  for (const op of ops) {
    if (op.kind === 'create') out.push({ id: `new${n++}`, region: op.region, serviceName: '', serviceType: op.serviceType, enabled: true, interface: op.interface, url: op.url });
    if (op.kind === 'update') out = out.map((r) => (r.id === op.id ? { ...r, url: op.url, enabled: true } : r));
    if (op.kind === 'delete') out = out.filter((r) => r.id !== op.id);
  }
  return out;
}

describe('keystone endpoints on the VIP', () => {
  it('wants public, internal and admin endpoints for each listed API service', () => {
    const d = desiredEndpoints(inv);
    expect(d.map((e) => `${e.serviceType} ${e.interface} ${e.region} ${e.url}`)).to.deep.equal([
      `identity public RegionOne http://${VIP}:5000/v3`,
      `identity internal RegionOne http://${VIP}:5000/v3`,
      `identity admin RegionOne http://${VIP}:5000/v3`,
      `image public RegionOne http://${VIP}:9292`,
      `image internal RegionOne http://${VIP}:9292`,
      `image admin RegionOne http://${VIP}:9292`,
    ]);
    const pub = desiredEndpoints(labInventory({ services: ['glance-api'], public_vip: { address: PUBLIC_VIP, cidr_netmask: 24 } }));
    expect(pub.find((e) => e.interface === 'public')!.url).to.equal(`http://${PUBLIC_VIP}:9292`);
    expect(pub.find((e) => e.interface === 'internal')!.url).to.equal(`http://${VIP}:9292`);
  });

  it('updates in place (keeping the path), creates what is missing, deletes duplicates', () => {
    const current = rows(SINGLE_NODE);
    const ops = planEndpoints(current, desiredEndpoints(inv));
    expect(ops.map(describeEndpointOp)).to.deep.equal([
      `~ endpoint identity public (RegionOne) 0b1f3c6e2a9d4e0f8a1b2c3d4e5f6071: http://198.18.0.11:5000/v3/ -> http://${VIP}:5000/v3/`,
      `~ endpoint identity internal (RegionOne) 1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f: http://198.18.0.11:5000/v3/ -> http://${VIP}:5000/v3/`,
      `~ endpoint identity admin (RegionOne) 2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f70: http://198.18.0.11:5000/v3/ -> http://${VIP}:5000/v3/`,
      `~ endpoint image public (RegionOne) 3e4f5a6b7c8d9e0f1a2b3c4d5e6f7081: http://198.18.0.11:9292 -> http://${VIP}:9292`,
      `~ endpoint image internal (RegionOne) 4f5a6b7c8d9e0f1a2b3c4d5e6f708192: http://198.18.0.11:9292 -> http://${VIP}:9292`,
      `+ endpoint image admin (RegionOne): http://${VIP}:9292`,
      `- endpoint image internal (RegionOne) 5a6b7c8d9e0f1a2b3c4d5e6f708192a3: http://198.18.0.12:9292 (duplicate)`,
    ]);
    const after = simulate(current, ops);
    for (const d of desiredEndpoints(inv)) {
      const matching = after.filter((r) => r.serviceType === d.serviceType && r.interface === d.interface && r.region === d.region);
      expect(matching, `${d.serviceType} ${d.interface}`).to.have.length(1);
      expect(matching[0]!.url.startsWith(`http://${VIP}:`)).to.equal(true);
    }
    expect(after.find((r) => r.region === 'RegionTwo')!.url).to.equal('http://198.18.1.5:9292');
    // Converged: planning again changes nothing.
    expect(planEndpoints(after, desiredEndpoints(inv))).to.deep.equal([]);
  });

  it('keeps the duplicate that is already right, and re-enables a disabled endpoint', () => {
    const want: DesiredEndpoint[] = [{ serviceType: 'image', interface: 'internal', region: 'RegionOne', url: `http://${VIP}:9292` }];
    const current = rows([
      { ID: 'a', Region: 'RegionOne', 'Service Name': 'glance', 'Service Type': 'image', Enabled: true, Interface: 'internal', URL: 'http://198.18.0.11:9292' },
      { ID: 'b', Region: 'RegionOne', 'Service Name': 'glance', 'Service Type': 'image', Enabled: true, Interface: 'internal', URL: `http://${VIP}:9292` },
    ]);
    expect(planEndpoints(current, want).map((o) => `${o.kind} ${'id' in o ? o.id : ''}`)).to.deep.equal(['delete a']);
    const disabled = rows([{ ID: 'c', Region: 'RegionOne', 'Service Name': 'glance', 'Service Type': 'image', Enabled: false, Interface: 'internal', URL: `http://${VIP}:9292` }]);
    const ops = planEndpoints(disabled, want);
    expect(ops).to.have.length(1);
    expect(endpointArgv(ops[0]!)).to.deep.equal(['openstack', 'endpoint', 'set', '--url', `http://${VIP}:9292`, '--enable', 'c']);
  });

  it('builds client commands as argv, without credentials', () => {
    const create = planEndpoints([], [{ serviceType: 'image', interface: 'admin', region: 'RegionOne', url: `http://${VIP}:9292` }]);
    expect(endpointArgv(create[0]!)).to.deep.equal(['openstack', 'endpoint', 'create', '--region', 'RegionOne', '--enable', 'image', 'admin', `http://${VIP}:9292`]);
    expect(endpointArgv({ kind: 'delete', id: 'x', serviceType: 'image', interface: 'admin', region: null, url: 'u' })).to.deep.equal(['openstack', 'endpoint', 'delete', 'x']);
  });

  it('rejects output that is not an endpoint list', () => {
    expect(parseEndpointList({ endpoints: [] }).ok).to.equal(false);
    const bad = parseEndpointList([{ ID: 'x', URL: 'u', 'Service Type': 'image', Interface: 'sideways' }]);
    expect(!bad.ok && bad.error.message).to.contain('unknown interface sideways');
    const missing = parseEndpointList([{ URL: 'u' }]);
    expect(!missing.ok && missing.error.message).to.contain('lacks ID, URL or Service Type');
    // A region-less endpoint (Region null) parses and matches no region-scoped desire.
    const noRegion = rows([{ ID: 'n', Region: null, 'Service Name': 'glance', 'Service Type': 'image', Enabled: true, Interface: 'public', URL: 'http://x:9292' }]);
    expect(noRegion[0]!.region).to.equal(null);
  });

  it('warns when the catalog uses another region name than the inventory', () => {
    const lower = rows(SINGLE_NODE.slice(0, 3).map((r) => ({ ...r, Region: 'regionOne' })));
    expect(regionMismatches(lower, desiredEndpoints(inv))).to.deep.equal([
      'identity endpoints exist only in region regionOne, not in RegionOne; set openstack.region in the inventory if that is the same region',
    ]);
    expect(regionMismatches(rows(SINGLE_NODE), desiredEndpoints(inv))).to.deep.equal([]);
  });
});
