// The Vagrant lab: `vagrant up` with vagrant/Vagrantfile, then the same inventory.yaml and
// known_hosts the systemd-nspawn lab writes, built from `vagrant ssh-config` and from host
// keys read inside each VM. The parsing and rendering are pure and tested on samples; the
// part that runs vagrant needs real VMs (see vagrant/README.md for what is not tested here).
import { spawn } from 'node:child_process';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseInventory, formatProblem } from '../inventory/load.ts';
import { checkPlanOptions, planLab, type LabPlan } from './plan.ts';
import { err, ok, oshaError, type Result } from '../util/result.ts';

/** One `Host` block of `vagrant ssh-config`. */
export interface VagrantSshHost {
  /** The machine name from the Vagrantfile (node1, node2, ...). */
  name: string;
  hostName: string;
  port: number;
  user: string;
  /** Every IdentityFile line, in order; Vagrant lists its generated key first. */
  identityFiles: string[];
}

/** Splits `Key value` / `Key "quoted value"` as ssh_config(5) writes them. */
function splitConfigLine(line: string): { key: string; value: string } | undefined {
  const m = line.trim().match(/^(\S+?)(?:\s*=\s*|\s+)(.*)$/);
  if (!m) return undefined;
  let value = (m[2] ?? '').trim();
  if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
  return { key: (m[1] ?? '').toLowerCase(), value };
}

/**
 * Parses `vagrant ssh-config` output. Lines before the first `Host` (warnings Vagrant prints
 * about plugins or new versions) are skipped; inside a block every host needs HostName, User
 * and at least one IdentityFile, or the lab could not log in.
 */
export function parseVagrantSshConfig(text: string): Result<VagrantSshHost[]> {
  const hosts: VagrantSshHost[] = [];
  let current: (Partial<VagrantSshHost> & { name: string; identityFiles: string[]; line: number }) | undefined;
  const problems: string[] = [];
  const close = () => {
    if (!current) return;
    const missing = [!current.hostName && 'HostName', !current.user && 'User', current.identityFiles.length === 0 && 'IdentityFile'].filter(Boolean);
    if (missing.length) problems.push(`line ${current.line}: Host ${current.name} has no ${missing.join(', ')}`);
    else hosts.push({ name: current.name, hostName: current.hostName!, port: current.port ?? 22, user: current.user!, identityFiles: current.identityFiles });
    current = undefined;
  };
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (!line || line.startsWith('#')) return;
    const kv = splitConfigLine(line);
    if (kv?.key === 'host') {
      close();
      if (!/^[a-z0-9][a-z0-9._-]*$/i.test(kv.value)) problems.push(`line ${i + 1}: "${kv.value}" is not a machine name`);
      else current = { name: kv.value, identityFiles: [], line: i + 1 };
      return;
    }
    if (!current || !kv) return;
    switch (kv.key) {
      case 'hostname':
        current.hostName = kv.value;
        break;
      case 'user':
        current.user = kv.value;
        break;
      case 'port': {
        const port = Number(kv.value);
        if (!Number.isInteger(port) || port < 1 || port > 65535) problems.push(`line ${i + 1}: Port "${kv.value}" is not a TCP port`);
        else current.port = port;
        break;
      }
      case 'identityfile':
        current.identityFiles.push(kv.value);
        break;
    }
  });
  close();
  if (problems.length) return err(oshaError(`cannot read vagrant ssh-config: ${problems.join('; ')}`, { fix: 'run `vagrant ssh-config` in the lab to see what Vagrant reports' }));
  if (hosts.length === 0) return err(oshaError('vagrant ssh-config listed no machines', { fix: 'are the VMs up? run `vagrant status` in the lab' }));
  return ok(hosts);
}

export interface HostKey {
  type: string;
  base64: string;
}

/** The public host keys in `cat /etc/ssh/ssh_host_*_key.pub` output (comments dropped). */
export function parseHostKeys(text: string): HostKey[] {
  const keys: HostKey[] = [];
  for (const line of text.split(/\r?\n/)) {
    const m = line.trim().match(/^((?:ssh|ecdsa|sk)-[a-z0-9@.-]+)\s+([A-Za-z0-9+/]+={0,2})(?:\s|$)/);
    if (m?.[1] && m[2]) keys.push({ type: m[1], base64: m[2] });
  }
  return keys;
}

