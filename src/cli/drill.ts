// `osha drill FILE`: a failover drill with measured recovery times (see src/drill/drill.ts).
import { Command, Option } from 'commander';
import chalk from 'chalk';
import type { DrillMode, DrillResult, NodeControl } from '../drill/drill.ts';
import type { LoadSummary, LoadTarget } from '../drill/load.ts';
import type { Inventory } from '../inventory/schema.ts';
import { describeError } from '../util/result.ts';
import { EXIT } from './exit.ts';

async function labControl(dir: string, mode: 'kill' | 'partition'): Promise<NodeControl> {
  const { labKill, labStart, labPartition, labHeal } = await import('../lab/index.ts');
  return mode === 'kill'
    ? { takeOut: (n) => labKill(dir, n), bringBack: (n) => labStart(dir, n) }
    : { takeOut: (n) => labPartition(dir, n), bringBack: (n) => labHeal(dir, n) };
}

/** --load's keystone user and endpoints; null (after saying why) when the inventory has none. */
export async function loadTarget(inv: Inventory): Promise<LoadTarget | null> {
  if (!inv.services.includes('keystone')) {
    console.error('osha drill: --load needs keystone among the inventory\'s services (its tokens and projects are the load)');
    return null;
  }
  if (!inv.openstack?.password) {
    console.error('osha drill: --load needs openstack.password in the inventory (the keystone user the load logs in as)');
    return null;
  }
  const [{ resolveSecret }, { loadTargetOf }] = await Promise.all([import('../inventory/secrets.ts'), import('../drill/load.ts')]);
  const password = await resolveSecret(inv.openstack.password, 'openstack.password');
  if (!password.ok) {
    console.error(`osha drill: ${describeError(password.error)}`);
    return null;
  }
  return loadTargetOf(inv, password.value);
}

export function renderDrill(r: DrillResult): string {
  const s = (ms?: number) => (ms === undefined ? chalk.red('not recovered') : `${(ms / 1000).toFixed(1)} s`);
  const sec = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  const lines = [`drill: took ${r.node} out (${r.mode})`];
  const p = r.phases;
  if (p.detectionMs !== undefined) lines.push(`  detection                   ${sec(p.detectionMs)}${chalk.dim(' the survivors saw it gone')}`);
  if (p.fencing) {
    const f = p.fencing;
    lines.push(`  fencing                     ${f.ms !== undefined ? sec(f.ms) : '?'}${chalk.dim(` ${f.action} of ${f.target}${f.by ? ` by ${f.by}` : ''}: ${f.status}${f.doneMs !== undefined ? `, done at ${sec(f.doneMs)}` : ''}`)}`);
  }
  lines.push(`  VIP                         ${s(r.vipMs)}`);
  for (const x of r.services) {
    const detail = [x.node ? `on ${x.node}` : '', x.afterFencingMs !== undefined ? `${sec(x.afterFencingMs)} after ${p.fencing ? 'fencing' : 'detection'}` : '', x.start ? `start ran ${sec(x.start.execMs)}` : ''].filter(Boolean).join(', ');
    lines.push(`  ${x.id.padEnd(28)}${s(x.recoveryMs)}${detail ? chalk.dim(` ${detail}`) : ''}`);
  }
  lines.push(`  ${r.node} rejoined after ${s(r.rejoinMs)}`);
  if (r.load) lines.push(...renderLoad(r.load));
  for (const e of r.errors) lines.push(chalk.red(`  ! ${e}`));
  return lines.join('\n');
}

