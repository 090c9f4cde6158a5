// osha's command line: parses arguments, runs a command, prints its result, sets the exit code.
// Exit codes: 0 success, 1 a step failed, 2 bad input or usage, 130 interrupted.
import { Command, CommanderError } from 'commander';
import { validateCommand } from './validate.ts';
import { labCommand } from './lab.ts';
import { initCommand } from './init.ts';
import { deployCommand, planCommand, runCommand } from './deploy.ts';
import { statusCommand } from './status.ts';
import { drillCommand } from './drill.ts';
import { rollbackCommand } from './rollback.ts';
import { exportCommand } from './export.ts';
import { upgradeCommand } from './upgrade.ts';
import { EXIT } from './exit.ts';

// `osha status | head` closes the pipe early: that is the reader's choice, not an error.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw e;
  });
}

const program = new Command();
program
  .name('osha')
  .description('OpenStack High Availability: turn plain Linux controllers into a Pacemaker/Corosync cluster over SSH')
  .version('0.1.0')
  .showHelpAfterError('(run `osha --help` for usage)')
  .exitOverride();

program.addCommand(deployCommand());
program.addCommand(planCommand());
program.addCommand(runCommand());
program.addCommand(statusCommand());
program.addCommand(drillCommand());
program.addCommand(rollbackCommand());
program.addCommand(exportCommand());
program.addCommand(upgradeCommand());
program.addCommand(validateCommand());
program.addCommand(labCommand());
program.addCommand(initCommand());

try {
  await program.parseAsync(process.argv);
} catch (e) {
  if (e instanceof CommanderError) {
    // --help and --version end here with code 0; usage errors were already printed by commander.
    process.exitCode = e.exitCode === 0 ? EXIT.ok : EXIT.usage;
  } else {
    // A bug, not a user error: say so plainly, with the stack only when asked for.
    console.error(`osha: internal error: ${e instanceof Error ? e.message : String(e)}`);
    if (process.env.OSHA_DEBUG) console.error(e);
    process.exitCode = EXIT.failed;
  }
}
