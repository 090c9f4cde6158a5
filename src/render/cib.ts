// The resource model as CIB XML: pure rendering, no merge or ownership rules (those are
// src/cluster/merge.ts, which merges this XML into a live CIB).
import { DOMParser, XMLSerializer, type Document, type Element } from '@xmldom/xmldom';
import { OSHA_PREFIX, type Attributes, type ClusterOption, type Constraint, type Operation, type Primitive, type Resource, type ResourceModel } from '../model/resources.ts';

export const BOOTSTRAP_SET = 'cib-bootstrap-options';

export type FencingName = 'stonith-enabled' | 'fencing-enabled';

/** One object osha adds, changes or removes, as the plan shows it. */
export interface ObjectChange {
  change: 'add' | 'change' | 'remove';
  id: string;
  /** primitive, group, clone, rsc_colocation, rsc_order, rsc_location or nvpair. */
  tag: string;
}

// --- model → XML ---

/** The model as a `<configuration>` fragment (crm_config options, resources, constraints). */
export function configurationXml(model: ResourceModel, fencingName: FencingName = 'stonith-enabled'): string {
  const doc = new DOMParser().parseFromString('<configuration/>', 'text/xml');
  const conf = doc.documentElement!;
  const crmConfig = add(doc, conf, 'crm_config');
  const set = add(doc, crmConfig, 'cluster_property_set', { id: BOOTSTRAP_SET });
  for (const o of model.options) set.appendChild(optionElement(doc, o, fencingName));
  const resources = add(doc, conf, 'resources');
  for (const r of model.resources) resources.appendChild(resourceElement(doc, r));
  const constraints = add(doc, conf, 'constraints');
  for (const c of model.constraints) constraints.appendChild(constraintElement(doc, c));
  return new XMLSerializer().serializeToString(doc);
}

export function add(doc: Document, parent: Element, name: string, attrs: Record<string, string> = {}): Element {
  const el = doc.createElement(name);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  parent.appendChild(el);
  return el;
}

export function resourceElement(doc: Document, r: Resource): Element {
  if (r.kind === 'primitive') return primitiveElement(doc, r);
  if (r.kind === 'group') {
    const g = doc.createElement('group');
    g.setAttribute('id', r.id);
    appendAttributes(doc, g, 'meta_attributes', `${r.id}-meta_attributes`, r.meta ?? []);
    for (const m of r.members) g.appendChild(primitiveElement(doc, m));
    return g;
  }
  const c = doc.createElement('clone');
  c.setAttribute('id', r.id);
  appendAttributes(doc, c, 'meta_attributes', `${r.id}-meta_attributes`, r.meta);
  c.appendChild(resourceElement(doc, r.child));
  return c;
}

function primitiveElement(doc: Document, p: Primitive): Element {
  const el = doc.createElement('primitive');
  el.setAttribute('id', p.id);
  el.setAttribute('class', p.agent.class);
  if (p.agent.provider) el.setAttribute('provider', p.agent.provider);
  el.setAttribute('type', p.agent.type);
  appendAttributes(doc, el, 'instance_attributes', `${p.id}-instance_attributes`, p.params);
  appendAttributes(doc, el, 'meta_attributes', `${p.id}-meta_attributes`, p.meta);
  const ops = add(doc, el, 'operations');
  for (const op of p.ops) ops.appendChild(operationElement(doc, p.id, op));
  return el;
}

function operationElement(doc: Document, owner: string, op: Operation): Element {
  // The id crmsh gives the same operation, so `crm configure edit` and osha agree.
  const id = `${owner}-${op.name}-${op.interval}`;
  const el = doc.createElement('op');
  el.setAttribute('id', id);
  el.setAttribute('name', op.name);
  el.setAttribute('interval', op.interval);
  el.setAttribute('timeout', op.timeout);
  if (op.role) el.setAttribute('role', op.role);
  if (op.onFail) el.setAttribute('on-fail', op.onFail);
  if (op.depth !== undefined) appendAttributes(doc, el, 'instance_attributes', `${id}-instance_attributes`, [['OCF_CHECK_LEVEL', String(op.depth)]]);
  return el;
}

function appendAttributes(doc: Document, parent: Element, tag: string, id: string, attrs: Attributes): void {
  if (attrs.length === 0) return;
  const set = add(doc, parent, tag, { id });
  for (const [name, value] of attrs) add(doc, set, 'nvpair', { id: `${id}-${name}`, name, value });
}

export function constraintElement(doc: Document, c: Constraint): Element {
  if (c.kind === 'colocation') {
    return element(doc, 'rsc_colocation', { id: c.id, rsc: c.rsc, 'with-rsc': c.withRsc, score: c.score });
  }
  if (c.kind === 'order') {
    const kind = c.mandatory ? 'Mandatory' : 'Optional';
    const attrs: Record<string, string> = { id: c.id, kind, first: c.first, 'first-action': c.firstAction ?? 'start', then: c.then, 'then-action': 'start' };
    if (c.symmetrical === false) attrs.symmetrical = 'false';
    return element(doc, 'rsc_order', attrs);
  }
  return element(doc, 'rsc_location', { id: c.id, rsc: c.rsc, node: c.node, score: c.score });
}

function element(doc: Document, name: string, attrs: Record<string, string>): Element {
  const el = doc.createElement(name);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  return el;
}

/** A cluster option as a crm_config nvpair, under the fencing property's name for this cluster. */
export function optionElement(doc: Document, o: ClusterOption, fencingName: FencingName): Element {
  const name = o.name === 'fencing' ? fencingName : o.name;
  return element(doc, 'nvpair', { id: `${OSHA_PREFIX}option-${name}`, name, value: o.value });
}

// --- a baseline for planning without a cluster ---

/**
 * The CIB of a freshly formed, quorate cluster with these nodes online and nothing configured:
 * what `osha plan` merges into when there is no cluster to query yet, so crm_verify and
 * crm_simulate can still check and predict the result. Node ids are 1..n in inventory order, as
 * corosync's nodelist numbers them. pacemaker-3.0 is the oldest schema every Pacemaker 2.x/3.x
 * reads; a real cluster upgrades it on its own.
 */
export function offlineCib(nodeNames: string[]): string {
  const doc = new DOMParser().parseFromString('<cib/>', 'text/xml');
  const cib = doc.documentElement!;
  for (const [k, v] of Object.entries({ 'validate-with': 'pacemaker-3.0', epoch: '0', num_updates: '0', admin_epoch: '0', 'have-quorum': '1', 'dc-uuid': '1' })) {
    cib.setAttribute(k, v);
  }
  const conf = add(doc, cib, 'configuration');
  add(doc, add(doc, conf, 'crm_config'), 'cluster_property_set', { id: BOOTSTRAP_SET });
  const nodes = add(doc, conf, 'nodes');
  nodeNames.forEach((name, i) => add(doc, nodes, 'node', { id: String(i + 1), uname: name }));
  add(doc, conf, 'resources');
  add(doc, conf, 'constraints');
  const status = add(doc, cib, 'status');
  nodeNames.forEach((name, i) =>
    add(doc, status, 'node_state', { id: String(i + 1), uname: name, in_ccm: 'true', crmd: 'online', join: 'member', expected: 'member' }),
  );
  return new XMLSerializer().serializeToString(doc);
}

