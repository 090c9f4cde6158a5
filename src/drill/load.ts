// `osha drill --load`: a bounded client loop through the VIP while the drill runs, as an OpenStack
// user sees the failover. Each round asks keystone for a token, lists glance's images (when
// glance-api is a service) and creates a keystone project, the acknowledged write. Afterwards every
// acknowledged project is looked up again (lost writes) and every project the loop made is deleted,
// found by its id or its run's name, never anything else. The bookkeeping (gaps, the summary) is
// pure; the HTTP bases and the clock are parameters, so a stand-in server can drive the loop.
import { randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Inventory } from '../inventory/schema.ts';
import { hostForUrl } from '../openstack/url.ts';
import { mapLimit } from '../util/concurrency.ts';

/** Writes checked (and their projects deleted) at once after the loop. */
const SETTLE_CONCURRENCY = 8;

export type LoadKind = 'token' | 'images' | 'write';

export interface LoadTarget {
  /** Keystone's v3 base, such as http://VIP:5000/v3. */
  identityUrl: string;
  /** Glance's base, such as http://VIP:9292; without it, no image lists. */
  imageUrl?: string;
  username: string;
  password: string;
  project: string;
  userDomain: string;
  projectDomain: string;
}

export interface Clock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

export const realClock: Clock = { now: () => Date.now(), sleep: (ms) => new Promise((r) => setTimeout(r, ms)) };

export interface LoadOptions {
  /** In the names of the projects the loop makes: osha-drill-RUNID-N. Default: random. */
  runId?: string;
  /** Clock time at which the loop stops by itself. */
  until: number;
  /** Per request, for its answer (default 10 s); the connect gets at most 2 s of it. */
  requestTimeoutMs?: number;
  /** A round faster than this is followed by a pause for the rest (default 200 ms). */
  minRoundMs?: number;
  /** How long the check afterwards keeps trying to get a token (default 30 s). */
  settleMs?: number;
  clock?: Clock;
}

/** One request of the loop, in clock time. */
export interface Sample {
  kind: LoadKind;
  start: number;
  end: number;
  ok: boolean;
  /** Why it failed: `HTTP 503`, `timeout`, `ECONNREFUSED`... */
  reason?: string;
}

/** A project creation: its name always, its id once acknowledged (201). */
export interface Write {
  name: string;
  id?: string;
}

export interface LoadRecord {
  kinds: LoadKind[];
  from: number;
  to: number;
  samples: Sample[];
  /** Tokens issued again because a request got 401. */
  reauths: number;
  writes: Write[];
}

export interface WriteCheck {
  /** Acknowledged projects keystone no longer has (404). */
  lost: string[];
  /** Acknowledged projects whose lookup never got an answer. */
  unverified: string[];
}

export interface Cleanup {
  deleted: number;
  /** Names of the loop's projects that could not be deleted (or not looked for). */
  left: string[];
}

export interface KindSummary {
  requests: number;
  failed: number;
  longestGapMs: number;
}

export interface LoadSummary {
  requests: number;
  failed: number;
  byKind: Partial<Record<LoadKind, KindSummary>>;
  /** The longest time without any successful request. */
  longestGapMs: number;
  /** Kinds whose last request failed: their gap was still open when the loop ended. */
  stillFailing: LoadKind[];
  /** Failed requests by reason. */
  failures: Record<string, number>;
  reauths: number;
  acknowledgedWrites: number;
  lostWrites: number;
  unverifiedWrites: number;
  cleanup: Cleanup;
}

// --- the bookkeeping ---

/** The longest stretch of [from, to] without a success, given when the successes completed. */
export function longestGap(successAt: number[], from: number, to: number): number {
  let last = from;
  let best = 0;
  for (const t of [...successAt].sort((a, b) => a - b)) {
    if (t < from || t > to) continue;
    best = Math.max(best, t - last);
    last = t;
  }
  return Math.max(best, to - last);
}

/** The kinds whose last request failed (or that made none). */
export function stillFailing(record: Pick<LoadRecord, 'kinds' | 'samples'>): LoadKind[] {
  const last = new Map<LoadKind, boolean>();
  for (const x of record.samples) last.set(x.kind, x.ok);
  return record.kinds.filter((k) => last.get(k) !== true);
}

