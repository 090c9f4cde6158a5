// The lab's apt proxy: an HTTP proxy on the lab bridge (198.18.X.1:3142) that apt in every node
// uses (Acquire::http::Proxy), so `apt-get update`, `install` and a release upgrade work in nodes
// that reach nothing but the bridge. Offline-first: it answers from snapshots, the apt state of
// every cached lab image (CACHE/<hash>/rootfs: var/lib/apt/lists, var/cache/apt/archives), plus
// CACHE/apt, where a .deb the snapshots lack is fetched once from its Debian mirror (the host has
// the network) and checked against the snapshots' package lists. Index files are never fetched:
// the snapshot is frozen, which the nodes' apt is told (see aptConf).
import { createHash, randomBytes } from 'node:crypto';
import { appendFileSync, createWriteStream } from 'node:fs';
import { chmod, mkdir, open, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import http from 'node:http';
import { dirname, join } from 'node:path';
import type { Duplex } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { daemonAlive, listenUntilStopped, portAccepts, readDaemonLab, startDaemon, stopDaemon, waitForDaemon, type Daemon } from './daemon.ts';
import type { NodePlan } from './plan.ts';
import { pidAlive } from './proc.ts';
import type { LabState } from './state.ts';
import { err, messageOf, ok, oshaError, type Result } from '../util/result.ts';

/** The port the apt proxy listens on, on the lab bridge address only (apt-cacher-ng's port). */
export const APT_PROXY_PORT = 3142;
/** The apt configuration `lab up` writes into every node. */
export const NODE_APT_CONF = '/etc/apt/apt.conf.d/80osha-lab-proxy';

/** The proxy's log (every request and its outcome) in the lab directory. */
export function aptProxyLog(dir: string): string {
  return join(dir, 'apt-proxy.log');
}

/** Where fetched .debs are kept, next to the images: shared by every lab of this host. */
export function aptExtraDir(cacheDir: string): string {
  return join(cacheDir, 'apt');
}

/** What apt in a node is told: the proxy, and how to use a frozen snapshot that has the uncompressed lists only. */
export function aptConf(gateway: string): string {
  return `// Written by osha lab. This node reaches Debian only through the lab's apt proxy on the bridge,
// which answers from the lab images' apt snapshots (offline-first). A snapshot is frozen: its
// InRelease files outlive their Valid-Until, and it holds the uncompressed Packages lists only
// (no .xz, no by-hash names, no pdiffs, no Translation files). apt skips "uncompressed" in the
// Order list unless it is a type of its own ("." is apt's name for no compressor); without it
// apt asks for Packages.xz and .gz first and reports each 404 as an error.
Acquire::http::Proxy "http://${gateway}:${APT_PROXY_PORT}/";
Acquire::Check-Valid-Until "false";
Acquire::Languages "none";
Acquire::By-Hash "no";
Acquire::PDiffs "false";
Acquire::CompressionTypes::uncompressed ".";
Acquire::CompressionTypes::Order:: "uncompressed";
`;
}

/** Writes the apt configuration into a node's root before it boots. */
export async function writeAptProxyNodeFiles(node: NodePlan, gateway: string): Promise<Result<void>> {
  try {
    await writeFile(join(node.root, NODE_APT_CONF), aptConf(gateway), { mode: 0o644 });
    return ok(undefined);
  } catch (e) {
    return err(oshaError(`writing the apt proxy configuration into ${node.name}: ${messageOf(e)}`));
  }
}

// --- Pure parts: apt's file names and what a request asks for ---

/** The characters apt's URItoFileName quotes (besides '%', controls and non-ASCII bytes). */
const APT_QUOTED = new Set('\\|{}[]<>"^~_=!@#$%&*');

/** apt's QuoteString: every byte that is unsafe in a file name as %xx (lower-case hex). */
function aptQuote(text: string): string {
  let out = '';
  for (const byte of Buffer.from(text, 'utf8')) {
    const c = String.fromCharCode(byte);
    out += byte <= 0x20 || byte >= 0x7f || APT_QUOTED.has(c) ? `%${byte.toString(16).padStart(2, '0')}` : c;
  }
  return out;
}

function aptUnquote(text: string): string {
  return Buffer.from(text.replace(/%([0-9a-fA-F]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16))), 'latin1').toString('utf8');
}

