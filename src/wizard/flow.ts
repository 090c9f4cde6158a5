// The questions `osha init` asks, in order. Every answer is checked at its prompt by the
// inventory schema (validators.ts), so a finished run always yields a valid inventory.
// Nothing is written here: the caller writes the file once every question is answered, so
// Ctrl-C (inquirer's ExitPromptError, left to propagate) leaves no trace.
import { stat } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { checkbox, confirm, input, number, password, select } from '@inquirer/prompts';
import { SERVICE_NAMES, WIZARD_DEFAULT_SERVICES, type ServiceName } from '../inventory/services.ts';
import { parseInventory, formatProblem } from '../inventory/load.ts';
import { checkHostKey, readKnownHosts, type KnownHostEntry } from '../ssh/known-hosts.ts';
import { expandHome } from '../util/paths.ts';
import { err, ok, describeError, oshaError, type Result } from '../util/result.ts';
import { homeRelative, inspectKeyFile, listSshKeys, passphraseOpens } from './keys.ts';
import { renderInventory, type SecretSource, type WizardAnswers, type WizardFenceDevice, type WizardNode, type WizardVip } from './render.ts';
import { fetchHostKey, tryLogin, type ProbeTarget } from './ssh-probe.ts';
import * as v from './validators.ts';

/** A host key the operator accepted during the SSH test; written to known_hosts with the inventory. */
export interface AcceptedHostKey {
  host: string;
  port: number;
  blob: Buffer;
}

export interface WizardResult {
  answers: WizardAnswers;
  text: string;
  /** Absolute path of the known_hosts file the inventory names. */
  knownHostsFile: string;
  acceptedKeys: AcceptedHostKey[];
}

export interface WizardEnv {
  home: string;
  /** Prints a line between prompts (the CLI decides where it goes). */
  say: (text: string) => void;
}

const trimmed = (check: (s: string) => v.Check) => (s: string) => check(s.trim());

export async function runWizard(env: WizardEnv): Promise<Result<WizardResult>> {
  const { say } = env;
  say('osha init writes an inventory for `osha deploy`. Defaults are in (parentheses): press Enter to take them.');
  say('Press Ctrl-C at any time to quit; nothing is written until the last question is answered.\n');

  const clusterName = (await input({ message: 'Cluster name', default: 'openstack-ha', validate: trimmed(v.checkClusterName) })).trim();
  const nodes = await askNodes();
  const ssh = await askSsh(env);
  const probe = await askSshTest(env, nodes, ssh);
  const vip = await askVip(nodes);
  const publicVip = await askPublicVip(nodes, vip);
  const services = await askServices();
  const stonith = await askStonith(env, nodes);
  const openstack = await askOpenstack(vip);

  const answers: WizardAnswers = { clusterName, nodes, ssh: ssh.settings, vip, publicVip, services, stonith, openstack };
  const text = renderInventory(answers);
  // The prompts already checked each answer; this is the same check `osha validate` runs.
  const parsed = parseInventory(text, 'the new inventory');
  if (!parsed.ok) return err(oshaError(`osha init built an invalid inventory (a bug): ${parsed.error.map(formatProblem).join('; ')}`));
  return ok({ answers, text, knownHostsFile: expandHome(ssh.settings.knownHosts), acceptedKeys: probe });
}

async function askNodes(): Promise<WizardNode[]> {
  const nodes: WizardNode[] = [];
  while (true) {
    const i = nodes.length + 1;
    let suggested = `controller${i}`;
    for (let k = i; nodes.some((n) => n.name === suggested); k++) suggested = `controller${k + 1}`;
    const name = (await input({ message: `Node ${i} name`, default: suggested, validate: trimmed((s) => v.checkNewNodeName(nodes, s)) })).trim();
    const prev = nodes.at(-1)?.address;
    const next = prev ? v.nextAddress(prev) : undefined;
    const address = (
      await input({ message: `Node ${i} (${name}) address`, default: next, validate: trimmed((s) => v.checkNewNodeAddress(nodes, name, s)) })
    ).trim();
    nodes.push({ name, address });
    if (nodes.length >= 2 && !(await confirm({ message: 'Add another node?', default: nodes.length < 3 }))) return nodes;
  }
}

interface SshAnswers {
  settings: WizardAnswers['ssh'];
  /** The chosen private key's text, used only for the SSH test and never written. */
  keyText?: string;
  passphrase?: string;
}