/** The interface holding `address`, from `ip -o -4 addr show` output. */
export function nicFor(ipOutput: string, address: string): string | undefined {
  for (const line of ipOutput.split(/\r?\n/)) {
    const m = line.match(/^\d+:\s+(\S+?)(?:@\S+)?\s+inet\s+(\S+)\//);
    if (m?.[2] === address) return m[1];
  }
  return undefined;
}

/** What the lab learned from each VM. */
export interface VagrantNodeFacts {
  name: string;
  address: string;
  ssh: VagrantSshHost;
  hostKeys: HostKey[];
  nic?: string;
}

/** known_hosts lines for the nodes' lab addresses (port 22, where osha connects). */
export function renderVagrantKnownHosts(nodes: VagrantNodeFacts[]): string {
  return nodes.flatMap((n) => n.hostKeys.map((k) => `${n.address} ${k.type} ${k.base64}`)).join('\n') + '\n';
}

const str = (s: string) => JSON.stringify(s);

/**
 * The lab inventory, in the nspawn lab's shape (cluster osha-lab, root over SSH, nodes
 * node1..N, VIP .100/24, services []), so the rest of osha cannot tell the labs apart.
 * The one difference is forced by Vagrant: one generated key per VM, so each node names its
 * own private_key.
 */
export function renderVagrantInventory(plan: Pick<LabPlan, 'dir' | 'vip' | 'prefixLength' | 'files'>, nodes: VagrantNodeFacts[], generatedAt = new Date()): string {
  const keys = new Set(nodes.map((n) => n.ssh.identityFiles[0]));
  const shared = keys.size === 1 ? nodes[0]?.ssh.identityFiles[0] : undefined;
  const nics = new Set(nodes.map((n) => n.nic));
  const nic = nics.size === 1 ? nodes[0]?.nic : undefined;
  const lines = [
    `# Generated by \`osha lab up --provider vagrant\` at ${generatedAt.toISOString()}: ${nodes.length} Vagrant VMs.`,
    `# Host keys are pinned in ${plan.files.knownHosts}. Remove the lab with: vagrant destroy (see vagrant/README.md)`,
    'cluster:',
    '  name: osha-lab',
    'ssh:',
    '  user: root',
    ...(shared ? [`  private_key: ${str(shared)}`] : []),
    `  known_hosts: ${str(plan.files.knownHosts)}`,
    'nodes:',
    ...nodes.flatMap((n) => [
      `  - name: ${n.name}`,
      `    address: ${n.address}`,
      ...(shared ? [] : ['    ssh:', `      private_key: ${str(n.ssh.identityFiles[0]!)}`]),
    ]),
    'vip:',
    `  address: ${plan.vip}`,
    `  cidr_netmask: ${plan.prefixLength}`,
    ...(nic ? [`  nic: ${nic}`] : []),
    'services: []',
    '# The Vagrant lab has no fence device (no IPMI or hypervisor access from the VMs): a lab that',
    '# accepts split brain says so. Add a device per node (e.g. fence_virsh) for real fencing.',
    'stonith:',
    '  enabled: false',
    '  unsafe_no_fencing: true',
    '',
  ];
  return lines.join('\n');
}

/** Runs a program without a shell; resolves with its exit code and output. */
export type Runner = (argv: string[], env: NodeJS.ProcessEnv, onOutput?: (chunk: string) => void) => Promise<{ code: number; stdout: string; stderr: string }>;

export const runProcess: Runner = (argv, env, onOutput) =>
  new Promise((resolve) => {
    const [cmd, ...args] = argv;
    const child = spawn(cmd!, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      onOutput?.(d.toString());
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      onOutput?.(d.toString());
    });
    child.on('error', (e: NodeJS.ErrnoException) => resolve({ code: e.code === 'ENOENT' ? 127 : 1, stdout, stderr: stderr + e.message }));
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });

export interface VagrantLabOptions {
  nodes: number;
  dir: string;
  /** Third octet of 198.18.X.0/24, as for the nspawn lab (default 0). */
  subnet?: number;
  /** The vagrant program (default: `vagrant` from PATH). */
  vagrant?: string;
  /** Live output of `vagrant up`, which takes minutes. */
  onOutput?: (chunk: string) => void;
  run?: Runner;
}

export interface VagrantLab {
  dir: string;
  inventory: string;
  knownHosts: string;
  nodes: { name: string; address: string }[];
}

/** The folder holding the Vagrantfile, next to src/ in the repository. */
export const VAGRANT_DIR = fileURLToPath(new URL('../../vagrant/', import.meta.url));

