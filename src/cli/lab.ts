// `osha lab`: a local lab of Debian nodes (systemd-nspawn containers) to deploy onto and to break.
// All work happens in src/lab/; this file parses options and prints results.
// The lab's modules are imported by each action when it runs: `osha --help` starts without them.
import { Command, InvalidArgumentError } from 'commander';
import { DEFAULT_DIR, DEFAULT_NODES, MAX_NODES, MIN_NODES, SHARED_MOUNT } from '../lab/plan.ts';
import type { LabError } from '../lab/index.ts';
import { describeError, type Result } from '../util/result.ts';
import type { ControllersInfo } from '../lab/openstack.ts';
import type { Topology } from '../inventory/schema.ts';
import type { Release } from '../lab/image-recipe.ts';
import { resolve } from 'node:path';
import { EXIT } from './exit.ts';

type Lab = typeof import('../lab/index.ts');

interface DirOption {
  dir: string;
}

function intOption(name: string) {
  return (value: string): number => {
    if (!/^\d+$/.test(value)) throw new InvalidArgumentError(`${name} must be a whole number`);
    return Number(value);
  };
}

/** Prints a lab error as one line (plus its fix) and sets exit code 2 for bad input/environment, else 1. */
function fail(error: LabError): void {
  console.error(`osha lab: ${describeError(error)}`);
  process.exitCode = error.usage ? EXIT.usage : EXIT.failed;
}

function report<T>(result: Result<T, LabError>, onOk: (value: T) => void): void {
  if (!result.ok) return fail(result.error);
  onOk(result.value);
  process.exitCode = EXIT.ok;
}

function upCommand(): Command {
  return new Command('up')
    .description("build the node image if needed, boot the nodes, start the fence server and the nodes' apt proxy, wait for their sshd, write DIR/inventory.yaml")
    .option('-n, --nodes <n>', `number of nodes, ${MIN_NODES} to ${MAX_NODES}`, intOption('--nodes'), DEFAULT_NODES)
    .option('-d, --dir <dir>', 'lab directory (state, keys, inventory, node disks)', DEFAULT_DIR)
    .option('--shared <path>', `host directory mounted at ${SHARED_MOUNT} in every node (stands in for shared storage)`)
    .option('--subnet <x>', 'use 198.18.X.0/24; a second lab on this host needs its own X', intOption('--subnet'), 0)
    .option('-v, --verbose', 'show the image build output')
    .option('--provider <name>', 'nspawn (containers on this machine) or vagrant (VMs from vagrant/Vagrantfile)', 'nspawn')
    .option('--no-fencing', 'nspawn only: no fence device, the inventory turns stonith off (unsafe_no_fencing); by default every node gets fence_nspawn and the lab runs a fence server')
    .option('--openstack', `nspawn only: make the nodes OpenStack controllers before HA (as \`osha lab controllers\` does; shared storage in DIR/shared unless --shared); the inventory lists their services`)
    .option('--topology <layout>', TOPOLOGY_HELP)
    .option('--release <name>', 'nspawn only: the nodes\' Debian release, bookworm (Debian 12, the default) or trixie (Debian 13); one cached image per release')
    .action(async (opts: DirOption & { nodes: number; shared?: string; subnet: number; verbose?: boolean; provider: string; fencing: boolean; openstack?: boolean; topology?: string; release?: string }) => {
      const topology = await topologyOption(opts.topology);
      if (topology === false) return;
      const release = await releaseOption(opts.release);
      if (release === false) return;
      if (opts.provider === 'vagrant') {
        const { vagrantLabUp } = await import('../lab/vagrant.ts');
        const v = await vagrantLabUp({ nodes: opts.nodes, dir: opts.dir, subnet: opts.subnet, onOutput: (chunk) => process.stderr.write(chunk) });
        if (!v.ok) {
          console.error(`osha lab: ${v.error.message}${v.error.fix ? `\n  fix: ${v.error.fix}` : ''}`);
          process.exitCode = EXIT.failed;
          return;
        }
        console.log(`vagrant lab up in ${v.value.dir}: ${v.value.nodes.map((n) => `${n.name} ${n.address}`).join(', ')}`);
        console.log(`inventory: ${v.value.inventory}\n  deploy:  osha deploy ${v.value.inventory}`);
        return;
      }
      if (opts.provider !== 'nspawn') {
        console.error(`osha lab: unknown provider "${opts.provider}"; use nspawn or vagrant`);
        process.exitCode = EXIT.usage;
        return;
      }
      const { labUp } = await import('../lab/index.ts');
      let told = false;
      const log = (line: string) => {
        if (!told) console.error('osha lab: building the node image (debootstrap + offline packages, about two minutes; cached afterwards)...');
        told = true;
        if (opts.verbose) console.error(`  ${line}`);
      };
      // Ctrl-C during `up` removes the half-made lab instead of leaving it running.
      const abort = new AbortController();
      const onSignal = () => {
        console.error('osha lab: interrupted; removing the half-made lab...');
        abort.abort();
      };
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      const r = await labUp({ dir: opts.dir, nodes: opts.nodes, shared: opts.shared, subnet: opts.subnet, fencing: opts.fencing, openstack: opts.openstack, topology, release, log: opts.openstack ? progress(log) : log, signal: abort.signal });
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      if (!r.ok && r.error.interrupted) {
        console.error(`osha lab: ${r.error.message}`);
        process.exitCode = EXIT.interrupted;
        return;
      }
      report(r, (lab) => {
        const image = lab.image.built ? `built in ${lab.image.buildSeconds.toFixed(0)} s` : 'cached';
        console.log(`lab up in ${lab.dir}: ${lab.nodes.length} Debian ${lab.release} nodes answer on ssh after ${lab.bootSeconds.toFixed(1)} s (image ${lab.image.hash}, ${image})`);
        for (const n of lab.nodes) console.log(`  ${n.name.padEnd(7)} ${n.address}`);
        console.log(`  vip     ${lab.vip} (free; nic ${lab.nodes[0]?.iface})`);
        if (lab.fence) console.log(`  fence   ${lab.fence.address}:${lab.fence.port} (fence_nspawn in every node; requests logged in ${lab.fence.log})`);
        else console.log('  fence   none (--no-fencing): the inventory runs the cluster without fencing');
        console.log(`  apt     ${lab.aptProxy.address}:${lab.aptProxy.port} (the nodes' apt proxy: Debian from the image snapshots; requests logged in ${lab.aptProxy.log})`);
        if (lab.controllers) printControllers(lab.controllers);
        console.log(`inventory: ${lab.inventory}`);
        console.log(`  deploy:  osha deploy ${lab.inventory}`);
        console.log(`  ssh:     ssh -i ${lab.privateKey} -o UserKnownHostsFile=${lab.knownHosts} root@${lab.nodes[0]?.address}`);
        console.log(`  remove:  osha lab down --dir ${lab.dir}`);
      });
    });
}