/**
 * The name apt gives the list file of a URL in /var/lib/apt/lists (apt's URItoFileName): no
 * scheme, unsafe characters quoted, "/" as "_"; e.g. http://deb.debian.org/debian/dists/trixie/InRelease
 * -> deb.debian.org_debian_dists_trixie_InRelease. Undefined for a URL that does not parse.
 */
export function aptListName(url: string): string | undefined {
  const parsed = parseHttpUrl(url);
  return parsed ? aptQuote(`${parsed.host}${parsed.path}`).replace(/\//g, '_') : undefined;
}

/** The mirror (host and path) a list file comes from: what precedes "_dists_"; e.g. deb.debian.org/debian. */
export function mirrorRoot(listName: string): string | undefined {
  const at = listName.indexOf('_dists_');
  return at > 0 ? aptUnquote(listName.slice(0, at).replace(/_/g, '/')) : undefined;
}

/**
 * The pool file name of a .deb in apt's cache: apt keeps the epoch in the cached name, quoted
 * ("keystone_2%3a27.0.0-3+deb13u6_all.deb"), the pool's name has none ("keystone_27.0.0-3+deb13u6_all.deb").
 */
export function poolBasename(cacheName: string): string {
  return cacheName.replace(/^([^_]+)_\d+%3a/, '$1_');
}

function parseHttpUrl(url: string): { host: string; path: string; href: string } | undefined {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return undefined;
  }
  if (u.protocol !== 'http:' || !u.host) return undefined;
  let path: string;
  try {
    path = decodeURIComponent(u.pathname);
  } catch {
    return undefined;
  }
  // A control character (a decoded %0a) names no file of a mirror.
  if ([...path].some((c) => c < ' ' || c === '\x7f')) return undefined;
  return { host: u.host, path, href: `http://${u.host}${u.pathname}` };
}

/** What a request asks the proxy for. */
export type AptRequest =
  /** An index file (InRelease, Packages, ...): served from a snapshot's lists, never fetched. */
  | { kind: 'index'; listName: string }
  /**
   * A package: served by its pool name from the snapshots' archives, else fetched from `origin`.
   * `root` is the mirror it lies under, `filename` its path there (the Packages lists' Filename).
   */
  | { kind: 'deb'; basename: string; root: string; filename: string; origin: string }
  | { kind: 'refused'; status: 400 | 403 | 405; reason: string };

/** A pool file name: NAME_VERSION_ARCH.deb (the version without its epoch). */
const DEB_NAME = /^[a-z0-9][a-z0-9+.-]*_[A-Za-z0-9.+~-]+_[a-z0-9-]+\.deb$/;

/** Classifies a proxy request (method and absolute URL) against the snapshots' mirrors (host and path). */
export function classifyRequest(method: string, url: string, mirrors: readonly string[]): AptRequest {
  if (method !== 'GET' && method !== 'HEAD') return { kind: 'refused', status: 405, reason: `${method.slice(0, 16)} is not served (GET and HEAD of http:// URLs only)` };
  const parsed = parseHttpUrl(url);
  if (!parsed) return { kind: 'refused', status: 400, reason: 'not an absolute http:// URL (apt uses this proxy through Acquire::http::Proxy)' };
  // The mirrors on this host as paths there, the longest first (the innermost mirror wins).
  const paths = mirrors
    .filter((m) => m.split('/')[0] === parsed.host)
    .map((m) => m.slice(parsed.host.length))
    .sort((a, b) => b.length - a.length);
  if (paths.length === 0) return { kind: 'refused', status: 403, reason: `${parsed.host} is not a Debian mirror of the lab's snapshots` };
  const basename = parsed.path.slice(parsed.path.lastIndexOf('/') + 1);
  if (DEB_NAME.test(basename)) {
    const root = paths.find((p) => parsed.path.startsWith(`${p}/`));
    if (root === undefined) return { kind: 'refused', status: 403, reason: `${parsed.host}${parsed.path} lies under no mirror of the lab's snapshots` };
    return { kind: 'deb', basename, root: `${parsed.host}${root}`, filename: parsed.path.slice(root.length + 1), origin: parsed.href };
  }
  return { kind: 'index', listName: aptListName(url)! };
}

