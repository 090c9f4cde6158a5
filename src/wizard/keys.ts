// The operator's existing SSH keys, offered by the wizard instead of asking for a path.
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import { expandHome } from '../util/paths.ts';

/** Private keys in `sshDir` named id_* that have a matching .pub next to them, sorted. */
export async function listSshKeys(sshDir: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(sshDir);
  } catch {
    return [];
  }
  const present = new Set(names);
  const keys = names.filter((n) => n.startsWith('id_') && !n.endsWith('.pub') && present.has(`${n}.pub`));
  // ed25519 first: it is what ssh-keygen makes today and what every current sshd accepts.
  const rank = (n: string) => (n.includes('ed25519') ? 0 : n.includes('ecdsa') ? 1 : 2);
  return keys.sort((a, b) => rank(a) - rank(b) || a.localeCompare(b)).map((n) => join(sshDir, n));
}

/** `~/x` for paths under the home folder, so the inventory works for the same user elsewhere. */
export function homeRelative(path: string, home: string): string {
  return path.startsWith(`${home}/`) ? `~/${path.slice(home.length + 1)}` : path;
}

export type KeyFileCheck = { kind: 'ok'; text: string } | { kind: 'encrypted'; text: string } | { kind: 'bad'; reason: string };

/** Reads a private key file and says whether ssh2 can use it (and whether it needs a passphrase). */
export async function inspectKeyFile(path: string): Promise<KeyFileCheck> {
  const full = expandHome(path);
  let text: string;
  try {
    const st = await stat(full);
    if (!st.isFile()) return { kind: 'bad', reason: `${path} is not a file` };
    text = await readFile(full, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return { kind: 'bad', reason: code === 'ENOENT' ? `${path} does not exist` : `cannot read ${path} (${code ?? 'error'})` };
  }
  const parsed = ssh2.utils.parseKey(text);
  if (!(parsed instanceof Error)) {
    const first = Array.isArray(parsed) ? parsed[0] : parsed;
    if (first?.isPrivateKey()) return { kind: 'ok', text };
    return { kind: 'bad', reason: `${path} is a public key; choose the private key (the file without .pub)` };
  }
  if (/encrypted|passphrase/i.test(parsed.message)) return { kind: 'encrypted', text };
  return { kind: 'bad', reason: `${path} is not a private key osha can use (${parsed.message})` };
}

/** True when `passphrase` opens the encrypted key. */
export function passphraseOpens(text: string, passphrase: string): boolean {
  return !(ssh2.utils.parseKey(text, passphrase) instanceof Error);
}
