// The cached node image: built once per recipe hash under the cache dir, atomically.
// Layout: CACHE/<hash>/rootfs plus CACHE/<hash>/recipe.json; a build runs in CACHE/.build-<hash>-<pid>
// and is renamed into place only when complete, so an interrupted build never looks cached.
import { existsSync } from 'node:fs';
import { mkdir, readdir, rename, rm, writeFile, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { buildEnv, labRecipe, recipeHash, stackHash, STACK_PACKAGES, STACK_SCRIPT, STACK_UNITS, type Recipe } from './image-recipe.ts';
import { run } from './exec.ts';
import { err, ok, oshaError, type Result } from '../util/result.ts';
import { pidAlive, waitFor } from './proc.ts';

export const DEFAULT_CACHE_DIR = '/var/cache/osha/lab';

export interface ImageInfo {
  hash: string;
  rootfs: string;
  /** True when this call built the image; false when it was cached. */
  built: boolean;
  /** Seconds spent building (0 when cached). */
  buildSeconds: number;
}

export interface ImageOptions {
  cacheDir?: string;
  recipe?: Recipe;
  /** Progress lines of the build (debootstrap, apt). */
  log?: (line: string) => void;
}

export function imagePaths(cacheDir: string, hash: string) {
  const dir = join(cacheDir, hash);
  return { dir, rootfs: join(dir, 'rootfs'), recipeFile: join(dir, 'recipe.json'), lock: join(cacheDir, `.lock-${hash}`) };
}

/** Returns the cached image for the recipe, building it first when the cache has none. */
export async function ensureImage(opts: ImageOptions = {}): Promise<Result<ImageInfo>> {
  const cacheDir = opts.cacheDir ?? DEFAULT_CACHE_DIR;
  const recipe = opts.recipe ?? labRecipe();
  const hash = recipeHash(recipe);
  const paths = imagePaths(cacheDir, hash);
  if (existsSync(paths.recipeFile)) return ok({ hash, rootfs: paths.rootfs, built: false, buildSeconds: 0 });

  await mkdir(cacheDir, { recursive: true });
  const locked = await acquireLock(paths.lock);
  if (!locked.ok) return locked;
  try {
    // Another process may have finished the same build while we waited for the lock.
    if (existsSync(paths.recipeFile)) return ok({ hash, rootfs: paths.rootfs, built: false, buildSeconds: 0 });
    const started = Date.now();
    const built = await buildImage(cacheDir, hash, recipe, opts.log);
    if (!built.ok) return built;
    await removeStaleImages(cacheDir, hash, recipe.suite);
    return ok({ hash, rootfs: paths.rootfs, built: true, buildSeconds: (Date.now() - started) / 1000 });
  } finally {
    await rm(paths.lock, { recursive: true, force: true });
  }
}

/**
 * The stack layer of an image: the cluster stack installed once over it (image-recipe.ts
 * STACK_PACKAGES), kept as an overlay layer in IMAGE/stack-<key>/layer that a lab's nodes mount
 * between the image and their own upper dir. Built like the image: in a temp dir, renamed into
 * place when complete, one builder at a time. Returns the layer's path.
 */
export async function ensureStackLayer(cacheDir: string, image: { hash: string; rootfs: string }, log?: (line: string) => void): Promise<Result<string>> {
  const dir = join(cacheDir, image.hash, `stack-${stackHash()}`);
  const layer = join(dir, 'layer');
  if (existsSync(layer)) return ok(layer);
  const locked = await acquireLock(join(cacheDir, `.lock-${image.hash}-stack`));
  if (!locked.ok) return locked;
  try {
    if (existsSync(layer)) return ok(layer);
    await removeStaleStackBuilds(join(cacheDir, image.hash));
    const tmp = join(cacheDir, image.hash, `.stack-build-${process.pid}`);
    await removeStackBuild(tmp);
    await mkdir(tmp, { recursive: true });
    const env = { ...process.env, OSHA_STACK: STACK_PACKAGES.join(' '), OSHA_STACK_UNITS: STACK_UNITS.join(' '), LC_ALL: 'C' };
    const r = await run('bash', ['-c', STACK_SCRIPT, 'osha-lab-stack', image.rootfs, tmp], { env, onOutput: log ? (c) => emitLines(c, log) : undefined });
    if (r.code !== 0) {
      const tail = (r.stderr.trim() || r.stdout.trim()).split('\n').slice(-3).join(' | ');
      await removeStackBuild(tmp);
      return err(oshaError(`installing the cluster stack into the lab image's stack layer failed (exit ${r.code}): ${tail}`, { fix: `remove the image (rm -rf ${join(cacheDir, image.hash)}) so that the next lab up builds it again` }));
    }
    await rm(dir, { recursive: true, force: true });
    await rename(tmp, dir);
    return ok(layer);
  } finally {
    await rm(join(cacheDir, `.lock-${image.hash}-stack`), { recursive: true, force: true });
  }
}

/** A stack build's temp dir, its mounts first (a build killed mid-way may have left them). */
async function removeStackBuild(tmp: string): Promise<void> {
  const mounts = await readFile('/proc/self/mountinfo', 'utf8').catch(() => '');
  for (const m of [join(tmp, 'merged', 'proc'), join(tmp, 'merged')]) if (mounts.includes(` ${m} `)) await run('umount', ['-l', m]);
  await rm(tmp, { recursive: true, force: true });
}

/** Stack builds whose process is gone (a crash, a kill): removed before the next one. */
async function removeStaleStackBuilds(imageDir: string): Promise<void> {
  for (const name of await readdir(imageDir).catch(() => [] as string[])) {
    const build = /^\.stack-build-(\d+)$/.exec(name);
    if (build && !pidAlive(Number(build[1]))) await removeStackBuild(join(imageDir, name));
  }
}

async function buildImage(cacheDir: string, hash: string, recipe: Recipe, log?: (line: string) => void): Promise<Result<void>> {
  const tmp = join(cacheDir, `.build-${hash}-${process.pid}`);
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  const rootfs = join(tmp, 'rootfs');
  const env = { ...process.env, ...buildEnv(recipe), LC_ALL: 'C' };
  const r = await run('bash', ['-c', recipe.buildScript, 'osha-lab-build', rootfs], { env, onOutput: log ? (c) => emitLines(c, log) : undefined });
  if (r.code !== 0) {
    const tail = (r.stderr.trim() || r.stdout.trim()).split('\n').slice(-3).join(' | ');
    await rm(tmp, { recursive: true, force: true });
    return err(
      oshaError(`building the lab node image failed (exit ${r.code}): ${tail}`, {
        fix: `check that ${recipe.mirrors.mirror} is reachable and that debootstrap is installed (apt-get install debootstrap)`,
      }),
    );
  }
  await writeFile(join(tmp, 'recipe.json'), JSON.stringify({ hash, builtAt: new Date().toISOString(), recipe }, null, 2));
  await rename(tmp, join(cacheDir, hash));
  return ok(undefined);
}

function emitLines(chunk: string, log: (line: string) => void): void {
  for (const line of chunk.split('\n')) if (line.trim()) log(line.trimEnd());
}

/** A lock directory holding the owner's PID; a lock whose owner died is taken over. */
async function acquireLock(lock: string): Promise<Result<void>> {
  const deadline = Date.now() + 30 * 60_000;
  while (Date.now() < deadline) {
    try {
      await mkdir(lock);
      await writeFile(join(lock, 'pid'), String(process.pid));
      return ok(undefined);
    } catch {
      const owner = Number(await readFile(join(lock, 'pid'), 'utf8').catch(() => '0'));
      if (!owner || !pidAlive(owner)) {
        await rm(lock, { recursive: true, force: true });
        continue;
      }
      await waitFor(() => !existsSync(lock), { timeoutMs: 5_000, intervalMs: 250 });
    }
  }
  return err(oshaError(`another osha process has been building the lab image for 30 minutes (lock ${lock})`, { fix: `if no build is running, remove ${lock}` }));
}

/**
 * Removes interrupted builds and the images of older recipes of the same release that no mounted
 * overlay still uses: each release keeps its newest image.
 */
async function removeStaleImages(cacheDir: string, keep: string, suite: string): Promise<void> {
  const mounts = await readFile('/proc/self/mountinfo', 'utf8').catch(() => '');
  for (const name of await readdir(cacheDir)) {
    const path = join(cacheDir, name);
    const build = /^\.build-[0-9a-f]+-(\d+)$/.exec(name);
    if (build) {
      if (!pidAlive(Number(build[1]))) await rm(path, { recursive: true, force: true });
      continue;
    }
    if (!/^[0-9a-f]{16}$/.test(name) || name === keep || mounts.includes(path)) continue;
    if ((await imageSuite(path)) === suite) await rm(path, { recursive: true, force: true });
  }
}

/** The release an image in the cache was built for; undefined when it has no readable recipe. */
async function imageSuite(dir: string): Promise<string | undefined> {
  try {
    const parsed = JSON.parse(await readFile(join(dir, 'recipe.json'), 'utf8')) as { recipe?: { suite?: string } };
    return parsed.recipe?.suite;
  } catch {
    return undefined;
  }
}
