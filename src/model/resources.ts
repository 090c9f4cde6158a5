// The Pacemaker resource model: what osha wants in the CIB, as plain typed data.
// Renderers turn it into CIB XML (src/render/cib.ts) or crm shell text (src/render/crmsh.ts); the merge
// into a live CIB is src/cluster/merge.ts.
//
// Ownership: every object osha writes has an id that starts with OSHA_PREFIX ("osha-"), and so
// does every id nested in it (operations, attribute sets, nvpairs). We chose a prefix over a
// Pacemaker <tag>: ownership is then readable from any id alone (in crm_mon, in a patch, in a
// log), survives hand edits with crm or pcs, and needs no second object that could drift from
// the objects it lists. Anything in the CIB without the prefix is foreign and left untouched.

export const OSHA_PREFIX = 'osha-';

export function isOshaId(id: string | null | undefined): boolean {
  return typeof id === 'string' && id.startsWith(OSHA_PREFIX);
}

/** A resource agent, e.g. ocf:heartbeat:IPaddr2 or systemd:haproxy. */
export interface Agent {
  class: string;
  provider?: string;
  type: string;
}

export type OpName = 'start' | 'stop' | 'monitor' | 'promote' | 'demote';

/** The role of a promotable clone's instance (Pacemaker 2.1+ names; crmsh 5 has no others). */
export type Role = 'Promoted' | 'Unpromoted';

/** Active/passive groups, in the order Pacemaker starts them (Listing 2, lines 28-33). */
export const GROUP_KEYS = ['basic', 'keystone', 'neutron', 'glance', 'nova', 'cinder', 'heat'] as const;
export type GroupKey = (typeof GROUP_KEYS)[number];

export type Timing = { interval: string; timeout: string };
export type OpTimings = Record<'start' | 'stop' | 'monitor', Timing>;

export interface Operation {
  name: OpName;
  /** A Pacemaker duration ("30s"); "0s" for start and stop. */
  interval: string;
  timeout: string;
  /** OCF_CHECK_LEVEL for a monitor: 0 cheap (process), 10 HTTP, 20 deep (token). */
  depth?: number;
  /** A monitor that runs only on instances in this role (a promotable clone's). */
  role?: Role;
  /** What Pacemaker does when this operation fails (e.g. block: wait for a human). */
  onFail?: string;
}

/** Name/value pairs in the order they are rendered. */
export type Attributes = [name: string, value: string][];

export interface Primitive {
  kind: 'primitive';
  id: string;
  agent: Agent;
  params: Attributes;
  meta: Attributes;
  ops: Operation[];
  /** Which inventory entry produced it: a service, vip, public-vip, a filesystem or a user primitive. */
  origin: string;
}

export interface Group {
  kind: 'group';
  id: string;
  members: Primitive[];
  /** The group's own meta attributes (priority), beside its members' own. */
  meta?: Attributes;
}

export interface Clone {
  kind: 'clone';
  id: string;
  child: Primitive | Group;
  meta: Attributes;
}

export type Resource = Primitive | Group | Clone;

/** "INFINITY", "-INFINITY" or an integer as text. */
export type Score = string;

export interface Colocation {
  kind: 'colocation';
  id: string;
  /** Placed relative to `withRsc`. */
  rsc: string;
  withRsc: string;
  score: Score;
}

export interface Order {
  kind: 'order';
  id: string;
  first: string;
  then: string;
  /** Mandatory (the articles' `inf:`) or Optional (`0:`, only ordering when both start together). */
  mandatory: boolean;
  /** The action of `first` that `then` waits for: start (the default) or promote. */
  firstAction?: 'start' | 'promote';
  /** false: only the starts are ordered, not the stops in reverse (Pacemaker's default is true). */
  symmetrical?: false;
}

export interface Location {
  kind: 'location';
  id: string;
  rsc: string;
  node: string;
  score: Score;
}

export type Constraint = Colocation | Order | Location;

/**
 * A cluster option osha sets from the inventory. `fencing` is written as stonith-enabled or, on
 * Pacemaker 3.0.2 and later, fencing-enabled (the new name; the old one stays an alias).
 */
export interface ClusterOption {
  name: 'fencing' | 'no-quorum-policy' | 'priority-fencing-delay';
  value: string;
  /** Why this value, for the plan. */
  why?: string;
}

export interface ResourceModel {
  /** Top-level resources in start order. */
  resources: Resource[];
  constraints: Constraint[];
  options: ClusterOption[];
  /** Things an operator should know about this configuration (e.g. no shared storage for MySQL). */
  warnings: string[];
  /** Foreign top-level resources the inventory hands over to osha: deleted, with the constraints naming them. */
  replaceForeign?: string[];
}

/** Every primitive in the model, groups and clones opened. */
export function primitivesOf(resources: Resource[]): Primitive[] {
  return resources.flatMap((r) => (r.kind === 'primitive' ? [r] : r.kind === 'group' ? r.members : primitivesOf([r.child])));
}

/** Every id a resource defines at the top of <resources> or inside it (children included). */
export function resourceIds(r: Resource): string[] {
  if (r.kind === 'primitive') return [r.id];
  if (r.kind === 'group') return [r.id, ...r.members.map((m) => m.id)];
  return [r.id, ...resourceIds(r.child)];
}

/** The top-level resource that defines this id (itself, or the group or clone holding it). */
export function topLevelOf(model: Pick<ResourceModel, 'resources'>, id: string): Resource | undefined {
  return model.resources.find((r) => resourceIds(r).includes(id));
}

const TARGET_ROLE_STOPPED: [string, string] = ['target-role', 'Stopped'];

/** The model with target-role=Stopped on each of these top-level resources: configured, not started. */
export function holdingStopped(model: ResourceModel, ids: readonly string[]): ResourceModel {
  const held = (r: Resource): Resource => (ids.includes(r.id) ? { ...r, meta: [...(r.meta ?? []).filter(([k]) => k !== 'target-role'), TARGET_ROLE_STOPPED] } : r);
  return { ...model, resources: model.resources.map(held) };
}

/**
 * The primitives the model itself keeps from starting: those under a resource whose target-role is
 * Stopped, and those a mandatory order puts after one of them (Pacemaker starts nothing after a
 * stopped resource). A wait for the model's resources to start leaves them out.
 */
export function heldByModel(model: Pick<ResourceModel, 'resources' | 'constraints'>): Set<string> {
  const byId = new Map<string, Resource>();
  const visit = (r: Resource) => {
    byId.set(r.id, r);
    if (r.kind === 'group') r.members.forEach(visit);
    if (r.kind === 'clone') visit(r.child);
  };
  model.resources.forEach(visit);
  const held = new Set<string>();
  const hold = (r: Resource) => resourceIds(r).forEach((id) => held.add(id));
  for (const r of byId.values()) if (r.meta?.some(([k, v]) => k === 'target-role' && v.toLowerCase() === 'stopped')) hold(r);
  for (let grew = held.size > 0; grew; ) {
    grew = false;
    for (const c of model.constraints) {
      if (c.kind !== 'order' || !c.mandatory || !held.has(c.first) || held.has(c.then)) continue;
      const then = byId.get(c.then);
      if (then) hold(then);
      else held.add(c.then);
      grew = true;
    }
  }
  return new Set(primitivesOf(model.resources).filter((p) => held.has(p.id)).map((p) => p.id));
}
