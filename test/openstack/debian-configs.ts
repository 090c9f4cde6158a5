// Test data: the real default config files of Debian's OpenStack packages, taken from the .deb
// files at test time (never copied into the repository). Packages are fetched once with
// `apt-get download` into a cache outside the checkout and unpacked with `dpkg-deb -x`.
// Debian ships these files under /usr/share/<package>/ and its postinst installs them to /etc.
import { execFile } from 'node:child_process';
import { accessSync, constants, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { onTeardown } from '../support/teardown.ts';

const run = promisify(execFile);

/** Installed path → [package, path inside the package]. */
export const DEBIAN_CONFIGS: Record<string, [string, string]> = {
  '/etc/keystone/keystone.conf': ['keystone', 'usr/share/keystone/keystone.conf'],
  '/etc/glance/glance-api.conf': ['glance-common', 'usr/share/glance-common/glance-api.conf'],
  '/etc/nova/nova.conf': ['nova-common', 'usr/share/nova-common/nova.conf'],
  '/etc/neutron/neutron.conf': ['neutron-common', 'usr/share/neutron-common/neutron.conf'],
  '/etc/cinder/cinder.conf': ['cinder-common', 'usr/share/cinder-common/cinder.conf'],
  '/etc/heat/heat.conf': ['heat-common', 'usr/share/heat-common/heat.conf'],
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
async function download(cache: string, pkg: string): Promise<void> {
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

/** The cached .deb of `pkg`, downloaded first if needed. Fails with a message that says what to do. */
export async function fetchDeb(cache: string, pkg: string): Promise<string> {
  const have = cachedDeb(cache, pkg);
  if (have) return have;
  try {
    await download(cache, pkg);
  } catch (e) {
    const detail = (e as { stderr?: string }).stderr?.trim() || (e as Error).message;
    throw new Error(
      `cannot fetch Debian package ${pkg} with "apt-get download ${pkg}" into ${cache}: ${detail}\n` +
        'These tests need the real config files from Debian packages: run "apt-get update" once and check the network.',
    );
  }
  const got = cachedDeb(cache, pkg);
  if (!got) throw new Error(`apt-get download ${pkg} succeeded but no ${pkg}_*.deb appeared in ${cache}`);
  return got;
}

let loaded: Promise<Record<string, string>> | undefined;

/** Installed path → file content, for every file in DEBIAN_CONFIGS. Fetched once per run. */
export function debianConfigs(): Promise<Record<string, string>> {
  loaded ??= load();
  return loaded;
}

async function load(): Promise<Record<string, string>> {
  const cache = debCacheDir();
  const root = mkdtempSync(join(tmpdir(), 'osha-debs-'));
  onTeardown(() => rmSync(root, { recursive: true, force: true }));
  const packages = [...new Set(Object.values(DEBIAN_CONFIGS).map(([p]) => p))];
  for (const pkg of packages) {
    const deb = await fetchDeb(cache, pkg);
    await run('dpkg-deb', ['-x', deb, root]);
  }
  const out: Record<string, string> = {};
  for (const [installed, [pkg, inside]] of Object.entries(DEBIAN_CONFIGS)) {
    let bytes: Buffer;
    try {
      bytes = readFileSync(join(root, inside));
    } catch {
      throw new Error(`package ${pkg} no longer ships ${inside}; update DEBIAN_CONFIGS in test/openstack/debian-configs.ts`);
    }
    const text = bytes.toString('utf8');
    // The editor works on text: make sure text and bytes convert both ways without loss.
    if (!Buffer.from(text, 'utf8').equals(bytes)) throw new Error(`${inside} from ${pkg} is not valid UTF-8`);
    out[installed] = text;
  }
  return out;
}
