// `osha upgrade FILE`: a rolling upgrade of the cluster's nodes, one at a time (src/upgrade/).
import { Command, Option } from 'commander';
import chalk from 'chalk';
import type { UpgradePlan } from '../upgrade/plan.ts';
import type { Blocker } from '../upgrade/releases.ts';
import type { RebootPolicy, UpgradeResult } from '../upgrade/run.ts';
import { describeError } from '../util/result.ts';
import { EXIT } from './exit.ts';
import { disruptiveConfirmation } from './confirm.ts';
import { renderLoad } from './drill.ts';

interface UpgradeFlags {
  to?: string;
  dryRun?: boolean;
  yes?: boolean;
  json?: boolean;
  load?: boolean;
  reboot: RebootPolicy;
  timeout: number;
}

export function renderUpgradePlan(plan: UpgradePlan, reboot: RebootPolicy, aptCommands: string[]): string {
  const t = plan.target;
  const idle = plan.nodes.every((n) => n.skip);
  const head = idle
    ? `upgrade: nothing to do${t.kind === 'release' ? `, every node runs ${t.to}` : ''}`
    : t.kind === 'release'
      ? `upgrade: ${t.from} -> ${t.to}, one node at a time`
      : 'upgrade: the packages of the current release (a point release), one node at a time';
  const lines = [head];
  plan.nodes.forEach((n, i) => {
    const what = n.skip
      ? chalk.dim(`skipped: ${n.skip}`)
      : n.moves.length
        ? `${chalk.yellow('DISRUPTIVE')}: standby moves ${n.moves.join(', ')} to ${t.kind === 'release' ? 'an upgraded node' : 'another node'} (a failover)`
        : `standby moves nothing${n.resumes ? ' (resumes an interrupted upgrade)' : ''}`;
    lines.push(`  ${i + 1}. ${n.node.padEnd(12)} ${n.from}${n.to !== n.from ? ` -> ${n.to}` : ''}  ${what}`);
  });
  if (idle) return lines.join('\n');
  lines.push('  each node: standby (marked osha-upgrade), wait until what it ran runs elsewhere, stop pacemaker and corosync,');
  if (t.kind === 'release') lines.push(`    apt sources ${t.from} -> ${t.to} (each file kept once as FILE.osha-orig),`);
  for (const c of aptCommands) lines.push(chalk.dim(`    ${c.replace(/^export [^;]+; /, '')}`));
  lines.push(`    ${reboot === 'never' ? 'no reboot: start corosync and pacemaker' : reboot === 'always' ? 'reboot' : `reboot${t.kind === 'release' ? '' : ' if a package asks for it (/run/reboot-required), else start corosync and pacemaker'}`}, wait until it is online in a quorate cluster, standby off, wait until the cluster settles`);
  for (const note of plan.notes) lines.push(chalk.dim(`  note: ${note}`));
  return lines.join('\n');
}

export function renderBlockers(blockers: readonly Blocker[]): string {
  return ['osha upgrade: refused, nothing was changed:', ...blockers.flatMap((b) => [`  - ${b.what}`, `    why: ${b.why}`, `    instead: ${b.path}`])].join('\n');
}

export function renderUpgradeResult(r: UpgradeResult): string {
  const sec = (ms?: number) => (ms === undefined ? '-' : `${(ms / 1000).toFixed(1)} s`);
  const lines = [`upgrade ${r.errors.length ? chalk.red('stopped') : 'done'}:`];
  for (const n of r.nodes) {
    if (n.skipped) {
      lines.push(`  ${n.node.padEnd(12)} ${chalk.dim(n.skipped)}`);
      continue;
    }
    const p = n.packages ? `${n.packages.upgraded} upgraded, ${n.packages.installed} new, ${n.packages.removed} removed` : '';
    lines.push(`  ${n.node.padEnd(12)} drained ${sec(n.drainMs)}, apt ${sec(n.aptMs)} (${p}), ${n.rebooted ? 'rebooted and ' : ''}rejoined ${sec(n.rejoinMs)}, total ${sec(n.totalMs)}${n.migrated.length ? `; ${n.migrated.join(', ')}` : ''}`);
    if (n.error) lines.push(chalk.red(`    ! ${n.error}`));
  }
  if (r.mixedMs !== undefined) lines.push(`  two releases in the cluster for ${sec(r.mixedMs)} (first upgraded node back to the last)`);
  for (const a of r.after) lines.push(`  after: ${a}`);
  if (r.load) lines.push(...renderLoad(r.load));
  const shown = new Set(r.nodes.filter((n) => n.error).map((n) => `${n.node}: ${n.error}`));
  for (const e of r.errors) if (!shown.has(e)) lines.push(chalk.red(`  ! ${e}`));
  if (r.errors.length) lines.push('  a re-run continues from the node that stopped (it stays in standby, marked osha-upgrade)');
  return lines.join('\n');
}