async function askSsh(env: WizardEnv): Promise<SshAnswers> {
  const user = (await input({ message: 'SSH user on the nodes', default: 'root', validate: trimmed(v.checkUser) })).trim();
  const port = await number({ message: 'SSH port', default: 22, required: true, validate: v.checkPort });
  const key = await askKey(env);
  const knownHosts = (
    await input({ message: 'known_hosts file that holds the nodes\' host keys', default: '~/.ssh/known_hosts', validate: trimmed(v.checkPath) })
  ).trim();
  const sudo = user === 'root' ? false : await askSudo(user);
  return {
    settings: { user, port: port ?? 22, privateKey: key.path, knownHosts, agent: true, sudo },
    keyText: key.text,
    passphrase: key.passphrase,
  };
}

const OTHER_KEY = '\u0000other';
const AGENT_ONLY = '\u0000agent';

async function askKey(env: WizardEnv): Promise<{ path?: string; text?: string; passphrase?: string }> {
  const found = await listSshKeys(join(env.home, '.ssh'));
  const choice = await select({
    message: 'SSH private key',
    choices: [
      ...found.map((p) => ({ name: homeRelative(p, env.home), value: p })),
      { name: 'another key file...', value: OTHER_KEY },
      { name: 'no key file: use ssh-agent only', value: AGENT_ONLY },
    ],
  });
  if (choice === AGENT_ONLY) return {};
  let path = choice;
  if (choice === OTHER_KEY) {
    path = (await input({ message: 'Path to the private key', validate: async (s) => keyFileCheck(s.trim()) })).trim();
  }
  const inspected = await inspectKeyFile(path);
  if (inspected.kind === 'bad') return { path: homeRelative(expandHome(path), env.home) };
  let passphrase: string | undefined;
  if (inspected.kind === 'encrypted') {
    // Needed only to test SSH now; held in memory, never written anywhere.
    passphrase = await password({
      message: 'Passphrase of that key (used only for the SSH test, never saved)',
      mask: '*',
      validate: (p) => passphraseOpens(inspected.text, p) || 'that passphrase does not open the key; try again',
    });
  }
  return { path: homeRelative(expandHome(path), env.home), text: inspected.text, passphrase };
}

async function keyFileCheck(path: string): Promise<v.Check> {
  const format = v.checkPath(path);
  if (format !== true) return format;
  const r = await inspectKeyFile(path);
  return r.kind === 'bad' ? r.reason : true;
}

async function askSudo(user: string): Promise<WizardAnswers['ssh']['sudo']> {
  const how = await select({
    message: `${user} is not root: how does osha become root?`,
    choices: [
      { name: 'passwordless sudo (sudo -n)', value: 'nopasswd' },
      { name: 'sudo with a password, read from an environment variable or a file', value: 'password' },
    ],
  });
  if (how === 'nopasswd') return true;
  return { password: await askSecretSource('the sudo password', 'SUDO_PASSWORD') };
}

/** Where a secret comes from: an environment variable or a file; never the secret itself. */
async function askSecretSource(what: string, defaultEnv: string): Promise<SecretSource> {
  const source = await select({
    message: `Where does osha read ${what} from? (it is never stored in the inventory)`,
    choices: [
      { name: 'an environment variable', value: 'env' },
      { name: 'a file (mode 0600)', value: 'file' },
    ],
  });
  if (source === 'env') {
    return { env: (await input({ message: 'Environment variable name', default: defaultEnv, validate: trimmed(v.checkEnvName) })).trim() };
  }
  return { file: (await input({ message: 'Path of the file holding it', validate: async (s) => secretFileCheck(s.trim()) })).trim() };
}

/** A secret file may be created later, but if it exists it must not be readable by others. */
async function secretFileCheck(path: string): Promise<v.Check> {
  const format = v.checkPath(path);
  if (format !== true) return format;
  try {
    const st = await stat(expandHome(path));
    if (!st.isFile()) return `${path} is not a file`;
    if ((st.mode & 0o077) !== 0) return `${path} is readable by other users (mode ${(st.mode & 0o777).toString(8)}); run chmod 600 ${path} first`;
  } catch {
    // Not there yet: fine, it only has to exist when osha deploy runs.
  }
  return true;
}

