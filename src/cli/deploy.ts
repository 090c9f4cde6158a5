// `osha deploy`, `osha plan` and `osha run`: load the inventory and a playbook, run its steps
// over SSH, print progress and a summary, set the exit code.
import { Command, Option } from 'commander';
import { listPlaybooks } from '../playbook/names.ts';
import type { Reporter } from '../runner/run.ts';
import type { RunSummary } from '../runner/types.ts';
import { DEFAULT_CONCURRENCY } from '../ssh/defaults.ts';
import { describeError } from '../util/result.ts';
import { EXIT } from './exit.ts';
import { disruptiveConfirmation } from './confirm.ts';

export interface RunFlags {
  dryRun?: boolean;
  json?: boolean;
  verbose?: boolean;
  acceptNewHostKeys?: boolean;
  regenerateKey?: boolean;
  yes?: boolean;
  concurrency?: number;
  timeout?: number;
}

function addRunOptions(cmd: Command, withDryRun: boolean): Command {
  if (withDryRun) cmd.option('-n, --dry-run', 'show every change (file diffs, commands) and change nothing');
  return cmd
    .option('--json', 'print one machine-readable summary at the end (progress goes to stderr)')
    .option('-v, --verbose', 'show each remote command (secrets redacted)')
    .option('--accept-new-host-keys', 'trust and record host keys of nodes not yet in known_hosts (keys that differ are still refused)')
    .option('--regenerate-key', 'replace the corosync authkey even when nodes disagree about it')
    .option('-y, --yes', 'apply changes that interrupt service (marked DISRUPTIVE in the plan) without asking')
    .addOption(new Option('--concurrency <n>', 'hosts worked on at once').default(DEFAULT_CONCURRENCY).argParser(Number))
    .addOption(new Option('--timeout <seconds>', 'how long to wait for the cluster to form or settle (default 120; 600 for topology: active-active, whose first start copies the database to every node)').argParser(Number));
}


/** Runs a playbook against an inventory; returns the exit code. */
export async function runPlaybookCli(playbookName: string, file: string, flags: RunFlags): Promise<number> {
  const out = (s: string) => (flags.json ? process.stderr.write(s) : process.stdout.write(s));
  // Loaded when a command runs, not with this module: `osha --help` starts without them.
  const [{ loadPlaybook }, { commandSession, inventoryOrReport }, { runSteps }, { LineReporter, ListrReporter, jsonSummary }] = await Promise.all([
    import('../playbook/load.ts'),
    import('./common.ts'),
    import('../runner/run.ts'),
    import('../runner/report.ts'),
  ]);
  // The playbook first: a wrong name is found without reading the inventory.
  const playbook = await loadPlaybook(playbookName);
  if (!playbook.ok) {
    console.error(`osha: ${describeError(playbook.error)}`);
    return EXIT.usage;
  }
  const inv = await inventoryOrReport(file);
  if (!inv) return EXIT.usage;
  const concurrency = Number(flags.concurrency ?? DEFAULT_CONCURRENCY);
  // Galera's first start copies the database to each joining node (state transfer) before it is
  // promoted there: minutes, not seconds, for a real database or on a busy host.
  const timeoutS = Number(flags.timeout ?? (inv.topology === 'active-active' ? 600 : 120));
  if (!Number.isInteger(concurrency) || concurrency < 1 || !Number.isFinite(timeoutS) || timeoutS <= 0) {
    console.error('osha: --concurrency takes a whole number >= 1 and --timeout a number of seconds > 0');
    return EXIT.usage;
  }
  const dryRun = Boolean(flags.dryRun);
  const verbose = Boolean(flags.verbose);
  const useListr = process.stdout.isTTY && !flags.json && !dryRun;
  const reporter: Reporter = useListr ? new ListrReporter(out, { verbose }) : new LineReporter(out, { verbose, dryRun });
  const { readAheadPath } = await import('../ssh/read-ahead.ts');
  const session = await commandSession(inv, file, { acceptNewHostKeys: Boolean(flags.acceptNewHostKeys), log: verbose ? (l) => reporter.log(l) : undefined }, concurrency, readAheadPath(file, playbook.value.file));

  // First Ctrl-C: finish the actions under way, then stop and say what was left. Second: quit now.
  const abort = new AbortController();
  const onSigint = () => {
    if (abort.signal.aborted) process.exit(EXIT.interrupted);
    process.stderr.write('\nosha: stopping after the actions under way (Ctrl-C again to quit at once)\n');
    abort.abort();
  };
  process.on('SIGINT', onSigint);
  let summary: RunSummary;
  try {
    out(`osha ${playbook.value.name}: ${playbook.value.description} on ${inv.nodes.length} nodes of cluster ${inv.cluster.name}${dryRun ? ' (dry run)' : ''}\n`);
    summary = await runSteps({
      playbook: playbook.value.name,
      steps: playbook.value.steps,
      inv,
      inventoryFile: file,
      session,
      options: { dryRun, regenerateKey: Boolean(flags.regenerateKey), settleTimeoutMs: timeoutS * 1000, confirmDisruptive: disruptiveConfirmation(flags) },
      reporter,
      signal: abort.signal,
    });
  } finally {
    process.off('SIGINT', onSigint);
    await session.close();
  }
  if (flags.json) process.stdout.write(`${jsonSummary(summary)}\n`);
  if (summary.interrupted) return EXIT.interrupted;
  if (summary.unconfirmed) {
    console.error(`osha: stopped before changes that interrupt service, none of which was made:\n${summary.unconfirmed.map((l) => `  - ${l}`).join('\n')}`);
    console.error('osha: re-run with --yes to apply them (or on a terminal, answer yes)');
    return EXIT.usage;
  }
  return summary.failed > 0 || summary.skipped > 0 ? EXIT.failed : EXIT.ok;
}

export function deployCommand(): Command {
  return addRunOptions(
    new Command('deploy')
      .description('make the nodes a Pacemaker/Corosync cluster as the inventory describes (re-running changes nothing)')
      .argument('<inventory>', 'inventory file (YAML)'),
    true,
  ).action(async (file: string, flags: RunFlags) => {
    process.exitCode = await runPlaybookCli('deploy', file, flags);
  });
}

export function planCommand(): Command {
  return addRunOptions(
    new Command('plan').description('show what `osha deploy` would change, per host (same as deploy --dry-run)').argument('<inventory>', 'inventory file (YAML)'),
    false,
  ).action(async (file: string, flags: RunFlags) => {
    process.exitCode = await runPlaybookCli('deploy', file, { ...flags, dryRun: true });
  });
}

export function runCommand(): Command {
  return addRunOptions(
    new Command('run')
      .description('run one playbook (a part of the deploy) from playbooks/ or a path')
      .argument('<playbook>', `playbook: ${listPlaybooks().join(', ')}, or the path of a playbook file`)
      .argument('<inventory>', 'inventory file (YAML)'),
    true,
  ).action(async (playbook: string, file: string, flags: RunFlags) => {
    process.exitCode = await runPlaybookCli(playbook, file, flags);
  });
}
