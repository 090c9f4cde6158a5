// Validators for the wizard's prompts. They do not re-implement any rule: each one runs the
// inventory schema itself (src/inventory/schema.ts), either on the one field being asked or on a
// whole draft inventory, and returns inquirer's shape: true, or the reason as a string.
import { isIP } from 'node:net';
import type { z } from 'zod';
import { inventorySchema, secretRef } from '../inventory/schema.ts';
import { addressToBigInt } from '../inventory/net.ts';

/** What the wizard has gathered so far, in the inventory's own input shape. */
export type Draft = Partial<z.input<typeof inventorySchema>>;
type DraftNode = z.input<typeof inventorySchema>['nodes'][number];

export type Check = true | string;

const shape = inventorySchema.shape;
const nodeShape = shape.nodes.element.shape;
const sshShape = shape.ssh.unwrap().shape;
const vipShape = shape.vip.shape;
const fenceShape = shape.stonith.unwrap().shape.devices.unwrap().element.shape;

/** Runs one field's schema on a value and turns its first issue into the prompt's reason. */
function field(schema: z.ZodType, value: unknown): Check {
  const r = schema.safeParse(value);
  return r.success ? true : (r.error.issues[0]?.message ?? 'is not valid');
}

export const checkClusterName = (v: string): Check => field(shape.cluster.shape.name, v);
export const checkNodeNameFormat = (v: string): Check => field(nodeShape.name, v);
export const checkAddressFormat = (v: string): Check => field(nodeShape.address, v);
export const checkUser = (v: string): Check => field(sshShape.user, v);
export const checkPort = (v: number | undefined): Check => field(sshShape.port, v);
export const checkPath = (v: string): Check => field(sshShape.private_key, v);
export const checkPrefix = (v: number | undefined): Check => field(vipShape.cidr_netmask, v);
export const checkNic = (v: string): Check => (v === '' ? true : field(vipShape.nic, v));
export const checkFenceAgent = (v: string): Check => field(fenceShape.agent, v);
export const checkEnvName = (v: string): Check => {
  const r = secretRef.safeParse({ env: v });
  return r.success ? true : 'must be an environment variable name such as OS_PASSWORD (letters, digits and "_", not starting with a digit)';
};

/**
 * Fills the parts of a draft the operator has not answered yet with base-valid placeholders,
 * because the schema runs its cross-field rules (duplicates, VIP vs nodes) only on an
 * otherwise well-formed document. Issues are then filtered to the field being asked.
 */
function completeDraft(draft: Draft): z.input<typeof inventorySchema> {
  const nodes = [...(draft.nodes ?? [])];
  for (let i = 0; nodes.length < 2; i++) nodes.push({ name: `osha-placeholder-${i}`, address: unusedAddress(nodes) });
  return {
    ...draft,
    cluster: draft.cluster ?? { name: 'draft' },
    nodes,
    vip: draft.vip ?? { address: '::', cidr_netmask: 128 },
  };
}

/** An IPv4 address from 0.0.0.0/8 (never a real node) that no node in the list uses. */
function unusedAddress(nodes: DraftNode[]): string {
  const used = new Set(nodes.map((n) => n.address));
  for (let i = 1; ; i++) {
    const a = `0.0.${i >> 8}.${i & 0xff}`;
    if (!used.has(a)) return a;
  }
}

const startsWith = (path: readonly PropertyKey[], prefix: readonly PropertyKey[]) => prefix.every((k, i) => path[i] === k);

/** The schema's first complaint about `at` in the draft, with `nodes[i]` named by node. */
export function checkDraftAt(draft: Draft, at: readonly PropertyKey[]): Check {
  const full = completeDraft(draft);
  const r = inventorySchema.safeParse(full);
  if (r.success) return true;
  const issue = r.error.issues.find((i) => startsWith(i.path, at));
  if (!issue) return true;
  return issue.message.replace(/nodes\[(\d+)\]/g, (whole, i: string) => {
    const n = full.nodes[Number(i)];
    return n ? `node ${n.name}` : whole;
  });
}

