// `osha export --address ADDR [ssh options] [--out FILE]`: reads the cluster a node belongs to
// (corosync's cmap and the CIB, over one SSH connection, changing nothing) and writes it as an
// inventory (src/cluster/export.ts) that `osha validate` accepts and `osha plan` can start from.
import { Command, Option } from 'commander';
import { isIP } from 'node:net';
import { resolve } from 'node:path';
import { DEFAULT_KNOWN_HOSTS, type SshTarget } from '../ssh/target.ts';
import { expandHome } from '../util/paths.ts';
import { writeWhole } from '../util/write-file.ts';
import { describeError } from '../util/result.ts';
import { EXIT } from './exit.ts';

interface ExportFlags {
  address: string;
  user: string;
  port: string;
  privateKey?: string;
  knownHosts: string;
  acceptNewHostKeys?: boolean;
  sudo?: boolean;
  out?: string;
  force?: boolean;
}

const absolute = (p: string): string => (p.startsWith('~') ? p : resolve(p));

export async function exportCli(flags: ExportFlags): Promise<number> {
  const port = Number(flags.port);
  if (isIP(flags.address) === 0 || !Number.isInteger(port) || port < 1 || port > 65535) {
    console.error('osha export: --address takes the IP address of one cluster node, --port a TCP port');
    return EXIT.usage;
  }
  // Loaded now, not with this module: `osha --help` starts without ssh2 and the model.
  const [{ HostConnection }, { parseCmap }, { inventoryFromCluster }, { askPassphrase }] = await Promise.all([
    import('../ssh/connection.ts'),
    import('../facts/cmap.ts'),
    import('../cluster/export.ts'),
    import('./common.ts'),
  ]);
  const target: SshTarget = {
    name: flags.address,
    host: flags.address,
    port,
    user: flags.user,
    privateKey: flags.privateKey ? expandHome(flags.privateKey) : undefined,
    knownHosts: expandHome(flags.knownHosts),
    agent: true,
    sudo: flags.sudo ? { mode: 'nopasswd' } : { mode: 'none' },
    connectTimeoutMs: 10_000,
    commandTimeoutMs: 120_000,
  };
  const c = await HostConnection.open(target, { acceptNewHostKeys: Boolean(flags.acceptNewHostKeys), askPassphrase, readOnly: () => 'exporting' });
  if (!c.ok) {
    console.error(`osha export: ${describeError(c.error)}`);
    return EXIT.failed;
  }
  try {
    const cmap = await c.value.run('corosync-cmapctl totem. nodelist. quorum.');
    if (!cmap.ok) {
      console.error(`osha export: ${describeError(cmap.error)} (is corosync running on ${flags.address}?)`);
      return EXIT.failed;
    }
    const cib = await c.value.run('cibadmin --query', { timeoutMs: 60_000 });
    if (!cib.ok) {
      console.error(`osha export: ${describeError(cib.error)} (is Pacemaker running on ${flags.address}?)`);
      return EXIT.failed;
    }
    const ssh = {
      user: flags.user,
      ...(port !== 22 ? { port } : {}),
      // Paths as the operator gave them would be read relative to the inventory: make them absolute.
      ...(flags.privateKey ? { private_key: absolute(flags.privateKey) } : {}),
      ...(flags.knownHosts !== DEFAULT_KNOWN_HOSTS ? { known_hosts: absolute(flags.knownHosts) } : {}),
      ...(flags.sudo ? { sudo: true } : {}),
    };
    const inv = inventoryFromCluster({ cmap: parseCmap(cmap.value.stdout), cib: cib.value.stdout, from: flags.address, ssh });
    if (!inv.ok) {
      console.error(`osha export: ${describeError(inv.error)}`);
      return EXIT.failed;
    }
    if (!flags.out) {
      process.stdout.write(inv.value.text);
    } else {
      try {
        await writeWhole(flags.out, inv.value.text, { overwrite: Boolean(flags.force) });
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        console.error(code === 'EEXIST' ? `osha export: ${flags.out} exists; pass --force to replace it` : `osha export: cannot write ${flags.out}: ${code ?? String(e)}`);
        return EXIT.usage;
      }
      console.error(`osha export: wrote ${flags.out}${inv.value.unrecognised.length ? ` (${inv.value.unrecognised.length} object(s) osha does not recognise are listed at its end and left alone)` : ''}; next: osha validate ${flags.out} && osha plan ${flags.out}`);
    }
    return EXIT.ok;
  } finally {
    c.value.close();
  }
}

export function exportCommand(): Command {
  return new Command('export')
    .description('read a running cluster from one of its nodes (changing nothing) and write it as an inventory')
    .requiredOption('--address <ip>', 'address of one cluster node')
    .addOption(new Option('--user <name>', 'SSH user').default('root'))
    .addOption(new Option('--port <n>', 'SSH port').default('22'))
    .option('--private-key <path>', 'SSH private key')
    .addOption(new Option('--known-hosts <path>', 'known_hosts file holding the node\'s host key').default(DEFAULT_KNOWN_HOSTS))
    .option('--accept-new-host-keys', 'trust and record the node\'s host key if known_hosts lacks it')
    .option('--sudo', 'run the read commands through sudo -n')
    .option('-o, --out <file>', 'write the inventory here (default: standard output)')
    .option('--force', 'replace --out if it exists')
    .action(async (flags: ExportFlags) => {
      process.exitCode = await exportCli(flags);
    });
}