export function summarizeLoad(record: LoadRecord, check: WriteCheck, cleanup: Cleanup): LoadSummary {
  const { samples, from, to } = record;
  const succeeded = (list: Sample[]) => list.filter((s) => s.ok).map((s) => s.end);
  const byKind: LoadSummary['byKind'] = {};
  for (const kind of record.kinds) {
    const mine = samples.filter((s) => s.kind === kind);
    byKind[kind] = { requests: mine.length, failed: mine.filter((s) => !s.ok).length, longestGapMs: longestGap(succeeded(mine), from, to) };
  }
  const failures: Record<string, number> = {};
  for (const s of samples) if (!s.ok) failures[s.reason ?? 'failed'] = (failures[s.reason ?? 'failed'] ?? 0) + 1;
  return {
    requests: samples.length,
    failed: samples.filter((s) => !s.ok).length,
    byKind,
    longestGapMs: longestGap(succeeded(samples), from, to),
    stillFailing: stillFailing(record),
    failures,
    reauths: record.reauths,
    acknowledgedWrites: record.writes.filter((w) => w.id !== undefined).length,
    lostWrites: check.lost.length,
    unverifiedWrites: check.unverified.length,
    cleanup,
  };
}

/** The inventory's keystone user and the VIP's endpoints; auth_url as the deep monitors use it. */
export function loadTargetOf(inv: Inventory, password: string): LoadTarget {
  const os = inv.openstack;
  const vip = hostForUrl(inv.vip.address);
  return {
    identityUrl: (os?.auth_url ?? `http://${vip}:5000/v3`).replace(/\/+$/, ''),
    imageUrl: inv.services.includes('glance-api') ? `http://${vip}:9292` : undefined,
    username: os?.username ?? 'admin',
    password,
    project: os?.project ?? 'admin',
    userDomain: os?.user_domain ?? 'Default',
    projectDomain: os?.project_domain ?? 'Default',
  };
}

// --- HTTP ---

type Reply = { status: number; token?: string; body: unknown } | { error: string; aborted: boolean };

/**
 * How long a client waits for a connection (to the VIP). Short: while no node holds the VIP, or
 * its old holder is dead, a connect is never answered, and the loop must try again soon to see the
 * VIP come back. The answer to a request that got through may take longer (`requestTimeoutMs`):
 * a database holding writes for a few seconds while it evicts a dead node is slow, not down.
 */
const CONNECT_TIMEOUT_MS = 2000;
/** How long an OpenStack client waits for an answer, at least (keystoneauth waits without limit by default). */
const REQUEST_TIMEOUT_MS = 10_000;

interface CallInit {
  method?: string;
  headers?: Record<string, string>;
  body?: string;
}

/** One request: connect within CONNECT_TIMEOUT_MS, answered within `timeoutMs`; `stop` abandons it. The body is read (JSON when it is). */
function call(url: string, init: CallInit, timeoutMs: number, stop?: AbortSignal): Promise<Reply> {
  return new Promise((resolve) => {
    let settled = false;
    const timers: NodeJS.Timeout[] = [];
    const finish = (reply: Reply) => {
      if (settled) return;
      settled = true;
      for (const t of timers) clearTimeout(t);
      stop?.removeEventListener('abort', onStop);
      resolve(reply);
    };
    const u = new URL(url);
    const req = (u.protocol === 'https:' ? httpsRequest : httpRequest)(u, { method: init.method ?? 'GET', headers: init.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', (e: NodeJS.ErrnoException) => finish({ error: e.code ?? e.name, aborted: stop?.aborted === true }));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let body: unknown;
        try {
          body = text ? JSON.parse(text) : undefined;
        } catch {
          body = undefined;
        }
        const token = res.headers['x-subject-token'];
        finish({ status: res.statusCode ?? 0, token: typeof token === 'string' ? token : undefined, body });
      });
    });
    const fail = (reason: string) => {
      if (settled) return;
      finish({ error: reason, aborted: stop?.aborted === true });
      req.destroy();
    };
    const onStop = () => fail('aborted');
    stop?.addEventListener('abort', onStop, { once: true });
    if (stop?.aborted) return fail('aborted');
    timers.push(setTimeout(() => fail('timeout'), timeoutMs));
    req.on('socket', (socket) => {
      // A kept-alive connection is already there: only a new one has a connect to wait for.
      if (!socket.connecting) return;
      const t = setTimeout(() => fail('connect timeout'), Math.min(CONNECT_TIMEOUT_MS, timeoutMs));
      timers.push(t);
      socket.once('connect', () => clearTimeout(t));
    });
    req.on('error', (e: NodeJS.ErrnoException) => fail(e.code ?? e.name));
    req.end(init.body);
  });
}

const field = (body: unknown, ...path: string[]): unknown => path.reduce<unknown>((o, k) => (o && typeof o === 'object' ? (o as Record<string, unknown>)[k] : undefined), body);

interface Token {
  value: string;
  /** The domain of the project the token is scoped to: where the loop's projects go. */
  domainId: string;
}

