// The deploy step's pure core for one node and one OpenStack service: from the files read on
// the node (facts) to the file operations, the masked diff for `osha plan`, and the list of
// files whose service must be restarted. The caller does the reading and writing over SSH.
import type { Inventory } from '../inventory/schema.ts';
import { err, ok, oshaError, type Result } from '../util/result.ts';
import { backupPathFor, planFileWrite, planRestore, type FileStep } from './backup.ts';
import {
  applyRewrites,
  planRewrites,
  renderPlanDiff,
  SERVICE_CONFIG_FILES,
  type OpenStackService,
  type RewriteEntry,
  type RewriteOptions,
} from './rewrites.ts';

/** One config file as read on a node: its text (see decodeConfig), and whether osha's backup of it exists. */
export interface ConfigFileFact {
  content: string;
  hasBackup: boolean;
}

/** Path → fact, for the files of the service that exist on the node (absent paths: not installed). */
export type ConfigFacts = Readonly<Record<string, ConfigFileFact>>;

export interface NodeConfigPlan {
  service: OpenStackService;
  entries: RewriteEntry[];
  notes: string[];
  /** File operations in order: a backup before the first change, then the new content. [] when converged. */
  steps: FileStep[];
  /** Unified diff of every file that changes, secrets masked; '' when nothing changes. */
  diff: string;
  /** Files that change: the service reading them needs a restart afterwards. */
  changedFiles: string[];
}

/**
 * Names that a node's /etc/hosts gives to a cluster node's address but that are not node names:
 * the install guide's `controller`, say. Configs that name them mean "the controller" and are
 * pointed at the VIP like the nodes' own addresses. Pure: hosts text in, name → address out.
 */
export function controllerAliases(hostsText: string, inv: Pick<Inventory, 'nodes'>): Map<string, string> {
  const nodeAddresses = new Set(inv.nodes.map((n) => n.address.toLowerCase()));
  const nodeNames = new Set(inv.nodes.map((n) => n.name.toLowerCase()));
  const out = new Map<string, string>();
  for (const raw of hostsText.split('\n')) {
    const [address, ...names] = raw.replace(/#.*/, '').trim().split(/\s+/);
    if (!address || !nodeAddresses.has(address.toLowerCase())) continue;
    for (const name of names) if (name && !nodeNames.has(name.toLowerCase()) && !out.has(name.toLowerCase())) out.set(name.toLowerCase(), address);
  }
  return out;
}

/** The paths the deploy step looks at on a node for `service`: each config file, and its backup (whether it exists). */
export function pathsToRead(service: OpenStackService): { file: string; backup: string }[] {
  return SERVICE_CONFIG_FILES[service].map((file) => ({ file, backup: backupPathFor(file) }));
}

export function planNodeConfig(inv: Inventory, service: OpenStackService, facts: ConfigFacts, options: RewriteOptions = {}): Result<NodeConfigPlan> {
  const contents: Record<string, string> = {};
  for (const [path, f] of Object.entries(facts)) contents[path] = f.content;
  const plan = planRewrites(inv, service, contents, options);
  if (!plan.ok) return plan;
  const changes = applyRewrites(plan.value, contents);
  if (!changes.ok) return changes;
  const steps = changes.value.flatMap((c) => planFileWrite(c.file, c.before, c.after, facts[c.file]?.hasBackup ?? false));
  return ok({
    service,
    entries: plan.value.entries,
    notes: plan.value.notes,
    steps,
    diff: renderPlanDiff(changes.value),
    changedFiles: changes.value.map((c) => c.file),
  });
}

/** `osha rollback FILE` on one node: `current`/`backup` are the file and FILE.osha-orig as read there (undefined: absent). */
export function planNodeRollback(file: string, current: string | undefined, backup: string | undefined): Result<FileStep[]> {
  if (!file.startsWith('/')) return err(oshaError(`${file} is not an absolute path`, { fix: 'give the full path, e.g. /etc/glance/glance-api.conf' }));
  return planRestore(file, current, backup);
}
