// Reads an inventory file and turns every problem into `FILE:LINE:COL field.path: message`.
import { readFile } from 'node:fs/promises';
import { LineCounter, parseDocument, isMap, isNode, type Document, type Node } from 'yaml';
import type { z } from 'zod';
import { inventorySchema, type Inventory } from './schema.ts';
import { err, ok, type Result } from '../util/result.ts';
import { count } from '../util/text.ts';

/** One problem in an inventory, located in the file. */
export interface InventoryProblem {
  file: string;
  line: number;
  col: number;
  /** Dotted field path, e.g. `nodes[1].address`; empty for the whole document. */
  field: string;
  message: string;
}

export function formatProblem(p: InventoryProblem): string {
  const field = p.field ? `${p.field}: ` : '';
  // Line 0: about the file itself (it cannot be read), not a place in it.
  return p.line === 0 ? `${p.file}: ${field}${p.message}` : `${p.file}:${p.line}:${p.col} ${field}${p.message}`;
}

/** The last line after the problems: how many, and that no node was touched. */
export function problemsSummary(file: string, n: number): string {
  return `${file}: ${count(n, 'problem')}; nothing was changed on any node`;
}

export async function loadInventory(file: string): Promise<Result<Inventory, InventoryProblem[]>> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file; check the path, or run `osha init` to write one' : `cannot read it (${code ?? String(e)})`;
    return err([{ file, line: 0, col: 0, field: '', message: why }]);
  }
  return parseInventory(text, file);
}

/** Parses and validates inventory text; `file` is used only in messages. */
export function parseInventory(text: string, file: string): Result<Inventory, InventoryProblem[]> {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    return err(
      doc.errors.map((e) => {
        const pos = lineCounter.linePos(e.pos[0]);
        const first = e.message.split('\n')[0] ?? e.message;
        return { file, line: pos.line, col: pos.col, field: '', message: `YAML syntax error: ${first}; fix the YAML at this position` };
      }),
    );
  }
  const data: unknown = doc.toJS();
  if (data === null || data === undefined || typeof data !== 'object' || Array.isArray(data)) {
    return err([{ file, line: 1, col: 1, field: '', message: 'the inventory must be a YAML mapping with cluster, nodes and vip; see inventory.example.yaml' }]);
  }
  const parsed = inventorySchema.safeParse(data);
  if (parsed.success) return ok(parsed.data);
  const problems = parsed.error.issues.flatMap((issue) => locateIssue(issue, doc, lineCounter, file));
  problems.sort((a, b) => a.line - b.line || a.col - b.col);
  return err(problems);
}

function fieldPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>((acc, k) => (typeof k === 'number' ? `${acc}[${k}]` : acc ? `${acc}.${String(k)}` : String(k)), '');
}

/** Finds the deepest YAML node that exists along `path`, so missing keys point at their parent. */
function nodeAt(doc: Document, path: readonly PropertyKey[]): { node: Node | undefined; found: boolean } {
  for (let n = path.length; n >= 0; n--) {
    const node = doc.getIn(path.slice(0, n) as unknown[], true);
    if (isNode(node)) return { node, found: n === path.length };
  }
  return { node: doc.contents ?? undefined, found: false };
}

function position(node: Node | undefined, lc: LineCounter): { line: number; col: number } {
  const offset = node?.range?.[0];
  return offset === undefined ? { line: 1, col: 1 } : lc.linePos(offset);
}

function locateIssue(issue: z.core.$ZodIssue, doc: Document, lc: LineCounter, file: string): InventoryProblem[] {
  const path = issue.path;
  if (issue.code === 'unrecognized_keys') {
    // Point at each unknown key itself, so a typo is found at a glance.
    const parent = doc.getIn(path as unknown[], true);
    return issue.keys.map((key) => {
      let pos = position(isNode(parent) ? parent : undefined, lc);
      if (isMap(parent)) {
        const pair = parent.items.find((p) => isNode(p.key) && (p.key as { value?: unknown }).value === key);
        if (pair && isNode(pair.key)) pos = position(pair.key, lc);
      }
      const known = allowedKeys(path);
      const hint = suggest(key, known);
      return {
        file,
        ...pos,
        field: fieldPath([...path, key]),
        message: `unknown key "${key}"${hint ? `; did you mean "${hint}"?` : ''}${known.length ? ` Allowed here: ${known.join(', ')}` : ''}`,
      };
    });
  }
  const { node, found } = nodeAt(doc, path);
  const value = found && isNode(node) ? (node as { toJSON(): unknown }).toJSON() : undefined;
  return [{ file, ...position(node, lc), field: fieldPath(path), message: humanMessage(issue, found, value) }];
}

function humanMessage(issue: z.core.$ZodIssue, found: boolean, value: unknown): string {
  if (issue.code === 'invalid_type') {
    if (!found) return `is required (expected ${issue.expected}); add it`;
    return `expected ${issue.expected}, got ${describe(value)}; ${fixForType(issue.expected)}`;
  }
  if (issue.code === 'invalid_union') {
    return 'must be {env: VARIABLE} or {file: /path/to/secret} (a plain string needs allow_plaintext_secrets: true)';
  }
  if (issue.code === 'too_small' && issue.origin === 'array') return issue.message;
  if (issue.code === 'invalid_value') return `${issue.message}`;
  return issue.message;
}

function describe(v: unknown): string {
  if (v === null) return 'null (an empty value)';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return `${typeof v} ${JSON.stringify(v)}`;
}

function fixForType(expected: string): string {
  switch (expected) {
    case 'number':
      return 'write a plain number without quotes';
    case 'boolean':
      return 'write true or false';
    case 'array':
      return 'write a YAML list (lines starting with "- ")';
    case 'object':
      return 'write a YAML mapping (key: value lines)';
    default:
      return `write a ${expected}`;
  }
}

/** Keys accepted at a path, read from the schema so messages never drift from it. */
function allowedKeys(path: readonly PropertyKey[]): string[] {
  let schema: unknown = inventorySchema;
  for (const k of path) {
    schema = unwrap(schema);
    if (typeof k === 'number') {
      schema = (schema as { element?: unknown }).element;
    } else {
      const shape = (schema as { shape?: Record<string, unknown> }).shape;
      schema = shape?.[String(k)];
      if (!schema) {
        // Unions (e.g. sudo: true | {password}) : look for the object member.
        return [];
      }
    }
  }
  schema = unwrap(schema);
  const shape = (schema as { shape?: Record<string, unknown> }).shape;
  return shape ? Object.keys(shape) : [];
}

function unwrap(schema: unknown): unknown {
  let s = schema as { def?: { type?: string; innerType?: unknown; in?: unknown; schema?: unknown; options?: unknown[] } } | undefined;
  for (let i = 0; i < 10 && s?.def; i++) {
    const d = s.def;
    if (d.innerType) s = d.innerType as typeof s;
    else if (d.type === 'pipe' && d.in) s = d.in as typeof s;
    else if (d.type === 'union' && d.options) s = (d.options.find((o) => (o as { shape?: unknown }).shape) ?? s) as typeof s;
    else break;
    if ((s as { shape?: unknown }).shape) break;
  }
  return s;
}

/** The closest allowed key by edit distance, when it is close enough to be a typo. */
function suggest(key: string, known: string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const k of known) {
    const d = editDistance(key.toLowerCase(), k.toLowerCase());
    if (d < bestDistance) {
      best = k;
      bestDistance = d;
    }
  }
  return bestDistance <= Math.max(2, Math.floor(key.length / 3)) ? best : undefined;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length]!;
}