async function askSshTest(env: WizardEnv, nodes: WizardNode[], ssh: SshAnswers): Promise<AcceptedHostKey[]> {
  const accepted: AcceptedHostKey[] = [];
  if (!(await confirm({ message: 'Test SSH to each node now (and check its host key)?', default: true }))) return accepted;
  const file = expandHome(ssh.settings.knownHosts);
  let known: KnownHostEntry[] = [];
  try {
    known = await readKnownHosts(file);
  } catch (e) {
    env.say(`  cannot read ${file} (${(e as NodeJS.ErrnoException).code ?? 'error'}); every host key will be new`);
  }
  for (const node of nodes) {
    const target: ProbeTarget = {
      host: node.address,
      port: ssh.settings.port,
      user: ssh.settings.user,
      privateKey: ssh.keyText,
      passphrase: ssh.passphrase,
      agent: ssh.settings.agent,
      timeoutMs: 10_000,
    };
    const key = await probeNodeKey(env, node, target, known);
    if (!key) continue;
    if (key.isNew) accepted.push({ host: node.address, port: target.port, blob: key.blob });
    const login = await tryLogin(target, key.blob);
    env.say(login.ok ? `  ${node.name}: logged in as ${login.value.user}` : `  ${node.name}: ${describeError(login.error)}`);
  }
  return accepted;
}

/** Shows a node's host key and returns it when known or accepted; undefined otherwise. */
async function probeNodeKey(env: WizardEnv, node: WizardNode, target: ProbeTarget, known: KnownHostEntry[]): Promise<{ blob: Buffer; isNew: boolean } | undefined> {
  const presented = await fetchHostKey(target);
  if (!presented.ok) {
    env.say(`  ${node.name}: ${describeError(presented.error)}`);
    return undefined;
  }
  const k = presented.value;
  const verdict = checkHostKey(known, target.host, target.port, k.blob);
  if (verdict.kind === 'match') {
    env.say(`  ${node.name}: host key ${k.keyType} ${k.fingerprint} is already in known_hosts`);
    return { blob: k.blob, isNew: false };
  }
  if (verdict.kind === 'revoked' || verdict.kind === 'mismatch') {
    const expected = verdict.kind === 'mismatch' ? ` (known_hosts has ${verdict.expected.map((e) => `${e.keyType} ${e.fingerprint}`).join(', ')})` : '';
    env.say(`  WARNING ${node.name}: presents ${k.keyType} ${k.fingerprint}, which known_hosts ${verdict.kind === 'revoked' ? 'marks as revoked' : 'does not list'}${expected}.`);
    env.say('  The key is NOT accepted. If the node was reinstalled, remove its old line from known_hosts (ssh-keygen -R) and run osha init again.');
    return undefined;
  }
  env.say(`  ${node.name} (${target.host}) presents host key ${k.keyType} ${k.fingerprint}`);
  env.say('  Compare it with `ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub` run on the node\'s console.');
  const yes = await confirm({ message: `Accept this host key for ${node.name}?`, default: false });
  if (!yes) env.say(`  not accepted: osha deploy will refuse ${node.name} until its key is in known_hosts`);
  return yes ? { blob: k.blob, isNew: true } : undefined;
}

async function askVip(nodes: WizardNode[]): Promise<WizardVip> {
  const first = nodes[0]!.address;
  const v4 = isIP(first) === 4;
  const prefix =
    (await number({
      message: `Prefix length of the nodes' network (${v4 ? '24 means 255.255.255.0' : 'usually 64'})`,
      default: v4 ? 24 : 64,
      required: true,
      validate: (p) => {
        const format = v.checkPrefix(p);
        if (format !== true || p === undefined) return format;
        return v.checkDraftAt({ nodes, vip: { address: first, cidr_netmask: p } }, ['vip', 'cidr_netmask']);
      },
    })) ?? 24;
  const address = (
    await input({
      message: 'VIP address (a free address in the nodes\' subnet)',
      default: v.suggestVip(nodes, prefix),
      validate: trimmed((s) => v.checkVip(nodes, s, prefix)),
    })
  ).trim();
  const nic = await askNic('the VIP');
  return nic ? { address, cidr_netmask: prefix, nic } : { address, cidr_netmask: prefix };
}

async function askNic(what: string): Promise<string | undefined> {
  const nic = (
    await input({ message: `Network interface for ${what} (leave empty: IPaddr2 finds it by subnet)`, default: '', validate: trimmed(v.checkNic) })
  ).trim();
  return nic || undefined;
}

async function askPublicVip(nodes: WizardNode[], vip: WizardVip): Promise<WizardVip | undefined> {
  if (!(await confirm({ message: 'Add a public VIP on another network?', default: false }))) return undefined;
  const address = (
    await input({ message: 'Public VIP address', validate: trimmed((s) => v.checkPublicVip({ nodes, vip }, s, isIP(s) === 6 ? 64 : 24)) })
  ).trim();
  const prefix =
    (await number({
      message: 'Prefix length of the public network',
      default: isIP(address) === 6 ? 64 : 24,
      required: true,
      validate: (p) => (p === undefined ? v.checkPrefix(p) : v.checkPublicVip({ nodes, vip }, address, p)),
    })) ?? 24;
  const nic = await askNic('the public VIP');
  return nic ? { address, cidr_netmask: prefix, nic } : { address, cidr_netmask: prefix };
}

