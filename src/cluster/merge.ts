// The merge of the resource model into a live CIB, and osha's ownership rules there: osha's objects
// (ids with the osha- prefix) are replaced by the model's, foreign objects are left untouched.
// Pure string-in, string-out functions: the caller runs cibadmin --query / crm_diff / cibadmin
// --patch (locally in tests, over SSH in deploy) and feeds the text through here.
import { XMLSerializer, type Document, type Element } from '@xmldom/xmldom';
import { isOshaId, primitivesOf, resourceIds, type Agent, type ClusterOption, type Resource, type ResourceModel } from '../model/resources.ts';
import { BOOTSTRAP_SET, add, constraintElement, optionElement, resourceElement, type FencingName, type ObjectChange } from '../render/cib.ts';
import { children, child, parseXmlStrict } from '../util/dom.ts';
import { err, ok, oshaError, type OshaError, type Result } from '../util/result.ts';

/** Cluster properties Pacemaker maintains itself: osha never writes, moves or removes them. */
export const AUTOMATIC_PROPERTIES = ['dc-version', 'cluster-infrastructure', 'cluster-name', 'have-watchdog', 'last-lrm-refresh'] as const;

const ELEMENT_NODE = 1;

// --- fencing property name ---

const FENCING_NAMES: readonly string[] = ['stonith-enabled', 'fencing-enabled'];

/**
 * Pacemaker 3.0.2 renamed stonith-enabled to fencing-enabled (the old name still works). Use the
 * name the cluster already uses, else the one its version (dc-version) knows as current.
 */
export function fencingNameFor(doc: Document): FencingName {
  const pairs = bootstrapPairs(doc);
  const existing = pairs.find((p) => FENCING_NAMES.includes(p.getAttribute('name') ?? '') && !isOshaId(p.getAttribute('id')));
  if (existing) return existing.getAttribute('name') as FencingName;
  const version = pairs.find((p) => p.getAttribute('name') === 'dc-version')?.getAttribute('value') ?? '';
  return versionAtLeast(version, [3, 0, 2]) ? 'fencing-enabled' : 'stonith-enabled';
}

function versionAtLeast(text: string, want: number[]): boolean {
  const m = text.match(/^(\d+)\.(\d+)\.(\d+)/);
  if (!m) return false;
  const have = [Number(m[1]), Number(m[2]), Number(m[3])];
  for (let i = 0; i < 3; i++) {
    if (have[i]! !== want[i]!) return have[i]! > want[i]!;
  }
  return true;
}

// --- parsing ---

export function parseCib(xml: string): Result<Document> {
  const parsed = parseXmlStrict(xml);
  if (!parsed.ok) return err(oshaError(`the CIB is not well-formed XML: ${parsed.error}`, { fix: 'check the output of `cibadmin --query`' }));
  const doc = parsed.value;
  const root = doc.documentElement;
  if (!root || root.nodeName !== 'cib') return err(oshaError('this XML is not a CIB (its root element is not <cib>)', { fix: 'pass the output of `cibadmin --query`' }));
  if (!child(root, 'configuration')) return err(oshaError('the CIB has no <configuration> section', { fix: 'pass the output of `cibadmin --query`' }));
  return ok(doc);
}



/** The named section under <configuration>, created (empty) when the CIB lacks it. */
function section(doc: Document, name: 'crm_config' | 'resources' | 'constraints'): Element {
  const conf = child(doc.documentElement!, 'configuration')!;
  const found = child(conf, name);
  if (found) return found;
  const el = doc.createElement(name);
  // Keep the schema's order: crm_config, rsc_defaults?, op_defaults?, nodes, resources, constraints.
  const after = name === 'crm_config' ? children(conf)[0] : name === 'resources' ? child(conf, 'constraints') : undefined;
  conf.insertBefore(el, after ?? null);
  return el;
}

function bootstrapPairs(doc: Document): Element[] {
  const conf = child(doc.documentElement!, 'configuration')!;
  const crmConfig = child(conf, 'crm_config');
  const set = crmConfig && children(crmConfig).find((s) => s.getAttribute('id') === BOOTSTRAP_SET);
  return set ? children(set).filter((c) => c.nodeName === 'nvpair') : [];
}

