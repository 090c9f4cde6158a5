// Facts shared between a run's steps: the ones any change may alter are read once in a run that
// changes nothing, and afresh after every applied action. Runs the real runner with steps made
// here (no node, no network).
import { expect } from 'chai';
import { parseInventory } from '../../src/inventory/load.ts';
import { runSteps, type Reporter } from '../../src/runner/run.ts';
import type { Action, HostPlan, Step } from '../../src/runner/types.ts';
import type { SshSession } from '../../src/ssh/session.ts';
import { ok } from '../../src/util/result.ts';

const INVENTORY = 'cluster: { name: c1 }\nnodes:\n  - { name: n1, address: 198.18.0.11 }\n  - { name: n2, address: 198.18.0.12 }\nvip: { address: 198.18.0.100, cidr_netmask: 24 }\nstonith: { unsafe_no_fencing: true }\n';
const reporter: Reporter = { stepStarted() {}, planned() {}, hostDone() {}, stepFinished() {}, note() {}, log() {}, finished() {} };
const session = { concurrency: 4, changed: () => undefined } as unknown as SshSession;

/** A step that reads the fact `broker` on every host, and applies `apply` on n1 when set. */
function reader(name: string, reads: string[], apply?: () => void): Step {
  return {
    name,
    title: name,
    async plan(ctx) {
      const plans = new Map<string, HostPlan>();
      for (const host of ctx.hosts) {
        await ctx.facts.getUntilChange(host, 'broker', async () => ok(void reads.push(`${name}:${host}`)));
        const actions: Action[] = apply && host === 'n1' ? [{ summary: 'start the broker', apply: async () => ok(apply()) }] : [];
        plans.set(host, ok(actions));
      }
      return plans;
    },
  };
}

async function run(steps: Step[], dryRun = false) {
  const inv = parseInventory(INVENTORY, 'x.yaml');
  if (!inv.ok) throw new Error(inv.error.map((p) => p.message).join('; '));
  const options = { dryRun, regenerateKey: false, settleTimeoutMs: 1000 };
  return runSteps({ playbook: 'test', steps, inv: inv.value, inventoryFile: 'x.yaml', session, options, reporter, signal: new AbortController().signal });
}

describe('facts kept until the run changes something', () => {
  it('are read once per host when no step applies anything', async () => {
    const reads: string[] = [];
    const summary = await run([reader('a', reads), reader('b', reads), reader('c', reads)]);
    expect(summary.changed).to.equal(0);
    expect(reads).to.deep.equal(['a:n1', 'a:n2']);
  });

  it('are read afresh on every host by the first step after an action applied on any host', async () => {
    const reads: string[] = [];
    let applied = 0;
    await run([reader('a', reads), reader('b', reads, () => applied++), reader('c', reads), reader('d', reads)]);
    expect(applied).to.equal(1);
    expect(reads).to.deep.equal(['a:n1', 'a:n2', 'c:n1', 'c:n2']);
  });

  it('a dry run applies nothing, so its plan reads them once', async () => {
    const reads: string[] = [];
    await run([reader('a', reads, () => expect.fail('a dry run applied an action')), reader('b', reads)], true);
    expect(reads).to.deep.equal(['a:n1', 'a:n2']);
  });
});
