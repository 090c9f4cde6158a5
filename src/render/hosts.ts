// The managed block of /etc/hosts: one marked block listing every node, replaced in place on
// re-runs; every line outside the block stays as it was.
import type { Inventory } from '../inventory/schema.ts';

export const HOSTS_BEGIN = '# BEGIN osha managed block';
export const HOSTS_END = '# END osha managed block';

export function renderHostsBlock(inv: Inventory): string {
  const width = Math.max(...inv.nodes.map((n) => n.address.length));
  const lines = inv.nodes.map((n) => `${n.address.padEnd(width)} ${n.name}`);
  return [`${HOSTS_BEGIN} (cluster ${inv.cluster.name}; edits inside are replaced)`, ...lines, HOSTS_END].join('\n') + '\n';
}

/** /etc/hosts with the block put in place: replacing an existing block, or appended. */
export function withHostsBlock(current: string, block: string): string {
  const lines = current.split('\n');
  const begin = lines.findIndex((l) => l.startsWith(HOSTS_BEGIN));
  const end = lines.findIndex((l, i) => i > begin && l.startsWith(HOSTS_END));
  if (begin >= 0 && end > begin) {
    const before = lines.slice(0, begin).join('\n');
    const after = lines.slice(end + 1).join('\n');
    return `${before}${begin > 0 ? '\n' : ''}${block}${after}`;
  }
  const sep = current === '' || current.endsWith('\n') ? '' : '\n';
  return `${current}${sep}${block}`;
}
