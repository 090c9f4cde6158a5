// Hand-made resources that already do one of osha's jobs: a VIP on the same address, a
// primitive for the same service (the articles' p_keystone, p_IP, FloatingIP, ...). osha never
// creates a second resource that would fight one of these: the inventory says, per object, to
// keep it (osha leaves it alone and builds its own constraints around it) or to replace it (one
// announced, disruptive swap for osha's own). Pure: CIB XML and inventory in, findings out.
import { DOMParser, type Element } from '@xmldom/xmldom';
import { children, child } from '../util/dom.ts';
import { isOshaId, OSHA_PREFIX } from '../model/resources.ts';
import { SERVICE_SPECS } from './catalog.ts';
import { canonicalService, type ServiceName } from '../inventory/services.ts';
import type { Inventory, Topology } from '../inventory/schema.ts';
import { GALERA_CLONE_ID, HAPROXY_CLONE_ID, type Adoption } from './build.ts';
import { err, ok, type Result } from '../util/result.ts';

/** A primitive osha did not make, with where it sits in the CIB. */
export interface ForeignPrimitive {
  id: string;
  agent: string;
  /** Its instance attributes (name → value). */
  params: Map<string, string>;
  /** The top-level resource holding it (itself, or its group/clone). */
  top: string;
}

/** What an osha object is called in the inventory: vip, public-vip or a service name. */
export type OshaRole = 'vip' | 'public-vip' | 'fencing' | ServiceName;
/** The jobs a hand-made resource can fight osha's own over. */
export type ContestedRole = Exclude<OshaRole, 'fencing'>;

export interface Overlap {
  role: ContestedRole;
  foreign: ForeignPrimitive;
  /** How it was recognised, for the plan. */
  why: string;
}

/** Every primitive in the CIB's resources that osha does not own, top-level ones and members. */
export function foreignPrimitives(cibXml: string): ForeignPrimitive[] {
  const doc = new DOMParser({ onError: () => undefined }).parseFromString(cibXml, 'text/xml');
  const resources = child(child(doc.documentElement ?? undefined, 'configuration'), 'resources');
  const out: ForeignPrimitive[] = [];
  const visit = (e: Element, top: string) => {
    if (e.nodeName === 'primitive') {
      const id = e.getAttribute('id') ?? '';
      if (isOshaId(id)) return;
      const params = new Map<string, string>();
      for (const set of children(e).filter((c) => c.nodeName === 'instance_attributes')) {
        for (const nv of children(set)) if (nv.nodeName === 'nvpair') params.set(nv.getAttribute('name') ?? '', nv.getAttribute('value') ?? '');
      }
      const cls = e.getAttribute('class') ?? '';
      const provider = e.getAttribute('provider');
      out.push({ id, agent: `${cls}:${provider ? `${provider}:` : ''}${e.getAttribute('type') ?? ''}`, params, top });
      return;
    }
    for (const c of children(e)) visit(c, top);
  };
  for (const r of children(resources)) {
    const id = r.getAttribute('id') ?? '';
    if (!isOshaId(id)) visit(r, id);
  }
  return out;
}

const VIP_AGENTS = new Set(['ocf:heartbeat:IPaddr2', 'ocf:heartbeat:IPaddr']);

function agentOf(service: ServiceName): string {
  const a = SERVICE_SPECS[service].agent;
  return `${a.class}:${a.provider ? `${a.provider}:` : ''}${a.type}`;
}

/** The articles name a service's primitive p_<name> (Listing 2) with old names too (p_quantum-server). */
function serviceFromArticleId(id: string): ServiceName | undefined {
  const m = /^p_(.+)$/.exec(id);
  return m ? canonicalService(m[1]!) : undefined;
}

/** The roles osha would fill, and the hand-made primitives that already fill one of them. */
export function findOverlaps(inv: Pick<Inventory, 'vip' | 'public_vip' | 'services'>, foreign: readonly ForeignPrimitive[]): Overlap[] {
  const out: Overlap[] = [];
  for (const f of foreign) {
    if (VIP_AGENTS.has(f.agent)) {
      const ip = f.params.get('ip');
      if (ip === inv.vip.address) out.push({ role: 'vip', foreign: f, why: `${f.agent} on the VIP ${ip}` });
      else if (inv.public_vip && ip === inv.public_vip.address) out.push({ role: 'public-vip', foreign: f, why: `${f.agent} on the public VIP ${ip}` });
      continue;
    }
    for (const s of inv.services) {
      if (f.agent === agentOf(s)) {
        out.push({ role: s, foreign: f, why: `same agent as osha's ${s} (${f.agent})` });
        break;
      }
      if (serviceFromArticleId(f.id) === s) {
        out.push({ role: s, foreign: f, why: `the articles' id for ${s} (${f.agent})` });
        break;
      }
    }
  }
  return out;
}

export type ExistingAction = 'keep' | 'replace';

export interface ExistingDecision {
  id: string;
  as: OshaRole;
  action: ExistingAction;
}

/** Overlaps the inventory does not decide: each would mean two resources fighting over one job. */
export function undecided(overlaps: readonly Overlap[], decisions: readonly ExistingDecision[]): Overlap[] {
  return overlaps.filter((o) => !decisions.some((d) => d.id === o.foreign.id));
}

