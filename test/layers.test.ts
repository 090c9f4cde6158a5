// Enforces the import directions README.md's "Development" section lists: a directory under src/
// may import its own files and those of directories in lower layers, never a sibling or a higher one.
import { expect } from 'chai';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'src');

/** Top to bottom; keep in step with README.md. */
const LAYERS: string[][] = [
  ['cli'],
  ['playbook', 'upgrade'],
  ['steps', 'drill', 'lab', 'wizard'],
  ['runner'],
  ['cluster', 'openstack', 'agents'],
  ['render', 'facts'],
  ['ssh'],
  ['inventory'],
  ['services'],
  ['model', 'util'],
];

/**
 * Imports that break the rule today, each with its reason; an entry that no longer matches an
 * import fails the test, so the list only shrinks.
 */
const KNOWN_EXCEPTIONS: Record<string, string> = {};

function rankOf(dir: string): number {
  return LAYERS.findIndex((layer) => layer.includes(dir));
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourceFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

/** Relative specifiers of static imports, re-exports and dynamic imports. */
function relativeImports(text: string): string[] {
  const found = [...text.matchAll(/(?:\bfrom\s+|\bimport\s*\(?\s*)['"](\.\.?\/[^'"]+)['"]/g)].map((m) => m[1]!);
  return [...new Set(found)];
}

interface Edge {
  from: string;
  to: string;
}

function edges(): Edge[] {
  return sourceFiles(SRC).flatMap((file) =>
    relativeImports(readFileSync(file, 'utf8')).map((spec) => ({
      from: relative(SRC, file),
      to: relative(SRC, resolve(dirname(file), spec)),
    })),
  );
}

const topDir = (path: string) => path.split('/')[0]!;

describe('layers: src/ imports point down', () => {
  const all = edges();

  it('finds the source files and their imports', () => {
    expect(all.length).to.be.greaterThan(100);
  });

  it('places every directory of src/ in a layer', () => {
    const dirs = readdirSync(SRC, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name);
    expect(dirs.filter((d) => rankOf(d) < 0), 'add these to LAYERS here and in README.md').to.deep.equal([]);
    expect(sourceFiles(SRC).filter((f) => !relative(SRC, f).includes('/')), 'source files directly in src/').to.deep.equal([]);
  });

  it('has no import from a sibling or a higher layer', () => {
    const bad = all
      .filter((e) => !e.to.startsWith('..'))
      .filter((e) => {
        const [from, to] = [topDir(e.from), topDir(e.to)];
        return from !== to && rankOf(to) <= rankOf(from);
      })
      .map((e) => `${e.from} -> ${e.to}`)
      .filter((edge) => !(edge in KNOWN_EXCEPTIONS));
    expect(bad, 'imports against the layer order (README.md, Development)').to.deep.equal([]);
  });

  it('imports nothing outside src/ by a relative path', () => {
    expect(all.filter((e) => e.to.startsWith('..')).map((e) => `${e.from} -> ${e.to}`)).to.deep.equal([]);
  });

  it('lists only exceptions that still occur', () => {
    const present = new Set(all.map((e) => `${e.from} -> ${e.to}`));
    expect(Object.keys(KNOWN_EXCEPTIONS).filter((k) => !present.has(k)), 'remove these from KNOWN_EXCEPTIONS').to.deep.equal([]);
  });
});
