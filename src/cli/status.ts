// `osha status FILE [--json]`: nodes, quorum, where the VIP and each service run, failed
// actions, on one screen. Asks the first node that answers; reads crm_mon's XML. Active-active
// adds every node's view of Galera and of RabbitMQ's cluster, which crm_mon cannot show.
import { Command } from 'commander';
import chalk from 'chalk';
import type { ClusterStatus } from '../facts/status.ts';
import type { GaleraNodeState } from '../facts/galera.ts';
import type { RabbitNodeState, RabbitVerdict } from '../facts/rabbitmq.ts';
import type { SshSession } from '../ssh/session.ts';
import type { HostConnection } from '../ssh/connection.ts';
import type { Result } from '../util/result.ts';
import { isOshaId } from '../model/resources.ts';
import type { Inventory } from '../inventory/schema.ts';
import { EXIT } from './exit.ts';

export interface StatusReport {
  cluster: string;
  askedNode: string;
  unreachable: { node: string; error: string }[];
  quorate: boolean;
  dc?: string;
  /** upgrade: the release an unfinished `osha upgrade` was taking the node to (it left the node in standby). */
  nodes: { name: string; online: boolean; standby: boolean; maintenance: boolean; upgrade?: string }[];
  vip: { address: string; node?: string };
  resources: { id: string; agent: string; role: string; nodes: string[]; group?: string; osha: boolean; failed: boolean }[];
  failedActions: { resource: string; operation: string; node: string; exitStatus: string; reason: string }[];
  /** osha's resources with no instance started or promoted (stopped, or a Galera with no primary). */
  notRunning: string[];
  /** quorum, every node online, every osha resource running, no failed action (and Galera primary). */
  healthy: boolean;
  /**
   * The active-active topology's database: each node's view; bootstrappedBy, the node whose running
   * MariaDB started the cluster (absent once that server restarted: then every member has joined);
   * promotedFirst, from Pacemaker's operation history.
   */
  galera?: {
    nodes: (GaleraNodeState | { node: string; error: string })[];
    bootstrappedBy?: string;
    promotedFirst?: { node: string; at: string };
    /** With no primary component: each node's last committed seqno as its galera agent reported it to Pacemaker. */
    reported?: Record<string, string>;
    /** With no primary component: the nodes the galera agent waits for before it starts Galera. */
    waitingFor?: string[];
  };
  /**
   * The active-active topology's message broker: each node's own view of its cluster, and what they
   * say together (whole: one cluster of every node's broker, no partition).
   */
  rabbitmq?: RabbitVerdict & { nodes: (RabbitNodeState | { node: string; error: string })[]; resource: string };
}

/**
 * vipId: the VIP's resource id (cluster/build.ts VIP_ID; passed in so that --help does not load the
 * model). upgrades: node -> release, the marks of unfinished upgrades.
 */
export function statusReport(inv: Inventory, asked: string, unreachable: StatusReport['unreachable'], s: ClusterStatus, vipId: string, upgrades: Map<string, string> = new Map()): StatusReport {
  const vip = s.resources.get(vipId);
  const report: StatusReport = {
    cluster: inv.cluster.name,
    askedNode: asked,
    unreachable,
    quorate: s.quorate,
    dc: s.dc,
    nodes: s.nodes.map((n) => ({ name: n.name, online: n.online, standby: n.standby, maintenance: n.maintenance, ...(upgrades.has(n.name) ? { upgrade: upgrades.get(n.name) } : {}) })),
    vip: { address: inv.vip.address, node: vip?.roles.includes('Started') ? vip.nodes[0] : undefined },
    resources: [...s.resources.values()].map((r) => ({ id: r.id, agent: r.agent, role: [...new Set(r.roles)].join('/'), nodes: r.nodes, group: r.parent, osha: isOshaId(r.id), failed: r.failed })),
    failedActions: s.failures.map((f) => ({ resource: f.resource, operation: f.opKey, node: f.node, exitStatus: f.exitStatus, reason: f.exitReason })),
    notRunning: [...s.resources.values()].filter((r) => isOshaId(r.id) && !r.roles.some((role) => role === 'Started' || role === 'Promoted')).map((r) => r.id),
    healthy: false,
  };
  report.healthy = isHealthy(report);
  return report;
}

