// `osha init`: the first-time setup wizard. Asks, checks each answer, writes a commented
// inventory that `osha validate` accepts. Needs a terminal; Ctrl-C writes nothing.
import { access, constants } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, resolve } from 'node:path';
import { Command } from 'commander';
import { describeError } from '../util/result.ts';
import { EXIT } from './exit.ts';
import { count } from '../util/text.ts';

const NO_TTY = [
  'osha init asks questions and needs a terminal, but stdin or stdout is not one.',
  'Without a terminal, write the inventory yourself: copy inventory.example.yaml, edit it,',
  'and check it with `osha validate FILE`; or create a lab with `osha lab up`, which writes one.',
].join('\n');

/** Inquirer rejects with ExitPromptError when the operator presses Ctrl-C at a prompt. */
function isPromptExit(e: unknown): boolean {
  return e instanceof Error && (e.name === 'ExitPromptError' || e.name === 'AbortPromptError');
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

export function initCommand(): Command {
  return new Command('init')
    .description('interactive wizard that writes an inventory for osha deploy')
    .option('-o, --out <file>', 'where to write the inventory', 'inventory.yaml')
    .action(async (opts: { out: string }) => {
      if (!process.stdin.isTTY || !process.stdout.isTTY) {
        console.error(NO_TTY);
        process.exitCode = EXIT.usage;
        return;
      }
      const out = resolve(opts.out);
      // Found out now, not after twenty answers.
      if (!(await access(dirname(out), constants.W_OK).then(() => true, () => false))) {
        console.error(`cannot write ${opts.out}: the folder ${dirname(out)} does not exist or is not writable; choose another --out`);
        process.exitCode = EXIT.usage;
        return;
      }
      // Loaded now, not with this module: `osha --help` starts without the prompts and the schema.
      const [{ confirm }, { runWizard }, { writeWizardOutput }] = await Promise.all([import('@inquirer/prompts'), import('../wizard/flow.ts'), import('../wizard/write.ts')]);
      try {
        const overwrite = await exists(out);
        if (overwrite && !(await confirm({ message: `${opts.out} already exists. Replace it when the wizard finishes?`, default: false }))) {
          console.error(`Kept ${opts.out} as it is; nothing was written. Use --out to write somewhere else.`);
          process.exitCode = EXIT.failed;
          return;
        }
        const result = await runWizard({ home: homedir(), say: (t) => console.log(t) });
        if (!result.ok) {
          console.error(describeError(result.error));
          process.exitCode = EXIT.failed;
          return;
        }
        const written = await writeWizardOutput({ out, overwrite, ...result.value });
        if (!written.ok) {
          console.error(describeError(written.error));
          process.exitCode = EXIT.failed;
          return;
        }
        const keys = result.value.acceptedKeys.length;
        console.log(`\nWrote ${opts.out}${keys ? ` and ${count(keys, 'host key')} to ${result.value.knownHostsFile}` : ''}.`);
        console.log(`Next: osha deploy ${opts.out}   (osha validate ${opts.out} checks it again after hand edits)`);
        process.exitCode = EXIT.ok;
      } catch (e) {
        if (!isPromptExit(e)) throw e;
        console.error('\nInterrupted: nothing was written.');
        process.exitCode = EXIT.interrupted;
      }
    });
}
