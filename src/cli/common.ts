// What every command that reads an inventory and talks to its nodes does the same way: report
// inventory problems, and open one SSH session that asks for a key passphrase on a terminal.
import { loadInventory, formatProblem, problemsSummary } from '../inventory/load.ts';
import type { Inventory } from '../inventory/schema.ts';
import type { SshSession } from '../ssh/session.ts';
import { DEFAULT_CONCURRENCY } from '../ssh/defaults.ts';
import type { ConnectOptions } from '../ssh/connection.ts';
import { targetsFor } from '../ssh/target.ts';
import { EXIT } from './exit.ts';

/** The inventory, or undefined after printing every problem and setting exit code 2. */
export async function inventoryOrReport(file: string): Promise<Inventory | undefined> {
  const loaded = await loadInventory(file);
  if (loaded.ok) return loaded.value;
  for (const p of loaded.error) console.error(formatProblem(p));
  console.error(problemsSummary(file, loaded.error.length));
  process.exitCode = EXIT.usage;
  return undefined;
}

/** Asks for an SSH key's passphrase on a terminal; elsewhere there is nobody to ask. */
export async function askPassphrase(path: string): Promise<string | undefined> {
  if (!process.stdin.isTTY) return undefined;
  const { password } = await import('@inquirer/prompts');
  try {
    return await password({ message: `Passphrase for ${path}:`, mask: true });
  } catch {
    return undefined;
  }
}

/**
 * The SSH session of a command: host keys verified, a passphrase asked for when a key has one.
 * ssh2 is loaded here, not with this module: `osha validate` needs none of it.
 */
export async function commandSession(inv: Inventory, file: string, options: Omit<ConnectOptions, 'askPassphrase'> = {}, concurrency = DEFAULT_CONCURRENCY, readAheadFile?: string): Promise<SshSession> {
  const { SshSession } = await import('../ssh/session.ts');
  return new SshSession(targetsFor(inv, file), { ...options, askPassphrase }, concurrency, readAheadFile);
}