/** What `osha status` exits 0 for. A resource stopped without a failure (held back by a constraint,
 *  waiting for a failure to expire, disabled by hand) is not healthy either: a service is down.
 *  Nor is a RabbitMQ split into clusters, though Pacemaker shows every broker started. */
export function isHealthy(r: StatusReport): boolean {
  const galeraPrimary = !r.galera || r.galera.nodes.every((n) => 'running' in n && n.clusterStatus === 'Primary');
  const oneBroker = !r.rabbitmq || r.rabbitmq.whole;
  return r.quorate && r.nodes.every((n) => n.online) && r.failedActions.length === 0 && r.notRunning.length === 0 && galeraPrimary && oneBroker;
}

export function renderStatus(r: StatusReport): string {
  const lines: string[] = [];
  const q = r.quorate ? chalk.green('quorate') : chalk.red('NO QUORUM');
  lines.push(`${chalk.bold(`cluster ${r.cluster}`)}: ${q}, DC ${r.dc ?? chalk.red('none')} (asked ${r.askedNode})`);
  for (const u of r.unreachable) lines.push(`  ${chalk.red('unreachable')} ${u.node}: ${u.error}`);
  lines.push(
    `nodes: ${r.nodes
      .map((n) => `${n.name} ${n.online ? (n.standby ? chalk.yellow('standby') : chalk.green('online')) : chalk.red('OFFLINE')}${n.maintenance ? ' (maintenance)' : ''}`)
      .join(', ')}`,
  );
  for (const n of r.nodes.filter((x) => x.upgrade)) {
    lines.push(`  ${chalk.yellow(`${n.name}: an osha upgrade to ${n.upgrade} did not finish`)}: run \`osha upgrade\` again to finish it`);
  }
  lines.push(`VIP ${r.vip.address}: ${r.vip.node ? `on ${chalk.cyan(r.vip.node)}` : chalk.yellow('not running (no resource set applied yet, or stopped)')}`);
  if (r.resources.length) {
    lines.push('resources:');
    for (const res of r.resources) {
      const where = res.nodes.length ? res.nodes.join(', ') : '-';
      const role = res.failed ? chalk.red(`${res.role} FAILED`) : res.role === 'Started' ? chalk.green(res.role) : chalk.yellow(res.role);
      lines.push(`  ${res.id.padEnd(28)} ${role.padEnd(18)} ${where}${res.group ? chalk.dim(`  (${res.group})`) : ''}${res.osha ? '' : chalk.dim('  [not osha]')}`);
    }
  } else {
    lines.push('resources: none');
  }
  if (r.galera) lines.push(...renderGalera(r.galera, new Set(r.nodes.filter((n) => n.online).map((n) => n.name))));
  if (r.rabbitmq) lines.push(...renderRabbit(r.rabbitmq));
  if (r.notRunning.length) lines.push(chalk.red(`not running: ${r.notRunning.join(', ')}`));
  if (r.failedActions.length) {
    lines.push(chalk.red('failed actions:'));
    for (const f of r.failedActions) lines.push(`  ${f.resource} ${f.operation} on ${f.node}: exit ${f.exitStatus}${f.reason ? ` (${f.reason})` : ''}`);
  }
  return lines.join('\n');
}