/** Bootstrap lines go to stderr as they happen; image build lines stay behind --verbose. */
function progress(imageLog: (line: string) => void): (line: string) => void {
  return (line) => (line.startsWith('controllers: ') ? console.error(`osha lab: ${line.slice('controllers: '.length)}`) : imageLog(line));
}

function printControllers(c: ControllersInfo): void {
  console.log(`  openstack ${c.bootstrapped ? 'bootstrapped' : 'already bootstrapped'}: ${c.primary} runs MariaDB, RabbitMQ, keystone and glance-api under systemd (the others are configured standbys)`);
  console.log(`            admin password in ${c.passwordFile}, every secret in ${c.secretsFile} (both 0600)`);
}

const TOPOLOGY_HELP = "with --openstack: classic (MariaDB's data on the shared storage, the default) or active-active (node1's data in its own /var/lib/mysql, no shared storage; the inventory says topology: active-active)";

/** An option's value, checked against its choices; false (and exit 2) when it names none of them. */
function choice<T extends string>(what: string, value: string | undefined, choices: readonly T[]): T | undefined | false {
  if (value === undefined) return undefined;
  const found = choices.find((c) => c === value);
  if (found) return found;
  console.error(`osha lab: unknown ${what} "${value}"; use one of: ${choices.join(', ')}`);
  process.exitCode = EXIT.usage;
  return false;
}

async function topologyOption(value: string | undefined): Promise<Topology | undefined | false> {
  return choice('topology', value, (await import('../inventory/schema.ts')).TOPOLOGIES);
}

async function releaseOption(value: string | undefined): Promise<Release | undefined | false> {
  return choice('release', value, (await import('../lab/image-recipe.ts')).RELEASES);
}

function controllersCommand(): Command {
  return new Command('controllers')
    .description("make a lab's nodes OpenStack controllers before HA: MariaDB (data on the shared storage), RabbitMQ, keystone and glance-api configured on every node with its own address, bootstrapped and run by node1; writes the services into DIR/inventory.yaml (once; a re-run changes nothing)")
    .option('-d, --dir <dir>', 'lab directory', DEFAULT_DIR)
    .option('--topology <layout>', TOPOLOGY_HELP)
    .action(async (opts: DirOption & { topology?: string }) => {
      const topology = await topologyOption(opts.topology);
      if (topology === false) return;
      const { labControllers } = await import('../lab/openstack.ts');
      report(await labControllers(resolve(opts.dir), { log: progress(() => undefined), topology }), (c) => {
        printControllers(c);
        console.log(`  deploy:   osha deploy ${resolve(opts.dir, 'inventory.yaml')}`);
      });
    });
}

/**
 * Hidden: a lab daemon (the fence server, the apt proxy), started detached by `up` and stopped by
 * `down`; it runs until SIGTERM.
 */
