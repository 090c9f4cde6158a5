// One SSH connection to one host, reused for every command and file transfer of a run.
// Thin on purpose: it runs commands and moves bytes; deciding what to run is the steps' job.
import { readFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { posix } from 'node:path';
import ssh2, { type ClientChannel, type ConnectConfig, type Client as SshClient } from 'ssh2';
import type { SshTarget } from './target.ts';

// ssh2 is CommonJS: take its members from the default export so both Node's ESM loader and tsx agree.
const { Client, utils } = ssh2;
import { appendKnownHost, checkHostKey, fingerprint, keyTypeOf, knownKeyTypes, readKnownHosts } from './known-hosts.ts';
import { raw, sh } from './quote.ts';
import { batchScript, splitBatch, type BatchPart } from './batch.ts';
import { resolveSecret } from '../inventory/secrets.ts';
import { err, ok, messageOf, type OshaError, type Result } from '../util/result.ts';
import { redactor } from '../util/redact.ts';

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface ExecOptions {
  /** Bytes fed to the command's stdin (the way secrets travel: never on argv). */
  stdin?: string | Buffer;
  timeoutMs?: number;
  /** Run as the login user even when the target uses sudo. */
  noSudo?: boolean;
}

export interface UploadOptions {
  mode: number;
  owner?: string;
  group?: string;
}

export interface ConnectOptions {
  /**
   * While this returns a reason (a step is planning), the connection is a read-only view:
   * uploads are refused with that reason. Planning reads facts; it never writes.
   */
  readOnly?: () => string | undefined;
  /** Record keys of hosts not yet in known_hosts (like StrictHostKeyChecking=accept-new). */
  acceptNewHostKeys?: boolean;
  /** Asks for the passphrase of an encrypted private key; undefined means "cannot ask". */
  askPassphrase?: (keyPath: string) => Promise<string | undefined>;
  /** Receives each remote command (already redacted) when --verbose is on. */
  log?: (line: string) => void;
}

/** Exit code our upload script uses when the received bytes do not match (a cut transfer). */
const UPLOAD_INCOMPLETE = 90;
/** The line the upload script prints once every file is in place (before its `after` command). */
const UPLOADED = '@osha: files in place';

/** A read a step made while planning: the command, whether it ran as the login user, its time limit. */
export interface PlanningRead {
  command: string;
  noSudo?: boolean;
  timeoutMs?: number;
}

interface Queued {
  command: string;
  opts: ExecOptions;
  resolve: (r: Result<BatchPart>) => void;
}

const readKey = (r: PlanningRead) => `${r.noSudo ? 'user' : 'root'}\0${r.command}`;

/** One file of uploadMany. */
export interface UploadFile extends UploadOptions {
  path: string;
  content: string | Buffer;
}

/**
 * The remote side of uploadMany: stdin holds the files' bytes back to back, each read with
 * `head -c` (GNU head never reads past the count, so the next file's bytes stay in the pipe).
 * Each target directory gets one temp directory beside its files (the same file system, so the
 * final move is a rename); every file lands there under its own name, and the checks, modes,
 * owners and moves are one command per directory, mode or owner, not per file: 29 agent files
 * were about 260 processes, 2.9 s on a busy lab node.
 */
export function uploadScript(files: readonly (UploadFile & { size: number; sha256: string })[], opts: { before?: string; after?: string }): string {
  const dirs = [...new Set(files.map((f) => posix.dirname(f.path)))];
  const tmpDir = (f: UploadFile) => `"$d${dirs.indexOf(posix.dirname(f.path))}"`;
  const tmpOf = (f: UploadFile) => `${tmpDir(f)}/${sh`${posix.basename(f.path)}`}`;
  const cleanup = `rm -rf -- ${dirs.map((_, i) => `\${d${i}:+"$d${i}"}`).join(' ')}`;
  const lines = [
    ...dirs.map((_, i) => `d${i}=`),
    `trap '${cleanup}' EXIT`,
    `trap '${cleanup}; exit 1' HUP INT TERM PIPE`,
    ...(opts.before ? [`{ ${opts.before}\n} || exit 1`] : []),
    ...dirs.map((d, i) => sh`d${raw(String(i))}=$(mktemp -d ${`${d}/.osha.XXXXXXXX`}) || exit 1`),
    ...files.map((f) => `head -c ${f.size} > ${tmpOf(f)} || exit 1`),
    // Bytes beyond the last file mean the framing is wrong: write nothing.
    `[ "$(head -c 1 | wc -c)" -eq 0 ] || { echo "more bytes than the files announced" >&2; exit ${UPLOAD_INCOMPLETE}; }`,
  ];
  if (files.length > 0) {
    // One sha256sum for every file: a cut or corrupted stream fails it, and nothing moves.
    const sums = files.map((f) => `${f.sha256} ${tmpOf(f)}`).join(' ');
    lines.push(
      `bad=$(printf '%s  %s\\n' ${sums} | sha256sum -c - 2>&1 | grep -v ': OK$')`,
      `[ -z "$bad" ] || { echo "incomplete or corrupted transfer, nothing written: $(printf '%s' "$bad" | head -n 3 | tr '\\n' ' ')" >&2; exit ${UPLOAD_INCOMPLETE}; }`,
    );
    for (const [key, group] of groupBy(files, (f) => `${f.mode.toString(8).padStart(4, '0')} ${f.owner ?? 'root'}:${f.group ?? f.owner ?? 'root'}`)) {
      const [mode, owner] = key.split(' ');
      const paths = group.map(tmpOf).join(' ');
      lines.push(`chmod ${mode} -- ${paths} && ${sh`chown ${owner!} -- `}${paths} || exit 1`);
    }
    // Into place by rename, directory by directory in the order they first appear.
    lines.push(dirs.map((d) => sh`mv -f -t ${d} -- ${raw(files.filter((f) => posix.dirname(f.path) === d).map(tmpOf).join(' '))}`).join(' && ') + ' || exit 1');
  }
  lines.push(`trap - EXIT HUP INT TERM PIPE`, cleanup, sh`echo ${UPLOADED}`, ...(opts.after ? [opts.after] : []));
  return lines.join('\n');
}

function groupBy<T>(items: readonly T[], key: (t: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const item of items) out.set(key(item), [...(out.get(key(item)) ?? []), item]);
  return out;
}

export class HostConnection {
  private closed = false;
  private readonly pending = new Set<(reason: string) => void>();

  private constructor(
    readonly target: SshTarget,
    private readonly client: SshClient,
    private readonly sudoPassword: string | undefined,
    private readonly log: ((line: string) => void) | undefined,
    private readonly readOnly: (() => string | undefined) | undefined,
  ) {
    client.on('close', () => this.fail(`connection to ${target.name} (${target.host}) was lost`));
    client.on('error', (e) => this.fail(`connection to ${target.name} (${target.host}) failed: ${e.message}`));
  }

  static async open(target: SshTarget, opts: ConnectOptions = {}): Promise<Result<HostConnection>> {
    const where = `${target.user}@${target.host}:${target.port}`;
    let sudoPassword: string | undefined;
    if (target.sudo.mode === 'password') {
      const r = await resolveSecret(target.sudo.password, 'ssh.sudo.password');
      if (!r.ok) return err({ ...r.error, host: target.name });
      sudoPassword = r.value;
    }
    const auth = await authConfig(target, opts);
    if (!auth.ok) return auth;

    let entries;
    try {
      entries = await readKnownHosts(target.knownHosts);
    } catch (e) {
      return err({ host: target.name, message: `cannot read known_hosts file ${target.knownHosts}: ${messageOf(e)}` });
    }
    let hostKeyProblem: OshaError | undefined;
    let newKey: Buffer | undefined;
    const offered = knownKeyTypes(entries, target.host, target.port);

    const client = new Client();
    const config: ConnectConfig = {
      host: target.host,
      port: target.port,
      username: target.user,
      readyTimeout: target.connectTimeoutMs,
      keepaliveInterval: 5000,
      keepaliveCountMax: 3,
      ...auth.value,
      ...(offered.length > 0 ? { algorithms: { serverHostKey: offered as never } } : {}),
      hostVerifier: (key: Buffer) => {
        const verdict = checkHostKey(entries, target.host, target.port, key);
        if (verdict.kind === 'match') return true;
        const presented = `${keyTypeOf(key)} ${fingerprint(key)}`;
        if (verdict.kind === 'unknown' && opts.acceptNewHostKeys) {
          newKey = key;
          return true;
        }
        if (verdict.kind === 'unknown') {
          hostKeyProblem = {
            host: target.name,
            message: `host key of ${target.host} is not in ${target.knownHosts} (it presented ${presented})`,
            fix: 'verify the fingerprint out of band, then re-run with --accept-new-host-keys to record it',
          };
        } else if (verdict.kind === 'revoked') {
          hostKeyProblem = { host: target.name, message: `host key of ${target.host} (${presented}) is marked @revoked in ${target.knownHosts}` };
        } else {
          const expected = verdict.expected.map((e) => `${e.keyType} ${e.fingerprint}`).join(', ');
          hostKeyProblem = {
            host: target.name,
            message: `HOST KEY MISMATCH for ${target.host}: ${target.knownHosts} expects ${expected}, but the host presented ${presented}. Refusing to connect (possible man-in-the-middle)`,
            fix: `if the host was reinstalled, remove its old entry with: ssh-keygen -R ${target.host} -f ${target.knownHosts}`,
          };
        }
        return false;
      },
    };

    const connected = await new Promise<Result<true>>((resolve) => {
      client.once('ready', () => resolve(ok(true)));
      client.once('error', (e: Error & { level?: string }) => {
        if (hostKeyProblem) return resolve(err(hostKeyProblem));
        resolve(err({ host: target.name, message: `cannot connect to ${where}: ${describeConnectError(e)}` }));
      });
      try {
        client.connect(config);
        // Every command is a few small packets each way (open, exec, output, exit, close): with
        // Nagle's algorithm on, each waited for the peer's delayed ACK, about 40 ms per command.
        client.setNoDelay(true);
      } catch (e) {
        resolve(err({ host: target.name, message: `cannot connect to ${where}: ${messageOf(e)}` }));
      }
    });
    if (!connected.ok) {
      client.end();
      return connected;
    }
    if (newKey) await appendKnownHost(target.knownHosts, target.host, target.port, newKey);
    const conn = new HostConnection(target, client, sudoPassword, opts.log, opts.readOnly);
    if (sudoPassword !== undefined && target.user !== 'root') {
      // A NOPASSWD rule makes sudo skip the password: sent anyway, it would become the first line
      // of the command's stdin. Ask sudo once whether it needs it (-k: cached credentials do not count).
      const probe = await conn.exec(sh`sudo -n -k -- sh -c true`, { noSudo: true, timeoutMs: 30_000 });
      if (probe.ok && probe.value.code === 0) conn.sudoWithoutPassword = true;
    }
    return ok(conn);
  }

  /** Runs a command; a non-zero exit is a normal result here, only transport problems are errors. */
  async exec(command: string, opts: ExecOptions = {}): Promise<Result<ExecResult>> {
    const r = await this.execBuffer(command, opts);
    if (!r.ok) return r;
    return ok({ code: r.value.code, stdout: r.value.stdout.toString('utf8'), stderr: r.value.stderr.toString('utf8') });
  }

  /** Runs a command and treats a non-zero exit as an error carrying its stderr. */
  async run(command: string, opts: ExecOptions = {}): Promise<Result<ExecResult>> {
    const r = await this.exec(command, opts);
    if (!r.ok) return r;
    if (r.value.code !== 0) {
      const detail = (r.value.stderr.trim() || r.value.stdout.trim()).split('\n').slice(-5).join('\n');
      return err({ host: this.target.name, message: redactor.scrub(`command failed (exit ${r.value.code}): ${firstLine(command)}${detail ? `\n${detail}` : ''}`) });
    }
    return r;
  }

  /** Reads a remote file; undefined when it does not exist. */
  async readFile(path: string): Promise<Result<Buffer | undefined>> {
    const r = await this.execBuffer(sh`if [ -e ${path} ]; then cat -- ${path}; else exit 44; fi`);
    if (!r.ok) return r;
    if (r.value.code === 44) return ok(undefined);
    if (r.value.code !== 0) return err({ host: this.target.name, message: `cannot read ${path}: ${r.value.stderr.toString().trim()}` });
    return ok(r.value.stdout);
  }

  /**
   * Writes a file atomically: the bytes go to a temp file in the same directory, are checked
   * (size and sha256), get their mode and owner, and only then replace the target by rename.
   * A transfer cut half way leaves the target untouched and removes the temp file.
   */
  async upload(path: string, content: string | Buffer, opts: UploadOptions): Promise<Result<void>> {
    const r = await this.uploadMany([{ path, content, ...opts }]);
    return r.ok ? ok(undefined) : r;
  }

  /**
   * Writes several files in one exec, their bytes one after another on stdin. Every file goes to
   * a temp file beside its target and is checked (size, sha256) and given its mode and owner;
   * only when all are, they replace their targets by rename, in the order given. A cut or
   * corrupted stream changes no target and leaves no temp file.
   * `before` runs first (e.g. mkdir); `after` runs once every file is in place, and its exit
   * status and output are the result (a failed upload is an error, a failed `after` is not).
   */
  async uploadMany(files: readonly UploadFile[], opts: { before?: string; after?: string; timeoutMs?: number } = {}): Promise<Result<ExecResult>> {
    const paths = files.map((f) => f.path).join(', ');
    const planning = this.readOnly?.();
    if (planning) return err({ host: this.target.name, message: `refused to write ${paths} while ${planning}: planning never changes a node (a bug in osha)` });
    // The remote side lists the files for sha256sum one per line, and each lands under its own name.
    const odd = files.find((f) => /[\n\\]/.test(f.path));
    if (odd) return err({ host: this.target.name, message: `refused to write ${JSON.stringify(odd.path)}: a path with a newline or backslash (a bug in osha)` });
    if (new Set(files.map((f) => f.path)).size !== files.length) return err({ host: this.target.name, message: `refused to write ${paths}: a path twice in one upload (a bug in osha)` });
    const blobs = files.map((f) => (typeof f.content === 'string' ? Buffer.from(f.content) : f.content));
    const script = uploadScript(
      files.map((f, i) => ({ ...f, size: blobs[i]!.length, sha256: createHash('sha256').update(blobs[i]!).digest('hex') })),
      opts,
    );
    const stdin = Buffer.concat(blobs);
    const label = files.length === 1 ? `upload ${paths} (${stdin.length} bytes, mode ${files[0]!.mode.toString(8)})` : `upload ${files.length} files (${stdin.length} bytes): ${paths}`;
    const r = await this.execBuffer(sh`sh -c ${script}`, { stdin, label: opts.after ? `${label}; then ${opts.after}` : label, timeoutMs: opts.timeoutMs });
    if (!r.ok) return r;
    const out = r.value.stdout.toString('utf8');
    const at = out.indexOf(`${UPLOADED}\n`);
    if (at < 0) {
      const what = files.length === 1 ? `upload of ${paths}` : `upload of ${files.length} files`;
      return err({ host: this.target.name, message: `${what} failed (exit ${r.value.code}): ${r.value.stderr.toString().trim()}` });
    }
    return ok({ code: r.value.code, stdout: out.slice(at + UPLOADED.length + 1), stderr: r.value.stderr.toString('utf8') });
  }

  close(): void {
    this.closed = true;
    this.client.end();
  }

  /** Cuts the TCP connection at once, as a network failure would (used by fault tests). */
  destroy(): void {
    this.client.destroy();
  }

  private fail(reason: string): void {
    this.closed = true;
    for (const reject of this.pending) reject(reason);
    this.pending.clear();
  }

  /** Set when sudo runs as root without asking for the password this target has (a NOPASSWD rule). */
  private sudoWithoutPassword = false;

  private wrapSudo(command: string, noSudo: boolean | undefined): { command: string; prefix?: Buffer } {
    if (noSudo || this.target.user === 'root' || this.target.sudo.mode === 'none') return { command };
    if (this.target.sudo.mode === 'nopasswd' || this.sudoWithoutPassword) return { command: sh`sudo -n -- sh -c ${command}` };
    // -k ignores cached credentials so sudo always reads the password line first: otherwise
    // the password would flow on into the command's stdin.
    return { command: sh`sudo -k -S -p '' -- sh -c ${command}`, prefix: Buffer.from(`${this.sudoPassword ?? ''}\n`) };
  }

  /** Commands asked for in this turn of the event loop while planning, sent together when it ends. */
  private queued: Queued[] = [];
  /** Results of reads asked for ahead of the steps (readAhead), by read: each serves one request. */
  private readonly ahead = new Map<string, Promise<Result<BatchPart>>>();
  /** The reads planning asked for before the run changed anything (noted until stopReadAhead). */
  private readonly noted = new Map<string, PlanningRead>();
  private noting = true;

  private execBuffer(command: string, opts: ExecOptions & { label?: string } = {}): Promise<Result<BatchPart>> {
    // While a step plans, it only reads, and reads asked for at once are awaited together: they
    // go as one exec (src/ssh/batch.ts). A command with stdin (or an upload) goes alone.
    if (this.readOnly?.() && opts.stdin === undefined && opts.label === undefined && !this.closed) {
      const read: PlanningRead = { command, ...(opts.noSudo ? { noSudo: true } : {}), ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}) };
      const key = readKey(read);
      if (this.noting && !this.noted.has(key)) this.noted.set(key, read);
      const early = this.ahead.get(key);
      if (early) {
        this.ahead.delete(key);
        this.log?.(redactor.scrub(`${clock(Date.now())} ${this.target.name}$ ${command} (read ahead)`));
        return early;
      }
      return this.enqueue(command, opts);
    }
    return this.execDirect(command, opts);
  }

  private enqueue(command: string, opts: ExecOptions): Promise<Result<BatchPart>> {
    return new Promise((resolve) => {
      if (this.queued.length === 0) setImmediate(() => void this.flush());
      this.queued.push({ command, opts, resolve });
    });
  }

  /**
   * Asks now, while a step plans, for reads the steps are expected to make later in the run (what
   * the last run of the same playbook asked for), all in one exec: a step asking for one later
   * gets its result without a round trip. Valid only while nothing changes: the session calls
   * stopReadAhead before the runner applies anything.
   */
  readAhead(reads: readonly PlanningRead[]): void {
    if (!this.readOnly?.() || this.closed || !this.noting) return;
    // A batch of their own, beside the step's: a read that hangs (a stuck CIB) holds up only the
    // step that asks for it, as it would without read-ahead, each with the time limit it had.
    const batch: Queued[] = [];
    for (const read of reads) {
      const key = readKey(read);
      if (this.ahead.has(key)) continue;
      this.ahead.set(key, new Promise((resolve) => batch.push({ command: read.command, opts: { noSudo: read.noSudo, timeoutMs: read.timeoutMs }, resolve })));
    }
    if (batch.length) void this.sendBatches(batch, ', read ahead');
  }

  /** The run is about to change a node: reads asked ahead are dropped, and no more are noted. */
  stopReadAhead(): void {
    this.ahead.clear();
    this.noting = false;
  }

  /** The reads planning asked for before anything changed, in the order first asked. */
  plannedReads(): PlanningRead[] {
    return [...this.noted.values()];
  }

  /** Sends the queued commands: one exec per sudo setting, or each alone when a batch cannot be read. */
  private async flush(): Promise<void> {
    const queued = this.queued;
    this.queued = [];
    await this.sendBatches(queued);
  }

  /** One exec per sudo setting for these commands, or each alone when a batch cannot be read. */
  private async sendBatches(queued: readonly Queued[], note = ''): Promise<void> {
    const bySudo = groupBy(queued, (q) => String(Boolean(q.opts.noSudo)));
    await Promise.all(
      [...bySudo.values()].map(async (group) => {
        if (group.length === 1) return group[0]!.resolve(await this.execDirect(group[0]!.command, group[0]!.opts));
        const host = this.target.name;
        const started = Date.now();
        for (const q of group) this.log?.(redactor.scrub(`${clock(started)} ${host}$ ${q.command}${note}`));
        const timeoutMs = Math.max(...group.map((q) => q.opts.timeoutMs ?? this.target.commandTimeoutMs));
        const label = `${firstLine(group[0]!.command)} (and ${group.length - 1} more at once)`;
        const r = await this.execDirect(batchScript(group.map((q) => q.command)), { noSudo: group[0]!.opts.noSudo, timeoutMs, label, quiet: true });
        if (!r.ok) return group.forEach((q) => q.resolve(r));
        const parts = splitBatch(r.value.stdout, group.length);
        if (!parts) {
          // No temp dir on the node, or output cut short: each command again, on its own.
          this.log?.(`${clock(Date.now())} ${host}: a batch of ${group.length} commands gave no readable result (exit ${r.value.code}); each runs alone`);
          return void (await Promise.all(group.map(async (q) => q.resolve(await this.execDirect(q.command, q.opts)))));
        }
        group.forEach((q, i) => {
          this.log?.(redactor.scrub(`${clock(Date.now())} ${host}: exit ${parts[i]!.code} after ${Date.now() - started} ms (one of ${group.length} at once${note}): ${firstLine(q.command)}`));
          q.resolve(ok(parts[i]!));
        });
      }),
    );
  }

  private execDirect(command: string, opts: ExecOptions & { label?: string; quiet?: boolean } = {}): Promise<Result<BatchPart>> {
    const host = this.target.name;
    if (this.closed) return Promise.resolve(err({ host, message: `connection to ${host} is closed` }));
    const { command: wrapped, prefix } = this.wrapSudo(command, opts.noSudo);
    const started = Date.now();
    const log = opts.quiet ? undefined : this.log;
    log?.(redactor.scrub(`${clock(started)} ${host}$ ${opts.label ?? command}`));
    const timeoutMs = opts.timeoutMs ?? this.target.commandTimeoutMs;
    return new Promise((resolve) => {
      let settled = false;
      let channel: ClientChannel | undefined;
      const settle = (r: Result<BatchPart>) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.pending.delete(onLost);
        // With --verbose, when each command ended and how long it took: where a run spends its time.
        log?.(redactor.scrub(`${clock(Date.now())} ${host}: ${r.ok ? `exit ${r.value.code}` : 'failed'} after ${Date.now() - started} ms: ${firstLine(opts.label ?? command)}`));
        resolve(r);
      };
      const onLost = (reason: string) => settle(err({ host, message: `${reason} while running: ${firstLine(opts.label ?? command)}` }));
      this.pending.add(onLost);
      const timer = setTimeout(() => {
        channel?.close();
        settle(err({ host, message: `timed out after ${Math.round(timeoutMs / 1000)} s: ${redactor.scrub(firstLine(opts.label ?? command))}` }));
      }, timeoutMs);
      this.client.exec(wrapped, (e, stream) => {
        if (e) return settle(err({ host, message: `cannot start command: ${e.message}` }));
        channel = stream;
        const out: Buffer[] = [];
        const errOut: Buffer[] = [];
        let code: number | null = null;
        stream.on('data', (d: Buffer) => out.push(d));
        stream.stderr.on('data', (d: Buffer) => errOut.push(d));
        stream.on('exit', (c: number | null, signal?: string) => {
          code = c ?? (signal ? 128 + 9 : 255);
        });
        stream.on('close', () => {
          if (code === null) return settle(err({ host, message: `command ended without an exit status (connection lost?): ${firstLine(opts.label ?? command)}` }));
          settle(ok({ code, stdout: Buffer.concat(out), stderr: Buffer.concat(errOut) }));
        });
        if (prefix) stream.write(prefix);
        if (opts.stdin !== undefined) stream.write(opts.stdin);
        stream.end();
      });
    });
  }
}

