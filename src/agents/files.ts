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
// Verification, after upload, on each node and for each agent and alias NAME:
//   crm_resource --show-metadata ocf:openstack:NAME
// It must exit 0 and print the agent's OCF 1.0 XML (verifyCommand() builds it).
import { createHash } from 'node:crypto';
import { readFile, readdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { registryEntries, SERVICES, type OshaAgentService } from '../services/registry.ts';

export interface AgentFile {
  /** File name in playbooks/agents/ and on the node. */
  name: string;
  /** Absolute path on the node. */
  remotePath: string;
  content: Buffer;
  /** 0o755 for agents and aliases, 0o644 for the library. */
  mode: number;
  /** Hex SHA-256 of content: upload only when the node's differs. */
  sha256: string;
  kind: 'agent' | 'library' | 'alias';
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
  return undefined;
}

/**
 * Every file the deploy uploads: the library, the agents and the aliases, in that order (so a
 * node never has an agent without its library). Rejects when a file is missing from
 * playbooks/agents/ or the folder holds a file this module does not know.
 */
export async function agentFiles(dir: string = agentSourceDir()): Promise<AgentFile[]> {
  const present = new Set(await readdir(dir));
  const expected = [LIBRARY_NAME, ...AGENT_NAMES, ...Object.keys(AGENT_ALIASES)];
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

