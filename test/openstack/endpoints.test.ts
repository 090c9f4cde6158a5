// Endpoint planning on samples shaped like keystone's GET /v3/endpoints and /v3/services
// answers (id, interface, region_id, url, enabled, service_id; id, type, name), written for these tests.
import { expect } from 'chai';
import {
  describeEndpointOp,
  desiredEndpoints,
  parseCatalog,
  planEndpoints,
  regionMismatches,
  type DesiredEndpoint,
  type EndpointOp,
  type EndpointRow,
} from '../../src/openstack/endpoints.ts';
import { endpointCall, showCall, keystoneAuth } from '../../src/openstack/keystone-api.ts';
import { labInventory, PUBLIC_VIP, VIP } from './fixtures.ts';

const SERVICES = [
  { id: 'svc-identity', type: 'identity', name: 'keystone', enabled: true },
  { id: 'svc-image', type: 'image', name: 'glance', enabled: true },
];

/** The catalog of a single-node install: everything on node alice (198.18.0.11). */
const SINGLE_NODE = [
  { id: '0b1f3c6e2a9d4e0f8a1b2c3d4e5f6071', region_id: 'RegionOne', service_id: 'svc-identity', enabled: true, interface: 'public', url: 'http://198.18.0.11:5000/v3/' },
  { id: '1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f', region_id: 'RegionOne', service_id: 'svc-identity', enabled: true, interface: 'internal', url: 'http://198.18.0.11:5000/v3/' },
  { id: '2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f70', region_id: 'RegionOne', service_id: 'svc-identity', enabled: true, interface: 'admin', url: 'http://198.18.0.11:5000/v3/' },
  { id: '3e4f5a6b7c8d9e0f1a2b3c4d5e6f7081', region_id: 'RegionOne', service_id: 'svc-image', enabled: true, interface: 'public', url: 'http://198.18.0.11:9292' },
  // Someone ran the article's commands twice: a duplicate internal image endpoint.
  { id: '4f5a6b7c8d9e0f1a2b3c4d5e6f708192', region_id: 'RegionOne', service_id: 'svc-image', enabled: true, interface: 'internal', url: 'http://198.18.0.11:9292' },
  { id: '5a6b7c8d9e0f1a2b3c4d5e6f708192a3', region_id: 'RegionOne', service_id: 'svc-image', enabled: true, interface: 'internal', url: 'http://198.18.0.12:9292' },
  // An endpoint osha does not manage (another region): left alone.
  { id: '6b7c8d9e0f1a2b3c4d5e6f708192a3b4', region_id: 'RegionTwo', service_id: 'svc-image', enabled: true, interface: 'public', url: 'http://198.18.1.5:9292' },
];