function allElements(root: Element): Element[] {
  const out: Element[] = [];
  const walk = (el: Element) => {
    out.push(el);
    for (const c of children(el)) walk(c);
  };
  walk(root);
  return out;
}

// --- the merge ---

/**
 * The live CIB with osha's objects replaced by the model's: every foreign object and every
 * automatic property stays as it is; osha's objects are updated in place (so an unchanged object
 * gives an empty crm_diff), new ones are appended, osha objects the model lacks are removed.
 * epoch is bumped only when the configuration changed, so a second run is a no-op.
 */
export function desiredCib(liveCibXml: string, model: ResourceModel): Result<string> {
  const parsed = parseCib(liveCibXml);
  if (!parsed.ok) return parsed;
  const doc = parsed.value;
  const conf = child(doc.documentElement!, 'configuration')!;
  const before = canonical(conf);

  const conflict = checkForeignReferences(doc, model);
  if (conflict) return err(conflict);

  const fencingName = fencingNameFor(doc);
  // Foreign resources the inventory hands over to osha go, with the constraints that name them.
  for (const el of foreignRemovals(doc, model.replaceForeign ?? [])) removeWithIndent(el);
  syncChildren(section(doc, 'resources'), model.resources.map((r) => resourceElement(doc, r)));
  syncChildren(section(doc, 'constraints'), model.constraints.map((c) => constraintElement(doc, c)));
  syncOptions(doc, model.options, fencingName);
  requireSchemaFor(doc.documentElement!, model);

  if (canonical(conf) !== before) bumpEpoch(doc.documentElement!);
  return ok(new XMLSerializer().serializeToString(doc));
}

/**
 * The Promoted/Unpromoted role names need CIB schema pacemaker-3.7 (Pacemaker 2.1.0). A CIB still
 * on an older schema (osha's seed CIB says pacemaker-3.0 so any Pacemaker 2.x reads it) is moved
 * up to it in the same patch; a newer one is left as it is.
 */
const ROLE_SCHEMA = { name: 'pacemaker-3.7', major: 3, minor: 7 };

function requireSchemaFor(cib: Element, model: ResourceModel): void {
  const roles = primitivesOf(model.resources).some((p) => p.ops.some((op) => op.role !== undefined));
  if (!roles) return;
  const m = /^pacemaker-(\d+)\.(\d+)$/.exec(cib.getAttribute('validate-with') ?? '');
  if (!m) return;
  const [major, minor] = [Number(m[1]), Number(m[2])];
  if (major < ROLE_SCHEMA.major || (major === ROLE_SCHEMA.major && minor < ROLE_SCHEMA.minor)) cib.setAttribute('validate-with', ROLE_SCHEMA.name);
}

/** Replaces osha children in place, appends new ones, removes osha children not wanted. */
function syncChildren(parent: Element, wanted: Element[]): void {
  const existing = new Map(children(parent).filter((c) => isOshaId(c.getAttribute('id'))).map((c) => [c.getAttribute('id')!, c]));
  for (const el of wanted) {
    const id = el.getAttribute('id')!;
    const old = existing.get(id);
    existing.delete(id);
    if (!old) parent.appendChild(el);
    else if (canonical(old) !== canonical(el)) parent.replaceChild(el, old);
  }
  for (const stale of existing.values()) removeWithIndent(stale);
}

/** Removes an element and the whitespace before it, so the pretty-printing stays tidy. */
function removeWithIndent(el: Element): void {
  const prev = el.previousSibling;
  if (prev && prev.nodeType === 3 && /^\s*$/.test(prev.nodeValue ?? '')) prev.parentNode?.removeChild(prev);
  el.parentNode?.removeChild(el);
}

/**
 * osha's options are nvpairs with osha ids in cib-bootstrap-options. The inventory owns those
 * property names, so a foreign nvpair of the same name in that set is replaced by osha's (two
 * values for one property would leave the winner to chance). Automatic properties are never touched.
 */
