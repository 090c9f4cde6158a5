// Changes that interrupt service are applied only when the operator says so: --yes, or yes on a
// terminal. With --json or no terminal, nobody can answer, so the answer is no.

/** Asks on a TTY before changes that interrupt service; --yes answers for the operator. */
export function disruptiveConfirmation(flags: { yes?: boolean; json?: boolean }): (lines: string[]) => Promise<boolean> {
  return async (lines) => {
    if (flags.yes) return true;
    if (!process.stdin.isTTY || flags.json) return false;
    process.stderr.write(`\nThese changes interrupt service:\n${lines.map((l) => `  - ${l}`).join('\n')}\n`);
    const { confirm } = await import('@inquirer/prompts');
    try {
      return await confirm({ message: 'Apply them now?', default: false });
    } catch {
      return false;
    }
  };
}