/** Wall-clock time of day, to the millisecond, for --verbose command lines. */
function clock(ms: number): string {
  return new Date(ms).toISOString().slice(11, 23);
}

function firstLine(s: string): string {
  const line = s.split('\n')[0] ?? '';
  return line.length > 160 ? `${line.slice(0, 157)}...` : line;
}

function describeConnectError(e: Error & { level?: string; code?: string }): string {
  if (e.code === 'ECONNREFUSED') return 'connection refused (is sshd running and the port right?)';
  if (e.code === 'EHOSTUNREACH' || e.code === 'ENETUNREACH') return 'host unreachable';
  if (e.level === 'client-authentication') return 'authentication failed (check ssh.user, ssh.private_key or ssh-agent)';
  if (/Timed out/i.test(e.message)) return 'timed out (host down or firewalled?)';
  return e.message;
}

/** Private key and agent settings for ssh2; asks for a passphrase when the key is encrypted. */
async function authConfig(target: SshTarget, opts: ConnectOptions): Promise<Result<Partial<ConnectConfig>>> {
  const config: Partial<ConnectConfig> = {};
  if (target.agent && process.env.SSH_AUTH_SOCK) config.agent = process.env.SSH_AUTH_SOCK;
  if (!target.privateKey) return ok(config);
  let key: Buffer;
  try {
    key = await readFile(target.privateKey);
  } catch (e) {
    return err({ host: target.name, message: `cannot read private key ${target.privateKey}: ${(e as NodeJS.ErrnoException).code ?? messageOf(e)}`, fix: 'check ssh.private_key in the inventory' });
  }
  const parsed = utils.parseKey(key);
  if (!(parsed instanceof Error)) return ok({ ...config, privateKey: key });
  if (!/encrypted|passphrase/i.test(parsed.message)) {
    return err({ host: target.name, message: `${target.privateKey} is not a usable private key: ${parsed.message}` });
  }
  const passphrase = await passphraseFor(target.privateKey, opts);
  if (passphrase === undefined) {
    return err({ host: target.name, message: `private key ${target.privateKey} is encrypted and no passphrase could be asked for`, fix: 'run osha from a terminal, or load the key into ssh-agent' });
  }
  const again = utils.parseKey(key, passphrase);
  if (again instanceof Error) return err({ host: target.name, message: `wrong passphrase for ${target.privateKey}` });
  redactor.add(passphrase);
  return ok({ ...config, privateKey: key, passphrase });
}

// One prompt per key file per run, shared by every host that uses it.
const passphrases = new Map<string, Promise<string | undefined>>();
function passphraseFor(path: string, opts: ConnectOptions): Promise<string | undefined> {
  let p = passphrases.get(path);
  if (!p) {
    p = opts.askPassphrase ? opts.askPassphrase(path) : Promise.resolve(undefined);
    passphrases.set(path, p);
  }
  return p;
}

