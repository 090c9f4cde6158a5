// Hand-written: INI libraries (e.g. the ini package) rewrite the whole file on save, dropping comments and layout we must keep.
// A lossless editor for oslo.config INI files. The file is kept as a list of lines, each with
// its own line ending, so anything the editor does not touch serialises back byte for byte.
// Parsing follows oslo.config's rules: "#" and ";" start comments, a key and value are split at
// the first "=" or ":", an indented line continues the value above it, a blank line ends it,
// section names other than DEFAULT are case-insensitive, keys are case-sensitive, and for a
// key set more than once the last assignment wins.

export type LineKind = 'blank' | 'comment' | 'section' | 'entry' | 'continuation' | 'other';

export interface IniLine {
  kind: LineKind;
  /** The line's text without its line ending. */
  text: string;
  /** '\n', '\r\n', '\r' or '' for a last line without one. */
  eol: string;
  /** Normalised name of the section this line lies in; null before the first header. */
  section: string | null;
  /** For an entry: the key, trimmed. */
  key?: string;
  /** For an entry: offset in `text` where the value starts (after separator and spaces). */
  valueStart?: number;
}

export interface IniDocument {
  /** A byte-order mark found at the start, written back as found. */
  bom: string;
  lines: readonly IniLine[];
}

export interface IniEntry {
  section: string;
  key: string;
  value: string;
  /** Index of the entry's first line in `lines`. */
  index: number;
}

/** oslo.config lowercases every group name except DEFAULT. */
export function normalizeSection(name: string): string {
  return name === 'DEFAULT' ? name : name.toLowerCase();
}

/** Splits text into lines that keep their own endings ('\r\n', '\n' or a lone '\r'). */
function splitLines(text: string): { text: string; eol: string }[] {
  const out: { text: string; eol: string }[] = [];
  const re = /\r\n|\n|\r/g;
  let start = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    out.push({ text: text.slice(start, m.index), eol: m[0] });
    start = m.index + m[0].length;
  }
  if (start < text.length) out.push({ text: text.slice(start), eol: '' });
  return out;
}

/** Where the key/value separator is: the first "=" or ":" on the line, -1 when there is none. */
function separatorIndex(text: string): number {
  const eq = text.indexOf('=');
  const colon = text.indexOf(':');
  if (eq < 0) return colon;
  if (colon < 0) return eq;
  return Math.min(eq, colon);
}

function parseSectionHeader(trimmed: string): string | undefined {
  if (!trimmed.startsWith('[') || !trimmed.endsWith(']') || trimmed.length < 3) return undefined;
  return trimmed.slice(1, -1);
}

export function parseIni(input: string): IniDocument {
  const bom = input.startsWith('\uFEFF') ? '\uFEFF' : '';
  const text = bom ? input.slice(1) : input;
  const lines: IniLine[] = [];
  let section: string | null = null;
  let inValue = false; // true while an indented line would continue the entry above
  for (const { text: raw, eol } of splitLines(text)) {
    const trimmedEnd = raw.trimEnd();
    if (trimmedEnd === '') {
      lines.push({ kind: 'blank', text: raw, eol, section });
      inValue = false;
      continue;
    }
    if (raw.startsWith(' ') || raw.startsWith('\t')) {
      lines.push({ kind: inValue ? 'continuation' : 'other', text: raw, eol, section });
      continue;
    }
    inValue = false;
    if (raw.startsWith('[')) {
      const name = parseSectionHeader(trimmedEnd);
      if (name === undefined) {
        lines.push({ kind: 'other', text: raw, eol, section });
      } else {
        section = normalizeSection(name);
        lines.push({ kind: 'section', text: raw, eol, section });
      }
      continue;
    }
    if (raw.startsWith('#') || raw.startsWith(';')) {
      lines.push({ kind: 'comment', text: raw, eol, section });
      continue;
    }
    const sep = separatorIndex(raw);
    const key = sep < 0 ? '' : raw.slice(0, sep).trim();
    if (key === '') {
      lines.push({ kind: 'other', text: raw, eol, section });
      continue;
    }
    let valueStart = sep + 1;
    while (valueStart < raw.length && (raw[valueStart] === ' ' || raw[valueStart] === '\t')) valueStart++;
    lines.push({ kind: 'entry', text: raw, eol, section, key, valueStart });
    inValue = true;
  }
  return { bom, lines };
}