/** A new node's name: a hostname label, and not the name of a node already entered. */
export function checkNewNodeName(nodes: DraftNode[], name: string): Check {
  const format = checkNodeNameFormat(name);
  if (format !== true) return format;
  // The address is a stand-in that cannot clash, so only the name rule can fire.
  return checkDraftAt({ nodes: [...nodes, { name, address: unusedAddress(nodes) }] }, ['nodes', nodes.length, 'name']);
}

/** A new node's address: an IP address not used by a node already entered. */
export function checkNewNodeAddress(nodes: DraftNode[], name: string, address: string): Check {
  const format = checkAddressFormat(address);
  if (format !== true) return format;
  return checkDraftAt({ nodes: [...nodes, { name, address }] }, ['nodes', nodes.length, 'address']);
}

/** The VIP: an address in the nodes' subnet that no node owns. */
export function checkVip(nodes: DraftNode[], address: string, prefix: number): Check {
  const format = checkAddressFormat(address);
  if (format !== true) return format;
  return checkDraftAt({ nodes, vip: { address, cidr_netmask: prefix } }, ['vip']);
}

/** The public VIP: any free address, different from the VIP. */
export function checkPublicVip(draft: Draft, address: string, prefix: number): Check {
  const format = checkAddressFormat(address);
  if (format !== true) return format;
  return checkDraftAt({ ...draft, public_vip: { address, cidr_netmask: prefix } }, ['public_vip']);
}

/** The address after `address` (same family), or undefined at the end of the space. */
export function nextAddress(address: string): string | undefined {
  const n = addressToBigInt(address);
  const family = isIP(address);
  if (n === undefined) return undefined;
  const next = n + 1n;
  if (family === 4) return next > 0xffffffffn ? undefined : bigIntToV4(next);
  return next >= 1n << 128n ? undefined : bigIntToV6(next);
}

function bigIntToV4(n: bigint): string {
  return [24n, 16n, 8n, 0n].map((s) => String((n >> s) & 0xffn)).join('.');
}

function bigIntToV6(n: bigint): string {
  const groups: string[] = [];
  for (let s = 112n; s >= 0n; s -= 16n) groups.push(((n >> s) & 0xffffn).toString(16));
  // RFC 5952 form: the longest run of two or more zero groups becomes "::".
  let best = { at: -1, len: 0 };
  for (let i = 0; i < 8; ) {
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > best.len) best = { at: i, len: j - i };
    i = j === i ? i + 1 : j;
  }
  if (best.len < 2) return groups.join(':');
  return `${groups.slice(0, best.at).join(':')}::${groups.slice(best.at + best.len).join(':')}`;
}

/**
 * A VIP to suggest: the host address .100 of the first node's subnet when it is free (the
 * articles' habit), else the highest free host address. "Free" means no node owns it;
 * nothing is sent on the network to find out.
 */
export function suggestVip(nodes: DraftNode[], prefix: number): string | undefined {
  const first = nodes[0]?.address;
  if (!first) return undefined;
  const family = isIP(first);
  const bits = family === 4 ? 32 : 128;
  const base = addressToBigInt(first);
  if (base === undefined || prefix >= bits - 1) return undefined;
  const hostBits = BigInt(bits - prefix);
  const network = (base >> hostBits) << hostBits;
  const size = 1n << hostBits;
  const toText = family === 4 ? bigIntToV4 : bigIntToV6;
  const taken = new Set(nodes.map((n) => addressToBigInt(n.address)));
  const candidates: bigint[] = [];
  if (size > 101n) candidates.push(network + 100n);
  // Highest usable first: the top address of an IPv4 subnet is its broadcast address.
  const top = family === 4 ? network + size - 2n : network + size - 1n;
  for (let c = top, tries = 0; c > network && tries < 512; c--, tries++) candidates.push(c);
  const pick = candidates.find((c) => !taken.has(c));
  return pick === undefined ? undefined : toText(pick);
}