function syncOptions(doc: Document, options: ClusterOption[], fencingName: FencingName): void {
  const crmConfig = section(doc, 'crm_config');
  let set = children(crmConfig).find((s) => s.nodeName === 'cluster_property_set' && s.getAttribute('id') === BOOTSTRAP_SET);
  if (!set) {
    set = doc.createElement('cluster_property_set');
    set.setAttribute('id', BOOTSTRAP_SET);
    crmConfig.insertBefore(set, crmConfig.firstChild);
  }
  // osha nvpairs anywhere in crm_config, including in other sets, are osha's to update or drop.
  const oshaPairs = new Map(
    allElements(crmConfig)
      .filter((e) => e.nodeName === 'nvpair' && isOshaId(e.getAttribute('id')))
      .map((p) => [p.getAttribute('id')!, p]),
  );
  for (const w of options.map((o) => optionElement(doc, o, fencingName))) {
    const old = oshaPairs.get(w.getAttribute('id')!);
    oshaPairs.delete(w.getAttribute('id')!);
    const foreign = children(set).filter(
      (p) =>
        p.nodeName === 'nvpair' &&
        !isOshaId(p.getAttribute('id')) &&
        !(AUTOMATIC_PROPERTIES as readonly string[]).includes(p.getAttribute('name') ?? '') &&
        sameOption(p, w),
    );
    if (foreign.length > 0) {
      set.replaceChild(w, foreign[0]!);
      for (const extra of foreign.slice(1)) removeWithIndent(extra);
      if (old) removeWithIndent(old);
    } else if (!old) set.appendChild(w);
    else if (canonical(old) !== canonical(w)) old.parentNode!.replaceChild(w, old);
  }
  for (const stale of oshaPairs.values()) removeWithIndent(stale);
}

/** Both fencing names are one property; other properties match by name. */
function sameOption(a: Element, b: Element): boolean {
  const an = a.getAttribute('name')!;
  const bn = b.getAttribute('name')!;
  return an === bn || (FENCING_NAMES.includes(an) && FENCING_NAMES.includes(bn));
}

function bumpEpoch(cib: Element): void {
  const epoch = Number(cib.getAttribute('epoch') ?? '0');
  cib.setAttribute('epoch', String((Number.isFinite(epoch) ? epoch : 0) + 1));
  cib.setAttribute('num_updates', '0');
}

/**
 * A foreign object that refers to an osha resource the model drops would dangle: refuse, and say
 * which object to delete first. (osha never edits foreign objects, not even to fix this.)
 */
function checkForeignReferences(doc: Document, model: ResourceModel): OshaError | undefined {
  const keep = new Set(model.resources.flatMap(resourceIds));
  const conf = child(doc.documentElement!, 'configuration')!;
  // An osha resource moved into a foreign group or clone by hand: osha would create it twice.
  for (const el of allElements(section(doc, 'resources'))) {
    const owner = ownerOf(el);
    if (RESOURCE_TAGS.has(el.nodeName) && isOshaId(el.getAttribute('id')) && owner && !isOshaId(owner.getAttribute('id'))) {
      const fid = owner.getAttribute('id')!;
      return oshaError(`${el.getAttribute('id')} is inside ${fid}, which is not osha's`, {
        fix: `take it out of ${fid} (or delete ${fid}); osha manages ${el.getAttribute('id')} on its own`,
      });
    }
  }
  const liveOsha = new Set(
    allElements(section(doc, 'resources'))
      .map((e) => e.getAttribute('id') ?? '')
      .filter((id) => isOshaId(id)),
  );
  const dropped = new Set([...liveOsha].filter((id) => !keep.has(id)));
  if (dropped.size === 0) return undefined;
  const refAttrs = ['rsc', 'with-rsc', 'first', 'then', 'id-ref'];
  for (const el of allElements(conf)) {
    const owner = ownerOf(el);
    if (owner && isOshaId(owner.getAttribute('id'))) continue;
    // Resource sets and tags name their members as <resource_ref id=...> and <obj_ref id=...>.
    const attrs = el.nodeName === 'resource_ref' || el.nodeName === 'obj_ref' ? ['id'] : refAttrs;
    for (const a of attrs) {
      const v = el.getAttribute(a);
      if (v && dropped.has(v)) {
        const fid = owner?.getAttribute('id') ?? el.nodeName;
        return oshaError(`${fid} (not osha's) refers to ${v}, which this inventory removes`, {
          fix: `delete ${fid} first (crm configure delete ${fid}), or keep the service in the inventory`,
        });
      }
    }
  }
  return undefined;
}

