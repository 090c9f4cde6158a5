// An SSH target: one node's address and the SSH settings that apply to it (node overrides
// merged over the inventory's defaults), with paths resolved and secrets still as references.
import type { Inventory, InventoryNode, SecretRef } from '../inventory/schema.ts';
import { inventoryPath } from '../util/paths.ts';

export interface SshTarget {
  /** The node's name, used in every message. */
  name: string;
  host: string;
  port: number;
  user: string;
  privateKey?: string;
  knownHosts: string;
  agent: boolean;
  /** none: log in as root; nopasswd: `sudo -n`; password: sudo with a password fed on stdin. */
  sudo: { mode: 'none' } | { mode: 'nopasswd' } | { mode: 'password'; password: SecretRef };
  connectTimeoutMs: number;
  commandTimeoutMs: number;
}

export const DEFAULT_KNOWN_HOSTS = '~/.ssh/known_hosts';

export function targetFor(inv: Inventory, node: InventoryNode, inventoryFile: string): SshTarget {
  const s = { ...inv.ssh, ...(node.ssh ?? {}) };
  const user = s.user ?? 'root';
  const sudo: SshTarget['sudo'] =
    s.sudo === true
      ? { mode: 'nopasswd' }
      : typeof s.sudo === 'object'
        ? { mode: 'password', password: s.sudo.password }
        : { mode: 'none' };
  return {
    name: node.name,
    host: node.address,
    port: s.port ?? 22,
    user,
    privateKey: s.private_key ? inventoryPath(s.private_key, inventoryFile) : undefined,
    knownHosts: inventoryPath(s.known_hosts ?? DEFAULT_KNOWN_HOSTS, inventoryFile),
    agent: s.agent ?? true,
    sudo,
    connectTimeoutMs: (s.connect_timeout ?? 10) * 1000,
    commandTimeoutMs: (s.command_timeout ?? 900) * 1000,
  };
}

export function targetsFor(inv: Inventory, inventoryFile: string): SshTarget[] {
  return inv.nodes.map((n) => targetFor(inv, n, inventoryFile));
}
