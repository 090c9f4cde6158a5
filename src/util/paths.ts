// Path helpers shared by the CLI and the SSH layer.
import { homedir } from 'node:os';
import { isAbsolute, join, resolve, dirname } from 'node:path';

/** Expands a leading `~/` the way a shell would. */
export function expandHome(p: string): string {
  if (p === '~') return homedir();
  if (p.startsWith('~/')) return join(homedir(), p.slice(2));
  return p;
}

/** Resolves a path from an inventory relative to the inventory file's folder. */
export function inventoryPath(p: string, inventoryFile: string): string {
  const expanded = expandHome(p);
  return isAbsolute(expanded) ? expanded : resolve(dirname(inventoryFile), expanded);
}