/** The top-level object (a child of resources, constraints, tags...) that contains `el`. */
function ownerOf(el: Element): Element | undefined {
  let cur: Element = el;
  while (cur.parentNode && cur.parentNode.nodeType === ELEMENT_NODE) {
    const parent = cur.parentNode as Element;
    if (parent.parentNode && (parent.parentNode as Element).nodeName === 'configuration') return cur;
    cur = parent;
  }
  return undefined;
}

/** Element text without formatting whitespace, for "did it change" comparisons. */
function canonical(el: Element): string {
  const out: string[] = [];
  const walk = (e: Element) => {
    const attrs: string[] = [];
    for (let i = 0; i < e.attributes.length; i++) {
      const a = e.attributes.item(i)!;
      attrs.push(`${a.name}=${JSON.stringify(a.value)}`);
    }
    attrs.sort();
    out.push(`<${e.nodeName} ${attrs.join(' ')}>`);
    for (const c of children(e)) walk(c);
    out.push(`</${e.nodeName}>`);
  };
  walk(el);
  return out.join('');
}

// --- removal in order ---

/**
 * osha resources in the live CIB that the model no longer has (top-level objects and group
 * members), and the foreign ones the inventory hands over to osha (replaceForeign).
 */
export function removedResources(liveCibXml: string, model: ResourceModel): Result<string[]> {
  const parsed = parseCib(liveCibXml);
  if (!parsed.ok) return parsed;
  const keep = new Set(model.resources.flatMap(resourceIds));
  const replaced = new Set(model.replaceForeign ?? []);
  const removed: string[] = [];
  for (const top of children(section(parsed.value, 'resources'))) {
    const id = top.getAttribute('id');
    if (id && replaced.has(id)) {
      removed.push(id);
      continue;
    }
    if (!isOshaId(id)) continue;
    if (!keep.has(id!)) {
      removed.push(id!);
      continue;
    }
    // A group osha keeps may lose members: those go too.
    for (const m of allElements(top).filter((e) => e.nodeName === 'primitive')) {
      const mid = m.getAttribute('id')!;
      if (!keep.has(mid)) removed.push(mid);
    }
  }
  return ok(removed);
}

/**
 * Step one of removing services: the live CIB with target-role=Stopped on every osha resource the
 * model drops, constraints untouched, so Pacemaker stops them in the configured order (dependants
 * first). Deleting them outright would drop their order constraints at the same moment, and the
 * database could stop before the services using it. Apply this, wait for the cluster to settle,
 * then apply desiredCib. Returns the live CIB unchanged when nothing is removed.
 */
export function stopRemovedCib(liveCibXml: string, model: ResourceModel): Result<string> {
  const removed = removedResources(liveCibXml, model);
  if (!removed.ok) return removed;
  if (removed.value.length === 0) return ok(liveCibXml);
  const doc = (parseCib(liveCibXml) as { ok: true; value: Document }).value;
  const byId = new Map(allElements(section(doc, 'resources')).map((e) => [e.getAttribute('id') ?? '', e]));
  for (const id of removed.value) setTargetRoleStopped(doc, byId.get(id)!);
  bumpEpoch(doc.documentElement!);
  return ok(new XMLSerializer().serializeToString(doc));
}

function setTargetRoleStopped(doc: Document, rsc: Element): void {
  const id = rsc.getAttribute('id')!;
  let meta = children(rsc).find((c) => c.nodeName === 'meta_attributes');
  if (!meta) {
    meta = doc.createElement('meta_attributes');
    meta.setAttribute('id', `${id}-meta_attributes`);
    rsc.insertBefore(meta, rsc.firstChild);
  }
  const existing = children(meta).find((p) => p.getAttribute('name') === 'target-role');
  if (existing) existing.setAttribute('value', 'Stopped');
  else add(doc, meta, 'nvpair', { id: `${meta.getAttribute('id')}-target-role`, name: 'target-role', value: 'Stopped' });
}

