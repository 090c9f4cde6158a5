// How a run looks: listr2 on a terminal, plain lines otherwise (CI logs), JSON at the end with
// --json. Every reporter prints the same facts; none of them decides anything.
import chalk from 'chalk';
import { Listr, type ListrTaskWrapper, type DefaultRenderer, type SimpleRenderer } from 'listr2';
import type { Reporter } from './run.ts';
import type { Action, HostStepResult, RunSummary, Step } from './types.ts';

type Write = (text: string) => void;

const STATUS_COLOR: Record<HostStepResult['status'], (s: string) => string> = {
  ok: chalk.green,
  changed: chalk.yellow,
  failed: chalk.red,
  skipped: chalk.gray,
};

function describeResult(r: HostStepResult, dryRun: boolean): string {
  const status = r.status === 'changed' && dryRun ? 'would change' : r.status;
  const detail = r.error ?? (r.changes.length > 0 ? r.changes.join('; ') : '');
  return `${STATUS_COLOR[r.status](status)}${detail ? ` ${chalk.dim('-')} ${detail}` : ''}`;
}

/** The plan of one host, as a dry run prints it: summaries, diffs and commands. */
export function renderPlan(host: string, actions: Action[]): string {
  const lines: string[] = [];
  for (const a of actions) {
    lines.push(`  ${chalk.cyan(host)} ${chalk.yellow('~')} ${a.summary}${a.disruptive ? ` ${chalk.red.bold(`[DISRUPTIVE: ${a.disruptive}]`)}` : ''}`);
    if (a.diff) lines.push(...a.diff.trimEnd().split('\n').map((l) => `      ${colorDiffLine(l)}`));
    for (const c of a.commands ?? []) lines.push(`      ${chalk.dim('$')} ${c}`);
  }
  return lines.join('\n');
}

function colorDiffLine(l: string): string {
  if (l.startsWith('+') && !l.startsWith('+++')) return chalk.green(l);
  if (l.startsWith('-') && !l.startsWith('---')) return chalk.red(l);
  if (l.startsWith('@@')) return chalk.cyan(l);
  return l;
}

export function summaryLine(s: RunSummary): string {
  const verb = s.dryRun ? 'would change' : 'changed';
  const parts = [`${s.ok} ok`, `${s.changed} ${verb}`, `${s.failed} failed`];
  if (s.skipped) parts.push(`${s.skipped} skipped`);
  return `${s.playbook}: ${parts.join(', ')} in ${(s.durationMs / 1000).toFixed(1)} s${s.dryRun ? ' (dry run: nothing was changed)' : ''}`;
}

function interruptedText(s: RunSummary): string | undefined {
  if (!s.interrupted) return undefined;
  const undone = Object.entries(s.hosts)
    .flatMap(([h, rs]) => rs.filter((r) => r.status === 'failed' && r.error?.startsWith('interrupted')).map((r) => `${h}/${r.step}`))
    .join(', ');
  return `interrupted: left undone: ${[undone, s.notRun.length ? `steps ${s.notRun.join(', ')}` : ''].filter(Boolean).join('; ') || 'nothing'}. Re-run the same command to finish.`;
}

/** Plain lines, for CI logs and pipes; also prints the full plan on a dry run. */
export class LineReporter implements Reporter {
  constructor(
    private readonly out: Write,
    private readonly opts: { verbose: boolean; dryRun: boolean },
  ) {}
  stepStarted(step: Step, hosts: string[]): void {
    this.out(`${chalk.bold(`== ${step.name}`)}: ${step.title} [${hosts.join(', ')}]\n`);
  }
  planned(_step: Step, host: string, actions: Action[]): void {
    if ((this.opts.dryRun || this.opts.verbose) && actions.length > 0) this.out(`${renderPlan(host, actions)}\n`);
  }
  hostDone(_step: Step, host: string, r: HostStepResult): void {
    this.out(`${host}: ${describeResult(r, this.opts.dryRun)}\n`);
  }
  stepFinished(): void {}
  note(host: string, line: string): void {
    this.out(`  ${chalk.cyan(host)} ${chalk.dim('note:')} ${line}\n`);
  }
  log(line: string): void {
    if (this.opts.verbose) this.out(`${chalk.dim(line)}\n`);
  }
  finished(s: RunSummary): void {
    const i = interruptedText(s);
    if (i) this.out(`${chalk.red(i)}\n`);
    this.out(`${chalk.bold(summaryLine(s))}\n`);
  }
}

