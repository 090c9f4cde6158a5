// The reads a run's steps made while planning, kept for the next run of the same playbook on the
// same inventory: that run asks each node for all of them in its first round trip (readAhead in
// connection.ts) instead of one round trip per step. A file of the operator's own, like
// known_hosts: used only when it is theirs and nobody else can write it, since it names commands
// run on the nodes.
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import type { PlanningRead } from './connection.ts';

/** Where the reads of `playbook` on the inventory `file` are kept. */
export function readAheadPath(file: string, playbook: string, env: NodeJS.ProcessEnv = process.env): string {
  const cache = env.XDG_CACHE_HOME || join(homedir(), '.cache');
  const id = createHash('sha256').update(`${resolve(file)}\0${playbook}`).digest('hex').slice(0, 16);
  return join(cache, 'osha', 'read-ahead', `${id}.json`);
}

/**
 * Pure: the reads per host in a file's text; an empty map for anything else, and for a run that
 * changed something. Reads asked ahead pay off on a cluster at rest (re-running a deploy that
 * finds nothing to do): after a run that changed the nodes, the next one is as likely to change
 * them early, which would make every read asked ahead of that change a read made twice.
 */
export function parseReadAhead(text: string): Map<string, PlanningRead[]> {
  const out = new Map<string, PlanningRead[]>();
  try {
    const data = JSON.parse(text) as { version?: unknown; changed?: unknown; hosts?: unknown };
    if (data.version !== 1 || data.changed !== false || typeof data.hosts !== 'object' || data.hosts === null) return out;
    for (const [host, reads] of Object.entries(data.hosts as Record<string, unknown>)) {
      if (!Array.isArray(reads)) continue;
      const ok = reads.filter(
        (r): r is PlanningRead =>
          typeof r?.command === 'string' && (r.noSudo === undefined || r.noSudo === true) && (r.timeoutMs === undefined || (Number.isInteger(r.timeoutMs) && r.timeoutMs > 0)),
      );
      out.set(host, ok.map((r) => ({ command: r.command, ...(r.noSudo ? { noSudo: true } : {}), ...(r.timeoutMs ? { timeoutMs: r.timeoutMs } : {}) })));
    }
  } catch {
    // Not JSON: nothing is read ahead, and the run writes the file anew.
  }
  return out;
}

/** The reads kept in `path`, if the file is this user's and writable by nobody else. */
export async function loadReadAhead(path: string): Promise<Map<string, PlanningRead[]>> {
  try {
    const st = await stat(path);
    const uid = process.getuid?.();
    if (!st.isFile() || (uid !== undefined && st.uid !== uid) || (st.mode & 0o022) !== 0) return new Map();
    return parseReadAhead(await readFile(path, 'utf8'));
  } catch {
    return new Map();
  }
}

/** Replaces the kept reads, and whether the run changed anything (temp file and rename; the directory 0700, the file 0600). */
export async function saveReadAhead(path: string, reads: Map<string, PlanningRead[]>, changed: boolean): Promise<void> {
  const dir = resolve(path, '..');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify({ version: 1, changed, hosts: Object.fromEntries(reads) }, null, 1)}\n`, { mode: 0o600 });
  await rename(tmp, path);
}