function renderGalera(g: NonNullable<StatusReport['galera']>, online: Set<string>): string[] {
  const primary = g.nodes.filter((n): n is GaleraNodeState => 'running' in n && n.clusterStatus === 'Primary');
  const head = primary.length
    ? `primary component on ${primary.map((n) => n.node).join(', ')} (size ${primary[0]!.clusterSize ?? '?'})`
    : chalk.red('no primary component');
  const promoted = g.promotedFirst ? `promoted first ${g.promotedFirst.at}` : undefined;
  const first = g.bootstrappedBy
    ? `, bootstrapped from ${chalk.cyan(g.bootstrappedBy)}${promoted && g.promotedFirst!.node === g.bootstrappedBy ? ` (${promoted})` : ''}`
    : g.promotedFirst
      ? `, first promoted: ${chalk.cyan(g.promotedFirst.node)} (${g.promotedFirst.at}); the server that bootstrapped the cluster has restarted since`
      : '';
  const lines = [`galera: ${head}${first}`];
  if (g.waitingFor && g.waitingFor.length > 0) lines.push(...waitingText(g.waitingFor, g.reported ?? {}, online));
  for (const n of g.nodes) {
    if ('error' in n) lines.push(`  ${n.node.padEnd(12)} ${chalk.red(`unreadable: ${n.error}`)}`);
    else if (n.running) lines.push(`  ${n.node.padEnd(12)} ${n.clusterStatus === 'Primary' ? chalk.green('Primary') : chalk.red(n.clusterStatus ?? '?')} ${n.localState ?? ''} seqno ${n.seqno ?? '?'}${n.bootstrapped ? ' (its server started the cluster)' : ''}${checkText(n)}`);
    else lines.push(`  ${n.node.padEnd(12)} ${chalk.yellow('stopped')} seqno ${n.seqno ?? '?'} (grastate.dat)${n.safeToBootstrap ? ', safe to bootstrap' : ''}${checkText(n)}`);
  }
  return lines;
}

/**
 * Why Galera does not start after a full outage, and the ways on. A node online in the cluster
 * whose agent has not reported yet is starting its instance (or failed to: see failed actions); one that is not online cannot
 * report until it is back.
 */
function waitingText(waiting: string[], reported: Record<string, string>, online: Set<string>): string[] {
  const away = waiting.filter((n) => !online.has(n));
  const rest = Object.entries(reported).sort(([, a], [, b]) => Number(b) - Number(a));
  const lines = [
    chalk.yellow(`  the galera agent starts Galera once every listed node has reported its last committed seqno; it waits for ${waiting.map((n) => `${n} (${online.has(n) ? 'online, no report yet' : 'not in the cluster'})`).join(', ')}`),
    `  reported: ${rest.length ? rest.map(([n, s]) => `${n} seqno ${s}`).join(', ') : 'none yet'}`,
  ];
  if (away.length > 0) {
    const them = away.join(', ');
    const best = rest[0] ? `the most advanced of the others (now ${rest[0][0]}, seqno ${rest[0][1]})` : 'the most advanced of the others';
    lines.push(`  fix: bring ${them} back; if ${away.length > 1 ? 'they' : 'it'} cannot come back, take ${them} out of the inventory and run osha deploy: it asks first, then Galera starts from ${best}, and what only ${them} committed is lost`);
  }
  return lines;
}

/**
 * The brokers' clusters; when split, which side to keep and how the others join it. A restart of a
 * broker under Pacemaker is the way: on start, the rabbitmq-cluster agent wipes that broker's data,
 * joins it to the brokers Pacemaker runs elsewhere and restores users, permissions and policies.
 */