/** A package as a Packages list describes it: what a fetched .deb must be. */
export interface DebExpected {
  size: number;
  sha256: string;
}

/**
 * The Size and SHA256 of the stanza of a Packages list whose Filename is `filename` (relative to
 * its mirror, e.g. pool/main/k/keystone/keystone_27.0.0-3_all.deb), or undefined when none is.
 * A byte search in the whole list: no line is split, nothing of the list is kept.
 */
export function findPackagesEntry(list: Buffer, filename: string): DebExpected | undefined {
  const line = `\nFilename: ${filename}\n`;
  const at = list.indexOf(line);
  if (at < 0) return undefined;
  const start = at === 0 ? 0 : list.lastIndexOf('\n\n', at) + 1;
  const next = list.indexOf('\n\n', at + line.length - 1);
  const stanza = list.toString('utf8', start, next < 0 ? list.length : next);
  const size = /^Size: (\d+)$/m.exec(stanza)?.[1];
  const sha256 = /^SHA256: ([0-9a-f]{64})$/m.exec(stanza)?.[1];
  return size && sha256 ? { size: Number(size), sha256 } : undefined;
}

// --- The snapshots ---

interface Snapshots {
  /** The image directories scanned: another set means a rescan is due. */
  signature: string;
  /** List file name -> path, newest image first. */
  lists: Map<string, string>;
  /** Pool name of a .deb -> path. */
  debs: Map<string, string>;
  /** Mirror roots (host and path), from the list file names. */
  mirrors: string[];
  /** Packages list paths, per mirror root. */
  packages: Map<string, string[]>;
}

/** The cached images (complete ones only: they have recipe.json), newest first, with their signature. */
async function imageDirs(cacheDir: string): Promise<{ dirs: string[]; signature: string }> {
  const found: { dir: string; mtime: number }[] = [];
  for (const name of await readdir(cacheDir).catch(() => [] as string[])) {
    if (!/^[0-9a-f]{16}$/.test(name)) continue;
    const recipe = await stat(join(cacheDir, name, 'recipe.json')).catch(() => undefined);
    if (recipe) found.push({ dir: join(cacheDir, name), mtime: recipe.mtimeMs });
  }
  found.sort((a, b) => b.mtime - a.mtime);
  return { dirs: found.map((f) => f.dir), signature: found.map((f) => `${f.dir}@${f.mtime}`).join(' ') };
}

async function filesIn(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isFile() && !e.name.startsWith('.')).map((e) => e.name);
}

async function scanSnapshots(cacheDir: string, extraDir: string): Promise<Snapshots> {
  const { dirs, signature } = await imageDirs(cacheDir);
  const lists = new Map<string, string>();
  const debs = new Map<string, string>();
  for (const dir of dirs) {
    const listsDir = join(dir, 'rootfs/var/lib/apt/lists');
    for (const name of await filesIn(listsDir)) if (name !== 'lock' && !lists.has(name)) lists.set(name, join(listsDir, name));
    const archives = join(dir, 'rootfs/var/cache/apt/archives');
    for (const name of await filesIn(archives)) if (name.endsWith('.deb') && !debs.has(poolBasename(name))) debs.set(poolBasename(name), join(archives, name));
  }
  for (const name of await filesIn(extraDir)) if (name.endsWith('.deb') && !debs.has(poolBasename(name))) debs.set(poolBasename(name), join(extraDir, name));
  const packages = new Map<string, string[]>();
  for (const [name, path] of lists) {
    const root = mirrorRoot(name);
    if (!root) continue;
    if (!packages.has(root)) packages.set(root, []);
    if (name.endsWith('_Packages')) packages.get(root)!.push(path);
  }
  return { signature, lists, debs, mirrors: [...packages.keys()], packages };
}