// Read inside the VM over Vagrant's own channel (`vagrant ssh -c`): the VM's host keys as
// files, plus its addresses to name the VIP's interface. ssh-keyscan would instead trust
// whatever answers on the lab network at that address; `vagrant ssh` goes through the
// hypervisor's port forward (VirtualBox) or the management network libvirt made for this VM,
// and logs in with the key Vagrant generated for this very machine.
const FACTS_COMMAND = 'cat /etc/ssh/ssh_host_*_key.pub; ip -o -4 addr show';

export async function vagrantLabUp(opts: VagrantLabOptions): Promise<Result<VagrantLab>> {
  const bad = checkPlanOptions({ nodes: opts.nodes, subnet: opts.subnet });
  if (bad) return err(oshaError(bad));
  const plan = planLab({ dir: opts.dir, nodes: opts.nodes, subnet: opts.subnet });
  const run = opts.run ?? runProcess;
  const vagrant = opts.vagrant ?? 'vagrant';
  await mkdir(plan.dir, { recursive: true, mode: 0o700 });
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    VAGRANT_CWD: VAGRANT_DIR,
    // Vagrant's state (machine ids, generated keys) lives in the lab folder, not in the repo.
    VAGRANT_DOTFILE_PATH: join(plan.dir, '.vagrant'),
    OSHA_LAB_NODES: String(opts.nodes),
    OSHA_LAB_NET: `198.18.${plan.subnet}`,
  };

  const up = await run([vagrant, 'up'], env, opts.onOutput);
  if (up.code === 127) return err(oshaError('vagrant is not installed', { fix: 'apt-get install vagrant (plus vagrant-libvirt or VirtualBox)' }));
  if (up.code !== 0) return err(oshaError(`vagrant up failed (exit ${up.code}): ${lastLines(up.stderr || up.stdout)}`, { fix: 'read the output above; `vagrant destroy -f` cleans up a half-made lab' }));

  const config = await run([vagrant, 'ssh-config'], env);
  if (config.code !== 0) return err(oshaError(`vagrant ssh-config failed (exit ${config.code}): ${lastLines(config.stderr)}`));
  const hosts = parseVagrantSshConfig(config.stdout);
  if (!hosts.ok) return hosts;

  const facts: VagrantNodeFacts[] = [];
  for (const node of plan.nodes) {
    const ssh = hosts.value.find((h) => h.name === node.name);
    if (!ssh) return err(oshaError(`vagrant ssh-config has no machine ${node.name}`, { fix: 'the lab has fewer VMs than asked for; run `vagrant status`' }));
    const out = await run([vagrant, 'ssh', node.name, '-c', FACTS_COMMAND], env);
    if (out.code !== 0) return err(oshaError(`cannot read the host keys of ${node.name} (exit ${out.code}): ${lastLines(out.stderr)}`, { host: node.name }));
    const hostKeys = parseHostKeys(out.stdout);
    if (hostKeys.length === 0) return err(oshaError(`${node.name} has no SSH host keys in /etc/ssh`, { host: node.name }));
    const nic = nicFor(out.stdout, node.address);
    if (!nic) return err(oshaError(`${node.name} does not have the lab address ${node.address}`, { host: node.name, fix: 'check the private network in vagrant/Vagrantfile and that the provider created it' }));
    facts.push({ name: node.name, address: node.address, ssh, hostKeys, nic });
  }

  const inventory = renderVagrantInventory(plan, facts);
  const parsed = parseInventory(inventory, plan.files.inventory);
  if (!parsed.ok) return err(oshaError(`the lab inventory is invalid (a bug): ${parsed.error.map(formatProblem).join('; ')}`));
  await writeAtomic(plan.files.knownHosts, renderVagrantKnownHosts(facts), 0o600);
  await writeAtomic(plan.files.inventory, inventory, 0o644);
  return ok({ dir: plan.dir, inventory: plan.files.inventory, knownHosts: plan.files.knownHosts, nodes: facts.map((f) => ({ name: f.name, address: f.address })) });
}

async function writeAtomic(file: string, text: string, mode: number): Promise<void> {
  const tmp = `${file}.tmp`;
  await writeFile(tmp, text, { mode });
  await rename(tmp, file);
}

function lastLines(text: string, n = 3): string {
  return text.trim().split('\n').slice(-n).join(' / ') || '(no output)';
}