export function upgradeCommand(): Command {
  return new Command('upgrade')
    .description('rolling upgrade: one node at a time, standby, upgrade its packages (or move it to a new Debian release with --to), reboot if needed, bring it back, then the next; refuses jumps that cannot be rolled')
    .argument('<inventory>', 'inventory file (YAML)')
    .option('--to <release>', 'move the nodes to this Debian release (trixie from bookworm); default: the current release\'s updates')
    .option('--dry-run', 'show the plan (order, what moves, the commands) and change nothing')
    .option('-y, --yes', 'take nodes whose standby moves services (marked DISRUPTIVE) out without asking')
    .option('--load', 'meanwhile run a client loop through the VIP, as osha drill --load does, and report its failures')
    .addOption(new Option('--reboot <when>', 'auto: after a release upgrade or when a package asks (/run/reboot-required)').choices(['auto', 'always', 'never']).default('auto'))
    .addOption(new Option('--timeout <seconds>', 'how long each wait (drain, rejoin, settle) may take').default(600).argParser(Number))
    .option('--json', 'print the result as JSON')
    .action(async (file: string, flags: UpgradeFlags) => {
      process.exitCode = await upgradeCli(file, flags);
    });
}

async function upgradeCli(file: string, flags: UpgradeFlags): Promise<number> {
  if (!Number.isFinite(flags.timeout) || flags.timeout <= 0) {
    console.error('osha upgrade: --timeout takes a number of seconds > 0');
    return EXIT.usage;
  }
  const [{ commandSession, inventoryOrReport }, { gatherUpgradeFacts }, { planUpgrade }, { runUpgrade, aptCommands }] = await Promise.all([
    import('./common.ts'),
    import('../upgrade/facts.ts'),
    import('../upgrade/plan.ts'),
    import('../upgrade/run.ts'),
  ]);
  const inv = await inventoryOrReport(file);
  if (!inv) return EXIT.usage;
  let load;
  if (flags.load) {
    const { loadTarget } = await import('./drill.ts');
    load = await loadTarget(inv);
    if (load === null) return EXIT.usage;
  }
  const session = await commandSession(inv, file);
  try {
    const facts = await gatherUpgradeFacts(session, inv);
    if (!facts.ok) {
      console.error(`osha upgrade: ${describeError(facts.error)}`);
      return EXIT.failed;
    }
    const planned = planUpgrade(facts.value.nodes, { to: flags.to, topology: inv.topology, services: inv.services, quorate: facts.value.status.quorate });
    if (!planned.ok) {
      if (flags.json) console.log(JSON.stringify({ refused: planned.blockers }, null, 2));
      console.error(renderBlockers(planned.blockers));
      return EXIT.usage;
    }
    const plan = planned.plan;
    const release = plan.target.kind === 'release';
    const shown = renderUpgradePlan(plan, flags.reboot, aptCommands(release));
    if (flags.json) process.stderr.write(`${shown}\n`);
    else console.log(shown);
    if (flags.dryRun) {
      if (flags.json) console.log(JSON.stringify({ plan }, null, 2));
      return EXIT.ok;
    }
    const disruptive = plan.nodes.filter((n) => !n.skip && n.moves.length > 0).map((n) => `${n.node}: standby moves ${n.moves.join(', ')}`);
    if (disruptive.length && !(await disruptiveConfirmation(flags)(disruptive))) {
      console.error(`osha upgrade: stopped before changes that interrupt service, none of which was made:\n${disruptive.map((l) => `  - ${l}`).join('\n')}`);
      console.error('osha upgrade: re-run with --yes to apply them (or on a terminal, answer yes)');
      return EXIT.usage;
    }
    const log = (l: string) => process.stderr.write(`${chalk.dim(`[${new Date().toISOString().slice(11, 19)}]`)} ${l}\n`);
    const result = await runUpgrade({ inv, session, plan, facts: facts.value.nodes, timeoutMs: flags.timeout * 1000, reboot: flags.reboot, log, load });
    console.log(flags.json ? JSON.stringify(result, null, 2) : renderUpgradeResult(result));
    return result.errors.length ? EXIT.failed : EXIT.ok;
  } finally {
    await session.close();
  }
}
