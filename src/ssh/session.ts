// The SSH side of one osha run: at most one connection per host, opened on first use and
// reused by every step, hosts connected in parallel. Closing the session closes them all.
import { HostConnection, type ConnectOptions } from './connection.ts';
import type { SshTarget } from './target.ts';
import { mapLimit } from '../util/concurrency.ts';
import type { Result } from '../util/result.ts';
import { DEFAULT_CONCURRENCY } from './defaults.ts';

export class SshSession {
  private readonly connections = new Map<string, Promise<Result<HostConnection>>>();
  /** Set by the runner while a step plans: every connection is then a read-only view. */
  planning: string | undefined;

  constructor(
    readonly targets: readonly SshTarget[],
    private readonly options: ConnectOptions = {},
    readonly concurrency = DEFAULT_CONCURRENCY,
  ) {}

  target(name: string): SshTarget {
    const t = this.targets.find((x) => x.name === name);
    if (!t) throw new Error(`no SSH target named ${name}`);
    return t;
  }

  /** The connection to a host, opened once; a failed open is remembered for the run. */
  connect(name: string): Promise<Result<HostConnection>> {
    let c = this.connections.get(name);
    if (!c) {
      c = HostConnection.open(this.target(name), { ...this.options, readOnly: () => this.planning });
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
    for (const c of await Promise.all(all)) if (c.ok) c.value.close();
  }
}
