// The recipe of the lab node image: everything that decides its content. The cache key is a hash
// of this whole recipe, so changing any list or the build script rebuilds the image.
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';

/** The Debian releases a lab node can run: Debian 12 (the default) and Debian 13. */
export const RELEASES = ['bookworm', 'trixie'] as const;
export type Release = (typeof RELEASES)[number];
export const DEFAULT_RELEASE: Release = 'bookworm';

/** Installed by debootstrap: what a node needs to boot, answer ssh and run osha's steps. */
export const BASE_PACKAGES = [
  'systemd',
  'systemd-sysv',
  'dbus',
  'openssh-server',
  'iproute2',
  'procps',
  'python3',
  'curl',
  'ca-certificates',
  'netbase',
  // modprobe: ocf:heartbeat:Filesystem will not run without it (every real controller has it).
  'kmod',
] as const;

/**
 * Downloaded (with their dependencies and recommends) into the image's apt cache (only PREINSTALLED below is installed):
 * `apt-get install` of any of these works inside a node with no network, as osha deploy does it.
 * fence-agents-base does not exist in bookworm, so it is not listed.
 */
export const OFFLINE_DEBS = [
  'pacemaker',
  'pacemaker-cli-utils',
  'corosync',
  'crmsh',
  'pcs',
  'resource-agents',
  'keystone',
  'glance-api',
  // A worker and uwsgi APIs beyond keystone/glance, so osha's agents meet a real broker user and
  // an API without a token check (heat-api-cfn).
  'heat-api',
  'heat-api-cfn',
  'heat-engine',
  'python3-openstackclient',
  'mariadb-server',
  'rabbitmq-server',
  'haproxy',
  // crmsh's bootstrap (crm cluster init/join) syncs its files with csync2: a cluster built that way.
  'csync2',
] as const;

/**
 * Installed in the image (from the downloads above, without recommends), so every node is an
 * OpenStack controller as an operator has it before HA: the daemons' packages, users, default
 * configs and MariaDB's initial data directory are there. Installing them took minutes per node
 * on a 2-core host (dpkg's own CPU work), at every test run; now it is done once per image.
 * Their units are disabled (nothing of theirs runs at boot): a test or the demo starts what it
 * uses, and osha's init-services step takes over the ones an inventory lists.
 */
export const PREINSTALLED = [
  'mariadb-server',
  'rabbitmq-server',
  'keystone',
  'glance-api',
  'heat-api',
  'heat-api-cfn',
  'heat-engine',
  'python3-openstackclient',
] as const;

/**
 * What each release's image installs. Debian 13's image is used by the demo on trixie nodes
 * (test/ha/trixie.test.ts) and needs only its four services: heat and the OpenStack client stay
 * in its apt cache, not installed, which keeps its build (run in every CI run on a fresh machine)
 * about a third shorter.
 */
export function preinstalledFor(release: Release): readonly string[] {
  return release === 'bookworm' ? PREINSTALLED : PREINSTALLED.filter((p) => !TRIXIE_NOT_PREINSTALLED.includes(p));
}
const TRIXIE_NOT_PREINSTALLED: readonly string[] = ['heat-api', 'heat-api-cfn', 'heat-engine', 'python3-openstackclient'];

/** The units of PREINSTALLED that Debian enables at install, disabled in the image. */
export const PREINSTALLED_UNITS = ['mariadb', 'rabbitmq-server', 'keystone', 'glance-api', 'heat-api', 'heat-api-cfn', 'heat-engine'] as const;

/**
 * The stack layer (src/lab/image.ts `ensureStackLayer`): what osha deploy's packages step installs
 * on a Debian node of either topology (src/steps/packages.ts `clusterPackages`, without fence-agents:
 * lab nodes fence with the image's own fence_nspawn), installed once over the image the same way,
 * for labs that are not there to watch that step. A test keeps this list equal to the step's.
 */
