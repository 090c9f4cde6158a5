// Debian releases osha upgrades between, and what a release upgrade changes for the packages a
// cluster runs. Facts, not code, from: ../shared/reference (section 3, the trixie index);
// Pacemaker's upgrading.rst ("Pacemaker 3.y.z: minimum compatible 2.0.0"); rabbitmq.com's
// rolling-upgrade page (4.0 only from 3.13 with every feature flag enabled); MariaDB's Galera
// upgrade pages (mixed versions only between adjacent major releases). Pure.

export const DEBIAN_RELEASES = ['bullseye', 'bookworm', 'trixie'] as const;
export type DebianRelease = (typeof DEBIAN_RELEASES)[number];

export function isDebianRelease(s: string): s is DebianRelease {
  return (DEBIAN_RELEASES as readonly string[]).includes(s);
}

/** Debian's version number of a codename, for messages ("Debian 13 (trixie)"). */
export function releaseName(codename: string): string {
  const i = (DEBIAN_RELEASES as readonly string[]).indexOf(codename);
  return i < 0 ? codename : `Debian ${11 + i} (${codename})`;
}

/**
 * What the target release ships of the packages that decide whether a rolling upgrade works.
 * Only release pairs listed here are upgraded: Debian supports one release at a time.
 */
export const RELEASE_UPGRADES: Readonly<Partial<Record<DebianRelease, { to: DebianRelease; ships: Readonly<Record<string, string>> }>>> = {
  bookworm: {
    to: 'trixie',
    ships: {
      pacemaker: '3.0.0-2',
      corosync: '3.1.9-2+deb13u1',
      'mariadb-server': '1:11.8.9+ds-0+deb13u1',
      'rabbitmq-server': '4.0.5-6+deb13u2',
      keystone: '2:27.0.0-3+deb13u6',
    },
  },
};

/** The upstream major and minor of a Debian version ("1:10.11.19-0+deb12u1" is 10.11). */
export function upstreamVersion(debian: string): { major: number; minor: number } | undefined {
  const m = /^(?:\d+:)?(\d+)(?:\.(\d+))?/.exec(debian);
  return m ? { major: Number(m[1]), minor: Number(m[2] ?? 0) } : undefined;
}

/** Something that stops the upgrade, with the supported way instead. */
export interface Blocker {
  what: string;
  why: string;
  path: string;
}

export interface UpgradeContext {
  /** Installed versions on the node with the oldest ones (package -> Debian version). */
  installed: Readonly<Record<string, string>>;
  /** What the target release ships (package -> Debian version). */
  ships: Readonly<Record<string, string>>;
  topology: 'classic' | 'active-active';
  /** The inventory's services. */
  services: readonly string[];
}

/**
 * Checks the package jumps of a release upgrade that cannot be taken node by node: blockers
 * refuse the upgrade; notes say what osha does about the jumps it can take.
 */
export function checkJumps(ctx: UpgradeContext): { blockers: Blocker[]; notes: string[] } {
  const blockers: Blocker[] = [];
  const notes: string[] = [];
  const jump = (pkg: string) => {
    const from = ctx.installed[pkg] ? upstreamVersion(ctx.installed[pkg]) : undefined;
    const to = ctx.ships[pkg] ? upstreamVersion(ctx.ships[pkg]) : undefined;
    return from && to ? { from, to, text: `${from.major}.${from.minor} -> ${to.major}.${to.minor}` } : undefined;
  };

  const rabbit = jump('rabbitmq-server');
  if (rabbit && rabbit.from.major < rabbit.to.major) {
    if (ctx.services.includes('rabbitmq')) {
      blockers.push({
        what: `RabbitMQ ${rabbit.text}`,
        why: `RabbitMQ ${rabbit.to.major}.x runs only on data of 3.13 with every feature flag enabled, and mixes with older brokers only from 3.13; Debian ships ${rabbit.from.major}.${rabbit.from.minor}, so no node can be upgraded in place while the broker keeps running`,
        path: 'take the broker out of the rolling upgrade: export its definitions (rabbitmqctl export_definitions FILE), remove rabbitmq from the inventory\'s services and run osha deploy (osha stops managing it), run osha upgrade, then reset RabbitMQ on every node (its 3.x data cannot be opened), import the definitions, add rabbitmq back and run osha deploy. Queues are rebuilt by the services; messages in flight are lost, so do it in a maintenance window.',
      });
    } else {
      notes.push(`rabbitmq-server ${rabbit.text} is installed but not one of the inventory's services: its data will not open in ${rabbit.to.major}.x; that broker is yours to migrate`);
    }
  }

  const maria = jump('mariadb-server');
  if (maria && (maria.from.major !== maria.to.major || maria.from.minor !== maria.to.minor) && ctx.services.includes('mysql')) {
    if (ctx.topology === 'active-active') {
      blockers.push({
        what: `MariaDB Galera ${maria.text}`,
        why: 'Galera nodes of different MariaDB versions replicate only between adjacent major releases (one step at a time, e.g. 10.11 -> 11.4 -> 11.8); this release upgrade jumps further, so an upgraded node could not rejoin the others',
        path: 'upgrade MariaDB first through the intermediate release on every node (MariaDB\'s own repository), node by node, then run osha upgrade; or dump the databases and load them into a Galera cluster built fresh on the new release.',
      });
    } else {
      notes.push(
        `MariaDB ${maria.text}: its data directory (on the shared storage) is upgraded in place the first time the new server opens it, and osha runs mariadb-upgrade there. The nodes that do not run it are upgraded first; it then moves once, to an upgraded node, and never back to an old one.`,
      );
    }
  }

  const pcmk = jump('pacemaker');
  if (pcmk && pcmk.from.major < pcmk.to.major) {
    notes.push(`Pacemaker ${pcmk.text}: a mixed cluster is supported (3.x works with 2.0.0 and later) but kept short; an old node that leaves it cannot rejoin until upgraded. Afterwards osha runs crm_verify --live-check and cibadmin --upgrade.`);
  }

  const ks = jump('keystone');
  if (ks && ks.from.major < ks.to.major && ctx.services.some((s) => s !== 'mysql' && s !== 'rabbitmq')) {
    notes.push(`OpenStack ${ks.text} (keystone's version): each service's database schema is migrated (its db_sync) where it runs, right after it first starts on an upgraded node.`);
  }
  return { blockers, notes };
}

/** One-line apt sources rewritten from one codename to the next (bookworm-updates, -security too). */
export function rewriteSources(text: string, from: DebianRelease, to: DebianRelease): string {
  // What Debian's release notes do with sed (s/bookworm/trixie/), on whole words.
  return text.replace(new RegExp(`\\b${from}\\b`, 'g'), to);
}