// --- The server ---

export interface AptProxyOptions {
  /** The image cache: every complete CACHE/<hash>/rootfs is a snapshot. */
  cacheDir: string;
  /** Where fetched .debs go (made 0755 when missing). */
  extraDir: string;
  /** The only source addresses served (the lab's nodes); others get 403. */
  allowed: ReadonlySet<string>;
  /** One line per request, and the proxy's own events. */
  log: (line: string) => void;
}

/** Makes the proxy's HTTP server (not listening yet), its snapshots scanned. */
export async function createAptProxy(opts: AptProxyOptions): Promise<http.Server> {
  const made = await mkdir(opts.extraDir, { recursive: true, mode: 0o755 });
  if (made) await chmod(opts.extraDir, 0o755);
  await removeStalePartials(opts.extraDir);
  let snap = await scanSnapshots(opts.cacheDir, opts.extraDir);
  /** Rescans when the set of images changed (an image was built or removed since). */
  const refresh = async (): Promise<boolean> => {
    if ((await imageDirs(opts.cacheDir)).signature === snap.signature) return false;
    snap = await scanSnapshots(opts.cacheDir, opts.extraDir);
    return true;
  };
  const expectedOf = packagesLookup((root) => snap.packages.get(root) ?? []);
  // One fetch per .deb, however many nodes ask for it at once.
  const fetching = new Map<string, Promise<Result<{ path: string; seconds: number }>>>();
  const fetchOnce = (c: Extract<AptRequest, { kind: 'deb' }>, want: DebExpected) => {
    let fetch = fetching.get(c.basename);
    if (fetch) return { fetch, first: false };
    const started = Date.now();
    fetch = fetchDeb(c.origin, want, opts.extraDir, c.basename).then((r) => {
      fetching.delete(c.basename);
      if (!r.ok) return r;
      snap.debs.set(c.basename, r.value);
      return ok({ path: r.value, seconds: (Date.now() - started) / 1000 });
    });
    fetching.set(c.basename, fetch);
    return { fetch, first: true };
  };

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    const from = (req.socket.remoteAddress ?? '-').replace(/^::ffff:/, '');
    const what = `${req.method ?? '-'} ${(req.url ?? '-').slice(0, 512)}`;
    const say = (outcome: string) => opts.log(`${from} ${what} -> ${outcome}`);
    const answer = (status: number, outcome: string) => {
      say(`${status} ${outcome}`);
      res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' });
      res.end(req.method === 'HEAD' ? undefined : `${outcome}\n`);
    };
    if (!opts.allowed.has(from)) return answer(403, 'refused: the source address is not a node of this lab');
    let c = classifyRequest(req.method ?? '', req.url ?? '', snap.mirrors);
    if (c.kind === 'refused' && c.status === 403 && (await refresh())) c = classifyRequest(req.method ?? '', req.url ?? '', snap.mirrors);
    if (c.kind === 'refused') return answer(c.status, `refused: ${c.reason}`);

    if (c.kind === 'index') {
      const listName = c.listName;
      const path = snap.lists.get(listName) ?? ((await refresh()) ? snap.lists.get(listName) : undefined);
      if (path && (await serveFile(req, res, path, say, `cache ${sourceOf(path, opts.cacheDir)}`))) return;
      return answer(404, 'not in the snapshots');
    }
    const cached = snap.debs.get(c.basename) ?? ((await refresh()) ? snap.debs.get(c.basename) : undefined);
    if (cached && (await serveFile(req, res, cached, say, `cache ${sourceOf(cached, opts.cacheDir)}`))) return;
    const want = await expectedOf(c.root, c.filename);
    if (!want) return answer(404, `not in the snapshots, and ${c.root}/${c.filename} is in none of their package lists`);
    const { fetch, first } = fetchOnce(c, want);
    const got = await fetch;
    if (!got.ok) return answer(502, `fetching it from the mirror failed: ${got.error.message}`);
    const label = first ? `fetched from the mirror in ${got.value.seconds.toFixed(2)} s into ${opts.extraDir},` : 'fetched (by an earlier request)';
    if (await serveFile(req, res, got.value.path, say, label)) return;
    return answer(500, `${got.value.path} vanished`);
  };

  const server = http.createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      opts.log(`- error: ${messageOf(e)}`);
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  });
  // https (a CONNECT tunnel) is not served: the proxy never reaches a host on a node's behalf.
  server.on('connect', (req: http.IncomingMessage, socket: Duplex) => {
    const from = (req.socket.remoteAddress ?? '-').replace(/^::ffff:/, '');
    opts.log(`${from} CONNECT ${(req.url ?? '-').slice(0, 512)} -> 405 refused: no tunnels (http:// URLs only)`);
    socket.on('error', () => undefined);
    socket.end('HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
  });
  return server;
}

