// RabbitMQ's cluster as `osha status` shows it in the active-active topology: per node, which
// brokers the node's own broker runs clustered with, and the partitions it saw. Pacemaker cannot
// tell: the rabbitmq-cluster agent's monitor passes for a broker running alone whenever it is not a
// minority of the brokers Pacemaker knows of (issue 17 met three brokers, each a cluster of its
// own, all "Started"). OpenStack's services then talk to different brokers and their RPCs time out.
// Pure parsers plus one read per node.
import type { HostConnection } from '../ssh/connection.ts';
import { err, ok, type Result } from '../util/result.ts';

export interface RabbitNodeState {
  node: string;
  /** The broker answered rabbitmqctl. */
  running: boolean;
  /** Why not, when it did not (rabbitmqctl's first line). */
  reason?: string;
  /** The running brokers of its cluster, by their hosts' names ("rabbit@node2" -> "node2"), sorted. */
  runningNodes: string[];
  /** Per broker of its cluster, the brokers it saw partitioned from it (hosts' names). */
  partitions: Record<string, string[]>;
}

/** The read: the broker's cluster status as JSON, bounded (a hung broker must not hang status). */
export const RABBITMQ_STATUS_COMMAND = 'timeout 30 rabbitmqctl -q cluster_status --formatter json';

/** "rabbit@node2" -> "node2" (a name without "@" stays as it is). */
const nodeOf = (erlangNode: string): string => erlangNode.slice(erlangNode.indexOf('@') + 1);
const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);

/** Pure: one node's state from `rabbitmqctl cluster_status --formatter json`'s exit code and output. */
export function parseRabbitStatus(node: string, code: number, stdout: string, stderr: string): RabbitNodeState {
  const down = (reason: string): RabbitNodeState => ({ node, running: false, reason, runningNodes: [], partitions: {} });
  if (code !== 0) return down(firstLine(stderr) || firstLine(stdout) || `rabbitmqctl exited ${code}`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(stdout);
  } catch {
    return down(`rabbitmqctl's answer is not JSON: ${firstLine(stdout)}`);
  }
  if (typeof parsed !== 'object' || parsed === null) return down('rabbitmqctl gave no cluster status');
  const o = parsed as { running_nodes?: unknown; partitions?: unknown };
  const partitions: Record<string, string[]> = {};
  if (typeof o.partitions === 'object' && o.partitions !== null) {
    for (const [broker, away] of Object.entries(o.partitions)) {
      const names = strings(away).map(nodeOf);
      if (names.length) partitions[nodeOf(broker)] = names.sort();
    }
  }
  return { node, running: true, runningNodes: strings(o.running_nodes).map(nodeOf).sort(), partitions };
}

function firstLine(text: string): string {
  return text.split('\n').map((l) => l.trim()).find((l) => l.length > 0) ?? '';
}

export async function readRabbitState(c: HostConnection, node: string): Promise<Result<RabbitNodeState>> {
  const r = await c.exec(RABBITMQ_STATUS_COMMAND, { timeoutMs: 40_000 });
  if (!r.ok) return err({ host: node, message: `reading RabbitMQ's cluster status failed: ${r.error.message}` });
  return ok(parseRabbitStatus(node, r.value.code, r.value.stdout, r.value.stderr));
}

export interface RabbitVerdict {
  /**
   * The clusters the running brokers form, each as the inventory's nodes whose brokers are in it,
   * the largest first. By the nodes asked, not by RabbitMQ's names: a broker is named after its
   * host's hostname, which need not be the node's name in the inventory (and in Pacemaker).
   */
  clusters: string[][];
  /** Nodes whose broker did not answer. */
  down: string[];
  /** Partitions any broker reported, as "node1 from node3". */
  partitions: string[];
  /** One cluster of every node's broker, no partition. */
  whole: boolean;
}

/**
 * Pure: what the brokers' own views say together. Brokers that see the same running brokers are one
 * cluster; a broker that sees others the others do not see it with (a view half-way through a
 * join) still counts apart, as the brokers themselves disagree.
 */
export function rabbitVerdict(states: readonly RabbitNodeState[]): RabbitVerdict {
  const running = states.filter((s) => s.running);
  const byView = new Map<string, string[]>();
  for (const s of running) {
    // An answer that lists no running broker (not even itself) is a view of its own.
    const view = s.runningNodes.length ? s.runningNodes.join(' ') : `(none) ${s.node}`;
    byView.set(view, [...(byView.get(view) ?? []), s.node]);
  }
  const clusters = [...byView.values()].map((nodes) => [...nodes].sort()).sort((a, b) => b.length - a.length || a[0]!.localeCompare(b[0]!));
  const partitions = [...new Set(running.flatMap((s) => Object.entries(s.partitions).flatMap(([n, away]) => away.map((a) => `${n} from ${a}`))))].sort();
  const down = states.filter((s) => !s.running).map((s) => s.node);
  return { clusters, down, partitions, whole: clusters.length === 1 && down.length === 0 && partitions.length === 0 };
}
