// Test data: the real default config files of Debian's OpenStack packages, taken from the .deb
// files at test time (never copied into the repository). Packages are fetched once with
// `apt-get download` into a cache outside the checkout and unpacked with `dpkg-deb -x`.
// Debian ships these files under /usr/share/<package>/ and its postinst installs them to /etc.
//
// Two releases: bookworm (Debian 12, the host's own, through the host's apt as it is configured)
// and trixie (Debian 13, OpenStack 2025.1), through an apt state of its own under the cache
// (sources list, package lists, apt's cache), so the host's apt configuration never changes.
import { execFile } from 'node:child_process';
import { accessSync, constants, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { hostMirrors } from '../../src/lab/image-recipe.ts';
import { onTeardown } from '../support/teardown.ts';

const run = promisify(execFile);

export type DebianRelease = 'bookworm' | 'trixie';

/** The releases osha is checked against, the host's first. */
export const DEBIAN_RELEASES: readonly DebianRelease[] = ['bookworm', 'trixie'];

/** The host's release: its packages come through the host's own apt. */
const HOST_RELEASE: DebianRelease = 'bookworm';

/** Installed path → [package, path inside the package]; the same in both releases. */
export const DEBIAN_CONFIGS: Record<string, [string, string]> = {
  '/etc/keystone/keystone.conf': ['keystone', 'usr/share/keystone/keystone.conf'],
  '/etc/glance/glance-api.conf': ['glance-common', 'usr/share/glance-common/glance-api.conf'],
  '/etc/nova/nova.conf': ['nova-common', 'usr/share/nova-common/nova.conf'],
  '/etc/neutron/neutron.conf': ['neutron-common', 'usr/share/neutron-common/neutron.conf'],
  '/etc/neutron/metadata_agent.ini': ['neutron-metadata-agent', 'usr/share/neutron-metadata-agent/metadata_agent.ini'],
  '/etc/cinder/cinder.conf': ['cinder-common', 'usr/share/cinder-common/cinder.conf'],
  '/etc/heat/heat.conf': ['heat-common', 'usr/share/heat-common/heat.conf'],
  '/etc/placement/placement.conf': ['placement-common', 'usr/share/placement-common/placement.conf'],
};

function writableDir(dir: string): boolean {
  try {
    mkdirSync(dir, { recursive: true });
    accessSync(dir, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/** $OSHA_DEB_CACHE, else /var/cache/osha/debs, else ~/.cache/osha/debs. */
export function debCacheDir(): string {
  const candidates = [process.env.OSHA_DEB_CACHE, '/var/cache/osha/debs', join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'osha', 'debs')];
  for (const dir of candidates) if (dir && writableDir(dir)) return dir;
  throw new Error('no writable cache directory for Debian packages; set OSHA_DEB_CACHE');
}

/**
 * Where a release's .debs are cached: bookworm's in the cache directory itself (as always),
 * trixie's in trixie/debs beside trixie's own apt state (trixie/apt), so the two never mix.
 */
export function releaseCacheDir(release: DebianRelease, base = debCacheDir()): string {
  return release === HOST_RELEASE ? base : join(base, release, 'debs');
}

/** The apt state of a release other than the host's: the directory beside its .deb cache. */
function aptStateDir(cache: string): string {
  return join(cache, '..', 'apt');
}

/** The sources list of a private apt state: the host's Debian mirrors, with this release's suites. */
function sourcesList(release: DebianRelease): string {
  const { mirror, security } = hostMirrors();
  const line = (uri: string, suite: string) => `deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] ${uri} ${suite} main\n`;
  return line(mirror, release) + line(mirror, `${release}-updates`) + (security ? line(security, `${release}-security`) : '');
}

/**
 * apt-get options that point apt at the private state in DIR instead of the host's: its own
 * sources (and no host sources.list.d or pinning), package lists and cache. apt.conf.d (a proxy,
 * say) still applies.
 */
function aptOptions(dir: string): string[] {
  const dirs = {
    'Dir::Etc::SourceList': join(dir, 'sources.list'),
    'Dir::Etc::SourceParts': join(dir, 'sources.list.d'),
    'Dir::Etc::Preferences': join(dir, 'preferences'),
    'Dir::Etc::PreferencesParts': join(dir, 'preferences.d'),
    'Dir::State::Lists': join(dir, 'lists'),
    'Dir::Cache': join(dir, 'cache'),
  };
  return Object.entries(dirs).flatMap(([k, v]) => ['-o', `${k}=${v}`]);
}

/** True when apt has package lists in DIR. */
function haveLists(dir: string): boolean {
  try {
    return readdirSync(dir).some((f) => f.includes('_Packages'));
  } catch {
    return false;
  }
}

/** One `apt-get update` per private apt state and test run, shared by every caller. */
const updates = new Map<string, Promise<void>>();
/** Private apt states whose stale lists were fetched again in this run. */
const refreshed = new Set<string>();

function updatePrivate(dir: string): Promise<void> {
  let p = updates.get(dir);
  if (!p) {
    p = run('apt-get', [...aptOptions(dir), 'update', '-qq'], { timeout: 300_000 }).then(() => undefined);
    updates.set(dir, p);
  }
  return p;
}

/**
 * Makes the private apt state of RELEASE in DIR: its directories, its sources list (rewritten,
 * and the lists dropped, when the host's mirrors changed), and its package lists, fetched once
 * when they are missing. Returns the apt-get options that use it.
 */
async function privateApt(release: DebianRelease, dir: string): Promise<string[]> {
  for (const d of ['sources.list.d', 'preferences.d', 'lists/partial', 'cache/archives/partial']) mkdirSync(join(dir, d), { recursive: true });
  const list = join(dir, 'sources.list');
  const want = sourcesList(release);
  let have: string | undefined;
  try {
    have = readFileSync(list, 'utf8');
  } catch {
    have = undefined;
  }
  if (have !== want) {
    writeFileSync(list, want);
    rmSync(join(dir, 'lists'), { recursive: true, force: true });
    mkdirSync(join(dir, 'lists', 'partial'), { recursive: true });
  }
  if (!haveLists(join(dir, 'lists'))) await updatePrivate(dir);
  return aptOptions(dir);
}

function cachedDeb(cache: string, pkg: string): string | undefined {
  let names: string[];
  try {
    names = readdirSync(cache);
  } catch {
    return undefined;
  }
  const name = names.find((f) => f.startsWith(`${pkg}_`) && f.endsWith('.deb'));
  return name === undefined ? undefined : join(cache, name);
}

let listsRefreshed = false;

/** apt-get download; when apt's package lists are missing (a fresh machine) and we are root, refresh them once. */
async function download(cache: string, pkg: string, release: DebianRelease): Promise<void> {
  if (release !== HOST_RELEASE) return downloadPrivate(cache, pkg, release);
  try {
    await run('apt-get', ['download', pkg], { cwd: cache, timeout: 180_000 });
  } catch (e) {
    const stderr = (e as { stderr?: string }).stderr ?? '';
    if (listsRefreshed || process.getuid?.() !== 0 || !/Unable to locate package|has no installation candidate/.test(stderr)) throw e;
    listsRefreshed = true;
    await run('apt-get', ['update', '-qq'], { timeout: 300_000 });
    await run('apt-get', ['download', pkg], { cwd: cache, timeout: 180_000 });
  }
}

/**
 * apt-get download from RELEASE's private apt state. When it fails, the lists may have gone stale
 * (a package replaced by a point release: 404, or no longer listed) or be damaged: they are
 * fetched again and the download tried once more, once per run.
 */
async function downloadPrivate(cache: string, pkg: string, release: DebianRelease): Promise<void> {
  const dir = aptStateDir(cache);
  mkdirSync(cache, { recursive: true });
  const options = await privateApt(release, dir);
  try {
    await run('apt-get', [...options, 'download', pkg], { cwd: cache, timeout: 180_000 });
  } catch (e) {
    if (refreshed.has(dir)) throw e;
    refreshed.add(dir);
    updates.delete(dir);
    await updatePrivate(dir);
    await run('apt-get', [...options, 'download', pkg], { cwd: cache, timeout: 180_000 });
  }
}

/** Whether RELEASE's archive has a package named PKG: apt-cache show, through that release's apt. */
export async function releaseHasPackage(release: DebianRelease, pkg: string): Promise<boolean> {
  const options = release === HOST_RELEASE ? [] : await privateApt(release, aptStateDir(releaseCacheDir(release)));
  try {
    await run('apt-cache', [...options, 'show', '--no-all-versions', pkg], { timeout: 60_000 });
    return true;
  } catch (e) {
    if (/No packages found|Unable to locate package/.test((e as { stderr?: string }).stderr ?? '')) return false;
    throw e;
  }
}

/** What to do when a package of RELEASE cannot be fetched. */
function fetchAdvice(release: DebianRelease, cache: string): string {
  return release === HOST_RELEASE
    ? 'These tests need the real config files from Debian packages: run "apt-get update" once and check the network.'
    : `These tests need the real files from Debian ${release}'s packages, fetched through the apt state in ${aptStateDir(cache)} (the host's apt is not changed): check the network, or remove that directory to fetch ${release}'s package lists again.`;
}

/**
 * The cached .deb of `pkg` from RELEASE (default: the host's, bookworm), downloaded first if
 * needed; CACHE is releaseCacheDir(release). Fails with a message that says what to do.
 */
export async function fetchDeb(cache: string, pkg: string, release: DebianRelease = HOST_RELEASE): Promise<string> {
  const have = cachedDeb(cache, pkg);
  if (have) return have;
  try {
    await download(cache, pkg, release);
  } catch (e) {
    const detail = (e as { stderr?: string }).stderr?.trim() || (e as Error).message;
    throw new Error(`cannot fetch Debian ${release} package ${pkg} with "apt-get download ${pkg}" into ${cache}: ${detail}\n` + fetchAdvice(release, cache));
  }
  const got = cachedDeb(cache, pkg);
  if (!got) throw new Error(`apt-get download ${pkg} succeeded but no ${pkg}_*.deb appeared in ${cache}`);
  return got;
}

const loaded = new Map<DebianRelease, Promise<Record<string, string>>>();

/** Installed path → file content, for every file in DEBIAN_CONFIGS, from RELEASE's packages. Fetched once per run. */
export function debianConfigs(release: DebianRelease = HOST_RELEASE): Promise<Record<string, string>> {
  let p = loaded.get(release);
  if (!p) {
    p = load(release);
    loaded.set(release, p);
  }
  return p;
}

/** A fresh directory (removed at the end of the run) with PACKAGES of RELEASE unpacked into it. */
export async function unpackDebs(release: DebianRelease, packages: Iterable<string>, prefix = 'osha-debs-'): Promise<string> {
  const cache = releaseCacheDir(release);
  const root = mkdtempSync(join(tmpdir(), `${prefix}${release}-`));
  onTeardown(() => rmSync(root, { recursive: true, force: true }));
  for (const pkg of new Set(packages)) {
    const deb = await fetchDeb(cache, pkg, release);
    await run('dpkg-deb', ['-x', deb, root]);
  }
  return root;
}

async function load(release: DebianRelease): Promise<Record<string, string>> {
  const root = await unpackDebs(release, Object.values(DEBIAN_CONFIGS).map(([p]) => p));
  const out: Record<string, string> = {};
  for (const [installed, [pkg, inside]] of Object.entries(DEBIAN_CONFIGS)) {
    let bytes: Buffer;
    try {
      bytes = readFileSync(join(root, inside));
    } catch {
      throw new Error(`${release}'s package ${pkg} does not ship ${inside}; update DEBIAN_CONFIGS in test/openstack/debian-configs.ts`);
    }
    const text = bytes.toString('utf8');
    // The editor works on text: make sure text and bytes convert both ways without loss.
    if (!Buffer.from(text, 'utf8').equals(bytes)) throw new Error(`${inside} from ${release}'s ${pkg} is not valid UTF-8`);
    out[installed] = text;
  }
  return out;
}