/**
 * Looks packages up in the Packages lists of their mirror, many at a time: the lookups asked for
 * while one batch reads the lists wait for the next batch, which reads each list once for all of
 * them (apt asks for many .debs at once; a list is tens of MB, read in tens of ms).
 */
function packagesLookup(listsOf: (root: string) => readonly string[]): (root: string, filename: string) => Promise<DebExpected | undefined> {
  let queued: { root: string; filename: string; done: (found: DebExpected | undefined) => void }[] = [];
  let running = false;
  const drain = async () => {
    running = true;
    while (queued.length) {
      const batch = queued;
      queued = [];
      const found = new Map<(typeof batch)[number], DebExpected>();
      try {
        for (const path of new Set(batch.flatMap((b) => listsOf(b.root)))) {
          const list = await readFile(path).catch(() => undefined);
          if (!list) continue;
          for (const b of batch) {
            if (found.has(b) || !listsOf(b.root).includes(path)) continue;
            const entry = findPackagesEntry(list, b.filename);
            if (entry) found.set(b, entry);
          }
        }
      } catch {
        // A lookup that failed is a package not found: the request gets a 404.
      }
      for (const b of batch) b.done(found.get(b));
    }
    running = false;
  };
  return (root, filename) =>
    new Promise((done) => {
      queued.push({ root, filename, done });
      if (!running) void drain();
    });
}

/** "image HASH" or "apt" (the fetched .debs): where a served file lives, for the log. */
function sourceOf(path: string, cacheDir: string): string {
  const top = path.slice(cacheDir.length + 1).split('/')[0] ?? '';
  return /^[0-9a-f]{16}$/.test(top) ? `image ${top}` : top;
}

/** Serves a file (200, or 304 when apt's copy is as new); false when it is gone. */
async function serveFile(req: http.IncomingMessage, res: http.ServerResponse, path: string, say: (outcome: string) => void, label: string): Promise<boolean> {
  const fh = await open(path, 'r').catch(() => undefined);
  if (!fh) return false;
  const st = await fh.stat();
  const modified = new Date(Math.floor(st.mtimeMs / 1000) * 1000);
  const since = Date.parse(req.headers['if-modified-since'] ?? '');
  if (!Number.isNaN(since) && since >= modified.getTime()) {
    await fh.close();
    say(`${label} 304 not modified`);
    res.writeHead(304, { 'last-modified': modified.toUTCString() });
    res.end();
    return true;
  }
  say(`${label} 200 ${st.size} bytes`);
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': st.size, 'last-modified': modified.toUTCString() });
  if (req.method === 'HEAD') {
    await fh.close();
    res.end();
    return true;
  }
  const stream = fh.createReadStream();
  await pipeline(stream, res).catch(() => undefined);
  return true;
}

/**
 * Fetches a .deb from its mirror into DIR through a temp file, renamed into place only when its
 * size and SHA256 are the ones the snapshot's Packages list gives. No redirect is followed: the
 * proxy talks to the snapshots' mirrors and nothing else.
 */