// --- what changes, object by object (for the plan) ---

/** osha objects that applying the model adds, changes or removes, in CIB order. */
export function objectChanges(liveCibXml: string, model: ResourceModel): Result<ObjectChange[]> {
  const parsed = parseCib(liveCibXml);
  if (!parsed.ok) return parsed;
  const doc = parsed.value;
  const fencingName = fencingNameFor(doc);
  const live = new Map<string, Element>();
  for (const name of ['resources', 'constraints'] as const) {
    for (const c of children(section(doc, name))) if (isOshaId(c.getAttribute('id'))) live.set(c.getAttribute('id')!, c);
  }
  for (const p of allElements(section(doc, 'crm_config'))) if (p.nodeName === 'nvpair' && isOshaId(p.getAttribute('id'))) live.set(p.getAttribute('id')!, p);
  const wanted = [
    ...model.options.map((o) => optionElement(doc, o, fencingName)),
    ...model.resources.map((r) => resourceElement(doc, r)),
    ...model.constraints.map((c) => constraintElement(doc, c)),
  ];
  const changes: ObjectChange[] = [];
  for (const w of wanted) {
    const id = w.getAttribute('id')!;
    diffObject(live.get(id), w, changes);
    live.delete(id);
  }
  for (const [id, el] of live) changes.push({ change: 'remove', id, tag: el.nodeName });
  for (const el of foreignRemovals(doc, model.replaceForeign ?? [])) changes.push({ change: 'remove', id: el.getAttribute('id') ?? el.nodeName, tag: el.nodeName });
  return ok(changes);
}

/**
 * The foreign top-level resources `ids` (handed over to osha by resources.existing ... replace)
 * and every constraint that names them or one of their members: removed together, so nothing
 * is left dangling.
 */
function foreignRemovals(doc: Document, ids: readonly string[]): Element[] {
  if (ids.length === 0) return [];
  const wanted = new Set(ids);
  const tops = children(section(doc, 'resources')).filter((r) => wanted.has(r.getAttribute('id') ?? ''));
  const named = new Set(tops.flatMap((t) => allElements(t).map((e) => e.getAttribute('id') ?? '').filter(Boolean)));
  const refAttrs = ['rsc', 'with-rsc', 'first', 'then'];
  const constraints = children(section(doc, 'constraints')).filter(
    (c) => !isOshaId(c.getAttribute('id')) && allElements(c).some((e) => (e.nodeName === 'resource_ref' ? named.has(e.getAttribute('id') ?? '') : refAttrs.some((a) => named.has(e.getAttribute(a) ?? '')))),
  );
  return [...tops, ...constraints];
}

const RESOURCE_TAGS = new Set(['primitive', 'group', 'clone']);

/**
 * Groups and clones are compared member by member, so a plan names the primitive that changed
 * rather than its whole group; the container itself changes only when its own settings or its
 * member list do.
 */
function diffObject(old: Element | undefined, w: Element, out: ObjectChange[]): void {
  const id = w.getAttribute('id')!;
  if (!old) {
    out.push({ change: 'add', id, tag: w.nodeName });
    return;
  }
  if (!RESOURCE_TAGS.has(w.nodeName) || w.nodeName === 'primitive' || old.nodeName !== w.nodeName) {
    if (canonical(old) !== canonical(w)) out.push({ change: 'change', id, tag: w.nodeName });
    return;
  }
  const oldMembers = new Map(children(old).filter((c) => RESOURCE_TAGS.has(c.nodeName)).map((c) => [c.getAttribute('id')!, c]));
  for (const m of children(w).filter((c) => RESOURCE_TAGS.has(c.nodeName))) {
    diffObject(oldMembers.get(m.getAttribute('id')!), m, out);
    oldMembers.delete(m.getAttribute('id')!);
  }
  for (const [mid, m] of oldMembers) out.push({ change: 'remove', id: mid, tag: m.nodeName });
  if (shell(old) !== shell(w)) out.push({ change: 'change', id, tag: w.nodeName });
}