export function serializeIni(doc: IniDocument): string {
  return doc.bom + doc.lines.map((l) => l.text + l.eol).join('');
}

/** oslo.config drops one pair of matching quotes around a value. */
function unquote(v: string): string {
  if (v.length >= 2 && (v[0] === '"' || v[0] === "'") && v[0] === v[v.length - 1]) return v.slice(1, -1);
  return v;
}

function entryValue(doc: IniDocument, index: number): string {
  const line = doc.lines[index]!;
  const parts = [line.text.slice(line.valueStart).trim()];
  for (let i = index + 1; i < doc.lines.length && doc.lines[i]!.kind === 'continuation'; i++) {
    parts.push(doc.lines[i]!.text.trim());
  }
  return unquote(parts.join('\n'));
}

/** Every assignment in the file, in order, with its effective (unquoted, joined) value. */
export function entries(doc: IniDocument): IniEntry[] {
  const out: IniEntry[] = [];
  doc.lines.forEach((l, index) => {
    if (l.kind === 'entry' && l.section !== null) {
      out.push({ section: l.section, key: l.key!, value: entryValue(doc, index), index });
    }
  });
  return out;
}

/** The assignment oslo.config would use: the last one for that section and key. */
export function findEntry(doc: IniDocument, section: string, key: string): IniEntry | undefined {
  const want = normalizeSection(section);
  let found: IniEntry | undefined;
  doc.lines.forEach((l, index) => {
    if (l.kind === 'entry' && l.section === want && l.key === key) {
      found = { section: want, key, value: entryValue(doc, index), index };
    }
  });
  return found;
}

export function getValue(doc: IniDocument, section: string, key: string): string | undefined {
  return findEntry(doc, section, key)?.value;
}

export function hasSection(doc: IniDocument, section: string): boolean {
  const want = normalizeSection(section);
  return doc.lines.some((l) => l.kind === 'section' && l.section === want);
}

const KEY_PATTERN = /^[A-Za-z0-9_.-]+$/;

/** True when a commented-out line in the section mentions the key, as in `#bind_host = 0.0.0.0`. */
export function hasCommentedDefault(doc: IniDocument, section: string, key: string): boolean {
  return commentedDefaultIndex(doc, normalizeSection(section), key) >= 0;
}

function commentedDefaultIndex(doc: IniDocument, section: string, key: string): number {
  const re = new RegExp(`^[#;]\\s*${key.replace(/[.]/g, '\\.')}\\s*[=:]`);
  let found = -1;
  doc.lines.forEach((l, i) => {
    if (l.kind === 'comment' && l.section === section && re.test(l.text)) found = i;
  });
  return found;
}

/** The line ending used most in the file; new lines get this one. */
function dominantEol(doc: IniDocument): string {
  const counts = new Map<string, number>();
  for (const l of doc.lines) if (l.eol) counts.set(l.eol, (counts.get(l.eol) ?? 0) + 1);
  let best = '\n';
  let n = 0;
  for (const [eol, c] of counts) if (c > n) [best, n] = [eol, c];
  return best;
}

export class IniEditError extends Error {}

/** Refuses values oslo.config could not read back as written. */
function checkValue(key: string, value: string): string | undefined {
  if (!KEY_PATTERN.test(key)) return `"${key}" is not an option name oslo.config can read`;
  if (/[\r\n]/.test(value)) return `the value for ${key} contains a line break`;
  if (value !== value.trim()) return `the value for ${key} has leading or trailing spaces, which oslo.config would drop`;
  return undefined;
}

/** Keeps the spacing and quoting of the old line, swapping only the value. */
function replaceValue(line: IniLine, value: string): string {
  const head = line.text.slice(0, line.valueStart);
  const old = line.text.slice(line.valueStart).trimEnd();
  const tail = line.text.slice(line.valueStart! + old.length);
  const q = old[0];
  const quoted = old.length >= 2 && (q === '"' || q === "'") && q === old[old.length - 1] && !value.includes(q);
  return head + (quoted ? q + value + q : value) + tail;
}