async function fetchDeb(url: string, want: DebExpected, dir: string, basename: string): Promise<Result<string>> {
  const dest = join(dir, basename);
  const tmp = join(dir, `.${basename}.${process.pid}.${randomBytes(4).toString('hex')}.part`);
  try {
    const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
      const req = http.get(url, { headers: { 'user-agent': 'osha-lab-apt-proxy' } }, resolve);
      req.setTimeout(60_000, () => req.destroy(new Error('no answer for 60 s')));
      req.on('error', reject);
    });
    if (res.statusCode !== 200) {
      res.resume();
      return err(oshaError(`the mirror answered ${res.statusCode}${res.statusCode && res.statusCode >= 300 && res.statusCode < 400 ? ' (redirects are not followed)' : ''}`));
    }
    const hash = createHash('sha256');
    let bytes = 0;
    res.on('data', (chunk: Buffer) => {
      hash.update(chunk);
      bytes += chunk.length;
    });
    await pipeline(res, createWriteStream(tmp, { mode: 0o644 }));
    const sha256 = hash.digest('hex');
    if (bytes !== want.size || sha256 !== want.sha256) {
      await rm(tmp, { force: true });
      return err(oshaError(`got ${bytes} bytes with SHA256 ${sha256}, the package list says ${want.size} bytes with ${want.sha256}; not kept`));
    }
    await rename(tmp, dest);
    return ok(dest);
  } catch (e) {
    await rm(tmp, { force: true });
    return err(oshaError(messageOf(e)));
  }
}

/** Temp files of fetches that a proxy, now dead, did not finish. */
async function removeStalePartials(dir: string): Promise<void> {
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    const m = /^\..*\.(\d+)\.[0-9a-f]{8}\.part$/.exec(name);
    if (m && !pidAlive(Number(m[1]))) await rm(join(dir, name), { force: true });
  }
}

/** Runs the apt proxy of the lab in DIR on its bridge address until SIGTERM. */
export async function runAptProxy(dir: string): Promise<void> {
  const lab = await readDaemonLab(dir);
  // The lab's own image cache (lab up --cacheDir may name another than the default).
  const cacheDir = dirname(dirname(lab.image.rootfs));
  const logFile = aptProxyLog(lab.dir);
  const log = (line: string) => appendFileSync(logFile, `${new Date().toISOString()} ${line}\n`);
  const server = await createAptProxy({ cacheDir, extraDir: aptExtraDir(cacheDir), allowed: new Set(lab.nodes.map((n) => n.address)), log });
  await listenUntilStopped(server, 'apt proxy', lab.gateway, APT_PROXY_PORT);
  log(`- apt proxy listening on ${lab.gateway}:${APT_PROXY_PORT} (PID ${process.pid}), snapshots in ${cacheDir}, fetched .debs in ${aptExtraDir(cacheDir)}`);
}

// --- The process, for lab up, down and status ---

function aptProxyDaemon(dir: string): Daemon {
  return { name: 'the apt proxy', command: 'apt-proxy', dir, log: aptProxyLog(dir) };
}

/** Starts the apt proxy detached (it outlives `osha lab up`); returns its PID. */
export function startAptProxy(state: Pick<LabState, 'dir'>): Result<number> {
  return startDaemon(aptProxyDaemon(state.dir));
}

/** True when PID is this lab's apt proxy (not a reused PID). */
export function aptProxyAlive(pid: number | undefined, dir: string): boolean {
  return daemonAlive(aptProxyDaemon(dir), pid);
}

/** Waits until the apt proxy accepts connections on its port. */
export async function waitForAptProxy(state: Pick<LabState, 'dir' | 'gateway' | 'aptProxyPid'>, timeoutMs: number): Promise<Result<void>> {
  return waitForDaemon(aptProxyDaemon(state.dir), state.aptProxyPid, `${state.gateway}:${APT_PROXY_PORT}`, () => portAccepts(state.gateway, APT_PROXY_PORT, 1_000), timeoutMs);
}

/** Stops the apt proxy by its recorded PID, after checking that the PID is still it. */
export async function stopAptProxy(state: Pick<LabState, 'dir' | 'aptProxyPid'>): Promise<Result<void>> {
  return stopDaemon(aptProxyDaemon(state.dir), state.aptProxyPid);
}