export const STACK_PACKAGES = ['pacemaker', 'pacemaker-cli-utils', 'corosync', 'crmsh', 'resource-agents', 'libxml2-utils', 'galera-4', 'rsync', 'haproxy', 'python3'] as const;

/**
 * Units of STACK_PACKAGES that Debian enables at install, disabled in the layer: a node boots with
 * nothing of the stack running (corosync would start a one-node cluster of the package's default
 * corosync.conf), as after the packages step, whose policy-rc.d keeps them stopped until osha
 * starts them. osha enables corosync and pacemaker itself once it has started them.
 */
export const STACK_UNITS = ['corosync.service', 'pacemaker.service', 'haproxy.service'] as const;

/**
 * Builds the stack layer: bash STACK_SCRIPT ROOTFS DIR installs STACK_PACKAGES from the image's apt
 * cache into an overlay over ROOTFS whose upper dir is DIR/layer, then leaves only DIR/layer. No
 * network: --no-download, from the downloads the image holds.
 */
export const STACK_SCRIPT = String.raw`set -euo pipefail
rootfs=$1
dir=$2
mkdir -p "$dir/layer" "$dir/work" "$dir/merged"
mount -t overlay overlay -o "lowerdir=$rootfs,upperdir=$dir/layer,workdir=$dir/work" "$dir/merged"
cleanup() { umount "$dir/merged/proc" 2>/dev/null || true; umount "$dir/merged" 2>/dev/null || true; }
trap cleanup EXIT
printf '#!/bin/sh
exit 101
' > "$dir/merged/usr/sbin/policy-rc.d"
chmod 755 "$dir/merged/usr/sbin/policy-rc.d"
mount -t proc proc "$dir/merged/proc"
# shellcheck disable=SC2086
chroot "$dir/merged" env DEBIAN_FRONTEND=noninteractive apt-get -q -y --no-download --no-install-recommends   -o Dpkg::Options::=--force-unsafe-io -o Dpkg::Options::=--force-confold install $OSHA_STACK
umount "$dir/merged/proc"
rm -f "$dir/merged/usr/sbin/policy-rc.d"
# shellcheck disable=SC2086
systemctl --root="$dir/merged" disable $OSHA_STACK_UNITS
cleanup
trap - EXIT
rm -rf "$dir/work" "$dir/merged"
`;

/** Units that cost boot time or memory and do nothing useful in a lab node. */
export const MASKED_UNITS = [
  'apt-daily.timer',
  'apt-daily-upgrade.timer',
  'dpkg-db-backup.timer',
  'e2scrub_all.timer',
  'e2scrub_reap.service',
  'fstrim.timer',
  'systemd-tmpfiles-clean.timer',
  'systemd-pstore.service',
  'systemd-networkd-wait-online.service',
  'getty@tty1.service',
  'console-getty.service',
  'getty.target',
] as const;

/** sshd settings of every node: key login only, only the ed25519 host key the lab writes. */
export const SSHD_CONFIG = `# Written by the osha lab image build.
HostKey /etc/ssh/ssh_host_ed25519_key
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UseDNS no
MaxStartups 100:30:200
MaxSessions 64
`;

/**
 * The build script, run as root on the host: bash BUILD_SCRIPT ROOTFS, with the recipe in
 * OSHA_* environment variables. The host's resolv.conf is copied in only for the downloads.
 */