export function renderRabbit(r: NonNullable<StatusReport['rabbitmq']>): string[] {
  const errors = r.nodes.filter((n): n is { node: string; error: string } => 'error' in n);
  const down = r.nodes.filter((n): n is RabbitNodeState => 'running' in n && !n.running);
  const lines: string[] = [];
  if (r.clusters.length === 0) lines.push(`rabbitmq: ${chalk.red('no broker answers')}`);
  else if (r.clusters.length === 1) lines.push(`rabbitmq: one cluster of ${r.clusters[0]!.join(', ')}`);
  else lines.push(`rabbitmq: ${chalk.red(`SPLIT into ${r.clusters.length} clusters`)}: ${r.clusters.map((c) => `{${c.join(', ')}}`).join(' ')}`);
  for (const n of down) lines.push(chalk.yellow(`  ${n.node}: broker not running (${n.reason ?? 'no answer'})`));
  for (const n of errors) lines.push(chalk.yellow(`  ${n.node}: ${n.error}`));
  if (r.partitions.length) lines.push(chalk.red(`  partitions seen: ${r.partitions.join(', ')}`));
  if (r.clusters.length > 1) {
    const [first, second] = r.clusters;
    const keep = first!.length > second!.length ? first! : undefined;
    const others = r.clusters.filter((c) => c !== keep).flat();
    const how = (nodes: string[]) => nodes.map((n) => `crm_resource --restart --resource ${r.resource} --node ${n}`).join('; then ');
    lines.push(
      keep
        ? `  fix: restart the other brokers through Pacemaker, one at a time: ${how(others)}. The agent wipes each one's data and joins it to ${keep.join(', ')}: messages held only there are lost; users, permissions and policies are restored`
        : `  fix: no cluster is larger; choose the one to keep, then restart every other broker through Pacemaker, one at a time (crm_resource --restart --resource ${r.resource} --node NODE). The agent wipes each one's data and joins it to the brokers running elsewhere: messages held only there are lost`,
    );
  }
  return lines;
}

/** What osha's Galera check tells HAProxy about the node: whether it may take the database's clients. */
function checkText(n: GaleraNodeState): string {
  if (!n.check) return '';
  return n.check.status === 200 ? `; HAProxy: ${chalk.green('takes clients')}` : `; HAProxy: ${chalk.red(`takes none (${n.check.reason})`)}`;
}

const CIB_MARK = '--- cib';

/** One read on every node in parallel: its answer, or why the node could not give one. */
function askEveryNode<T>(inv: Inventory, session: SshSession, read: (c: HostConnection, n: Inventory['nodes'][number]) => Promise<Result<T>>): Promise<(T | { node: string; error: string })[]> {
  return Promise.all(
    inv.nodes.map(async (n) => {
      const c = await session.connect(n.name);
      if (!c.ok) return { node: n.name, error: c.error.message };
      const s = await read(c.value, n);
      return s.ok ? s.value : { node: n.name, error: s.error.message };
    }),
  );
}

/** Every node's Galera state in parallel, and from the asked node the CIB's promotion history. */
async function galeraReport(inv: Inventory, session: SshSession, asked: string, galeraId: string): Promise<StatusReport['galera']> {
  const [{ readGaleraState, firstPromoted, galeraCheckProbe, galeraReports, galeraWaitsFor }, { GALERA_CHECK_PORT }, { GALERA_NODES_FILE, parseGaleraNodes }] = await Promise.all([
    import('../facts/galera.ts'),
    import('../render/haproxy.ts'),
    import('../render/node-files.ts'),
  ]);
  const nodes = await askEveryNode(inv, session, (c, n) => readGaleraState(c, n.name, galeraCheckProbe(n.address, GALERA_CHECK_PORT)));
  const report: NonNullable<StatusReport['galera']> = { nodes };
  const bootstrapped = nodes.filter((n) => 'running' in n && n.bootstrapped);
  if (bootstrapped.length === 1) report.bootstrappedBy = bootstrapped[0]!.node;
  const c = await session.connect(asked);
  if (c.ok) {
    // Galera's node list as the agents read it (the inventory may already differ), then the CIB's status.
    const cib = await c.value.exec(`cat ${GALERA_NODES_FILE} 2>/dev/null; echo '${CIB_MARK}'; cibadmin --query --scope status`, { timeoutMs: 20_000 });
    const [listFile = '', statusOut = ''] = cib.ok ? cib.value.stdout.split(`${CIB_MARK}\n`) : [];
    const statusXml = cib.ok && cib.value.code === 0 ? statusOut : undefined;
    const first = statusXml ? firstPromoted(statusXml, galeraId) : undefined;
    if (first) report.promotedFirst = { node: first.node, at: first.at.toISOString() };
    const primary = nodes.some((n) => 'running' in n && n.clusterStatus === 'Primary');
    if (statusXml && !primary) {
      const reports = galeraReports(statusXml, galeraId);
      report.reported = Object.fromEntries(reports.lastCommitted);
      const listed = parseGaleraNodes(listFile);
      report.waitingFor = galeraWaitsFor(listed ?? inv.nodes.map((n) => n.name), primary, reports);
    }
  }
  return report;
}

