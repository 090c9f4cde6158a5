// Hand-written: ssh2 leaves host-key checks to a callback, and OpenSSH's format (hashed names, markers, [host]:port) is small to own.
// OpenSSH known_hosts: parse, match a host (plain, wildcard and hashed entries), append.
// Format facts from sshd(8) "SSH_KNOWN_HOSTS FILE FORMAT": markers, comma-separated patterns,
// `[host]:port` for non-default ports, hashed names `|1|base64(salt)|base64(HMAC-SHA1(salt, name))`.
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { appendFile, mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';

export interface KnownHostEntry {
  /** The comma-separated host patterns, or one hashed name. */
  patterns: string;
  keyType: string;
  /** Base64 of the key blob, as written in the file. */
  keyBase64: string;
  marker?: '@cert-authority' | '@revoked';
}

export function parseKnownHosts(text: string): KnownHostEntry[] {
  const entries: KnownHostEntry[] = [];
  for (const rawLine of text.split('\n')) {
    const line = rawLine.trim();
    if (!line || line.startsWith('#')) continue;
    const fields = line.split(/\s+/);
    let marker: KnownHostEntry['marker'];
    if (fields[0] === '@cert-authority' || fields[0] === '@revoked') marker = fields.shift() as KnownHostEntry['marker'];
    const [patterns, keyType, keyBase64] = fields;
    if (!patterns || !keyType || !keyBase64) continue;
    entries.push({ patterns, keyType, keyBase64, marker });
  }
  return entries;
}

/** The name OpenSSH looks up: `host` on port 22, `[host]:port` otherwise. */
export function hostKeyName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

function wildcardMatch(pattern: string, name: string): boolean {
  const re = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`, 'i');
  return re.test(name);
}

function hashedMatch(hashed: string, name: string): boolean {
  const [, magic, salt, hash] = hashed.split('|');
  if (magic !== '1' || !salt || !hash) return false;
  const mac = createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest('base64');
  return mac === hash;
}

/** True when an entry's patterns cover `name` (negated patterns win, as in OpenSSH). */
export function entryMatches(entry: KnownHostEntry, name: string): boolean {
  if (entry.patterns.startsWith('|')) return hashedMatch(entry.patterns, name);
  let matched = false;
  for (const p of entry.patterns.split(',')) {
    if (p.startsWith('!')) {
      if (wildcardMatch(p.slice(1), name)) return false;
    } else if (wildcardMatch(p, name)) {
      matched = true;
    }
  }
  return matched;
}

/** OpenSSH's SHA256 fingerprint of a key blob: `SHA256:` + unpadded base64. */
export function fingerprint(keyBlob: Buffer): string {
  return `SHA256:${createHash('sha256').update(keyBlob).digest('base64').replace(/=+$/, '')}`;
}

/** The key type written inside a key blob (its first SSH string). */
export function keyTypeOf(keyBlob: Buffer): string {
  if (keyBlob.length < 4) return 'unknown';
  const len = keyBlob.readUInt32BE(0);
  return keyBlob.subarray(4, 4 + len).toString('latin1');
}

export type HostKeyVerdict =
  | { kind: 'match' }
  | { kind: 'unknown' }
  | { kind: 'revoked' }
  | { kind: 'mismatch'; expected: { keyType: string; fingerprint: string }[] };

/** Compares the key a host presented against the entries for that host. */
export function checkHostKey(entries: KnownHostEntry[], host: string, port: number, presented: Buffer): HostKeyVerdict {
  const name = hostKeyName(host, port);
  const presentedB64 = presented.toString('base64');
  const forHost = entries.filter((e) => entryMatches(e, name));
  if (forHost.some((e) => e.marker === '@revoked' && e.keyBase64 === presentedB64)) return { kind: 'revoked' };
  const plain = forHost.filter((e) => !e.marker);
  if (plain.some((e) => e.keyBase64 === presentedB64)) return { kind: 'match' };
  if (plain.length === 0) return { kind: 'unknown' };
  return {
    kind: 'mismatch',
    expected: plain.map((e) => ({ keyType: e.keyType, fingerprint: fingerprint(Buffer.from(e.keyBase64, 'base64')) })),
  };
}

/** Host key algorithms to offer for a host, so the server presents the type we already know. */
export function knownKeyTypes(entries: KnownHostEntry[], host: string, port: number): string[] {
  const name = hostKeyName(host, port);
  const types = new Set(entries.filter((e) => !e.marker && entryMatches(e, name)).map((e) => e.keyType));
  const algorithms: string[] = [];
  for (const t of types) {
    if (t === 'ssh-rsa') algorithms.push('rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa');
    else algorithms.push(t);
  }
  return algorithms;
}

export async function readKnownHosts(file: string): Promise<KnownHostEntry[]> {
  try {
    return parseKnownHosts(await readFile(file, 'utf8'));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
}

/** Records a host key, hashed like `HashKnownHosts yes` so the file does not list the fleet. */
export async function appendKnownHost(file: string, host: string, port: number, keyBlob: Buffer): Promise<void> {
  const salt = randomBytes(20);
  const hash = createHmac('sha1', salt).update(hostKeyName(host, port)).digest('base64');
  const line = `|1|${salt.toString('base64')}|${hash} ${keyTypeOf(keyBlob)} ${keyBlob.toString('base64')}\n`;
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  await appendFile(file, line, { mode: 0o600 });
}