export const BUILD_SCRIPT = String.raw`set -euo pipefail
root=$1
debootstrap --variant=minbase --include="$OSHA_INCLUDE" "$OSHA_SUITE" "$root" "$OSHA_MIRROR"

# Lists from the same mirror as the host, so the cached .debs match the lists in the image.
{
  echo "deb $OSHA_MIRROR $OSHA_SUITE main"
  echo "deb $OSHA_MIRROR $OSHA_SUITE-updates main"
  if [ -n "$OSHA_SECURITY" ]; then echo "deb $OSHA_SECURITY $OSHA_SUITE-security main"; fi
} > "$root/etc/apt/sources.list"

# A resolver only while downloading; nodes never get one.
no_resolver() { printf '# osha lab node: no DNS resolver on purpose\n' > "$root/etc/resolv.conf"; }
trap no_resolver EXIT
rm -f "$root/etc/resolv.conf"
cp /etc/resolv.conf "$root/etc/resolv.conf"
chroot "$root" apt-get -q update
# shellcheck disable=SC2086
chroot "$root" env DEBIAN_FRONTEND=noninteractive apt-get -q -y --download-only install $OSHA_DEBS
# The preinstall below goes without recommends, and apt may then pick another alternative of an
# "a | b" dependency (trixie: xclip for a clipboard library): fetch that set as well.
# shellcheck disable=SC2086
chroot "$root" env DEBIAN_FRONTEND=noninteractive apt-get -q -y --download-only --no-install-recommends install $OSHA_PREINSTALL
no_resolver

# The controller's own packages, from the downloads above. policy-rc.d keeps every daemon from
# starting in the chroot; /proc is there for the maintainer scripts that read it.
printf '#!/bin/sh\nexit 101\n' > "$root/usr/sbin/policy-rc.d"
chmod 755 "$root/usr/sbin/policy-rc.d"
mount -t proc proc "$root/proc"
trap 'umount "$root/proc" 2>/dev/null || true; no_resolver' EXIT
# shellcheck disable=SC2086
chroot "$root" env DEBIAN_FRONTEND=noninteractive apt-get -q -y --no-download --no-install-recommends \
  -o Dpkg::Options::=--force-unsafe-io install $OSHA_PREINSTALL
umount "$root/proc"
trap no_resolver EXIT
rm -f "$root/usr/sbin/policy-rc.d"
# shellcheck disable=SC2086
systemctl --root="$root" disable $OSHA_PREINSTALLED_UNITS
# The downloads stay in the apt cache: nodes install pacemaker and the rest from it.
test -n "$(ls "$root"/var/cache/apt/archives/pacemaker_*.deb)"

# Each node gets its own host key, written by osha lab before first boot.
rm -f "$root"/etc/ssh/ssh_host_*
printf '%s' "$OSHA_SSHD_CONFIG" > "$root/etc/ssh/sshd_config.d/osha-lab.conf"
mkdir -p "$root/root/.ssh" && chmod 700 "$root/root/.ssh"
for u in $OSHA_MASK; do ln -sf /dev/null "$root/etc/systemd/system/$u"; done
# machine-id is per node: an empty file makes systemd treat each overlay as its own machine.
: > "$root/etc/machine-id"
rm -f "$root/var/lib/dbus/machine-id"
`;

export interface Mirrors {
  /** Debian archive URL, e.g. http://deb.debian.org/debian */
  mirror: string;
  /** Debian security archive URL, or '' when the host has none. */
  security: string;
}

const DEFAULT_MIRRORS: Mirrors = { mirror: 'http://deb.debian.org/debian', security: 'http://deb.debian.org/debian-security' };

/** The mirrors the host's apt uses (deb822 .sources or one-line .list files), so the build reaches the same one. */
export function hostMirrors(release: Release = DEFAULT_RELEASE, etcApt = '/etc/apt'): Mirrors {
  const texts: string[] = [];
  for (const file of [`${etcApt}/sources.list`, ...listDir(`${etcApt}/sources.list.d`)]) {
    try {
      texts.push(readFileSync(file, 'utf8'));
    } catch {
      // A missing or unreadable file only means fewer hints.
    }
  }
  return mirrorsFromSources(texts.join('\n'), release);
}

function listDir(dir: string): string[] {
  try {
    return readdirSync(dir)
      .filter((f) => f.endsWith('.list') || f.endsWith('.sources'))
      .sort()
      .map((f) => `${dir}/${f}`);
  } catch {
    return [];
  }
}

/**
 * Finds the Debian archive and security URLs in apt sources text (both formats). The host runs
 * one release, the lab may run another: the archive is the one the host's entry for any Debian
 * release points at (the release's own entry first), the security archive the one its
 * *-security entry points at.
 */