/** A container's own settings and its member ids, without the members' content. */
function shell(el: Element): string {
  const attrs: string[] = [];
  for (let i = 0; i < el.attributes.length; i++) attrs.push(`${el.attributes.item(i)!.name}=${JSON.stringify(el.attributes.item(i)!.value)}`);
  const inner = children(el).map((c) => (RESOURCE_TAGS.has(c.nodeName) ? `[${c.getAttribute('id')}]` : canonical(c)));
  return `<${el.nodeName} ${attrs.sort().join(' ')}>${inner.join('')}`;
}

/** Every primitive id the model runs, for "wait until every osha resource is started". */
export function modelPrimitiveIds(model: ResourceModel): string[] {
  return primitivesOf(model.resources).map((p) => p.id);
}


/** The fencing property's name for a live CIB (stonith-enabled, or fencing-enabled on 3.0.2+). */
export function fencingNameOf(liveCibXml: string): Result<FencingName> {
  const parsed = parseCib(liveCibXml);
  return parsed.ok ? ok(fencingNameFor(parsed.value)) : parsed;
}

// --- Galera's agent on a running cluster ---

/**
 * A cluster osha built with heartbeat's galera (its node list a parameter) keeps it while that list
 * stays the same: switching the agent restarts every Galera instance, and only a new node list
 * (which restarts them all with heartbeat's agent anyway) is worth that once. Returns the model to
 * apply (its galera primitive as the live one, with the list, when kept) and whether it was kept.
 */
export function keepLiveGaleraAgent(liveCibXml: string | undefined, model: ResourceModel, galeraId: string, kept: Agent, address: string): { model: ResourceModel; kept: boolean } {
  if (!liveCibXml || !primitivesOf(model.resources).some((p) => p.id === galeraId)) return { model, kept: false };
  const doc = parseCib(liveCibXml);
  if (!doc.ok) return { model, kept: false };
  const live = [...doc.value.getElementsByTagName('primitive')].find((e) => e.getAttribute('id') === galeraId);
  if (!live || live.getAttribute('class') !== kept.class || live.getAttribute('provider') !== kept.provider || live.getAttribute('type') !== kept.type) return { model, kept: false };
  const param = [...live.getElementsByTagName('nvpair')].find((n) => n.getAttribute('name') === 'wsrep_cluster_address' && n.parentNode?.nodeName === 'instance_attributes');
  if (param?.getAttribute('value') !== address) return { model, kept: false };
  const swap = (r: Resource): Resource => {
    if (r.kind === 'primitive') return r.id === galeraId ? { ...r, agent: kept, params: [['wsrep_cluster_address', address], ...r.params] } : r;
    if (r.kind === 'group') return { ...r, members: r.members.map((m) => swap(m) as typeof m) };
    return { ...r, child: swap(r.child) as typeof r.child };
  };
  return { model: { ...model, resources: model.resources.map(swap) }, kept: true };
}

// --- probes from before an agent was there ---

/**
 * osha resources whose last probe on a node said "not installed" (OCF 5): Pacemaker keeps such a
 * node out for that resource until its history is refreshed, also once the agent is there. A node
 * that joins a running cluster is probed at once, before the deploy's agents step gives it osha's
 * agents (a controller added to an active-active cluster). Pure: CIB XML (with status) in.
 */
export function notInstalledProbes(cibXml: string): { resource: string; node: string }[] {
  const doc = parseCib(cibXml);
  if (!doc.ok) return [];
  const out: { resource: string; node: string }[] = [];
  for (const state of [...doc.value.getElementsByTagName('node_state')]) {
    const node = state.getAttribute('uname') ?? '';
    for (const rsc of [...state.getElementsByTagName('lrm_resource')]) {
      const id = rsc.getAttribute('id') ?? '';
      if (!isOshaId(id)) continue;
      const last = [...rsc.getElementsByTagName('lrm_rsc_op')].find((op) => op.getAttribute('id') === `${id}_last_0`);
      if (last?.getAttribute('operation_key') === `${id}_monitor_0` && last.getAttribute('rc-code') === '5') out.push({ resource: id.split(':')[0]!, node });
    }
  }
  return out;
}
