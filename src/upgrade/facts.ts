// What the rolling upgrade reads from the nodes before it plans: each node's release, the
// versions of the packages that decide what can be rolled, what apt would upgrade, and from the
// cluster which nodes are online, in standby, marked by osha, and what runs where. Read-only.
import type { Inventory } from '../inventory/schema.ts';
import type { SshSession } from '../ssh/session.ts';
import { sh } from '../ssh/quote.ts';
import type { ClusterStatus } from '../facts/status.ts';
import { firstStatus } from '../drill/drill.ts';
import { SERVICES, type ServiceName } from '../services/registry.ts';
import { err, ok, type Result } from '../util/result.ts';
import { buildResourceModel } from '../cluster/build.ts';
import { primitivesOf } from '../model/resources.ts';
import { upgradeMarkOf, type UpgradeNodeFacts } from './plan.ts';
import { readPermanentNodeAttributes } from '../facts/cluster.ts';

/** Packages whose versions the plan looks at, besides the inventory services' own. */
const CLUSTER_PACKAGES = ['pacemaker', 'corosync', 'mariadb-server', 'rabbitmq-server', 'keystone'];

export function packagesOf(inv: Inventory): string[] {
  const own = inv.services.flatMap((s) => SERVICES[s as ServiceName]?.debianPackage ?? []);
  return [...new Set([...CLUSTER_PACKAGES, ...own])];
}

/** Parses the host script's output: `codename X`, `pkg NAME VERSION` (installed only), `pending N`. */
export function parseHostReport(text: string): { codename: string; versions: Record<string, string>; pending: number } {
  let codename = '';
  let pending = 0;
  const versions: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const [key, a, b] = line.trim().split(/\s+/);
    if (key === 'codename' && a) codename = a;
    else if (key === 'pending' && a) pending = Number(a) || 0;
    else if (key === 'pkg' && a && b) versions[a] = b;
  }
  return { codename, versions, pending };
}

export function hostReportScript(packages: readonly string[]): string {
  return [
    '. /etc/os-release; echo "codename ${VERSION_CODENAME:-unknown}"',
    // Only installed packages ("ii"): a removed one keeps its version in dpkg's database.
    `dpkg-query -W -f='\${db:Status-Abbrev} \${Package} \${Version}\\n' ${packages.map((p) => sh`${p}`).join(' ')} 2>/dev/null | awk '$1 == "ii" { print "pkg", $2, $3 }'`,
    // With the lists the node has now; no lock taken, nothing changed.
    'echo "pending $(apt-get -s -o Debug::NoLocking=1 dist-upgrade 2>/dev/null | grep -c "^Inst ")"',
  ].join('\n');
}

/**
 * Resources running on `node`. `cloned` lists the primitives of clones (osha's model): with
 * `movable`, those and fence devices are left out, since taking the node out moves nothing of them.
 */
export function resourcesOn(status: ClusterStatus, node: string, opts: { movable: boolean; cloned?: ReadonlySet<string> }): string[] {
  const out: string[] = [];
  for (const r of status.resources.values()) {
    if (!r.nodes.includes(node)) continue;
    const clone = opts.cloned?.has(r.id) || r.roles.length > 1;
    if (opts.movable && (r.agent.startsWith('stonith:') || clone)) continue;
    out.push(r.id);
  }
  return out.sort();
}

/** The primitives inside the inventory's clones (they run everywhere: nothing of them moves). */
export function clonedPrimitives(inv: Inventory): Set<string> {
  const model = buildResourceModel(inv);
  return new Set(primitivesOf(model.resources.filter((r) => r.kind === 'clone')).map((p) => p.id));
}

export async function gatherUpgradeFacts(session: SshSession, inv: Inventory): Promise<Result<{ nodes: UpgradeNodeFacts[]; status: ClusterStatus; via: string }>> {
  const names = inv.nodes.map((n) => n.name);
  const script = hostReportScript(packagesOf(inv));
  const reports = await session.forEachHost(async (t) => {
    const c = await session.connect(t.name);
    if (!c.ok) return c;
    const r = await c.value.run(script, { timeoutMs: 60_000 });
    return r.ok ? ok(parseHostReport(r.value.stdout)) : r;
  });
  const unreachable = [...reports].filter(([, r]) => !r.ok).map(([n, r]) => `${n}: ${r.ok ? '' : r.error.message}`);
  if (unreachable.length) return err({ message: `cannot read every node: ${unreachable.join('; ')}`, fix: 'osha upgrade needs every node reachable over SSH' });
  const st = await firstStatus(session, names);
  if (!st.ok) return st;
  const via = await session.connect(st.value.via);
  if (!via.ok) return via;
  const cloned = clonedPrimitives(inv);
  const nodes: UpgradeNodeFacts[] = [];
  // One read of the CIB's nodes section: osha's mark is a permanent attribute, there for offline nodes too.
  const attrs = await readPermanentNodeAttributes(via.value);
  if (!attrs.ok) return attrs;
  for (const name of names) {
    const rep = reports.get(name)!;
    if (!rep.ok) return rep;
    const n = st.value.status.nodes.find((x) => x.name === name);
    nodes.push({
      name,
      codename: rep.value.codename,
      versions: rep.value.versions,
      pending: rep.value.pending,
      online: Boolean(n?.online),
      standby: Boolean(n?.standby),
      mark: upgradeMarkOf(attrs.value, name),
      runs: resourcesOn(st.value.status, name, { movable: true, cloned }),
    });
  }
  return ok({ nodes, status: st.value.status, via: st.value.via });
}