function rows(endpoints: unknown[]): EndpointRow[] {
  const r = parseCatalog({ endpoints, services: SERVICES });
  if (!r.ok) throw new Error(r.error.message);
  return r.value.endpoints;
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
      { id: 'a', region_id: 'RegionOne', service_id: 'svc-image', enabled: true, interface: 'internal', url: 'http://198.18.0.11:9292' },
      { id: 'b', region_id: 'RegionOne', service_id: 'svc-image', enabled: true, interface: 'internal', url: `http://${VIP}:9292` },
    ]);
    expect(planEndpoints(current, want).map((o) => `${o.kind} ${'id' in o ? o.id : ''}`)).to.deep.equal(['delete a']);
    const disabled = rows([{ id: 'c', region_id: 'RegionOne', service_id: 'svc-image', enabled: false, interface: 'internal', url: `http://${VIP}:9292` }]);
    const ops = planEndpoints(disabled, want);
    expect(ops).to.have.length(1);
    const ids = new Map([['image', 'svc-image']]);
    const set = endpointCall(ops[0]!, ids);
    expect(set.ok && set.value).to.deep.equal({ method: 'PATCH', path: '/endpoints/c', body: { endpoint: { url: `http://${VIP}:9292`, enabled: true } }, label: describeEndpointOp(ops[0]!) });
  });

  it('turns operations into REST calls on /endpoints, without credentials', () => {
    const ids = new Map([['image', 'svc-image']]);
    const create = planEndpoints([], [{ serviceType: 'image', interface: 'admin', region: 'RegionOne', url: `http://${VIP}:9292` }]);
    const post = endpointCall(create[0]!, ids);
    expect(post.ok && post.value.body).to.deep.equal({ endpoint: { service_id: 'svc-image', interface: 'admin', region_id: 'RegionOne', url: `http://${VIP}:9292`, enabled: true } });
    const del = endpointCall({ kind: 'delete', id: 'x/y', serviceType: 'image', interface: 'admin', region: null, url: 'u' }, ids);
    const auth = keystoneAuth(labInventory({ services: ['keystone'], openstack: { password: { env: 'OS_PASSWORD' } } }), '/etc/osha/openstack-password');
    expect(auth).to.deep.equal({ url: `http://${VIP}:5000/v3`, username: 'admin', project: 'admin', user_domain: 'Default', project_domain: 'Default', password_file: '/etc/osha/openstack-password' });
    expect(del.ok && showCall(auth, del.value)).to.equal(`DELETE http://${VIP}:5000/v3/endpoints/x%2Fy`);
    // keystone cannot hold an endpoint of a service it does not know: say so before any call.
    const missing = endpointCall(create[0]!, new Map());
    expect(!missing.ok && missing.error.message).to.contain('no image service in the keystone catalog: it must exist');
  });

  it('rejects answers that are not keystone endpoint and service lists', () => {
    expect(parseCatalog([]).ok).to.equal(false);
    expect(parseCatalog({ endpoints: [] }).ok).to.equal(false);
    const bad = parseCatalog({ endpoints: [{ id: 'x', url: 'u', service_id: 'svc-image', interface: 'sideways' }], services: SERVICES });
    expect(!bad.ok && bad.error.message).to.contain('unknown interface sideways');
    const missing = parseCatalog({ endpoints: [{ url: 'u' }], services: SERVICES });
    expect(!missing.ok && missing.error.message).to.contain('lacks id or url');
    const orphan = parseCatalog({ endpoints: [{ id: 'o', url: 'u', service_id: 'gone', interface: 'public' }], services: SERVICES });
    expect(!orphan.ok && orphan.error.message).to.contain('names service gone, which is not in the service list');
    // A region-less endpoint (region_id null) parses and matches no region-scoped desire; the
    // older "region" field counts when region_id is absent.
    const noRegion = rows([{ id: 'n', region_id: null, service_id: 'svc-image', enabled: true, interface: 'public', url: 'http://x:9292' }]);
    expect(noRegion[0]!.region).to.equal(null);
    const old = rows([{ id: 'n', region: 'RegionOne', service_id: 'svc-image', interface: 'public', url: 'http://x:9292' }]);
    expect(old[0]).to.deep.include({ region: 'RegionOne', serviceType: 'image', serviceName: 'glance', enabled: true });
    const cat = parseCatalog({ endpoints: [], services: SERVICES });
    expect(cat.ok && [...cat.value.serviceIds]).to.deep.equal([['identity', 'svc-identity'], ['image', 'svc-image']]);
  });

  it('warns when the catalog uses another region name than the inventory', () => {
    const lower = rows(SINGLE_NODE.slice(0, 3).map((r) => ({ ...r, region_id: 'regionOne' })));
    expect(regionMismatches(lower, desiredEndpoints(inv))).to.deep.equal([
      'identity endpoints exist only in region regionOne, not in RegionOne; set openstack.region in the inventory if that is the same region',
    ]);
    expect(regionMismatches(rows(SINGLE_NODE), desiredEndpoints(inv))).to.deep.equal([]);
  });
});