async function askServices(): Promise<ServiceName[]> {
  return checkbox<ServiceName>({
    message: 'OpenStack services to make highly available (the articles\' set, with the services it needs, is pre-selected; space toggles, enter confirms)',
    pageSize: SERVICE_NAMES.length,
    choices: SERVICE_NAMES.map((s) => ({ name: s, value: s, checked: WIZARD_DEFAULT_SERVICES.includes(s) })),
    validate: (chosen) => (chosen.length === 0 ? 'choose at least one service (space toggles)' : v.checkDraftAt({ services: chosen.map((c) => c.value) }, ['services'])),
  });
}

const FENCING_EXPLAINED = [
  'Fencing (STONITH) powers off a node that stops answering before its services move elsewhere.',
  'Without it, a node that hangs instead of dying can keep the VIP, or keep writing to MySQL,',
  'while another node takes over: two masters, split brain, damaged data.',
];

async function askStonith(env: WizardEnv, nodes: WizardNode[]): Promise<WizardAnswers['stonith']> {
  FENCING_EXPLAINED.forEach((l) => env.say(l));
  while (true) {
    const choice = await select({
      message: 'Fencing',
      choices: [
        { name: 'configure a fence device (IPMI, Redfish...) for each node', value: 'devices' },
        { name: 'run without fencing (labs and tests only)', value: 'none' },
      ],
    });
    if (choice === 'devices') return { enabled: true, devices: await askFenceDevices(nodes) };
    const sure = await confirm({
      message: 'Run WITHOUT fencing? Pacemaker will then trust that a silent node is down, which is only safe in a lab',
      default: false,
    });
    if (sure) return { enabled: false };
  }
}

async function askFenceDevices(nodes: WizardNode[]): Promise<WizardFenceDevice[]> {
  const agent = (await input({ message: 'Fence agent', default: 'fence_ipmilan', validate: trimmed(v.checkFenceAgent) })).trim();
  const username = (
    await input({ message: 'Management controller (BMC) user name', default: 'admin', validate: trimmed((s) => (s ? deviceParamCheck(nodes, agent, { username: s }) : 'must not be empty')) })
  ).trim();
  const secret = await askSecretSource('the BMC password', 'IPMI_PASSWORD');
  const devices: WizardFenceDevice[] = [];
  for (const node of nodes) {
    const ip = (await input({ message: `BMC address of ${node.name}`, validate: trimmed(v.checkAddressFormat) })).trim();
    const params: WizardFenceDevice['params'] = { ip, username };
    if (agent === 'fence_ipmilan') params.lanplus = 1;
    devices.push({ name: `fence-${node.name}`, agent, node: node.name, params, password: secret });
  }
  return devices;
}

/** A fence parameter value, checked by the schema's rule for device params. */
function deviceParamCheck(nodes: WizardNode[], agent: string, params: Record<string, string>): v.Check {
  const device = { name: 'fence-check', agent, node: nodes[0]!.name, params };
  return v.checkDraftAt({ nodes, stonith: { enabled: true, devices: [device] } }, ['stonith', 'devices', 0, 'params']);
}

async function askOpenstack(vip: WizardVip): Promise<WizardAnswers['openstack']> {
  const host = isIP(vip.address) === 6 ? `[${vip.address}]` : vip.address;
  const checkOs = (field: string) => (s: string) => v.checkDraftAt({ openstack: { [field]: s } }, ['openstack', field]);
  const auth_url = (await input({ message: 'Keystone URL for health checks', default: `http://${host}:5000/v3`, validate: trimmed(checkOs('auth_url')) })).trim();
  const username = (await input({ message: 'OpenStack user for health checks', default: 'admin', validate: trimmed(checkOs('username')) })).trim();
  const project = (await input({ message: 'Its project', default: 'admin', validate: trimmed(checkOs('project')) })).trim();
  const use = await select({
    message: 'Its password (for deep health checks)',
    choices: [
      { name: 'read it from an environment variable or a file', value: 'ref' },
      { name: 'no password: skip deep (token) health checks', value: 'none' },
    ],
  });
  const password = use === 'ref' ? await askSecretSource('the OpenStack password', 'OS_PASSWORD') : undefined;
  return password ? { auth_url, username, project, password } : { auth_url, username, project };
}
