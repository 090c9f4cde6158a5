// `osha validate FILE`: checks an inventory without touching any node.
import { Command } from 'commander';
import { loadInventory, formatProblem } from '../inventory/load.ts';
import { EXIT } from './exit.ts';

export function validateCommand(): Command {
  return new Command('validate')
    .description('check an inventory file and report every problem as FILE:LINE:COL field: message')
    .argument('<file>', 'inventory file (YAML)')
    .action(async (file: string) => {
      const result = await loadInventory(file);
      if (result.ok) {
        const inv = result.value;
        console.log(`${file}: valid (cluster ${inv.cluster.name}, ${inv.nodes.length} nodes, VIP ${inv.vip.address}/${inv.vip.cidr_netmask})`);
        process.exitCode = EXIT.ok;
        return;
      }
      for (const p of result.error) console.error(formatProblem(p));
      console.error(`${file}: ${result.error.length} problem${result.error.length === 1 ? '' : 's'}; nothing was changed on any node`);
      process.exitCode = EXIT.usage;
    });
}
