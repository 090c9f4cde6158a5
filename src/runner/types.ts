// The vocabulary of a run: steps plan actions per host from facts; the runner applies them.
import type { Inventory, Topology } from '../inventory/schema.ts';
import type { SshSession } from '../ssh/session.ts';
import type { HostConnection } from '../ssh/connection.ts';
import type { Result } from '../util/result.ts';
import type { FactCache } from '../facts/cache.ts';

export type HostStatus = 'ok' | 'changed' | 'failed' | 'skipped';

/** One change a step will make on one host: what, how it shows in a plan, and how to do it. */
export interface Action {
  /** One line for humans: "write /etc/corosync/corosync.conf". */
  summary: string;
  /** A unified diff (secrets masked) for file changes. */
  diff?: string;
  /** The remote commands this action runs, as shown by a dry run (secrets masked). */
  commands?: string[];
  /**
   * Set when the action interrupts service (a restart of the cluster stack, stopping a running
   * cluster or service, deleting resources): why, in a few words. The plan marks it, and a
   * deploy applies it only when the operator confirmed (a prompt on a TTY, or --yes).
   */
  disruptive?: string;
  apply(): Promise<Result<void>>;
}

/** What a step wants on one host: the actions still needed (none = already as desired). */
export type HostPlan = Result<Action[]>;

export interface RunOptions {
  dryRun: boolean;
  /** Replace the corosync authkey even when nodes disagree. */
  regenerateKey: boolean;
  /** How long to wait for the cluster to form / settle, in ms. */
  settleTimeoutMs: number;
  /**
   * Asked before a step applies disruptive actions (each line: host, action, why); true lets
   * them run. Absent: they are refused, as with a deploy on no TTY and without --yes.
   */
  confirmDisruptive?: (lines: string[]) => Promise<boolean>;
}

export interface StepContext {
  inv: Inventory;
  inventoryFile: string;
  session: SshSession;
  facts: FactCache;
  options: RunOptions;
  /** The hosts this step runs on: every node that has not failed an earlier step. */
  hosts: string[];
  /** All node names of the inventory, in order. */
  allHosts: string[];
  /** Lines a step wants to tell the operator (shown in the plan and in --verbose). */
  note(host: string, line: string): void;
  log(line: string): void;
  signal: AbortSignal;
  /** Run-wide notes one step leaves for a later one (e.g. which configs changed). */
  shared: Map<string, unknown>;
  /** The names of the steps this run runs after this one, in order (a playbook may run a part). */
  laterSteps: readonly string[];
  /** The open connection to a host (opened once per run). */
  connection(host: string): Promise<Result<HostConnection>>;
  /** How many actions this run has applied so far, on any host (0: the nodes are as the run found them). */
  appliedSoFar(): number;
}

export interface Step {
  /** The id used in playbooks: lowercase words joined by "-". */
  name: string;
  /** What the step makes true, for humans. */
  title: string;
  /** A failure on any host ends the run before the next step (preflight: nothing changes then). */
  gate?: boolean;
  /** Apply hosts one at a time in inventory order (rolling changes). Default: in parallel. */
  sequential?: boolean;
  /**
   * Needs every node of the cluster: when any host failed earlier, the step is skipped
   * (a cluster cannot be formed from part of its nodes without the operator knowing).
   */
  needsAllHosts?: boolean;
  /**
   * Only for this topology: a run of another leaves the step out entirely (no header in the plan,
   * no result, no node asked anything), so a classic deploy does not list Galera's steps.
   */
  topology?: Topology;
  /** Reads facts and returns, per host, the actions still needed. Never changes a node. */
  plan(ctx: StepContext): Promise<Map<string, HostPlan>>;
}

export interface HostStepResult {
  step: string;
  status: HostStatus;
  changes: string[];
  error?: string;
}

export interface RunSummary {
  playbook: string;
  dryRun: boolean;
  interrupted: boolean;
  ok: number;
  changed: number;
  failed: number;
  skipped: number;
  /** Steps that did not run because of Ctrl-C or an earlier failure. */
  notRun: string[];
  /** Disruptive actions that were planned but not confirmed (the run stopped before them). */
  unconfirmed?: string[];
  hosts: Record<string, HostStepResult[]>;
  /** Wall time of each step that ran (plan + apply over all hosts). */
  steps: { name: string; durationMs: number }[];
  durationMs: number;
}
