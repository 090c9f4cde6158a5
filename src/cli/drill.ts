// `osha drill FILE`: a failover drill with measured recovery times (see src/drill/drill.ts).
import { Command, Option } from 'commander';
import chalk from 'chalk';
import type { DrillMode, DrillResult, NodeControl } from '../drill/drill.ts';
import { describeError } from '../util/result.ts';
import { EXIT } from './exit.ts';

async function labControl(dir: string, mode: 'kill' | 'partition'): Promise<NodeControl> {
  const { labKill, labStart, labPartition, labHeal } = await import('../lab/index.ts');
  return mode === 'kill'
    ? { takeOut: (n) => labKill(dir, n), bringBack: (n) => labStart(dir, n) }
    : { takeOut: (n) => labPartition(dir, n), bringBack: (n) => labHeal(dir, n) };
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
  for (const e of r.errors) lines.push(chalk.red(`  ! ${e}`));
  return lines.join('\n');
}

export function drillCommand(): Command {
  return new Command('drill')
    .description('take the node holding the VIP out, measure until the VIP and every service are back elsewhere, bring the node back')
    .argument('<inventory>', 'inventory file (YAML)')
    .option('--node <name>', 'the node to take out (default: the one holding the VIP)')
    .option('--lab <dir>', 'the nodes are an osha lab in DIR: allows --mode kill and partition')
    .addOption(new Option('--mode <mode>', 'standby or stop (Pacemaker), kill or partition (lab only); default: kill with --lab, standby otherwise').choices(['standby', 'stop', 'kill', 'partition']))
    .option('--json', 'print the result as JSON')
    .addOption(new Option('--timeout <seconds>', 'give up waiting for recovery after this long').default(180).argParser(Number))
    .action(async (file: string, flags: { node?: string; lab?: string; mode?: DrillMode; json?: boolean; timeout: number }) => {
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