async function issueToken(t: LoadTarget, timeoutMs: number, stop?: AbortSignal): Promise<{ reply: Reply; token?: Token }> {
  const auth = {
    identity: { methods: ['password'], password: { user: { name: t.username, domain: { name: t.userDomain }, password: t.password } } },
    scope: { project: { name: t.project, domain: { name: t.projectDomain } } },
  };
  const reply = await call(`${t.identityUrl}/auth/tokens`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ auth }) }, timeoutMs, stop);
  if (!('status' in reply) || reply.status !== 201 || !reply.token) return { reply };
  const domainId = field(reply.body, 'token', 'project', 'domain', 'id');
  return { reply, token: typeof domainId === 'string' ? { value: reply.token, domainId } : undefined };
}

const authed = (token: Token, extra: Record<string, string> = {}) => ({ 'x-auth-token': token.value, ...extra });

// --- the loop ---

export interface LoadRun {
  /** Resolves with the first round's samples (or none, when the loop ended before one). */
  firstRound: Promise<Sample[]>;
  /** Resolves with what the loop recorded once it ends (at `until`, or by stop()). */
  ended: Promise<LoadRecord>;
  /**
   * Ends the loop and resolves with what it recorded. With `graceMs`, the loop first goes on until
   * the last request of every kind succeeded (a gap still open is closed, not cut short) or the grace
   * is over; without, a request under way is abandoned.
   */
  stop(graceMs?: number): Promise<LoadRecord>;
}

export function startLoad(target: LoadTarget, opts: LoadOptions): LoadRun {
  const clock = opts.clock ?? realClock;
  const timeoutMs = opts.requestTimeoutMs ?? REQUEST_TIMEOUT_MS;
  const minRoundMs = opts.minRoundMs ?? 200;
  const runId = opts.runId ?? randomBytes(3).toString('hex');
  const record: LoadRecord = { kinds: target.imageUrl ? ['token', 'images', 'write'] : ['token', 'write'], from: clock.now(), to: 0, samples: [], reauths: 0, writes: [] };
  const stopping = new AbortController();
  let closeBy: number | undefined;
  const over = () => stopping.signal.aborted || clock.now() >= opts.until || (closeBy !== undefined && (clock.now() >= closeBy || stillFailing(record).length === 0));
  let held: Token | undefined;
  let firstDone: (s: Sample[]) => void = () => undefined;
  const firstRound = new Promise<Sample[]>((r) => (firstDone = r));

  /** Makes a request and records it; undefined when the loop was stopped under it (not a sample). */
  const timed = async (kind: LoadKind, send: () => Promise<Reply>, good: (r: Reply) => boolean): Promise<Reply | undefined> => {
    const start = clock.now();
    const reply = await send();
    if ('aborted' in reply && reply.aborted) return undefined;
    const ok = good(reply);
    record.samples.push({ kind, start, end: clock.now(), ok, ...(ok ? {} : { reason: 'status' in reply ? `HTTP ${reply.status}` : reply.error }) });
    return reply;
  };
  const newToken = async (): Promise<Token | undefined> => {
    let token: Token | undefined;
    await timed(
      'token',
      async () => {
        const r = await issueToken(target, timeoutMs, stopping.signal);
        token = r.token;
        return r.reply;
      },
      () => token !== undefined,
    );
    return token;
  };
  /** A request with the held token; on 401 a new token and one more try. */
  const withToken = async (kind: LoadKind, send: (t: Token) => Promise<Reply>, good: (r: Reply) => boolean): Promise<Reply | undefined> => {
    if (!held) return undefined;
    const reply = await timed(kind, () => send(held!), good);
    if (!reply || !('status' in reply) || reply.status !== 401 || over()) return reply;
    record.reauths++;
    held = await newToken();
    return held && !over() ? timed(kind, () => send(held!), good) : undefined;
  };

  const round = async (n: number): Promise<void> => {
    const fresh = await newToken();
    held ??= fresh;
    if (over()) return;
    if (target.imageUrl) {
      await withToken('images', (t) => call(`${target.imageUrl}/v2/images`, { headers: authed(t) }, timeoutMs, stopping.signal), (r) => 'status' in r && r.status === 200);
      if (over()) return;
    }
    if (!held) return;
    const write: Write = { name: `osha-drill-${runId}-${n}` };
    const body = JSON.stringify({ project: { name: write.name, domain_id: held.domainId, description: 'osha drill --load: a write through the VIP, deleted after the drill', enabled: true } });
    record.writes.push(write);
    const created = await withToken('write', (t) => call(`${target.identityUrl}/projects`, { method: 'POST', headers: authed(t, { 'content-type': 'application/json' }), body }, timeoutMs, stopping.signal), (r) => 'status' in r && r.status === 201 && typeof field(r.body, 'project', 'id') === 'string');
    if (created && 'status' in created && created.status === 201) write.id = field(created.body, 'project', 'id') as string | undefined;
  };

  const stopped = new Promise<void>((r) => stopping.signal.addEventListener('abort', () => r(), { once: true }));
  const loop = (async () => {
    for (let n = 1; !over(); n++) {
      const started = clock.now();
      const before = record.samples.length;
      await round(n);
      if (n === 1) firstDone(record.samples.slice(before));
      const spent = clock.now() - started;
      if (spent < minRoundMs && !over()) await Promise.race([clock.sleep(minRoundMs - spent), stopped]);
    }
    record.to = clock.now();
    firstDone([]);
    return record;
  })();

  return {
    firstRound,
    ended: loop,
    stop(graceMs = 0) {
      if (graceMs > 0) closeBy = clock.now() + graceMs;
      else stopping.abort();
      return loop;
    },
  };
}