/** Every node's broker asked in parallel for its own cluster's view. */
async function rabbitReport(inv: Inventory, session: SshSession, resource: string): Promise<StatusReport['rabbitmq']> {
  const { readRabbitState, rabbitVerdict } = await import('../facts/rabbitmq.ts');
  const nodes = await askEveryNode(inv, session, (c, n) => readRabbitState(c, n.name));
  // A node that cannot be asked counts as a broker down: nothing says it is in the cluster.
  const states = nodes.map((n): RabbitNodeState => ('error' in n ? { node: n.node, running: false, reason: n.error, runningNodes: [], partitions: {} } : n));
  return { ...rabbitVerdict(states), nodes, resource };
}

export function statusCommand(): Command {
  return new Command('status')
    .description('show nodes, quorum, where the VIP and each service run, and failed actions (active-active: Galera and RabbitMQ membership per node); exit 0 only when healthy')
    .argument('<inventory>', 'inventory file (YAML)')
    .option('--json', 'print the status as JSON')
    .action(async (file: string, flags: { json?: boolean }) => {
      const [{ commandSession, inventoryOrReport }, { readClusterStatus, readPermanentNodeAttributes }, { VIP_ID, GALERA_ID, serviceResourceId }, { upgradeMarkOf }] = await Promise.all([
        import('./common.ts'),
        import('../facts/cluster.ts'),
        import('../cluster/build.ts'),
        import('../upgrade/plan.ts'),
      ]);
      const inv = await inventoryOrReport(file);
      if (!inv) return;
      const session = await commandSession(inv, file);
      const unreachable: StatusReport['unreachable'] = [];
      try {
        for (const node of inv.nodes) {
          const c = await session.connect(node.name);
          if (!c.ok) {
            unreachable.push({ node: node.name, error: c.error.message });
            continue;
          }
          const s = await readClusterStatus(c.value);
          if (!s.ok) {
            unreachable.push({ node: node.name, error: s.error.message });
            continue;
          }
          // Marks of unfinished upgrades; a node whose CIB cannot be read just shows none.
          const attrs = await readPermanentNodeAttributes(c.value);
          const upgrades = new Map<string, string>();
          for (const n of inv.nodes) {
            const mark = attrs.ok ? upgradeMarkOf(attrs.value, n.name) : undefined;
            if (mark) upgrades.set(n.name, mark);
          }
          const report = statusReport(inv, node.name, unreachable, s.value, VIP_ID, upgrades);
          if (inv.topology === 'active-active') {
            [report.galera, report.rabbitmq] = await Promise.all([
              galeraReport(inv, session, node.name, GALERA_ID),
              inv.services.includes('rabbitmq') ? rabbitReport(inv, session, serviceResourceId(inv, 'rabbitmq')) : undefined,
            ]);
            if (!report.rabbitmq) delete report.rabbitmq;
            report.healthy = isHealthy(report);
          }
          console.log(flags.json ? JSON.stringify(report, null, 2) : renderStatus(report));
          process.exitCode = report.healthy ? EXIT.ok : EXIT.failed;
          return;
        }
        console.error(`osha status: no node answered:\n${unreachable.map((u) => `  ${u.node}: ${u.error}`).join('\n')}`);
        process.exitCode = EXIT.failed;
      } finally {
        await session.close();
      }
    });
}
