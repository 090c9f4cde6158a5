// Building blocks shared by the deploy steps: per-host planning, host facts, file actions.
import type { Action, HostPlan, StepContext } from '../runner/types.ts';
import type { HostConnection } from '../ssh/connection.ts';
import { readOsFacts, readFileFact, type OsFacts, type FileFact } from '../facts/host.ts';
import { readCib, readClusterStatus } from '../facts/cluster.ts';
import type { ClusterStatus } from '../facts/status.ts';
import { renderFileDiff, maskSecrets } from '../render/diff.ts';
import { backupPathFor } from '../openstack/backup.ts';
import { sh } from '../ssh/quote.ts';
import { err, ok, type Result } from '../util/result.ts';
import { mapLimit, sleep } from '../util/concurrency.ts';

export interface HostHandle {
  host: string;
  c: HostConnection;
  os: OsFacts;
}

/** The connection and OS facts of a host (read once per run). */
export async function hostHandle(ctx: StepContext, host: string): Promise<Result<HostHandle>> {
  const c = await ctx.connection(host);
  if (!c.ok) return c;
  const os = await ctx.facts.get(host, 'os', () => readOsFacts(c.value));
  if (!os.ok) return os;
  return ok({ host, c: c.value, os: os.value });
}

/** `fn` on every host of the step, as many at once as --concurrency allows; results in host order. */
export function eachHost<T>(ctx: StepContext, fn: (h: HostHandle) => Promise<Result<T>>): Promise<Result<T>[]> {
  return mapLimit(ctx.hosts, ctx.session.concurrency, async (host): Promise<Result<T>> => {
    const h = await hostHandle(ctx, host);
    return h.ok ? fn(h.value) : h;
  });
}

/** Plans every host of the step with `fn`, within --concurrency (a thrown bug is reported by the runner on every host of the step). */
export async function planEachHost(ctx: StepContext, fn: (h: HostHandle) => Promise<HostPlan>): Promise<Map<string, HostPlan>> {
  const plans = await eachHost(ctx, fn);
  return new Map(ctx.hosts.map((h, i) => [h, plans[i] as HostPlan]));
}

/** What every host of a step told: its handle and one fact, in host order; or, when any host failed, those hosts' errors. */
export type Gathered<F> = { ok: true; handles: Map<string, HostHandle>; facts: Map<string, F> } | { ok: false; plans: Map<string, HostPlan> };

/**
 * Reads a fact from every host within --concurrency, for a step that decides across hosts (one
 * authkey, one Galera seed): all or nothing, since a decision on part of the cluster is wrong.
 */
export async function gatherEachHost<F>(ctx: StepContext, read: (h: HostHandle) => Promise<Result<F>>): Promise<Gathered<F>> {
  const got = await eachHost(ctx, async (h) => {
    const f = await read(h);
    return f.ok ? ok({ h, fact: f.value }) : f;
  });
  const plans = new Map<string, HostPlan>();
  const handles = new Map<string, HostHandle>();
  const facts = new Map<string, F>();
  ctx.hosts.forEach((host, i) => {
    const r = got[i]!;
    if (!r.ok) plans.set(host, r);
    else {
      handles.set(host, r.value.h);
      facts.set(host, r.value.fact);
    }
  });
  return plans.size > 0 ? { ok: false, plans } : { ok: true, handles, facts };
}

/** A host and its connection: enough to read facts before its OS facts are known. */
export type HostReader = Pick<HostHandle, 'host' | 'c'>;

export function fileFact(ctx: StepContext, h: HostReader, path: string): Promise<Result<FileFact>> {
  return ctx.facts.get(h.host, `file:${path}`, () => readFileFact(h.c, path));
}

/**
 * The live CIB as this host's Pacemaker gives it (undefined when it runs none). Read once until
 * the run applies an action: preflight, the resources step and the fencing step of a run that
 * changes nothing share one cibadmin --query.
 */
export function liveCib(ctx: StepContext, h: HostReader): Promise<Result<string | undefined>> {
  return ctx.facts.getUntilChange(h.host, 'cib', () => readCib(h.c));
}

