// The rolling upgrade's plan, from facts gathered on every node: which nodes to upgrade and in
// which order, what moves (and so interrupts service) when each one is taken out, and what stops
// the upgrade before anything is touched. Pure: facts in, a plan or blockers out.
import { checkJumps, DEBIAN_RELEASES, isDebianRelease, releaseName, RELEASE_UPGRADES, type Blocker, type DebianRelease } from './releases.ts';

/** The node attribute osha sets while it upgrades a node (and that a re-run resumes from). */
export const UPGRADE_MARK = 'osha-upgrade';

/** The release an unfinished `osha upgrade` was taking a node to, from the CIB's permanent node attributes. */
export function upgradeMarkOf(attrs: Map<string, Map<string, string>>, node: string): string | undefined {
  return attrs.get(node)?.get(UPGRADE_MARK) || undefined;
}

export interface UpgradeNodeFacts {
  name: string;
  /** VERSION_CODENAME of /etc/os-release. */
  codename: string;
  /** Installed Debian versions of the packages that matter (absent: not installed). */
  versions: Record<string, string>;
  online: boolean;
  standby: boolean;
  /** The value of osha's upgrade mark on the node: osha put it in standby to upgrade it. */
  mark?: string;
  /** Resources (not clone instances) running on the node: they move when it is taken out. */
  runs: string[];
  /** Packages `apt-get -s dist-upgrade` would install or upgrade with the node's current lists. */
  pending: number;
}

export interface UpgradeRequest {
  /** A release to move to; absent: the current release's updates (a point release). */
  to?: string;
  topology: 'classic' | 'active-active';
  services: readonly string[];
  quorate: boolean;
}

export interface NodeUpgrade {
  node: string;
  from: string;
  to: string;
  /** Why nothing is done on this node. */
  skip?: string;
  /** Resources that move to another node when this one goes into standby: a service interruption. */
  moves: string[];
  /** A re-run continues what an interrupted one started. */
  resumes: boolean;
}

export interface UpgradePlan {
  target: { kind: 'release'; from: DebianRelease; to: DebianRelease } | { kind: 'packages' };
  nodes: NodeUpgrade[];
  notes: string[];
}

export function planUpgrade(facts: readonly UpgradeNodeFacts[], req: UpgradeRequest): { ok: true; plan: UpgradePlan } | { ok: false; blockers: Blocker[] } {
  const blockers: Blocker[] = [];
  const releases = [...new Set(facts.map((f) => f.codename))];
  for (const f of facts) {
    if (!f.online && !f.mark) {
      blockers.push({
        what: `${f.name} is not online in the cluster`,
        why: 'every node must be up so that the cluster keeps quorum while one of them is out',
        path: `bring ${f.name} back (or remove it from the inventory and the cluster), then re-run`,
      });
    } else if (f.standby && !f.mark) {
      blockers.push({
        what: `${f.name} is in standby, and osha did not put it there`,
        why: 'osha upgrade takes nodes out of standby after upgrading them, which would undo somebody\'s decision',
        path: `take it out of standby (crm node online ${f.name}) or remove it from the inventory, then re-run`,
      });
    }
  }
  if (!req.quorate) blockers.push({ what: 'the cluster has no quorum', why: 'taking a node out of a cluster without quorum stops every service', path: 'repair the cluster first (osha status shows what is down)' });

  let target: UpgradePlan['target'];
  const notes: string[] = [];
  if (req.to === undefined) {
    target = { kind: 'packages' };
    if (releases.length > 1) {
      blockers.push({ what: `the nodes run different releases (${releases.join(', ')})`, why: 'a point-release upgrade would leave them apart', path: `finish the release upgrade: osha upgrade INVENTORY --to ${releases.filter(isDebianRelease).sort((a, b) => order(b) - order(a))[0] ?? 'RELEASE'}` });
    }
  } else {
    const to = req.to;
    const from = facts.map((f) => f.codename).filter((c) => c !== to);
    const fromSet = [...new Set(from)];
    if (!isDebianRelease(to)) {
      return { ok: false, blockers: [...blockers, { what: `unknown release "${to}"`, why: 'osha knows how to upgrade between bookworm and trixie only', path: '--to trixie' }] };
    }
    if (fromSet.length > 1) blockers.push({ what: `the nodes run ${fromSet.join(' and ')}`, why: 'Debian supports upgrading one release at a time', path: 'bring every node to the same release first' });
    const source = (fromSet[0] ?? to) as string;
    if (fromSet.length === 0) {
      target = { kind: 'release', from: to, to };
    } else if (!isDebianRelease(source) || RELEASE_UPGRADES[source]?.to !== to) {
      const next = isDebianRelease(source) ? RELEASE_UPGRADES[source]?.to : undefined;
      return {
        ok: false,
        blockers: [
          ...blockers,
          {
            what: `${releaseName(source)} -> ${releaseName(to)}`,
            why: order(to) <= order(source) ? 'that is not an upgrade' : 'Debian supports upgrading one release at a time, and osha only the releases it was tested on',
            path: next ? `--to ${next}` : `osha has no upgrade from ${source}`,
          },
        ],
      };
    } else {
      target = { kind: 'release', from: source, to };
      // The oldest installed version of each package decides (a re-run sees some nodes done).
      const old = facts.filter((f) => f.codename === source);
      const installed: Record<string, string> = {};
      for (const f of old) for (const [p, v] of Object.entries(f.versions)) installed[p] ??= v;
      const jumps = checkJumps({ installed, ships: RELEASE_UPGRADES[source]!.ships, topology: req.topology, services: req.services });
      blockers.push(...jumps.blockers);
      notes.push(...jumps.notes);
    }
  }
  if (blockers.length > 0) return { ok: false, blockers };

  const to = target.kind === 'release' ? target.to : undefined;
  const nodes = facts.map((f): NodeUpgrade => {
    const done = to ? f.codename === to : f.pending === 0;
    return {
      node: f.name,
      from: f.codename,
      to: to ?? f.codename,
      skip: done && !f.mark ? (to ? `already on ${to}` : 'no package to upgrade') : undefined,
      moves: f.mark ? [] : f.runs,
      resumes: Boolean(f.mark),
    };
  });
  // Resumed nodes first (they are out already), then the ones whose standby moves nothing, the
  // node running the most last: its services move once, onto a node that is already upgraded.
  // Nodes with nothing to do are listed after them.
  const rank = (n: NodeUpgrade) => (n.resumes ? -1 : n.skip ? 1e6 : n.moves.length);
  nodes.sort((a, b) => rank(a) - rank(b) || a.node.localeCompare(b.node));
  return { ok: true, plan: { target, nodes, notes } };
}

function order(release: string): number {
  return (DEBIAN_RELEASES as readonly string[]).indexOf(release);
}
