// Unified diffs for `osha plan`, computed by jsdiff (the `diff` package); what is ours is the
// masking hook every printed line goes through, so that secrets (passwords in URLs, password
// options) never reach the terminal or a log, and GNU diff's hunk ranges.
import { diffLines as lineChanges, structuredPatch } from 'diff';

export type DiffOp = ' ' | '-' | '+';

export interface DiffLine {
  op: DiffOp;
  /** The line as found, including its line ending when it has one. */
  text: string;
  /** 1-based line number in the old file (for ' ' and '-'). */
  oldLine?: number;
  /** 1-based line number in the new file (for ' ' and '+'). */
  newLine?: number;
}

/** Splits after each '\n'; a last line without one stays as it is. */
function splitKeepingEol(text: string): string[] {
  return text === '' ? [] : text.split(/(?<=\n)/);
}

/** The full line-by-line edit script from `before` to `after`. */
export function diffLines(before: string, after: string): DiffLine[] {
  const out: DiffLine[] = [];
  let oldLine = 0;
  let newLine = 0;
  for (const change of lineChanges(before, after)) {
    for (const text of splitKeepingEol(change.value)) {
      if (change.added) out.push({ op: '+', text, newLine: ++newLine });
      else if (change.removed) out.push({ op: '-', text, oldLine: ++oldLine });
      else out.push({ op: ' ', text, oldLine: ++oldLine, newLine: ++newLine });
    }
  }
  return out;
}

/** Only the removed and added lines. */
export function changedLines(before: string, after: string): DiffLine[] {
  return diffLines(before, after).filter((l) => l.op !== ' ');
}

/** Hides the password part of URLs (`scheme://user:PASS@host`, also each host of a multi-host URL). */
export function maskUrlPasswords(line: string): string {
  return line
    .split(/(\s+)/)
    .map((token) => maskToken(token))
    .join('');
}

function maskToken(token: string): string {
  // Each password ends at the "@" after which a host runs to a delimiter without another "@".
  let out = token.replace(/([/,][^:/@\s,]*):(.*?)@(?=[^@\s/,]*(?:[/,?#]|$))/g, '$1:***@');
  // An "@" still left after the last mask may mean a password with an unencoded "@" and "/":
  // mask up to the last "@" (hiding too much is safe, hiding too little is not).
  const i = out.lastIndexOf(':***@');
  if (i >= 0) {
    const rest = out.slice(i + 5);
    const at = rest.lastIndexOf('@');
    if (at >= 0) out = out.slice(0, i) + ':***@' + rest.slice(at + 1);
  }
  return out;
}

const SECRET_OPTION = /^(\s*[#;]?\s*[A-Za-z0-9_.-]*(?:password|passwd|secret|_key|token)\s*[=:][ \t]*)(\S.*)$/i;

/** The default mask: URL passwords and the values of password-like options. */
export function maskSecrets(line: string): string {
  const m = SECRET_OPTION.exec(line);
  if (m) return `${m[1]}***`;
  return maskUrlPasswords(line);
}

export type Mask = (line: string) => string;

function hunkRange(start: number, count: number): string {
  // GNU diff: an empty range names the line before it (jsdiff gives the line after); a count of 1 is left out.
  if (count === 0) return `${start - 1},0`;
  return count === 1 ? `${start}` : `${start},${count}`;
}

/**
 * A unified diff of one file (`--- a/PATH`, `+++ b/PATH`, hunks with `context` lines around
 * each change), or '' when nothing changed. Every content line goes through `mask`.
 */
export function renderFileDiff(path: string, before: string, after: string, mask: Mask = maskSecrets, context = 3): string {
  if (before === after) return '';
  const shown = path.replace(/^\/+/, '');
  const out = [`--- a/${shown}`, `+++ b/${shown}`];
  for (const h of structuredPatch(shown, shown, before, after, undefined, undefined, { context }).hunks) {
    out.push(`@@ -${hunkRange(h.oldStart, h.oldLines)} +${hunkRange(h.newStart, h.newLines)} @@`);
    for (const l of h.lines) out.push(l.startsWith('\\') ? l : l[0] + mask(l.slice(1).replace(/\r$/, '')));
  }
  return out.join('\n') + '\n';
}
