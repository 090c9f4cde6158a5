// Keystone catalog endpoints on the VIP: from keystone's endpoint and service lists and the
// endpoints wanted, the create/update/delete operations that leave each (service type,
// interface, region) exactly once, pointing at the VIP. Pure; the deploy step reads the lists and
// runs the operations through keystone's REST API from a node (src/openstack/keystone-api.ts).
import type { Inventory, ServiceName } from '../inventory/schema.ts';
import { err, ok, oshaError, type Result } from '../util/result.ts';
import { registryEntries } from '../services/registry.ts';
import { hostForUrl, parseServiceUrl } from './url.ts';

export const INTERFACES = ['public', 'internal', 'admin'] as const;
export type EndpointInterface = (typeof INTERFACES)[number];

/** One catalog endpoint, with its service's type and name. */
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

/** A keystone document's member, when it is a non-empty string. */
function text(o: Record<string, unknown>, name: string): string | undefined {
  const v = o[name];
  return typeof v === 'string' && v !== '' ? v : undefined;
}

function objects(doc: Record<string, unknown>, key: string): Record<string, unknown>[] | undefined {
  const list = doc[key];
  return Array.isArray(list) && list.every((x) => typeof x === 'object' && x !== null) ? (list as Record<string, unknown>[]) : undefined;
}

export interface Catalog {
  endpoints: EndpointRow[];
  /** Service id by type (the first service of a type), for endpoints to create. */
  serviceIds: Map<string, string>;
}

/**
 * Checks and converts keystone's GET /v3/endpoints and /v3/services answers, printed together as
 * {"endpoints": [...], "services": [...]}: each endpoint gets its service's type and name.
 */
export function parseCatalog(json: unknown): Result<Catalog> {
  if (typeof json !== 'object' || json === null) return err(oshaError('the keystone catalog answer is not a JSON object'));
  const doc = json as Record<string, unknown>;
  const endpoints = objects(doc, 'endpoints');
  const services = objects(doc, 'services');
  if (!endpoints || !services) return err(oshaError('the keystone catalog answer lacks an endpoints or services list'));
  const byId = new Map(services.map((s) => [text(s, 'id'), s]));
  const rows: EndpointRow[] = [];
  for (const [i, e] of endpoints.entries()) {
    const id = text(e, 'id');
    const url = text(e, 'url');
    const service = byId.get(text(e, 'service_id'));
    const type = service ? text(service, 'type') : undefined;
    if (!id || !url) return err(oshaError(`endpoint ${i} lacks id or url`));
    if (!service || !type) return err(oshaError(`endpoint ${id} names service ${String(e.service_id)}, which is not in the service list`));
    if (!(INTERFACES as readonly unknown[]).includes(e.interface)) return err(oshaError(`endpoint ${id} has unknown interface ${String(e.interface)}`));
    // region_id since keystone's v3; region is the older name of the same field.
    const region = e.region_id ?? e.region ?? null;
    if (region !== null && typeof region !== 'string') return err(oshaError(`endpoint ${id} has a malformed region_id`));
    rows.push({ id, url, serviceType: type, serviceName: text(service, 'name') ?? '', interface: e.interface as EndpointInterface, region, enabled: e.enabled !== false });
  }
  const serviceIds = new Map<string, string>();
  for (const s of services) {
    const type = text(s, 'type');
    const id = text(s, 'id');
    if (type && id && !serviceIds.has(type)) serviceIds.set(type, id);
  }
  return ok({ endpoints: rows, serviceIds });
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
