// Reads what `crm_simulate --simulate --output-as=xml` predicts (Pacemaker 2.1's XML output, kept
// stable across releases unlike its text): the summary actions, the steps of the transition in
// execution order, and where every resource runs afterwards. Pure: XML text in, values out.
import type { Element } from '@xmldom/xmldom';
import { children, child, parseXmlStrict } from '../util/dom.ts';
import { err, ok, oshaError, type Result } from '../util/result.ts';

/** One line of the transition summary: start X on node1, move Y node1 → node2, stop Z... */
export interface PlannedAction {
  /** start, stop, move, restart, recover, migrate, promote, demote, reload... as Pacemaker says it. */
  action: string;
  /** Resource id; a clone instance keeps its ":N" suffix. */
  resource: string;
  /** Where it happens: the node it starts on, the destination of a move, or the node it stops on. */
  node?: string;
  /** For moves and migrations: where it comes from. */
  from?: string;
  reason?: string;
  /** Pacemaker would like to do it but cannot (e.g. no quorum). */
  blocked?: boolean;
}

/** One executed step of the transition graph, in Pacemaker's order. */
export interface TransitionStep {
  op: string;
  resource: string;
  node: string;
  /** Recurring operations (monitors) carry their interval in ms. */
  interval?: number;
}

export interface Simulation {
  actions: PlannedAction[];
  steps: TransitionStep[];
  /** Resource id (clone instances folded into their primitive id) → nodes it runs on afterwards. */
  placement: Record<string, string[]>;
}


export function parseSimulation(xml: string): Result<Simulation> {
  const doc = parseXmlStrict(xml);
  if (!doc.ok) return err(oshaError(`crm_simulate printed something that is not XML: ${doc.error}`, { fix: 'run crm_simulate with --output-as=xml' }));
  const root = doc.value.documentElement;
  if (!root || root.nodeName !== 'pacemaker-result') {
    return err(oshaError('this is not crm_simulate XML output (no <pacemaker-result>)', { fix: 'run crm_simulate with --output-as=xml' }));
  }
  const status = child(root, 'status');
  const code = Number(status?.getAttribute('code') ?? '0');
  if (code !== 0) {
    const errors = status ? children(status).filter((e) => e.nodeName === 'errors').flatMap((e) => children(e).map((x) => x.textContent ?? '')) : [];
    const detail = [status?.getAttribute('message'), ...errors].filter(Boolean).join('; ');
    return err(oshaError(`crm_simulate failed (exit ${code}): ${detail}`));
  }
  return ok({
    actions: children(child(root, 'actions')).filter((e) => e.nodeName === 'rsc_action').map(plannedAction),
    steps: children(child(root, 'transition')).filter((e) => e.nodeName === 'rsc_action').map(step),
    placement: placement(child(child(root, 'revised_cluster_status'), 'resources')),
  });
}

function plannedAction(e: Element): PlannedAction {
  const a: PlannedAction = { action: e.getAttribute('action') ?? '', resource: e.getAttribute('resource') ?? '' };
  const node = e.getAttribute('node') ?? e.getAttribute('dest') ?? e.getAttribute('source');
  if (node) a.node = node;
  if (e.getAttribute('dest') && e.getAttribute('source')) a.from = e.getAttribute('source')!;
  if (e.getAttribute('reason')) a.reason = e.getAttribute('reason')!;
  if (e.getAttribute('blocked') === 'true') a.blocked = true;
  return a;
}

function step(e: Element): TransitionStep {
  const s: TransitionStep = { op: e.getAttribute('op') ?? '', resource: e.getAttribute('resource') ?? '', node: e.getAttribute('node') ?? '' };
  const interval = e.getAttribute('interval');
  if (interval) s.interval = Number(interval);
  return s;
}

/** Walks groups and clones down to <resource> entries and their <node> children. */
function placement(resources: Element | undefined): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  const walk = (el: Element) => {
    for (const c of children(el)) {
      if (c.nodeName === 'resource') {
        const id = c.getAttribute('id') ?? '';
        const nodes = children(c).filter((n) => n.nodeName === 'node').map((n) => n.getAttribute('name') ?? '');
        out[id] = [...(out[id] ?? []), ...nodes].sort();
      } else {
        walk(c);
      }
    }
  };
  if (resources) walk(resources);
  return out;
}



/** The summary as lines for a plan: "start osha-keystone on node1", "move osha-vip node1 → node2". */
export function describeActions(actions: PlannedAction[]): string[] {
  return actions.map((a) => {
    const where = a.from ? `${a.from} → ${a.node}` : a.node ? `on ${a.node}` : '';
    const extra = [a.reason ? `(${a.reason})` : '', a.blocked ? '[blocked]' : ''].filter(Boolean).join(' ');
    return [a.action, a.resource, where, extra].filter(Boolean).join(' ');
  });
}
