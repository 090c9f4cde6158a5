// `osha validate FILE`: checks an inventory without touching any node.
import { Command } from 'commander';
import { EXIT } from './exit.ts';

export function validateCommand(): Command {
  return new Command('validate')
    .description('check an inventory file and report every problem as FILE:LINE:COL field: message')
    .argument('<file>', 'inventory file (YAML)')
    .action(async (file: string) => {
      const { inventoryOrReport } = await import('./common.ts');
      const inv = await inventoryOrReport(file);
      if (!inv) return;
      console.log(`${file}: valid (cluster ${inv.cluster.name}, ${inv.nodes.length} nodes, VIP ${inv.vip.address}/${inv.vip.cidr_netmask})`);
      process.exitCode = EXIT.ok;
    });
}