// --- afterwards: lost writes and cleanup ---

/**
 * Looks every acknowledged project up again from a fresh token, then deletes every project the
 * loop made: by id when acknowledged, else by its exact name (a creation whose answer was lost may
 * still have been made). Projects of other names are never touched.
 */
export async function settleLoad(target: LoadTarget, record: LoadRecord, opts: Pick<LoadOptions, 'requestTimeoutMs' | 'settleMs' | 'clock'> = {}): Promise<LoadSummary> {
  const clock = opts.clock ?? realClock;
  const timeoutMs = opts.requestTimeoutMs ?? REQUEST_TIMEOUT_MS;
  const giveUp = clock.now() + (opts.settleMs ?? 30_000);
  const acked = record.writes.filter((w) => w.id !== undefined);
  let token: Token | undefined;
  while (!token && clock.now() < giveUp) {
    token = (await issueToken(target, timeoutMs)).token;
    if (!token) await clock.sleep(1000);
  }
  if (!token) return summarizeLoad(record, { lost: [], unverified: acked.map((w) => w.name) }, { deleted: 0, left: record.writes.map((w) => w.name) });
  const t = token;
  /** A request tried a few times until it gets an HTTP answer other than 5xx. */
  const ask = async (url: string, init: CallInit = {}): Promise<Reply> => {
    let reply: Reply = { error: 'not tried', aborted: false };
    for (let i = 0; i < 3; i++) {
      reply = await call(url, { ...init, headers: authed(t) }, timeoutMs);
      if ('status' in reply && reply.status < 500) return reply;
      await clock.sleep(500);
    }
    return reply;
  };
  // One write's outcome; the writes are checked a few at a time (a long run, such as a rolling
  // upgrade's, makes a thousand of them), and their outcomes are folded in the writes' order.
  interface Outcome {
    lost?: string;
    unverified?: string;
    deleted: number;
    left: string[];
  }
  const remove = async (w: Write, id: string, o: Outcome) => {
    const r = await ask(`${target.identityUrl}/projects/${encodeURIComponent(id)}`, { method: 'DELETE' });
    if ('status' in r && r.status === 204) o.deleted++;
    else if (!('status' in r && r.status === 404)) o.left.push(w.name);
  };
  const settleOne = async (w: Write): Promise<Outcome> => {
    const o: Outcome = { deleted: 0, left: [] };
    if (w.id !== undefined) {
      const r = await ask(`${target.identityUrl}/projects/${encodeURIComponent(w.id)}`);
      const status = 'status' in r ? r.status : undefined;
      if (status === 404) return { ...o, lost: w.name };
      if (status !== 200) o.unverified = w.name;
      await remove(w, w.id, o);
      return o;
    }
    const r = await ask(`${target.identityUrl}/projects?name=${encodeURIComponent(w.name)}&domain_id=${encodeURIComponent(t.domainId)}`);
    const found = 'status' in r && r.status === 200 ? field(r.body, 'projects') : undefined;
    if (!Array.isArray(found)) return { ...o, left: [w.name] };
    for (const p of found as unknown[]) {
      const id = field(p, 'id');
      if (field(p, 'name') === w.name && typeof id === 'string') await remove(w, id, o);
    }
    return o;
  };
  const outcomes = await mapLimit(record.writes, SETTLE_CONCURRENCY, settleOne);
  const check: WriteCheck = { lost: outcomes.flatMap((o) => o.lost ?? []), unverified: outcomes.flatMap((o) => o.unverified ?? []) };
  const cleanup: Cleanup = { deleted: outcomes.reduce((n, o) => n + o.deleted, 0), left: outcomes.flatMap((o) => o.left) };
  return summarizeLoad(record, check, cleanup);
}
