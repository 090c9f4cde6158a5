// Thin wrappers around the real Pacemaker tools, run on CIB files (no cluster needed).
import { readFileSync } from 'node:fs';
import { DOMParser, type Element } from '@xmldom/xmldom';
import { expect } from 'chai';
import { child, children } from '../../src/util/dom.ts';
import { parseSimulation, type Simulation } from '../../src/cluster/transition.ts';
import { parseClusterStatus } from '../../src/facts/status.ts';
import { run, writeCib } from './fixtures.ts';

/** crm_verify on a CIB file; returns its output so a failure shows why. */
export function crmVerify(xml: string): { ok: boolean; output: string } {
  const r = run('crm_verify', ['--xml-file', writeCib(xml, 'verify'), '-V']);
  return { ok: r.status === 0, output: r.stdout + r.stderr };
}

export function simulate(xml: string, extra: string[] = []): Simulation {
  const r = run('crm_simulate', ['--simulate', '--xml-file', writeCib(xml, 'sim'), '--output-as=xml', ...extra]);
  expect(r.status, r.stderr).to.equal(0);
  const parsed = parseSimulation(r.stdout);
  if (!parsed.ok) throw new Error(parsed.error.message);
  return parsed.value;
}

/** The CIB after crm_simulate has run the transition: every resource started as predicted. */
export function settled(xml: string): string {
  const out = writeCib('', 'settled');
  const r = run('crm_simulate', ['--simulate', '--xml-file', writeCib(xml, 'pre'), '--save-output', out]);
  expect(r.status, r.stderr).to.equal(0);
  return readFileSync(out, 'utf8');
}

/** crm_diff's exit status (0: no difference, 1: differences) and its patch. */
export function crmDiff(original: string, next: string): { status: number | null; patch: string } {
  const r = run('crm_diff', ['--original', writeCib(original, 'orig'), '--new', writeCib(next, 'new')]);
  return { status: r.status, patch: r.stdout };
}

/** cibadmin --patch against a file-backed CIB (CIB_file), as deploy does against the live one. */
export function cibadminPatch(cibXml: string, patch: string): { status: number | null; cib: string; stderr: string } {
  const cibFile = writeCib(cibXml, 'target');
  const r = run('cibadmin', ['--patch', '--xml-file', writeCib(patch, 'patch')], { CIB_file: cibFile });
  return { status: r.status, cib: readFileSync(cibFile, 'utf8'), stderr: r.stderr };
}

/** One action of a transition graph, in the graph's order. */
export interface GraphAction {
  /** Its operation key (e.g. `osha-keystone_start_0`, `stonith-node2-reboot`). */
  key: string;
  /** rsc_op, pseudo_event or crm_event. */
  kind: string;
  node?: string;
  priority: number;
  /** The keys of the actions it waits for. */
  inputs: Set<string>;
}

/**
 * The transition Pacemaker would run (crm_simulate --save-graph), in the order the controller
 * walks it: when Pacemaker throttles to one action at a time, the first ready one runs.
 */
export function graphActions(xml: string, extra: string[] = []): GraphAction[] {
  const out = writeCib('', 'graph');
  const r = run('crm_simulate', ['--simulate', '--xml-file', writeCib(xml, 'pre'), '--save-graph', out, ...extra]);
  expect(r.status, r.stderr).to.equal(0);
  const doc = new DOMParser().parseFromString(readFileSync(out, 'utf8'), 'text/xml');
  const keyOf = (e: Element): string => e.getAttribute('operation_key') ?? `${e.nodeName}:${e.getAttribute('id')}`;
  return children(doc.documentElement ?? undefined)
    .filter((e) => e.nodeName === 'synapse')
    .flatMap((synapse) => {
      const action = children(child(synapse, 'action_set'))[0];
      if (!action) return [];
      const inputs = children(child(synapse, 'inputs')).flatMap((trigger) => children(trigger).map(keyOf));
      return [{ key: keyOf(action), kind: action.nodeName, node: action.getAttribute('on_node') ?? undefined, priority: Number(synapse.getAttribute('priority') ?? 0), inputs: new Set(inputs) }];
    });
}

/**
 * The transition after the VIP's node dies: the desired CIB settled (everything running), the node
 * crm_mon shows holding osha-vip failed, and the graph Pacemaker would run then.
 */
export function vipNodeFailure(desiredXml: string): { dead: string; order: GraphAction[] } {
  const running = settled(settled(desiredXml));
  const mon = parseClusterStatus(run('crm_mon', ['--one-shot', '--output-as=xml'], { CIB_file: writeCib(running, 'mon') }).stdout);
  if (!mon.ok) throw new Error(mon.error.message);
  const dead = mon.value.resources.get('osha-vip')!.nodes[0]!;
  return { dead, order: graphActions(running, ['--node-fail', dead]) };
}

/** For each action of the transition, by its operation key, the keys of the actions it waits for. */
export function transitionGraph(xml: string, extra: string[] = []): Map<string, Set<string>> {
  return dependencies(graphActions(xml, extra));
}

export function dependencies(actions: GraphAction[]): Map<string, Set<string>> {
  return new Map(actions.map((a) => [a.key, a.inputs]));
}

/** True when action `a` waits, directly or through others, for action `b`. */
export function waitsFor(graph: Map<string, Set<string>>, a: string, b: string): boolean {
  const seen = new Set<string>();
  const todo = [...(graph.get(a) ?? [])];
  while (todo.length) {
    const k = todo.pop()!;
    if (k === b) return true;
    if (seen.has(k)) continue;
    seen.add(k);
    todo.push(...(graph.get(k) ?? []));
  }
  return false;
}