type AnyTask = ListrTaskWrapper<unknown, typeof DefaultRenderer, typeof SimpleRenderer>;

/** listr2 on a terminal: one spinner line per step, per-host results beneath it. */
export class ListrReporter implements Reporter {
  private task?: AnyTask;
  private finish?: (failed: string | undefined) => void;
  private rendering?: Promise<unknown>;
  /** Resolves once Listr has started the step's task (and so set `finish`): Listr starts it later. */
  private taskReady?: Promise<void>;
  private lines: string[] = [];
  private failures: string[] = [];
  private counts = { ok: 0, changed: 0, failed: 0, skipped: 0 };

  constructor(
    private readonly out: Write,
    private readonly opts: { verbose: boolean },
  ) {}

  stepStarted(step: Step): void {
    this.lines = [];
    this.failures = [];
    this.counts = { ok: 0, changed: 0, failed: 0, skipped: 0 };
    let ready!: () => void;
    const taskReady = new Promise<void>((r) => (ready = r));
    const list = new Listr(
      [
        {
          title: `${step.name}: ${step.title}`,
          task: (_ctx, task) => {
            this.task = task as AnyTask;
            ready();
            return new Promise<void>((resolve, reject) => {
              this.finish = (failed) => (failed ? reject(new Error(failed)) : resolve());
            });
          },
        },
      ],
      { exitOnError: false, rendererOptions: { collapseErrors: false, showErrorMessage: true } },
    );
    this.finish = undefined;
    this.rendering = list.run().catch(() => undefined);
    // Or Listr ended without starting it: nothing is left to wait for.
    this.taskReady = Promise.race([taskReady, this.rendering.then(() => undefined)]);
  }
  planned(): void {}
  /** Ends the step's spinner so a question can be asked; the step's results print when it ends. */
  async beforePrompt(): Promise<void> {
    // A step that planned from facts already read can get here before Listr started its task.
    await this.taskReady;
    this.finish?.(undefined);
    await this.rendering;
    this.task = undefined;
  }
  hostDone(_step: Step, host: string, r: HostStepResult): void {
    this.counts[r.status]++;
    if (r.status === 'failed') this.failures.push(`${host}: ${r.error ?? 'failed'}`);
    else this.lines.push(`${host}: ${describeResult(r, false)}`);
    if (this.task) this.task.output = this.lines.slice(-6).join('\n');
  }
  async stepFinished(step: Step): Promise<void> {
    const c = this.counts;
    await this.taskReady;
    if (this.task) this.task.title = `${step.name}: ${step.title} (${c.ok} ok, ${c.changed} changed${c.failed ? `, ${c.failed} failed` : ''}${c.skipped ? `, ${c.skipped} skipped` : ''})`;
    this.finish?.(this.failures.length ? this.failures.join('\n') : undefined);
    await this.rendering;
    if (this.opts.verbose || c.changed > 0) for (const l of this.lines) this.out(`    ${l}\n`);
    this.task = undefined;
  }
  note(host: string, line: string): void {
    this.lines.push(`${host} note: ${line}`);
  }
  log(line: string): void {
    if (this.opts.verbose && this.task) this.task.output = line;
  }
  finished(s: RunSummary): void {
    const i = interruptedText(s);
    if (i) this.out(`${chalk.red(i)}\n`);
    this.out(`${chalk.bold(summaryLine(s))}\n`);
  }
}

/** The machine-readable summary printed once at the end with --json (secrets already redacted). */
export function jsonSummary(s: RunSummary): string {
  return JSON.stringify(s, null, 2);
}