function daemonCommand(name: string, what: string, runDaemon: (dir: string) => Promise<void>): Command {
  return new Command(name)
    .description(`run ${what} (started by \`osha lab up\`; not for direct use)`)
    .option('-d, --dir <dir>', 'lab directory', DEFAULT_DIR)
    .action(async (opts: DirOption) => {
      try {
        await runDaemon(resolve(opts.dir));
      } catch (e) {
        console.error(`osha lab ${name}: ${(e as Error).message}`);
        process.exit(EXIT.failed);
      }
    });
}

function downCommand(): Command {
  return new Command('down')
    .description('remove every container, mount, namespace, veth, bridge and cgroup of the lab, the shared directory it made (--openstack), and stop its fence server and apt proxy (safe to run twice)')
    .option('-d, --dir <dir>', 'lab directory', DEFAULT_DIR)
    .action(async (opts: DirOption) => {
      const { labDown } = await import('../lab/index.ts');
      report(await labDown(opts.dir), (r) => console.log(r.removed ? `lab in ${r.dir} removed` : `no lab in ${r.dir}; nothing to remove`));
    });
}

function statusCommand(): Command {
  return new Command('status')
    .description('list the nodes of the lab and their state, the fence server and the apt proxy')
    .option('-d, --dir <dir>', 'lab directory', DEFAULT_DIR)
    .option('--json', 'print machine-readable JSON')
    .action(async (opts: DirOption & { json?: boolean }) => {
      const { labStatus } = await import('../lab/index.ts');
      report(await labStatus(opts.dir), (s) => {
        if (opts.json) return console.log(JSON.stringify(s, null, 2));
        console.log(`lab in ${s.dir} (Debian ${s.release}, bridge ${s.bridge}, vip ${s.vip})${s.ready ? '' : ' - not ready: `up` did not finish'}`);
        if (s.fence) console.log(`fence server ${s.fence.address}:${s.fence.port}: ${s.fence.running ? `running (PID ${s.fence.pid})` : 'NOT running (fencing fails; recreate the lab)'}`);
        if (s.aptProxy) console.log(`apt proxy ${s.aptProxy.address}:${s.aptProxy.port}: ${s.aptProxy.running ? `running (PID ${s.aptProxy.pid}; log ${s.aptProxy.log})` : "NOT running (apt in the nodes reaches no mirror; recreate the lab)"}`);
        console.log('NODE     ADDRESS        STATE     LINK         SSHD  PID');
        for (const n of s.nodes) {
          const link = n.partitioned ? 'partitioned' : n.state === 'running' ? 'up' : '-';
          const pid = n.nspawnPid ? String(n.nspawnPid) : '-';
          console.log(`${n.name.padEnd(8)} ${n.address.padEnd(14)} ${n.state.padEnd(9)} ${link.padEnd(12)} ${(n.sshd ? 'yes' : 'no').padEnd(5)} ${pid}`);
        }
      });
    });
}

/** A subcommand that acts on one node and prints what happened. */
function nodeCommand(name: string, description: string, act: (lab: Lab, dir: string, node: string) => Promise<Result<void, LabError>>, done: string): Command {
  return new Command(name)
    .description(description)
    .argument('<node>', 'node name, e.g. node1')
    .option('-d, --dir <dir>', 'lab directory', DEFAULT_DIR)
    .action(async (node: string, opts: DirOption) => {
      report(await act(await import('../lab/index.ts'), opts.dir, node), () => console.log(`${node}: ${done}`));
    });
}

export function labCommand(): Command {
  return new Command('lab')
    .description('local lab: Debian bookworm or trixie nodes as systemd-nspawn containers on this machine (Linux, root)')
    .addCommand(upCommand())
    .addCommand(downCommand())
    .addCommand(statusCommand())
    .addCommand(controllersCommand())
    .addCommand(nodeCommand('kill', 'power cut: kill the node and delete its network namespace (its VIPs vanish)', (lab, d, n) => lab.labKill(d, n), 'killed (powered off)'))
    .addCommand(nodeCommand('start', 'boot a killed node again and wait for its sshd', (lab, d, n) => lab.labStart(d, n), 'started, sshd answers'))
    .addCommand(nodeCommand('partition', "cut the node's link: it runs on but nobody reaches it", (lab, d, n) => lab.labPartition(d, n), 'partitioned (link down)'))
    .addCommand(nodeCommand('heal', "restore the node's link after a partition", (lab, d, n) => lab.labHeal(d, n), 'healed (link up)'))
    .addCommand(nodeCommand('reboot', 'reboot the node (orderly, like Ctrl-Alt-Del) and wait for its sshd', (lab, d, n) => lab.labReboot(d, n), 'rebooted, sshd answers'))
    .addCommand(daemonCommand('fence-server', 'the fence server of the lab', async (dir) => (await import('../lab/fence-server.ts')).runFenceServer(dir)), { hidden: true })
    .addCommand(daemonCommand('apt-proxy', "the apt proxy of the lab's nodes", async (dir) => (await import('../lab/apt-proxy.ts')).runAptProxy(dir)), { hidden: true });
}
