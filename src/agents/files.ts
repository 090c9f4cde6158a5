// What the deploy uploads to every node so that Pacemaker can run osha's OpenStack agents
// (`ocf:openstack:NAME`), read from playbooks/agents/ in this repository.
//
// Placement:
// - Agents and aliases go to /usr/lib/ocf/resource.d/openstack/NAME, mode 0755. Pacemaker lists
//   every executable there as an agent.
// - The shared library goes to /usr/lib/ocf/lib/openstack/ocf-openstack-funcs, mode 0644: outside
//   resource.d, beside ClusterLabs' own /usr/lib/ocf/lib/heartbeat/ocf-shellfuncs, so no tool can
//   mistake it for an agent. Agents source it from ${OCF_ROOT}/lib/openstack.
// - Aliases (the articles' names: quantum-server...) are 3-line sh files that exec the canonical
//   agent beside them, so they upload like any file (no symlink handling in the executor).
//
// Verification, after upload, for each agent and alias NAME:
//   crm_resource --show-metadata ocf:openstack:NAME
// It must exit 0 and print the agent's OCF 1.0 XML (verifyCommand() builds it). Besides the agent's
// own bytes, its result depends only on the node's loader: crm_resource (the Pacemaker build), the
// OCF shell library of resource-agents, and /bin/sh (LOADER_FILES). So every agent is checked on
// one node per distinct loader, and each other node with that loader checks one agent (its
// library, its shell, its paths). A node records what was checked there (CHECKED_MARK), so a
// check that failed, or a new Pacemaker or resource-agents, is checked again by the next deploy.
import { createHash } from 'node:crypto';
import { readFile, readdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { dirname } from 'node:path';
import { raw, sh } from '../ssh/quote.ts';
import { readChecksumsAndRecord } from '../facts/host.ts';
import type { HostConnection } from '../ssh/connection.ts';
import type { Result } from '../util/result.ts';
import { registryEntries, SERVICES, type OshaAgentService } from '../services/registry.ts';
import { GALERA_CHECK_SOURCE } from '../render/galera-check.ts';

export interface AgentFile {
  /** File name in playbooks/agents/ and on the node. */
  name: string;
  /** Absolute path on the node. */
  remotePath: string;
  content: Buffer;
  /** 0o755 for agents, aliases and wrappers, 0o644 for the library. */
  mode: number;
  /** Hex SHA-256 of content: upload only when the node's differs. */
  sha256: string;
  kind: 'agent' | 'library' | 'alias' | 'wrapper';
}

export const OCF_ROOT = '/usr/lib/ocf';
export const AGENT_DIR = `${OCF_ROOT}/resource.d/openstack`;

/** Every agent and alias osha ships says one of these near its top (aliases from before said the
 *  second): a file under osha's names without them was not written by osha. */
export const OSHA_AGENT_MARKERS = ['written for osha', "the articles' name for"];
export const LIBRARY_DIR = `${OCF_ROOT}/lib/openstack`;
export const LIBRARY_NAME = 'ocf-openstack-funcs';

/** Services run by osha's own agents: all but the database and the queue (resource-agents' mysql, RabbitMQ's own agent). */
export type AgentName = OshaAgentService;

/** The agents osha ships, one per service it manages (the registry's services with agent 'osha'). */
export const AGENT_NAMES: readonly AgentName[] = registryEntries()
  .filter(([, e]) => e.agent === 'osha')
  .map(([name]) => name as AgentName);

/** The articles' agent names, each running the canonical agent. */
export const AGENT_ALIASES: Record<string, AgentName> = Object.fromEntries(
  AGENT_NAMES.flatMap((name) => (SERVICES[name].agentAliases ?? []).map((alias) => [alias, name])),
);

/** osha's Galera check for HAProxy (playbooks/files/), which the galera-check step uploads to every node. */
export function galeraCheckScript(): Promise<Buffer> {
  return readFile(fileURLToPath(new URL(`../../playbooks/${GALERA_CHECK_SOURCE}`, import.meta.url)));
}

/**
 * Resource-agents' own agents with one thing changed, each under its own name (e.g.
 * `ocf:openstack:galera`: heartbeat's galera, which takes Galera's node list from a file osha writes
 * instead of a parameter, so that a controller added to an active-active cluster restarts no
 * Galera). Every action execs the original.
 */
export const WRAPPER_AGENTS: readonly string[] = ['galera'];

/** Where the agent sources live in this repository. */
export function agentSourceDir(): string {
  return fileURLToPath(new URL('../../playbooks/agents/', import.meta.url));
}

export function sha256(content: Buffer): string {
  return createHash('sha256').update(content).digest('hex');
}

/** How a file of playbooks/agents/ is installed, or undefined when it is not part of the set. */
export function placement(name: string): Pick<AgentFile, 'remotePath' | 'mode' | 'kind'> | undefined {
  if (name === LIBRARY_NAME) return { remotePath: `${LIBRARY_DIR}/${name}`, mode: 0o644, kind: 'library' };
  if ((AGENT_NAMES as readonly string[]).includes(name)) return { remotePath: `${AGENT_DIR}/${name}`, mode: 0o755, kind: 'agent' };
  if (name in AGENT_ALIASES) return { remotePath: `${AGENT_DIR}/${name}`, mode: 0o755, kind: 'alias' };
  if (WRAPPER_AGENTS.includes(name)) return { remotePath: `${AGENT_DIR}/${name}`, mode: 0o755, kind: 'wrapper' };
  return undefined;
}

/**
 * Every file the deploy uploads: the library, the agents, the aliases and the wrappers, in that order (so a
 * node never has an agent without its library). Rejects when a file is missing from
 * playbooks/agents/ or the folder holds a file this module does not know.
 */
export async function agentFiles(dir: string = agentSourceDir()): Promise<AgentFile[]> {
  const present = new Set(await readdir(dir));
  const expected = [LIBRARY_NAME, ...AGENT_NAMES, ...Object.keys(AGENT_ALIASES), ...WRAPPER_AGENTS];
  const missing = expected.filter((n) => !present.has(n));
  if (missing.length > 0) throw new Error(`playbooks/agents is missing ${missing.join(', ')}`);
  const unknown = [...present].filter((n) => !expected.includes(n));
  if (unknown.length > 0) throw new Error(`playbooks/agents holds files osha does not deploy: ${unknown.join(', ')}`);
  return Promise.all(
    expected.map(async (name) => {
      const content = await readFile(`${dir}/${name}`);
      return { name, content, sha256: sha256(content), ...placement(name)! };
    }),
  );
}

/** The command that proves Pacemaker can use an uploaded agent (exit 0 and OCF XML). */
export function verifyCommand(name: string): string {
  return `crm_resource --show-metadata ocf:openstack:${name}`;
}

/** The files whose node copy differs (missing, or another checksum) from ours. */
export function filesToUpload(files: readonly AgentFile[], remoteSums: ReadonlyMap<string, string>): AgentFile[] {
  return files.filter((f) => remoteSums.get(f.remotePath) !== f.sha256);
}

/** The files besides an agent that decide whether Pacemaker loads it on a node. */
export const LOADER_FILES: readonly string[] = [
  '/usr/sbin/crm_resource',
  ...['ocf-shellfuncs', 'ocf-binaries', 'ocf-returncodes', 'ocf-directories', 'ocf-rarun', 'ocf-distro'].map((f) => `${OCF_ROOT}/lib/heartbeat/${f}`),
  '/bin/sh',
];

/**
 * Where a node records the last check that passed there: the agent set, the node's loader, and
 * `all` or `one` (every agent checked there, or one with the rest checked on a node of that loader).
 */
export const CHECKED_MARK = '/var/lib/osha/agents-checked';

/** A node's record, without its scope: our agent set and that node's loader, each as one SHA-256. */
export function checkedMark(files: readonly AgentFile[], remoteSums: ReadonlyMap<string, string>): { mark: string; loader: string } {
  const set = sha256(Buffer.from(files.map((f) => `${f.sha256} ${f.remotePath}`).join('\n')));
  const loader = sha256(Buffer.from(LOADER_FILES.map((p) => `${remoteSums.get(p) ?? '-'} ${p}`).join('\n')));
  return { mark: `${set} ${loader}`, loader };
}

export interface AgentNodeFacts {
  /** sha256sum of the agent files and LOADER_FILES present on the node. */
  sums: ReadonlyMap<string, string>;
  /** CHECKED_MARK's content, when the node has one. */
  mark?: string;
}

/** A node's AgentNodeFacts in one round trip: the deploy's agents step and osha upgrade read them alike. */
export function readAgentNodeFacts(c: HostConnection, files: readonly AgentFile[]): Promise<Result<AgentNodeFacts>> {
  return readChecksumsAndRecord(c, [...files.map((f) => f.remotePath), ...LOADER_FILES], CHECKED_MARK);
}

export interface AgentNodePlan {
  upload: AgentFile[];
  /** Agents (and aliases) whose meta-data Pacemaker must produce on this node; empty: none. */
  check: string[];
  /** The node whose check of every agent stands for this node's (same loader), if not itself. */
  checkedOn?: string;
  /** What to record in CHECKED_MARK once the check passed. */
  record: string;
}

/**
 * Per node: what to upload and which agents to check there. A node is done when its files match
 * and its record names this agent set and its loader. Among the nodes that are not, for each
 * loader: every agent is checked on one node (none if a done node has that loader already), one
 * agent on each of the others.
 */
export function planAgentChecks(files: readonly AgentFile[], nodes: ReadonlyMap<string, AgentNodeFacts>): Map<string, AgentNodePlan> {
  const names = files.filter((f) => f.kind !== 'library').map((f) => f.name);
  const out = new Map<string, AgentNodePlan>();
  const checkedBy = new Map<string, string>(); // loader -> a node where every agent was or will be checked
  const pending: [string, AgentNodePlan, string][] = [];
  for (const [node, facts] of nodes) {
    const upload = filesToUpload(files, facts.sums);
    const { mark, loader } = checkedMark(files, facts.sums);
    const plan: AgentNodePlan = { upload, check: [], record: `${mark} all` };
    out.set(node, plan);
    const done = upload.length === 0 && (facts.mark === `${mark} all` || facts.mark === `${mark} one`);
    // Only a record of every agent stands for other nodes: a node checked on the strength of
    // another's check, which then failed, must not vouch for the next one.
    if (done && facts.mark === `${mark} all` && !checkedBy.has(loader)) checkedBy.set(loader, node);
    if (done) plan.record = facts.mark!;
    else pending.push([node, plan, loader]);
  }
  for (const [node, plan, loader] of pending) {
    const by = checkedBy.get(loader);
    if (by === undefined) {
      checkedBy.set(loader, node);
      plan.check = names;
    } else {
      plan.check = names.slice(0, 1);
      plan.checkedOn = by;
      plan.record = plan.record.replace(/ all$/, ' one');
    }
  }
  return out;
}

/** How many meta-data checks run at once on a node (every agent at once timed out on a loaded host). */
const CHECKS_AT_ONCE = 4;

/**
 * The meta-data checks, a few at a time; an agent that fails is tried once more alone, so a
 * check that timed out on a busy node (crm_resource gives meta-data 30 s) is not a broken agent.
 * Only when all pass, the record, written aside and renamed. A failed check names each agent
 * with crm_resource's first line and leaves no record of this agent set, so the next deploy
 * checks again.
 */
export function agentCheckScript(check: readonly string[], record: string): string {
  const one = `${verifyCommand('"$a"')} 2>/dev/null | grep -q '<resource-agent' || echo "$a"`;
  const tmp = `${CHECKED_MARK}.tmp`;
  return [
    sh`bad=$(n=0; for a in ${[...check]}; do { ${raw(one)}; } & n=$((n+1)); [ $((n % ${CHECKS_AT_ONCE})) -ne 0 ] || wait; done; wait)`,
    'failed=""',
    `for a in $bad; do out=$(${verifyCommand('"$a"')} 2>&1); printf '%s' "$out" | grep -q '<resource-agent' || failed="$failed $a ($(printf '%s' "$out" | head -n 1))"; done`,
    `[ -z "$failed" ] || { echo "no valid meta-data from:$failed" >&2; exit 1; }`,
    sh`mkdir -p ${dirname(CHECKED_MARK)} && printf '%s\\n' ${record} > ${tmp} && mv -f ${tmp} ${CHECKED_MARK}`,
  ].join('\n');
}