function withLines(doc: IniDocument, lines: IniLine[]): IniDocument {
  // Re-parse so that section attribution and continuation kinds stay exact after an edit.
  return parseIni(serializeIni({ bom: doc.bom, lines }));
}

export interface EditOutcome {
  doc: IniDocument;
  changed: boolean;
}

/**
 * Sets section.key = value. An existing (effective) assignment is changed in place; otherwise
 * the line goes right after the section's commented-out default, else after its last
 * assignment, else after its header; a missing section is appended at the end of the file.
 */
export function setValue(doc: IniDocument, section: string, key: string, value: string): EditOutcome {
  const problem = checkValue(key, value);
  if (problem) throw new IniEditError(problem);
  const want = normalizeSection(section);
  const lines = [...doc.lines];
  const existing = findEntry(doc, want, key);
  if (existing) {
    if (existing.value === value) return { doc, changed: false };
    const line = lines[existing.index]!;
    let end = existing.index + 1;
    while (end < lines.length && lines[end]!.kind === 'continuation') end++;
    lines.splice(existing.index, end - existing.index, { ...line, text: replaceValue(line, value) });
    return { doc: withLines(doc, lines), changed: true };
  }
  const eol = dominantEol(doc);
  const newLine: IniLine = { kind: 'entry', text: `${key} = ${value}`, eol, section: want };
  const at = insertionIndex(doc, want, key);
  if (at === undefined) {
    terminateLastLine(lines, eol);
    const header: IniLine = { kind: 'section', text: `[${section}]`, eol, section: want };
    const gap: IniLine[] = lines.length > 0 && lines[lines.length - 1]!.kind !== 'blank' ? [{ kind: 'blank', text: '', eol, section: null }] : [];
    lines.push(...gap, header, newLine);
  } else {
    if (at === lines.length) terminateLastLine(lines, eol);
    else if (lines[at - 1] && lines[at - 1]!.eol === '') lines[at - 1] = { ...lines[at - 1]!, eol };
    lines.splice(at, 0, newLine);
  }
  return { doc: withLines(doc, lines), changed: true };
}

function terminateLastLine(lines: IniLine[], eol: string): void {
  const last = lines[lines.length - 1];
  if (last && last.eol === '') lines[lines.length - 1] = { ...last, eol };
}

/** Index before which a new key goes in an existing section; undefined when the section is missing. */
function insertionIndex(doc: IniDocument, section: string, key: string): number | undefined {
  const lines = doc.lines;
  // The last header of that name: oslo.config merges repeated sections, later ones win.
  let header = -1;
  lines.forEach((l, i) => {
    if (l.kind === 'section' && l.section === section) header = i;
  });
  if (header < 0) return undefined;
  let end = header + 1;
  while (end < lines.length && lines[end]!.kind !== 'section') end++;
  const commented = commentedDefaultIndex(doc, section, key);
  if (commented > header && commented < end) return commented + 1;
  for (let i = end - 1; i > header; i--) {
    const k = lines[i]!.kind;
    if (k === 'entry' || k === 'continuation') return i + 1;
  }
  return header + 1;
}

/** Removes every assignment of section.key (and its continuation lines). */
export function unsetValue(doc: IniDocument, section: string, key: string): EditOutcome {
  const want = normalizeSection(section);
  const lines: IniLine[] = [];
  let dropping = false;
  let changed = false;
  for (const l of doc.lines) {
    if (l.kind === 'entry') dropping = l.section === want && l.key === key;
    else if (l.kind !== 'continuation') dropping = false;
    if (dropping) changed = true;
    else lines.push(l);
  }
  return changed ? { doc: withLines(doc, lines), changed } : { doc, changed };
}

export interface IniEdit {
  section: string;
  key: string;
  /** undefined removes the key. */
  value: string | undefined;
}

/** Applies edits to file text; returns the new text and whether anything changed. */
export function editIni(text: string, edits: readonly IniEdit[]): { text: string; changed: boolean } {
  let doc = parseIni(text);
  let changed = false;
  for (const e of edits) {
    const out = e.value === undefined ? unsetValue(doc, e.section, e.key) : setValue(doc, e.section, e.key, e.value);
    doc = out.doc;
    changed ||= out.changed;
  }
  return { text: changed ? serializeIni(doc) : text, changed };
}
