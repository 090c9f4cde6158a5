// Several remote files read in one round trip: one line per file, "F " and its content in base64,
// or "M" when it is missing, so any content (binary, no trailing newline) arrives intact.
import type { HostConnection } from '../ssh/connection.ts';
import { sh } from '../ssh/quote.ts';
import { err, ok, type Result } from '../util/result.ts';

const READ_SCRIPT = 'for p in "$@"; do if [ -f "$p" ]; then printf "F " && base64 -w0 -- "$p" && echo || exit 1; else echo M; fi; done';

/** Splits the reader's output into one entry per path (undefined: no such file). */
export function parseFileLines(paths: readonly string[], out: string): Result<Map<string, Buffer | undefined>> {
  const lines = out.split('\n');
  if (lines.length < paths.length) return err({ message: `reading ${paths.join(', ')}: ${paths.length} files asked, ${lines.length - 1} answered` });
  const files = new Map<string, Buffer | undefined>();
  for (const [i, path] of paths.entries()) {
    const line = lines[i]!;
    if (line === 'M') files.set(path, undefined);
    else if (line.startsWith('F ')) files.set(path, Buffer.from(line.slice(2), 'base64'));
    else return err({ message: `reading ${path}: unexpected output "${line.slice(0, 40)}"` });
  }
  return ok(files);
}

/** Reads every path at once; a missing file maps to undefined. */
export async function readFiles(c: HostConnection, paths: readonly string[]): Promise<Result<Map<string, Buffer | undefined>>> {
  if (paths.length === 0) return ok(new Map());
  const r = await readFilesAnd(c, paths, '');
  return r.ok ? ok(r.value.files) : r;
}

/**
 * Reads every path and runs `script` (shell, facts only) after them, in the same round trip:
 * the files as readFiles gives them, and what the script printed.
 */
export async function readFilesAnd(c: HostConnection, paths: readonly string[], script: string): Promise<Result<{ files: Map<string, Buffer | undefined>; output: string }>> {
  const r = await c.exec(sh`sh -c ${`${READ_SCRIPT}\n${script}`} read-files ${[...paths]}`);
  if (!r.ok) return r;
  if (r.value.code !== 0) return err({ host: c.target.name, message: `cannot read ${paths.join(', ')}: ${r.value.stderr.trim()}` });
  const parsed = parseFileLines(paths, r.value.stdout);
  if (!parsed.ok) return err({ ...parsed.error, host: c.target.name });
  return ok({ files: parsed.value, output: r.value.stdout.split('\n').slice(paths.length).join('\n') });
}
