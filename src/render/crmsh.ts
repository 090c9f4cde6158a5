// The resource model in crm shell syntax, the notation the articles type by hand (Listing 2).
// For people: `osha plan` shows it; osha itself applies XML (src/render/cib.ts), not this text.
import type { Attributes, ClusterOption, Constraint, Operation, Primitive, Resource, ResourceModel } from '../model/resources.ts';
import type { FencingName, ObjectChange } from './cib.ts';

const CONTINUE = ' \\\n    ';

/** The whole model as `crm configure` input: primitives, groups, clones, constraints, properties. */
export function renderCrmsh(model: ResourceModel, fencingName: FencingName = 'stonith-enabled'): string {
  const options = new Set(model.options.map((o) => optionId(o, fencingName)));
  const statements = crmshObjects(model, fencingName)
    .filter((o) => !options.has(o.id))
    .map((o) => o.text);
  // crmsh makes one cluster_property_set per `property` statement: all options go in one.
  if (model.options.length) statements.push(`property ${model.options.map((o) => `${o.name === 'fencing' ? fencingName : o.name}=${quote(o.value)}`).join(CONTINUE)}`);
  return statements.join('\n').concat('\n');
}

export interface CrmshObject {
  id: string;
  text: string;
}

/**
 * One crm statement per object, in the order `crm configure show` uses: primitives (group members
 * too), groups, clones, then location, colocation and order constraints, then properties.
 */
export function crmshObjects(model: ResourceModel, fencingName: FencingName = 'stonith-enabled'): CrmshObject[] {
  const primitives: CrmshObject[] = [];
  const containers: CrmshObject[] = [];
  const clones: CrmshObject[] = [];
  const visit = (r: Resource): void => {
    if (r.kind === 'primitive') primitives.push({ id: r.id, text: primitive(r) });
    else if (r.kind === 'group') {
      r.members.forEach(visit);
      containers.push({ id: r.id, text: `group ${r.id} ${r.members.map((m) => m.id).join(' ')}${attributes('meta', r.meta ?? [])}` });
    } else {
      visit(r.child);
      clones.push({ id: r.id, text: `clone ${r.id} ${r.child.id}${attributes('meta', r.meta)}` });
    }
  };
  model.resources.forEach(visit);
  const byKind = (kind: Constraint['kind']) => model.constraints.filter((c) => c.kind === kind).map((c) => ({ id: c.id, text: constraint(c) }));
  return [
    ...primitives,
    ...containers,
    ...clones,
    ...byKind('location'),
    ...byKind('colocation'),
    ...byKind('order'),
    ...model.options.map((o) => ({ id: optionId(o, fencingName), text: property(o, fencingName) })),
  ];
}

function primitive(p: Primitive): string {
  const agent = p.agent.provider ? `${p.agent.class}:${p.agent.provider}:${p.agent.type}` : `${p.agent.class}:${p.agent.type}`;
  const parts = [`primitive ${p.id} ${agent}`];
  if (p.params.length) parts.push(`params ${pairs(p.params)}`);
  if (p.meta.length) parts.push(`meta ${pairs(p.meta)}`);
  for (const op of p.ops) parts.push(operation(op));
  return parts.join(CONTINUE);
}

function operation(op: Operation): string {
  const extra: Attributes = [];
  if (op.role) extra.push(['role', op.role]);
  if (op.onFail) extra.push(['on-fail', op.onFail]);
  if (op.depth !== undefined) extra.push(['OCF_CHECK_LEVEL', String(op.depth)]);
  return `op ${op.name} ${pairs([['interval', op.interval], ['timeout', op.timeout], ...extra])}`;
}

function attributes(keyword: string, attrs: Attributes): string {
  return attrs.length ? `${CONTINUE}${keyword} ${pairs(attrs)}` : '';
}

function pairs(attrs: Attributes): string {
  return attrs.map(([k, v]) => `${k}=${quote(v)}`).join(' ');
}

/** crmsh reads double-quoted values with backslash escapes. */
function quote(v: string): string {
  return `"${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/** crmsh writes INFINITY as inf, as Listing 2 does. */
function score(s: string): string {
  if (s === 'INFINITY' || s === '+INFINITY') return 'inf';
  if (s === '-INFINITY') return '-inf';
  return s;
}

function constraint(c: Constraint): string {
  if (c.kind === 'location') return `location ${c.id} ${c.rsc} ${score(c.score)}: ${c.node}`;
  if (c.kind === 'colocation') return `colocation ${c.id} ${score(c.score)}: ${c.rsc} ${c.withRsc}`;
  return `order ${c.id} ${c.mandatory ? 'inf' : 'Optional'}: ${c.first}:${c.firstAction ?? 'start'} ${c.then}:start${c.symmetrical === false ? ' symmetrical=false' : ''}`;
}

/** The CIB id of osha's nvpair for an option (see src/render/cib.ts). */
function optionId(o: ClusterOption, fencingName: FencingName): string {
  return `osha-option-${o.name === 'fencing' ? fencingName : o.name}`;
}

function property(o: ClusterOption, fencingName: FencingName): string {
  const name = o.name === 'fencing' ? fencingName : o.name;
  return `property ${name}=${quote(o.value)}`;
}

/**
 * The configuration change in crm syntax, Terraform style: `+` objects added (with their
 * definition), `~` objects changed (new definition), `-` objects removed (id only).
 */
export function renderChange(model: ResourceModel, changes: ObjectChange[], fencingName: FencingName = 'stonith-enabled'): string {
  if (changes.length === 0) return 'no change to the Pacemaker configuration\n';
  const objects = crmshObjects(model, fencingName);
  const text = new Map(objects.map((o) => [o.id, o.text]));
  // A property's reason goes beside it in the plan (not into `crm configure` input).
  for (const o of model.options) if (o.why) text.set(optionId(o, fencingName), `${property(o, fencingName)}  # ${o.why}`);
  // Shown in `crm configure show` order (resources, constraints, properties); removals last.
  const rank = new Map(objects.map((o, i) => [o.id, i]));
  const containers = new Map<string, string[]>();
  const collect = (r: Resource): string[] => (r.kind === 'primitive' ? [r.id] : r.kind === 'group' ? r.members.map((m) => m.id) : collect(r.child));
  for (const r of model.resources) if (r.kind !== 'primitive') containers.set(r.id, collect(r));
  const sorted = [...changes].sort((a, b) => (rank.get(a.id) ?? Infinity) - (rank.get(b.id) ?? Infinity));
  const lines: string[] = [];
  for (const c of sorted) {
    if (c.change === 'remove') {
      lines.push(`- ${c.tag === 'nvpair' ? 'property' : c.tag} ${c.id}`);
      continue;
    }
    // An added group or clone brings its primitives, which are new too.
    const members = c.change === 'add' ? (containers.get(c.id) ?? []) : [];
    for (const id of [...members, c.id]) {
      const statement = text.get(id) ?? id;
      lines.push(`${c.change === 'add' ? '+' : '~'} ${statement.replace(/\n/g, '\n  ')}`);
    }
  }
  const count = (k: ObjectChange['change']) => changes.filter((c) => c.change === k).length;
  lines.push(`${count('add')} to add, ${count('change')} to change, ${count('remove')} to remove`);
  return lines.join('\n') + '\n';
}
