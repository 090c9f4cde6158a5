// The image cache: keyed by the recipe hash, built atomically, never left half-built. These tests
// drive the real cache code with a tiny build script instead of debootstrap (which takes a minute).
import { expect } from 'chai';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureImage } from '../../src/lab/image.ts';
import { labRecipe, recipeHash, type Recipe } from '../../src/lab/image-recipe.ts';

function tinyRecipe(script: string): Recipe {
  return { ...labRecipe({ mirror: 'http://deb.example/debian', security: '' }), buildScript: script };
}

describe('lab image cache', () => {
  let cache: string;
  beforeEach(() => {
    cache = mkdtempSync(join(tmpdir(), 'osha-image-cache-'));
  });
  afterEach(() => rmSync(cache, { recursive: true, force: true }));

  it('builds once per recipe and reuses the cached image', async () => {
    const recipe = tinyRecipe('mkdir -p "$1/etc" && echo "$OSHA_DEBS" > "$1/etc/debs"');
    const first = await ensureImage({ cacheDir: cache, recipe });
    if (!first.ok) throw new Error(first.error.message);
    expect(first.value.built).to.equal(true);
    expect(first.value.rootfs).to.equal(join(cache, recipeHash(recipe), 'rootfs'));
    expect(readFileSync(join(first.value.rootfs, 'etc/debs'), 'utf8')).to.include('pacemaker');
    const second = await ensureImage({ cacheDir: cache, recipe });
    expect(second.ok && second.value.built).to.equal(false);
  });

  it('rebuilds for a changed recipe and drops the old image', async () => {
    const a = tinyRecipe('mkdir -p "$1"');
    const b = { ...a, offlineDebs: [...a.offlineDebs, 'nginx'] };
    await ensureImage({ cacheDir: cache, recipe: a });
    const r = await ensureImage({ cacheDir: cache, recipe: b });
    expect(r.ok && r.value.built).to.equal(true);
    expect(readdirSync(cache)).to.deep.equal([recipeHash(b)]);
  });

  it('keeps one image per release: a trixie build leaves the bookworm image, a newer trixie recipe replaces the older one', async () => {
    const bookworm = tinyRecipe('mkdir -p "$1"');
    const trixie = { ...labRecipe({ mirror: 'http://deb.example/debian', security: '' }, 'trixie'), buildScript: bookworm.buildScript };
    const trixie2 = { ...trixie, offlineDebs: [...trixie.offlineDebs, 'nginx'] };
    expect(trixie.suite).to.equal('trixie');
    await ensureImage({ cacheDir: cache, recipe: bookworm });
    await ensureImage({ cacheDir: cache, recipe: trixie });
    expect(readdirSync(cache).sort()).to.deep.equal([recipeHash(bookworm), recipeHash(trixie)].sort());
    await ensureImage({ cacheDir: cache, recipe: trixie2 });
    expect(readdirSync(cache).sort()).to.deep.equal([recipeHash(bookworm), recipeHash(trixie2)].sort());
  });

  it('leaves nothing that looks cached when the build fails', async () => {
    const recipe = tinyRecipe('mkdir -p "$1/etc" && echo half > "$1/etc/x" && echo "E: mirror unreachable" >&2 && exit 100');
    const r = await ensureImage({ cacheDir: cache, recipe });
    expect(r.ok).to.equal(false);
    if (!r.ok) expect(r.error.message).to.match(/building the lab node image failed \(exit 100\): E: mirror unreachable/);
    expect(existsSync(join(cache, recipeHash(recipe)))).to.equal(false);
    expect(readdirSync(cache)).to.deep.equal([]);
  });
});
