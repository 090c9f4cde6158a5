// Keystone catalog endpoints on the VIP: from the parsed output of `openstack endpoint list
// -f json` and the endpoints wanted, the create/update/delete operations that leave each
// (service type, interface, region) exactly once, pointing at the VIP. Pure; the deploy step
// runs the operations with the OpenStack client inside a node (credentials from the
// environment or a 0600 clouds.yaml, never on the command line).
import type { Inventory, ServiceName } from '../inventory/schema.ts';
import { err, ok, oshaError, type Result } from '../util/result.ts';
import { registryEntries } from '../services/registry.ts';
import { hostForUrl, parseServiceUrl } from './url.ts';

export const INTERFACES = ['public', 'internal', 'admin'] as const;
export type EndpointInterface = (typeof INTERFACES)[number];

/** One row of `openstack endpoint list -f json`. */
export interface EndpointRow {
  id: string;
  region: string | null;
  serviceName: string;
  serviceType: string;
  enabled: boolean;
  interface: EndpointInterface;
  url: string;
}

export interface DesiredEndpoint {
  serviceType: string;
  interface: EndpointInterface;
  region: string;
  /** The URL to create; for an existing endpoint its path is kept and only scheme, host and port come from here. */
  url: string;
}

export type EndpointOp =
  | { kind: 'create'; serviceType: string; interface: EndpointInterface; region: string; url: string }
  | { kind: 'update'; id: string; serviceType: string; interface: EndpointInterface; region: string; from: string; url: string; enable: boolean }
  | { kind: 'delete'; id: string; serviceType: string; interface: EndpointInterface; region: string | null; url: string };

function field(row: Record<string, unknown>, name: string): unknown {
  return row[name];
}

/** Checks and converts the client's JSON (column names as the client prints them). */
export function parseEndpointList(json: unknown): Result<EndpointRow[]> {
  if (!Array.isArray(json)) return err(oshaError('openstack endpoint list did not return a JSON array'));
  const rows: EndpointRow[] = [];
  for (const [i, raw] of json.entries()) {
    if (typeof raw !== 'object' || raw === null) return err(oshaError(`endpoint list entry ${i} is not an object`));
    const r = raw as Record<string, unknown>;
    const id = field(r, 'ID');
    const url = field(r, 'URL');
    const type = field(r, 'Service Type');
    const iface = field(r, 'Interface');
    const region = field(r, 'Region');
    if (typeof id !== 'string' || typeof url !== 'string' || typeof type !== 'string') {
      return err(oshaError(`endpoint list entry ${i} lacks ID, URL or Service Type`, { fix: 'check that the OpenStack client prints endpoints with -f json' }));
    }
    if (!(INTERFACES as readonly unknown[]).includes(iface)) return err(oshaError(`endpoint ${id} has unknown interface ${String(iface)}`));
    if (region !== null && region !== undefined && typeof region !== 'string') return err(oshaError(`endpoint ${id} has a malformed Region`));
    const name = field(r, 'Service Name');
    rows.push({
      id,
      url,
      serviceType: type,
      serviceName: typeof name === 'string' ? name : '',
      interface: iface as EndpointInterface,
      region: (region as string | null | undefined) ?? null,
      enabled: field(r, 'Enabled') !== false,
    });
  }
  return ok(rows);
}

/** The desired URL with the existing endpoint's path and query (e.g. /v3/, /v2.1/%(tenant_id)s). */
function urlKeepingPath(existing: string, desired: string): string {
  const old = parseServiceUrl(existing);
  const want = parseServiceUrl(desired);
  if (!old || !want) return desired;
  const authority = desired.slice(0, desired.length - want.rest.length);
  return authority + old.rest;
}

function pickKeeper(rows: EndpointRow[], target: (r: EndpointRow) => string): EndpointRow {
  return (
    rows.find((r) => r.enabled && r.url === target(r)) ??
    rows.find((r) => r.url === target(r)) ??
    rows.find((r) => r.enabled) ??
    rows[0]!
  );
}

/**
 * Operations that make the catalog hold each desired (service type, interface, region) exactly
 * once, at the desired URL and enabled: update in place when one exists, create when none does,
 * delete the duplicates. Endpoints of other services, interfaces or regions are left alone.
 */
