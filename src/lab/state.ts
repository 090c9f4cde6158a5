// lab.json: the machine-readable record of everything a lab made on the host. It is written
// before each thing is created, so `osha lab down` can clean up after a crashed run.
import { readFile, rename, writeFile } from 'node:fs/promises';
import type { LabPlan, NodePlan } from './plan.ts';
import { err, ok, oshaError, type Result } from '../util/result.ts';

export const STATE_VERSION = 1;

export interface NodeState extends NodePlan {
  /** PID of the node's launcher (the shell that runs and restarts systemd-nspawn). */
  launcherPid?: number;
  /** Host key fingerprint line as written to known_hosts. */
  hostKey?: string;
  /** True after `lab kill`: powered off until `lab start`. */
  killed: boolean;
  /** True after `lab partition`: its link is cut until `lab heal`. */
  partitioned: boolean;
}

export interface LabState extends Omit<LabPlan, 'nodes'> {
  version: number;
  createdAt: string;
  image: { hash: string; rootfs: string };
  /** cgroup hierarchy roots the launchers put their node's cgroup in. */
  cgroupRoots: string[];
  /** Host directory bind-mounted into every node, when asked for. */
  shared?: string;
  /** Set once every node answered on ssh. */
  ready: boolean;
  nodes: NodeState[];
}

export async function readState(file: string): Promise<Result<LabState | undefined>> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return ok(undefined);
    return err(oshaError(`cannot read ${file}: ${(e as Error).message}`));
  }
  try {
    const state = JSON.parse(text) as LabState;
    if (state.version !== STATE_VERSION || !Array.isArray(state.nodes)) {
      return err(oshaError(`${file} is not a lab state file this osha understands`, { fix: 'remove the lab by hand or with the osha version that made it' }));
    }
    return ok(state);
  } catch {
    return err(oshaError(`${file} is not valid JSON`, { fix: 'the lab state is damaged; remove the lab\'s containers by hand' }));
  }
}

/** Writes the state atomically (temp file + rename), so a crash never leaves half a file. */
export async function writeState(state: LabState): Promise<void> {
  const tmp = `${state.files.state}.tmp`;
  await writeFile(tmp, JSON.stringify(state, null, 2) + '\n', { mode: 0o600 });
  await rename(tmp, state.files.state);
}

export function findNode(state: LabState, name: string): Result<NodeState> {
  const node = state.nodes.find((n) => n.name === name);
  if (node) return ok(node);
  return err(oshaError(`no node named "${name}" in the lab at ${state.dir}`, { fix: `use one of: ${state.nodes.map((n) => n.name).join(', ')}` }));
}