/** The message for an overlap the inventory leaves open: what was found and the two choices. */
export function overlapProblem(o: Overlap): { message: string; fix: string } {
  const where = o.foreign.top !== o.foreign.id ? ` (in ${o.foreign.top})` : '';
  return {
    message: `the cluster already has ${o.foreign.id}${where}, ${o.why}: osha's own ${o.role} would fight it`,
    fix: `say what to do with it in the inventory under resources.existing: {id: ${o.foreign.id}, as: ${o.role}, action: keep} leaves it alone and builds around it; action: replace swaps it for osha's own (disruptive, confirmed first)`,
  };
}

/**
 * What the inventory's resources.existing means against the live CIB: the Adoption the model is
 * built with. Fails on an overlap the inventory leaves open, an entry naming no resource, or a
 * replace of a resource that shares its group with others (osha would have to edit that group).
 */
export function adoptionFrom(inv: Pick<Inventory, 'vip' | 'public_vip' | 'services' | 'resources'>, cibXml: string | undefined): Result<{ adoption: Adoption; found: Overlap[] }> {
  const none = { kept: new Map<string, string>(), replaced: [] as string[] };
  if (cibXml === undefined) return ok({ adoption: none, found: [] });
  const foreign = foreignPrimitives(cibXml);
  const found = findOverlaps(inv, foreign);
  const decisions: ExistingDecision[] = inv.resources.existing.map((e) => ({ id: e.id, as: (e.as === 'vip' || e.as === 'public-vip' || e.as === 'fencing' ? e.as : canonicalService(e.as)) as OshaRole, action: e.action }));
  const open = undecided(found, decisions);
  if (open.length > 0) {
    const problems = open.map(overlapProblem);
    return err({ message: problems.map((p) => p.message).join('; '), fix: problems.map((p) => p.fix).join('; ') });
  }
  const adoption = none;
  for (const [i, d] of decisions.entries()) {
    const f = foreign.find((x) => x.id === d.id);
    // A replace that is done already (an earlier run swapped it): nothing left to do.
    if (!f && d.action === 'replace') continue;
    if (!f) {
      return err({ message: `resources.existing[${i}] names ${d.id}, but the running cluster has no such resource (foreign primitives: ${foreign.map((x) => x.id).join(', ') || 'none'})`, fix: `correct the id, or remove the entry` });
    }
    if (d.as === 'fencing') {
      if (!f.agent.startsWith('stonith:')) return err({ message: `resources.existing[${i}] keeps ${d.id} as fencing, but it is ${f.agent}, not a fence device`, fix: 'list only stonith resources with as: fencing' });
      continue;
    }
    if (d.action === 'keep') {
      adoption.kept.set(d.as, f.top);
      continue;
    }
    const together = foreign.filter((x) => x.top === f.top).map((x) => x.id);
    if (together.length > 1) {
      return err({ message: `resources.existing[${i}] replaces ${d.id}, but it shares ${f.top} with ${together.filter((x) => x !== d.id).join(', ')}`, fix: `replace or keep them together: keep ${d.id} (action: keep), or take ${f.top} apart by hand first` });
    }
    adoption.replaced.push(f.top);
  }
  return ok({ adoption, found });
}

/**
 * The topology osha's own objects in a CIB were built for: its active-active clones (Galera,
 * HAProxy) or its classic groups. Undefined when osha made neither yet (a VIP alone fits both).
 */
export function oshaTopologyOf(cibXml: string): Topology | undefined {
  const doc = new DOMParser({ onError: () => undefined }).parseFromString(cibXml, 'text/xml');
  const resources = child(child(doc.documentElement ?? undefined, 'configuration'), 'resources');
  const ids = children(resources).map((r) => r.getAttribute('id') ?? '').filter((id) => isOshaId(id));
  if (ids.some((id) => ACTIVE_ACTIVE_MARKERS.includes(id))) return 'active-active';
  if (ids.some((id) => id.startsWith(`${OSHA_PREFIX}g-`))) return 'classic';
  return undefined;
}

const ACTIVE_ACTIVE_MARKERS = [GALERA_CLONE_ID, HAPROXY_CLONE_ID];

/**
 * A running cluster is never converted from one topology to the other in place: the data moves
 * (shared storage against a copy per node) and every service changes how it runs, so a run cut
 * short would leave half of each. The refusal says how to do it in whole steps.
 */
export function topologySwitchProblem(inv: Pick<Inventory, 'topology'>, cibXml: string): { message: string; fix: string } | undefined {
  const running = oshaTopologyOf(cibXml);
  if (running === undefined || running === inv.topology) return undefined;
  return {
    message: `this cluster runs osha's ${running} topology and the inventory says topology: ${inv.topology}; osha does not convert a running cluster in place (a run cut short would leave it half converted)`,
    fix:
      inv.topology === 'active-active'
        ? 'to switch: deploy once with topology: classic and services: [] (osha stops and removes its service resources, after asking), put MariaDB\'s data into /var/lib/mysql on one node if it was on shared storage, then deploy with topology: active-active; or set topology: classic to keep the cluster as it is'
        : 'to switch: deploy once with topology: active-active and services: [] (osha stops and removes its service resources, after asking), then deploy with topology: classic; or set topology: active-active to keep the cluster as it is',
  };
}
