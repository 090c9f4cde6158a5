// The task runner: for each step, ask it for a plan per host, show the plan, and (unless this
// is a dry run) apply it. Each host ends every step as ok, changed, failed or skipped.
import type { Action, HostPlan, HostStepResult, RunOptions, RunSummary, Step, StepContext } from './types.ts';
import type { Inventory } from '../inventory/schema.ts';
import type { SshSession } from '../ssh/session.ts';
import { FactCache } from '../facts/cache.ts';
import { mapLimit } from '../util/concurrency.ts';
import { messageOf, type Result } from '../util/result.ts';
import { redactor } from '../util/redact.ts';

export interface Reporter {
  stepStarted(step: Step, hosts: string[]): void;
  /** The plan of one host for a step (shown in dry runs and with --verbose). */
  planned(step: Step, host: string, actions: Action[]): void;
  hostDone(step: Step, host: string, result: HostStepResult): void;
  stepFinished(step: Step): void | Promise<void>;
  note(host: string, line: string): void;
  log(line: string): void;
  finished(summary: RunSummary): void;
  /** The terminal is about to be used for a question: stop drawing on it. */
  beforePrompt?(): Promise<void>;
}

export interface RunInput {
  playbook: string;
  steps: Step[];
  inv: Inventory;
  inventoryFile: string;
  session: SshSession;
  options: RunOptions;
  reporter: Reporter;
  signal: AbortSignal;
}

export async function runSteps(input: RunInput): Promise<RunSummary> {
  const { inv, session, options, reporter, signal } = input;
  // Steps of another topology are not part of this run at all: not shown, not counted as left undone.
  const steps = input.steps.filter((s) => !s.topology || s.topology === inv.topology);
  const started = Date.now();
  const allHosts = inv.nodes.map((n) => n.name);
  const failedHosts = new Set<string>();
  const results: Record<string, HostStepResult[]> = Object.fromEntries(allHosts.map((h) => [h, []]));
  const facts = new FactCache();
  const shared = new Map<string, unknown>();
  const notRun: string[] = [];
  let unconfirmed: string[] | undefined;
  const stepTimes: { name: string; durationMs: number }[] = [];
  let applied = 0;

  const record = (step: Step, host: string, r: HostStepResult) => {
    const clean = { ...r, changes: r.changes.map((c) => redactor.scrub(c)), error: r.error === undefined ? undefined : redactor.scrub(r.error) };
    results[host]?.push(clean);
    reporter.hostDone(step, host, clean);
  };

  for (const [index, step] of steps.entries()) {
    if (signal.aborted) {
      notRun.push(...steps.slice(index).map((s) => s.name));
      break;
    }
    const hosts = allHosts.filter((h) => !failedHosts.has(h));
    const stepStarted = Date.now();
    reporter.stepStarted(step, hosts);
    if (hosts.length === 0 || (step.needsAllHosts && failedHosts.size > 0)) {
      const why = `needs every node, but ${[...failedHosts].join(', ')} failed earlier`;
      for (const h of hosts) record(step, h, { step: step.name, status: 'skipped', changes: [], error: why });
      await reporter.stepFinished(step);
      continue;
    }
    const ctx: StepContext = {
      inv,
      inventoryFile: input.inventoryFile,
      session,
      facts,
      options,
      hosts,
      allHosts,
      note: (host, line) => reporter.note(host, redactor.scrub(line)),
      log: (line) => reporter.log(redactor.scrub(line)),
      signal,
      shared,
      laterSteps: steps.slice(index + 1).map((s) => s.name),
      connection: (host) => session.connect(host),
      appliedSoFar: () => applied,
    };
    let plans: Map<string, HostPlan>;
    try {
      session.planning = `planning step ${step.name}`;
      plans = await step.plan(ctx);
    } catch (e) {
      // A bug in a step must not hide which hosts were affected; report it on each host.
      plans = new Map(hosts.map((h) => [h, { ok: false, error: { message: `internal error in step ${step.name}: ${messageOf(e)}` } }]));
    } finally {
      session.planning = undefined;
    }

    // Disruptive actions run only once confirmed; otherwise the run stops before this step.
    const disruptive = options.dryRun
      ? []
      : [...plans].flatMap(([host, p]) => (p.ok ? p.value.filter((a) => a.disruptive).map((a) => `${host}: ${a.summary} (${a.disruptive})`) : []));
    if (disruptive.length > 0 && options.confirmDisruptive) await reporter.beforePrompt?.();
    if (disruptive.length > 0 && !(options.confirmDisruptive && (await options.confirmDisruptive(disruptive)))) {
      unconfirmed = disruptive;
      for (const h of hosts) record(step, h, { step: step.name, status: 'skipped', changes: [], error: 'disruptive changes not confirmed (re-run with --yes, or answer yes)' });
      notRun.push(...steps.slice(index).map((s) => s.name));
      await reporter.stepFinished(step);
      break;
    }

    const applyHost = async (host: string) => {
      const plan = plans.get(host);
      if (!plan) return; // the step has nothing to do on this host
      if (!plan.ok) {
        failedHosts.add(host);
        record(step, host, { step: step.name, status: 'failed', changes: [], error: plan.error.fix ? `${plan.error.message} (fix: ${plan.error.fix})` : plan.error.message });
        return;
      }
      reporter.planned(step, host, plan.value);
      if (plan.value.length === 0) return record(step, host, { step: step.name, status: 'ok', changes: [] });
      if (options.dryRun) return record(step, host, { step: step.name, status: 'changed', changes: plan.value.map((a) => a.summary) });
      const done: string[] = [];
      for (const action of plan.value) {
        if (signal.aborted) {
          failedHosts.add(host);
          return record(step, host, { step: step.name, status: 'failed', changes: done, error: `interrupted before: ${plan.value.slice(done.length).map((a) => a.summary).join('; ')}` });
        }
        let r: Result<void>;
        session.changed();
        try {
          r = await action.apply();
        } catch (e) {
          r = { ok: false, error: { message: `internal error: ${messageOf(e)}` } };
        } finally {
          applied++;
          facts.changed();
        }
        if (!r.ok) {
          failedHosts.add(host);
          return record(step, host, { step: step.name, status: 'failed', changes: done, error: `${action.summary}: ${r.error.message}` });
        }
        done.push(action.summary);
      }
      record(step, host, { step: step.name, status: 'changed', changes: done });
    };

    if (step.sequential) {
      for (const h of hosts) await applyHost(h);
    } else {
      await mapLimit(hosts, session.concurrency, applyHost);
    }
    stepTimes.push({ name: step.name, durationMs: Date.now() - stepStarted });
    await reporter.stepFinished(step);
    if (step.gate && hosts.some((h) => failedHosts.has(h))) {
      // Preflight: one unfit node stops the whole run before any node is changed.
      notRun.push(...steps.slice(index + 1).map((s) => s.name));
      break;
    }
  }

  const flat = Object.values(results).flat();
  const summary: RunSummary = {
    playbook: input.playbook,
    dryRun: options.dryRun,
    interrupted: signal.aborted,
    ok: flat.filter((r) => r.status === 'ok').length,
    changed: flat.filter((r) => r.status === 'changed').length,
    failed: flat.filter((r) => r.status === 'failed').length,
    skipped: flat.filter((r) => r.status === 'skipped').length,
    notRun,
    ...(unconfirmed ? { unconfirmed } : {}),
    hosts: results,
    steps: stepTimes,
    durationMs: Date.now() - started,
  };
  reporter.finished(summary);
  return summary;
}
