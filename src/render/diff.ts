// A small unified-diff renderer for `osha plan`: Myers' shortest edit script on lines, grouped
// into hunks with context, every printed line passed through a masking hook so that secrets
// (passwords in URLs, password options) never reach the terminal or a log.

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
export function splitKeepingEol(text: string): string[] {
  if (text === '') return [];
  const parts = text.split(/(?<=\n)/);
  return parts;
}

/** Beyond this many differences the middle is shown as one replacement: still correct, not minimal. */
const MAX_EDIT_DISTANCE = 2000;

/** Myers' O((N+M)D) algorithm; undefined when the edit distance exceeds maxD. */
function myers(a: readonly string[], b: readonly string[], maxD: number): DiffOp[] | undefined {
  const n = a.length;
  const m = b.length;
  const limit = Math.min(maxD, n + m);
  const offset = limit + 2;
  const v = new Int32Array(2 * offset + 1);
  v[offset + 1] = 0;
  const trace: Int32Array[] = [];
  for (let d = 0; d <= limit; d++) {
    // Snapshot of V before step d, for k in [-d-1, d+1]: index k + d + 1.
    trace.push(v.slice(offset - d - 1, offset + d + 2));
    for (let k = -d; k <= d; k += 2) {
      const down = k === -d || (k !== d && v[offset + k - 1]! < v[offset + k + 1]!);
      let x = down ? v[offset + k + 1]! : v[offset + k - 1]! + 1;
      let y = x - k;
      while (x < n && y < m && a[x] === b[y]) {
        x++;
        y++;
      }
      v[offset + k] = x;
      if (x >= n && y >= m) return backtrack(trace, d, n, m);
    }
  }
  return undefined;
}

function backtrack(trace: Int32Array[], found: number, n: number, m: number): DiffOp[] {
  const ops: DiffOp[] = [];
  let x = n;
  let y = m;
  for (let d = found; d > 0; d--) {
    const snap = trace[d]!;
    const at = (k: number) => snap[k + d + 1]!;
    const k = x - y;
    const prevK = k === -d || (k !== d && at(k - 1) < at(k + 1)) ? k + 1 : k - 1;
    const prevX = at(prevK);
    const prevY = prevX - prevK;
    while (x > prevX && y > prevY) {
      ops.push(' ');
      x--;
      y--;
    }
    ops.push(x === prevX ? '+' : '-');
    x = prevX;
    y = prevY;
  }
  while (x > 0 && y > 0) {
    ops.push(' ');
    x--;
    y--;
  }
  return ops.reverse();
}

/** The full line-by-line edit script from `before` to `after`. */
export function diffLines(before: string, after: string): DiffLine[] {
  const a = splitKeepingEol(before);
  const b = splitKeepingEol(after);
  let pre = 0;
  while (pre < a.length && pre < b.length && a[pre] === b[pre]) pre++;
  let suf = 0;
  while (suf < a.length - pre && suf < b.length - pre && a[a.length - 1 - suf] === b[b.length - 1 - suf]) suf++;
  const midA = a.slice(pre, a.length - suf);
  const midB = b.slice(pre, b.length - suf);
  const mid = myers(midA, midB, MAX_EDIT_DISTANCE) ?? [...midA.map((): DiffOp => '-'), ...midB.map((): DiffOp => '+')];
  const ops: DiffOp[] = [...Array<DiffOp>(pre).fill(' '), ...mid, ...Array<DiffOp>(suf).fill(' ')];
  const out: DiffLine[] = [];
  let i = 0;
  let j = 0;
  for (const op of ops) {
    if (op === ' ') out.push({ op, text: a[i]!, oldLine: ++i, newLine: ++j });
    else if (op === '-') out.push({ op, text: a[i]!, oldLine: ++i });
    else out.push({ op, text: b[j]!, newLine: ++j });
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
  // GNU diff: an empty range names the line before it; a count of 1 is left out.
  if (count === 0) return `${start - 1},0`;
  return count === 1 ? `${start}` : `${start},${count}`;
}

function printLine(l: DiffLine, mask: Mask): string[] {
  const hasEol = l.text.endsWith('\n');
  const body = l.text.replace(/\r?\n$/, '');
  const out = [l.op + mask(body)];
  if (!hasEol) out.push('\\ No newline at end of file');
  return out;
}

/**
 * A unified diff of one file (`--- a/PATH`, `+++ b/PATH`, hunks with `context` lines around
 * each change), or '' when nothing changed. Every content line goes through `mask`.
 */
export function renderFileDiff(path: string, before: string, after: string, mask: Mask = maskSecrets, context = 3): string {
  if (before === after) return '';
  const lines = diffLines(before, after);
  const changes = lines.flatMap((l, i) => (l.op === ' ' ? [] : [i]));
  const shown = path.replace(/^\/+/, '');
  const out = [`--- a/${shown}`, `+++ b/${shown}`];
  let h = 0;
  while (h < changes.length) {
    const first = changes[h]!;
    let last = first;
    while (h + 1 < changes.length && changes[h + 1]! - last <= 2 * context + 1) last = changes[++h]!;
    h++;
    const from = Math.max(0, first - context);
    const to = Math.min(lines.length - 1, last + context);
    const hunk = lines.slice(from, to + 1);
    out.push(hunkHeader(lines, from, hunk));
    for (const l of hunk) out.push(...printLine(l, mask));
  }
  return out.join('\n') + '\n';
}

function hunkHeader(all: DiffLine[], from: number, hunk: DiffLine[]): string {
  // Line numbers where the hunk starts: count the lines of each side before it.
  let oldStart = 1;
  let newStart = 1;
  for (let i = 0; i < from; i++) {
    if (all[i]!.op !== '+') oldStart++;
    if (all[i]!.op !== '-') newStart++;
  }
  const oldCount = hunk.filter((l) => l.op !== '+').length;
  const newCount = hunk.filter((l) => l.op !== '-').length;
  return `@@ -${hunkRange(oldStart, oldCount)} +${hunkRange(newStart, newCount)} @@`;
}