export function mirrorsFromSources(text: string, release: Release = DEFAULT_RELEASE): Mirrors {
  const pairs: { uri: string; suite: string }[] = [];
  // One-line format: deb [opts] URI SUITE COMPONENTS
  for (const m of text.matchAll(/^\s*deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)/gm)) pairs.push({ uri: m[1]!, suite: m[2]! });
  // deb822 format: stanzas with URIs: and Suites:
  for (const stanza of text.split(/\n\s*\n/)) {
    const uris = /^URIs:\s*(.+)$/im.exec(stanza)?.[1]?.trim().split(/\s+/) ?? [];
    const suites = /^Suites:\s*(.+)$/im.exec(stanza)?.[1]?.trim().split(/\s+/) ?? [];
    if (!/^Types:.*\bdeb\b/im.test(stanza)) continue;
    for (const uri of uris) for (const suite of suites) pairs.push({ uri, suite });
  }
  const clean = (u: string) => u.replace(/\/+$/, '');
  const web = pairs.filter((p) => /^https?:\/\//.test(p.uri));
  const debianRelease = (suite: string) => /^[a-z]+$/.test(suite) && !['nodistro', 'stable', 'testing', 'unstable', 'sid'].includes(suite);
  const main = web.find((p) => p.suite === release) ?? web.find((p) => debianRelease(p.suite) && /\/debian\/?$/.test(p.uri));
  const sec = web.find((p) => p.suite === `${release}-security`) ?? web.find((p) => /^[a-z]+-security$/.test(p.suite));
  return {
    mirror: main ? clean(main.uri) : DEFAULT_MIRRORS.mirror,
    security: sec ? clean(sec.uri) : main ? '' : DEFAULT_MIRRORS.security,
  };
}

export interface Recipe {
  suite: string;
  mirrors: Mirrors;
  basePackages: readonly string[];
  offlineDebs: readonly string[];
  preinstalled: readonly string[];
  preinstalledUnits: readonly string[];
  maskedUnits: readonly string[];
  sshdConfig: string;
  buildScript: string;
}

export function labRecipe(mirrors?: Mirrors, release: Release = DEFAULT_RELEASE): Recipe {
  return {
    suite: release,
    mirrors: mirrors ?? hostMirrors(release),
    basePackages: BASE_PACKAGES,
    offlineDebs: OFFLINE_DEBS,
    preinstalled: preinstalledFor(release),
    preinstalledUnits: PREINSTALLED_UNITS.filter((u) => release === 'bookworm' || !TRIXIE_NOT_PREINSTALLED.includes(u)),
    maskedUnits: MASKED_UNITS,
    sshdConfig: SSHD_CONFIG,
    buildScript: BUILD_SCRIPT,
  };
}

/** The stack layer's key within its image: a short hash of what it installs and how. */
export function stackHash(): string {
  return createHash('sha256').update(JSON.stringify({ packages: STACK_PACKAGES, units: STACK_UNITS, script: STACK_SCRIPT })).digest('hex').slice(0, 16);
}

/** The cache key: a short hash of the whole recipe. */
export function recipeHash(recipe: Recipe): string {
  return createHash('sha256').update(JSON.stringify(recipe)).digest('hex').slice(0, 16);
}

/** The environment the build script reads its recipe from. */
export function buildEnv(recipe: Recipe): Record<string, string> {
  return {
    OSHA_SUITE: recipe.suite,
    OSHA_MIRROR: recipe.mirrors.mirror,
    OSHA_SECURITY: recipe.mirrors.security,
    OSHA_INCLUDE: recipe.basePackages.join(','),
    OSHA_DEBS: recipe.offlineDebs.join(' '),
    OSHA_PREINSTALL: recipe.preinstalled.join(' '),
    OSHA_PREINSTALLED_UNITS: recipe.preinstalledUnits.join(' '),
    OSHA_MASK: recipe.maskedUnits.join(' '),
    OSHA_SSHD_CONFIG: recipe.sshdConfig,
  };
}