export function planEndpoints(current: readonly EndpointRow[], desired: readonly DesiredEndpoint[]): EndpointOp[] {
  const updates: EndpointOp[] = [];
  const creates: EndpointOp[] = [];
  const deletes: EndpointOp[] = [];
  const seen = new Set<string>();
  for (const d of desired) {
    const key = `${d.serviceType}\0${d.interface}\0${d.region}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const rows = current.filter((r) => r.serviceType === d.serviceType && r.interface === d.interface && r.region === d.region);
    if (rows.length === 0) {
      creates.push({ kind: 'create', serviceType: d.serviceType, interface: d.interface, region: d.region, url: d.url });
      continue;
    }
    const target = (r: EndpointRow) => urlKeepingPath(r.url, d.url);
    const keeper = pickKeeper(rows, target);
    const url = target(keeper);
    if (keeper.url !== url || !keeper.enabled) {
      updates.push({ kind: 'update', id: keeper.id, serviceType: d.serviceType, interface: d.interface, region: d.region, from: keeper.url, url, enable: !keeper.enabled });
    }
    for (const r of rows) {
      if (r !== keeper) deletes.push({ kind: 'delete', id: r.id, serviceType: r.serviceType, interface: r.interface, region: r.region, url: r.url });
    }
  }
  return [...updates, ...creates, ...deletes];
}

/**
 * Service types that have endpoints only in regions osha was not asked about: usually a region
 * name that differs from the inventory's (Debian's packaging uses "regionOne", the install
 * guides "RegionOne"). Planning would then add a second set instead of updating: say so.
 */
export function regionMismatches(current: readonly EndpointRow[], desired: readonly DesiredEndpoint[]): string[] {
  const out: string[] = [];
  const types = [...new Set(desired.map((d) => d.serviceType))];
  for (const type of types) {
    const wanted = new Set(desired.filter((d) => d.serviceType === type).map((d) => d.region));
    const rows = current.filter((r) => r.serviceType === type);
    const regions = [...new Set(rows.map((r) => r.region ?? '(none)'))];
    if (rows.length > 0 && !rows.some((r) => r.region !== null && wanted.has(r.region))) {
      out.push(`${type} endpoints exist only in region ${regions.join(', ')}, not in ${[...wanted].join(', ')}; set openstack.region in the inventory if that is the same region`);
    }
  }
  return out;
}

/** Catalog entries per cluster service: service type, port and path of a fresh endpoint (the registry's catalog). */
export const CATALOG: Partial<Record<ServiceName, { type: string; port: number; path: string }>> = Object.fromEntries(
  registryEntries().flatMap(([service, e]) => (e.catalog && e.port !== undefined ? [[service, { type: e.catalog.type, port: e.port, path: e.catalog.path }]] : [])),
);

/** The endpoints osha wants for the inventory: public on the public VIP (or the VIP), internal and admin on the VIP. */
export function desiredEndpoints(inv: Inventory): DesiredEndpoint[] {
  const region = inv.openstack?.region ?? 'RegionOne';
  const out: DesiredEndpoint[] = [];
  for (const s of inv.services) {
    const c = CATALOG[s];
    if (!c) continue;
    for (const iface of INTERFACES) {
      const host = iface === 'public' ? (inv.public_vip?.address ?? inv.vip.address) : inv.vip.address;
      out.push({ serviceType: c.type, interface: iface, region, url: `http://${hostForUrl(host)}:${c.port}${c.path}` });
    }
  }
  return out;
}

/** The OpenStack client command for one operation, as argv (no shell, no credentials). */
export function endpointArgv(op: EndpointOp): string[] {
  switch (op.kind) {
    case 'create':
      return ['openstack', 'endpoint', 'create', '--region', op.region, '--enable', op.serviceType, op.interface, op.url];
    case 'update':
      return ['openstack', 'endpoint', 'set', '--url', op.url, ...(op.enable ? ['--enable'] : []), op.id];
    case 'delete':
      return ['openstack', 'endpoint', 'delete', op.id];
  }
}

/** One plan line per operation, Terraform style. */
export function describeEndpointOp(op: EndpointOp): string {
  const what = `${op.serviceType} ${op.interface} (${op.region ?? 'no region'})`;
  switch (op.kind) {
    case 'create':
      return `+ endpoint ${what}: ${op.url}`;
    case 'update':
      return `~ endpoint ${what} ${op.id}: ${op.from} -> ${op.url}${op.enable ? ', enable' : ''}`;
    case 'delete':
      return `- endpoint ${what} ${op.id}: ${op.url} (duplicate)`;
  }
}
