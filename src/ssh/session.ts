// The SSH side of one osha run: at most one connection per host, opened on first use and
// reused by every step, hosts connected in parallel. Closing the session closes them all.
import { HostConnection, type ConnectOptions, type PlanningRead } from './connection.ts';
import { loadReadAhead, saveReadAhead } from './read-ahead.ts';
import type { SshTarget } from './target.ts';
import { mapLimit } from '../util/concurrency.ts';
import type { Result } from '../util/result.ts';
import { DEFAULT_CONCURRENCY } from './defaults.ts';

export class SshSession {
  private readonly connections = new Map<string, Promise<Result<HostConnection>>>();
  /** Set by the runner while a step plans: every connection is then a read-only view. */
  planning: string | undefined;

  /** The reads the last run of this playbook made while planning (src/ssh/read-ahead.ts). */
  private readonly lastReads: Promise<Map<string, PlanningRead[]>> | undefined;

  /** `readAheadFile`: where a playbook run keeps its planning reads for the next run. */
  constructor(
    readonly targets: readonly SshTarget[],
    private readonly options: ConnectOptions = {},
    readonly concurrency = DEFAULT_CONCURRENCY,
    private readonly readAheadFile?: string,
  ) {
    this.lastReads = readAheadFile ? loadReadAhead(readAheadFile) : undefined;
  }

  target(name: string): SshTarget {
    const t = this.targets.find((x) => x.name === name);
    if (!t) throw new Error(`no SSH target named ${name}`);
    return t;
  }

  /** The connection to a host, opened once; a failed open is remembered for the run. */
  connect(name: string): Promise<Result<HostConnection>> {
    let c = this.connections.get(name);
    if (!c) {
      c = Promise.all([HostConnection.open(this.target(name), { ...this.options, readOnly: () => this.planning }), this.lastReads]).then(([r, last]) => {
        // Asked in the same turn as the planning step's own first reads: one round trip for all.
        if (r.ok && this.changing) r.value.stopReadAhead();
        else if (r.ok) r.value.readAhead(last?.get(name) ?? []);
        return r;
      });
      this.connections.set(name, c);
    }
    return c;
  }

  /** Runs `fn` for every host (or the given ones) in parallel, each with its own result. */
  async forEachHost<R>(fn: (target: SshTarget) => Promise<R>, names?: readonly string[]): Promise<Map<string, R>> {
    const targets = names ? this.targets.filter((t) => names.includes(t.name)) : this.targets;
    const results = await mapLimit(targets, this.concurrency, fn);
    return new Map(targets.map((t, i) => [t.name, results[i] as R]));
  }

  private changing = false;

  /** The run is about to change a node: what was read ahead is no longer current. */
  changed(): void {
    if (this.changing) return;
    this.changing = true;
    for (const c of this.connections.values()) void c.then((r) => r.ok && r.value.stopReadAhead());
  }

  /** Forgets a host's connection so the next use reconnects (after a node came back). */
  async reset(name: string): Promise<void> {
    const c = this.connections.get(name);
    this.connections.delete(name);
    const r = await c;
    if (r?.ok) r.value.close();
  }

  async close(): Promise<void> {
    const all = [...this.connections.values()];
    this.connections.clear();
    const open = (await Promise.all(all)).flatMap((c) => (c.ok ? [c.value] : []));
    const reads = new Map(open.map((c) => [c.target.name, c.plannedReads()]));
    for (const c of open) c.close();
    // Kept for the next run, unless this one read nothing (it stopped before its first step).
    if (this.readAheadFile && [...reads.values()].some((r) => r.length > 0)) await saveReadAhead(this.readAheadFile, reads, this.changing).catch(() => undefined);
  }
}