/**
 * The cluster's status (crm_mon) as this host sees it, read once until the run applies an action:
 * cluster-start and the resources step of a run that changes nothing share one crm_mon.
 */
export function liveStatus(ctx: StepContext, h: HostReader): Promise<Result<ClusterStatus>> {
  return ctx.facts.getUntilChange(h.host, 'crm_mon', () => readClusterStatus(h.c));
}

export interface WriteFileOptions {
  mode: number;
  owner?: string;
  group?: string;
  /** Keep the file as osha found it in PATH.osha-orig before the first change. */
  backup?: boolean;
  /** Show only checksums, never content (keys). */
  secret?: boolean;
  /** How diff lines are masked; the default hides password-like options and URL passwords. */
  mask?: (line: string) => string;
  /** Runs after a successful write (e.g. forget a fact). */
  after?: () => void;
}

/** An action that writes `content` to `path` when it differs from `current`; none otherwise. */
export function writeFileActions(h: HostHandle, path: string, current: FileFact, content: string | Buffer, opts: WriteFileOptions): Action[] {
  const next = typeof content === 'string' ? Buffer.from(content) : content;
  if (current.exists && current.content?.equals(next)) return [];
  const before = current.content?.toString('utf8') ?? '';
  const diff = opts.secret ? undefined : renderFileDiff(path, before, next.toString('utf8'), opts.mask ?? maskSecrets);
  const backupPath = backupPathFor(path);
  return [
    {
      summary: `${current.exists ? 'update' : 'create'} ${path} (mode ${opts.mode.toString(8).padStart(4, '0')})`,
      diff,
      commands: opts.backup && current.exists ? [sh`[ -e ${backupPath} ] || cp -p ${path} ${backupPath}`] : undefined,
      apply: async () => {
        if (opts.backup && current.exists) {
          const b = await h.c.run(sh`[ -e ${backupPath} ] || cp -p -- ${path} ${backupPath}`);
          if (!b.ok) return b;
        }
        const r = await h.c.upload(path, next, { mode: opts.mode, owner: opts.owner, group: opts.group });
        if (r.ok) opts.after?.();
        return r;
      },
    },
  ];
}

/** The actions, each making the host's cached fact be read again once it ran (what they change, the fact describes). */
export function forgetFactAfter(ctx: StepContext, host: string, fact: string, actions: readonly Action[]): Action[] {
  return actions.map((a) => ({
    ...a,
    apply: async () => {
      const done = await a.apply();
      ctx.facts.forget(host, fact);
      return done;
    },
  }));
}

/** An action that runs one command (shown as is in a dry run: never put a secret in it). */
export function commandAction(h: HostHandle, summary: string, command: string, timeoutMs?: number): Action {
  return {
    summary,
    commands: [command],
    apply: async () => {
      const r = await h.c.run(command, { timeoutMs });
      return r.ok ? ok(undefined) : r;
    },
  };
}

/** Waits for `check` to succeed, polling at `intervalMs`, up to `timeoutMs`; returns the last failure otherwise. */
export async function waitFor<T>(check: () => Promise<Result<T>>, timeoutMs: number, intervalMs = 250, signal?: AbortSignal): Promise<Result<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: Result<T> = err({ message: 'not checked yet' });
  while (Date.now() < deadline && !signal?.aborted) {
    last = await check();
    if (last.ok) return last;
    // An interrupted run stops waiting at once, not after the pause.
    await sleep(intervalMs, signal);
  }
  return last;
}

/**
 * A run-wide set one step fills and a later step reads, kept in the run's context (ctx.shared):
 * the fact cache holds only what nodes report.
 */
export function runNote<T>(ctx: StepContext, key: string): Set<T> {
  let s = ctx.shared.get(key) as Set<T> | undefined;
  if (!s) {
    s = new Set();
    ctx.shared.set(key, s);
  }
  return s;
}

/** Hosts whose corosync authkey this run replaces (the authkey step plans it; corosync-conf restarts for it). */
export const AUTHKEY_CHANGED = 'authkey-changed';
