// Turns the wizard's answers into inventory YAML with comments that explain each section,
// so the file stays readable when the operator edits it by hand later. The yaml library does
// the quoting; nothing here builds YAML text by concatenation.
import { Document, isMap, isScalar, type Pair, type YAMLMap } from 'yaml';
import type { ServiceName } from '../inventory/services.ts';

export type SecretSource = { env: string } | { file: string };

export interface WizardNode {
  name: string;
  address: string;
}

export interface WizardVip {
  address: string;
  cidr_netmask: number;
  nic?: string;
}

export interface WizardFenceDevice {
  name: string;
  agent: string;
  node: string;
  params: Record<string, string | number | boolean>;
  password?: SecretSource;
}

export interface WizardAnswers {
  clusterName: string;
  nodes: WizardNode[];
  ssh: {
    user: string;
    port: number;
    privateKey?: string;
    knownHosts: string;
    agent: boolean;
    /** false: log in as root; true: `sudo -n`; {password}: sudo password from a secret source. */
    sudo: boolean | { password: SecretSource };
  };
  vip: WizardVip;
  publicVip?: WizardVip;
  services: ServiceName[];
  /** Fencing devices, or an explicit decision to run without fencing. */
  stonith: { enabled: true; devices: WizardFenceDevice[] } | { enabled: false };
  openstack: { auth_url: string; username: string; project: string; password?: SecretSource };
}

const HEADER = [
  ' osha inventory written by `osha init`.',
  ' Check it with `osha validate FILE`; deploy with `osha deploy FILE`.',
  ' Secrets are never stored here: they are read from the environment variable or file named.',
];

const SECTION_COMMENTS: Record<string, string> = {
  cluster: ' The corosync cluster name.',
  ssh: ' How osha logs in to every node (a node may override these under nodes[].ssh).',
  nodes: ' The controllers. Their addresses are also the corosync ring addresses.',
  vip: ' The virtual IP clients use; Pacemaker moves it to a healthy node.',
  public_vip: ' A second VIP on the public network.',
  services: ' The OpenStack services Pacemaker keeps running on the VIP.',
  stonith: '',
  openstack: ' Credentials for deep health checks (keystone token). Only a reference to the secret.',
};

const FENCING_ON = ' Fencing: Pacemaker powers off a node that stops answering before it moves its services.';
const FENCING_OFF = [
  ' Fencing is OFF by an explicit choice made in `osha init`.',
  ' Without fencing, a node that hangs (rather than dies) may keep the VIP or keep writing to',
  ' MySQL while another node takes over: split brain. Fine for a lab; add fence devices',
  ' (e.g. fence_ipmilan) and set enabled: true before production.',
].join('\n');

/** The inventory as plain data, in the schema's input shape. */
export function inventoryData(a: WizardAnswers): Record<string, unknown> {
  const ssh: Record<string, unknown> = { user: a.ssh.user, port: a.ssh.port };
  if (a.ssh.privateKey) ssh.private_key = a.ssh.privateKey;
  ssh.known_hosts = a.ssh.knownHosts;
  ssh.agent = a.ssh.agent;
  ssh.sudo = a.ssh.sudo;
  const data: Record<string, unknown> = {
    cluster: { name: a.clusterName },
    ssh,
    nodes: a.nodes.map((n) => ({ name: n.name, address: n.address })),
    vip: vipData(a.vip),
  };
  if (a.publicVip) data.public_vip = vipData(a.publicVip);
  data.services = [...a.services];
  data.stonith = a.stonith.enabled ? { enabled: true, devices: a.stonith.devices.map(deviceData) } : { enabled: false, devices: [], unsafe_no_fencing: true };
  const os: Record<string, unknown> = { auth_url: a.openstack.auth_url, username: a.openstack.username, project: a.openstack.project };
  if (a.openstack.password) os.password = a.openstack.password;
  data.openstack = os;
  return data;
}

function vipData(v: WizardVip): Record<string, unknown> {
  return v.nic ? { address: v.address, cidr_netmask: v.cidr_netmask, nic: v.nic } : { address: v.address, cidr_netmask: v.cidr_netmask };
}

function deviceData(d: WizardFenceDevice): Record<string, unknown> {
  const out: Record<string, unknown> = { name: d.name, agent: d.agent, node: d.node, params: d.params };
  if (d.password) out.password = d.password;
  return out;
}

/** The inventory file's text: the data above, with a comment before each section. */
export function renderInventory(a: WizardAnswers): string {
  const doc = new Document(inventoryData(a), { aliasDuplicateObjects: false });
  doc.commentBefore = HEADER.join('\n');
  const root = doc.contents as YAMLMap;
  for (const pair of root.items as Pair[]) {
    if (!isScalar(pair.key)) continue;
    const key = String(pair.key.value);
    const comment = key === 'stonith' ? (a.stonith.enabled ? FENCING_ON : FENCING_OFF) : SECTION_COMMENTS[key];
    if (comment) pair.key.commentBefore = comment;
    if (pair !== root.items[0]) pair.key.spaceBefore = true;
  }
  flowSecrets(root);
  return doc.toString({ lineWidth: 0 });
}

/** Writes `{env: X}` / `{file: P}` and fence params on one line, as a person would. */
function flowSecrets(node: unknown): void {
  if (!isMap(node)) {
    const items = (node as { items?: unknown[] } | null)?.items;
    if (Array.isArray(items)) items.forEach(flowSecrets);
    return;
  }
  for (const pair of node.items as Pair[]) {
    const key = isScalar(pair.key) ? String(pair.key.value) : '';
    if (isMap(pair.value) && (key === 'password' || key === 'params')) pair.value.flow = true;
    else if (isMap(pair.value) && key === 'sudo') flowSecrets(pair.value);
    else flowSecrets(pair.value);
  }
}