/** The client loop's lines under the table: requests, failures, gaps, writes. */
export function renderLoad(l: LoadSummary): string[] {
  const sec = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  const kinds = Object.entries(l.byKind);
  const reasons = Object.entries(l.failures).map(([why, n]) => `${n} ${why}`).join(', ');
  return [
    `load through the VIP: ${l.requests} requests, ${l.failed} failed${reasons ? chalk.dim(` (${reasons})`) : ''}${l.reauths ? chalk.dim(`, ${l.reauths} new token after 401`) : ''}`,
    `  ${kinds.map(([k, x]) => `${k} ${x.failed}/${x.requests}`).join(', ')} failed`,
    `  longest without a success: ${sec(l.longestGapMs)} any request; ${kinds.map(([k, x]) => `${k} ${sec(x.longestGapMs)}`).join(', ')}${l.stillFailing.length ? chalk.red(` (${l.stillFailing.join(', ')} still failing at the end)`) : ''}`,
    `  writes: ${l.acknowledgedWrites} acknowledged, ${l.lostWrites ? chalk.red(`${l.lostWrites} lost`) : '0 lost'}${l.unverifiedWrites ? chalk.red(`, ${l.unverifiedWrites} not checked`) : ''}; ${l.cleanup.deleted} drill projects deleted${l.cleanup.left.length ? chalk.red(`, ${l.cleanup.left.length} left`) : ''}`,
  ];
}

export function drillCommand(): Command {
  return new Command('drill')
    .description('take the node holding the VIP out, measure until the VIP and every service are back elsewhere, bring the node back')
    .argument('<inventory>', 'inventory file (YAML)')
    .option('--node <name>', 'the node to take out (default: the one holding the VIP)')
    .option('--lab <dir>', 'the nodes are an osha lab in DIR: allows --mode kill and partition')
    .addOption(new Option('--mode <mode>', 'standby or stop (Pacemaker), kill or partition (lab only); default: kill with --lab, standby otherwise').choices(['standby', 'stop', 'kill', 'partition']))
    .option(
      '--load',
      'meanwhile run a client loop through the VIP (a keystone token, an image list when glance-api is a service, a keystone project created per round) and report failed requests, the longest time without a success and lost writes; the drill\'s projects are deleted after; needs keystone and openstack.password',
    )
    .option('--json', 'print the result as JSON')
    .addOption(new Option('--timeout <seconds>', 'give up waiting for recovery after this long').default(180).argParser(Number))
    .action(async (file: string, flags: { node?: string; lab?: string; mode?: DrillMode; load?: boolean; json?: boolean; timeout: number }) => {
      const [{ commandSession, inventoryOrReport }, { runDrill, pacemakerControl }] = await Promise.all([import('./common.ts'), import('../drill/drill.ts')]);
      const inv = await inventoryOrReport(file);
      if (!inv) return;
      if (!Number.isFinite(flags.timeout) || flags.timeout <= 0) {
        console.error('osha drill: --timeout takes a number of seconds > 0');
        process.exitCode = EXIT.usage;
        return;
      }
      const mode: DrillMode = flags.mode ?? (flags.lab ? 'kill' : 'standby');
      if ((mode === 'kill' || mode === 'partition') && !flags.lab) {
        console.error(`osha drill: --mode ${mode} needs --lab DIR (only a lab node can be powered off or cut by osha)`);
        process.exitCode = EXIT.usage;
        return;
      }
      const load = flags.load ? await loadTarget(inv) : undefined;
      if (load === null) {
        process.exitCode = EXIT.usage;
        return;
      }
      const session = await commandSession(inv, file);
      let victim = flags.node;
      const control: NodeControl =
        mode === 'kill' || mode === 'partition'
          ? await labControl(flags.lab!, mode)
          : pacemakerControl(session, mode, () => inv.nodes.map((n) => n.name).filter((n) => n !== victim));
      try {
        const r = await runDrill({
          inv,
          session,
          mode,
          control: {
            takeOut: (n) => {
              victim = n;
              return control.takeOut(n);
            },
            bringBack: (n) => control.bringBack(n),
          },
          node: flags.node,
          timeoutMs: Number(flags.timeout) * 1000,
          load,
          log: flags.json ? undefined : (l) => console.error(chalk.dim(l)),
        });
        if (!r.ok) {
          console.error(`osha drill: ${describeError(r.error)}`);
          process.exitCode = EXIT.failed;
          return;
        }
        console.log(flags.json ? JSON.stringify(r.value, null, 2) : renderDrill(r.value));
        process.exitCode = r.value.errors.length === 0 ? EXIT.ok : EXIT.failed;
      } finally {
        await session.close();
      }
    });
}
