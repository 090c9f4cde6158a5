// corosync.conf from the inventory: corosync 3 (knet, encrypted by default, or udpu) and a
// legacy corosync 2 rendering for old hosts. Pure: same inventory in, same bytes out.
import type { Inventory } from '../inventory/schema.ts';
import { addressToBigInt } from '../inventory/net.ts';
import { isIP } from 'node:net';
import { err, ok, type Result } from '../util/result.ts';

export const COROSYNC_CONF = '/etc/corosync/corosync.conf';
export const COROSYNC_AUTHKEY = '/etc/corosync/authkey';
export const MANAGED_MARKER = '# Managed by osha';

/** Totem timings in milliseconds (from the tuning profile, src/cluster/profiles.ts). */
export type TotemTimings = Record<string, number>;

export interface CorosyncRenderInput {
  inv: Inventory;
  /** Major version of corosync on the nodes (2 or 3). */
  major: 2 | 3;
  timings: TotemTimings;
  /** Each node's corosync id, as src/cluster/nodeids.ts assigns them; by default pinned, else list position. */
  nodeIds?: Map<string, number>;
  /** Settings of the current corosync.conf that osha keeps (see settingsToKeep), parse-form keys. */
  kept?: Map<string, string>;
}

/** Settings osha does not choose itself, kept as a running cluster has them (knet only). */
const KEPT_SETTINGS = /^(totem\.(clear_node_high_bit|ip_version)|totem\.interface\[0\]\.ttl|resources\.watchdog_device)$/;

/**
 * What of the current corosync.conf survives osha's rendering: settings osha does not manage
 * (crmsh's clear_node_high_bit, ip_version, the interface ttl, resources.watchdog_device: dropping
 * the last could arm a hardware watchdog at the next start), and the cipher and hash of a
 * cluster that already encrypts when the inventory asks for encryption (changing them means
 * restarting every node together). Pure.
 */
export function settingsToKeep(current: Map<string, string>, inv: Pick<Inventory, 'corosync'>): Map<string, string> {
  const out = new Map<string, string>();
  if (inv.corosync.transport !== 'knet') return out;
  for (const [k, v] of current) if (KEPT_SETTINGS.test(k)) out.set(k, v);
  const cipher = current.get('totem.crypto_cipher');
  const hash = current.get('totem.crypto_hash');
  if (inv.corosync.crypto && cipher && hash && cipher !== 'none' && hash !== 'none') {
    out.set('totem.crypto_cipher', cipher);
    out.set('totem.crypto_hash', hash);
  }
  return out;
}

type Block = { name: string; entries: (readonly [string, string | number] | Block)[] };

function renderBlock(b: Block, indent = ''): string {
  const inner = b.entries
    .map((e) => (Array.isArray(e) ? `${indent}    ${e[0]}: ${e[1]}` : renderBlock(e as Block, `${indent}    `)))
    .join('\n');
  return `${indent}${b.name} {\n${inner}\n${indent}}`;
}

/** The network address of `address/prefix`, for corosync 2's bindnetaddr. */
export function networkAddress(address: string, prefix: number): string {
  const n = addressToBigInt(address) ?? 0n;
  const bits = isIP(address) === 6 ? 128 : 32;
  const net = (n >> BigInt(bits - prefix)) << BigInt(bits - prefix);
  if (bits === 32) return [24n, 16n, 8n, 0n].map((s) => String((net >> s) & 255n)).join('.');
  const groups = Array.from({ length: 8 }, (_, i) => ((net >> BigInt(112 - i * 16)) & 0xffffn).toString(16));
  return groups.join(':');
}

export function renderCorosyncConf(input: CorosyncRenderInput): Result<string> {
  const { inv, major, timings } = input;
  const c = inv.corosync;
  const nodeIds = input.nodeIds ?? new Map(inv.nodes.map((n, i) => [n.name, n.nodeid ?? i + 1]));
  const missing = inv.nodes.find((n) => !nodeIds.has(n.name));
  if (missing) return err({ message: `no corosync nodeid for ${missing.name}` });
  if (major === 3 && c.transport === 'udpu' && c.crypto) {
    return err({
      message: 'corosync 3 encrypts only the knet transport; udpu traffic would go out in clear text',
      fix: 'set corosync.transport: knet (recommended), or corosync.crypto: false if you accept unencrypted cluster traffic',
    });
  }
  const timing = Object.entries(timings).filter(([, v]) => v !== undefined) as [string, number][];
  const totem: Block = { name: 'totem', entries: [['version', 2], ['cluster_name', inv.cluster.name]] };
  if (major === 3) {
    totem.entries.push(['transport', c.transport]);
    const kept = input.kept ?? new Map<string, string>();
    if (c.transport === 'knet') {
      totem.entries.push(
        ['crypto_cipher', c.crypto ? (kept.get('totem.crypto_cipher') ?? 'aes256') : 'none'],
        ['crypto_hash', c.crypto ? (kept.get('totem.crypto_hash') ?? 'sha256') : 'none'],
      );
      for (const key of ['clear_node_high_bit', 'ip_version']) if (kept.has(`totem.${key}`)) totem.entries.push([key, kept.get(`totem.${key}`)!]);
    }
    totem.entries.push(...timing);
    const iface: Block = { name: 'interface', entries: [['linknumber', 0], ['mcastport', c.port]] };
    if (kept.has('totem.interface[0].ttl')) iface.entries.push(['ttl', kept.get('totem.interface[0].ttl')!]);
    totem.entries.push(iface);
  } else {
    // corosync 2 has no knet: unicast UDP, with its own secauth encryption.
    totem.entries.push(['transport', 'udpu']);
    totem.entries.push(['secauth', c.crypto ? 'on' : 'off']);
    if (c.crypto) totem.entries.push(['crypto_cipher', 'aes256'], ['crypto_hash', 'sha256']);
    totem.entries.push(...timing);
    const first = inv.nodes[0]!;
    totem.entries.push({ name: 'interface', entries: [['ringnumber', 0], ['bindnetaddr', networkAddress(first.address, inv.vip.cidr_netmask)], ['mcastport', c.port]] });
  }
  const nodelist: Block = {
    name: 'nodelist',
    entries: inv.nodes.map((n) => ({ name: 'node', entries: [['ring0_addr', n.address], ['name', n.name], ['nodeid', nodeIds.get(n.name)!]] as const }) as Block),
  };
  const quorumEntries: Block['entries'] = [['provider', 'corosync_votequorum']];
  // Two nodes can never have a majority after one fails: two_node lets the survivor keep quorum
  // (and implies wait_for_all, so a lone node that boots does not start services on its own).
  if (inv.nodes.length === 2) quorumEntries.push(['two_node', 1]);
  const quorum: Block = { name: 'quorum', entries: quorumEntries };
  const logging: Block = {
    name: 'logging',
    entries: [
      ['to_logfile', 'yes'],
      ['logfile', '/var/log/corosync/corosync.log'],
      ['to_syslog', 'yes'],
      ['timestamp', 'on'],
    ],
  };
  const header = [
    `${MANAGED_MARKER} for cluster ${inv.cluster.name}: local edits are replaced on the next deploy.`,
    `# Corosync ${major} configuration rendered from the osha inventory.`,
  ].join('\n');
  const blocks = [totem, nodelist, quorum, logging];
  const watchdog = input.kept?.get('resources.watchdog_device');
  if (watchdog !== undefined && major === 3) blocks.push({ name: 'resources', entries: [['watchdog_device', watchdog]] });
  return ok(`${header}\n\n${blocks.map((b) => renderBlock(b)).join('\n\n')}\n`);
}

/** Parses corosync.conf into flat `section.sub.key` → values (repeated blocks get an index). */
export function parseCorosyncConf(text: string): Map<string, string> {
  const out = new Map<string, string>();
  const stack: string[] = [];
  const counters = new Map<string, number>();
  for (const rawLine of text.split('\n')) {
    const line = rawLine.replace(/#.*/, '').trim();
    if (!line) continue;
    const open = line.match(/^([A-Za-z0-9_]+)\s*\{$/);
    if (open) {
      const base = [...stack, open[1]].join('.');
      const n = counters.get(base) ?? 0;
      counters.set(base, n + 1);
      stack.push(open[1] === 'node' || open[1] === 'interface' ? `${open[1]}[${n}]` : open[1]!);
      continue;
    }
    if (line === '}') {
      stack.pop();
      continue;
    }
    const kv = line.match(/^([A-Za-z0-9_]+)\s*:\s*(.*)$/);
    if (kv) out.set([...stack, kv[1]].join('.'), kv[2]!.trim());
  }
  return out;
}

/**
 * What applying a new corosync.conf to a running cluster needs:
 * - reload: corosync 3 re-reads totem timings and logging on `corosync-cfgtool -R`, and also
 *   nodes joining or leaving the nodelist with the quorum settings that follow from their count
 *   (two_node); a joining node is then simply started;
 * - full: nodes with the old and the new value cannot talk to each other (cluster name,
 *   transport, crypto, port), so every node restarts together and quorum is briefly lost;
 * - rolling: anything else takes effect on a restart that old and new nodes survive, so nodes
 *   restart one at a time, each rejoining before the next goes.
 */
export type CorosyncChange = 'none' | 'reload' | 'rolling' | 'full';

const RELOADABLE = /^(totem\.(token|token_coefficient|consensus|join|max_messages|token_retransmits_before_loss_const|merge|downcheck|fail_recv_const|seqno_unchanged_const|send_join|miss_count_const|knet_pmtud_interval)|logging\..*)$/;
/** Reloadable on corosync 3 when nodes join or leave: votequorum follows the new node count. */
const RELOADABLE_WITH_MEMBERSHIP = /^quorum\.(two_node|wait_for_all)$/;
/** votequorum takes expected_votes on a reload (it is what `corosync-quorumtool -e` sets at run time). */
const RELOADABLE_QUORUM = /^quorum\.expected_votes$/;
const INCOMPATIBLE = /^totem\.(cluster_name|transport|crypto_cipher|crypto_hash|secauth|version|interface\[\d+\]\.mcastport)$/;

/** The nodelist by node name: which nodes join, which leave, which keep their name but change. */
export interface NodelistChange {
  added: string[];
  removed: string[];
  changed: string[];
}

interface NodeEntry {
  name?: string;
  /** Its fields but the name, as sorted `key=value` text: what must match for "unchanged". */
  signature: string;
  address?: string;
}

function nodeEntries(conf: Map<string, string>): NodeEntry[] {
  const byIndex = new Map<string, Map<string, string>>();
  for (const [k, v] of conf) {
    const m = /^nodelist\.node\[(\d+)\]\.(.+)$/.exec(k);
    if (m) byIndex.set(m[1]!, (byIndex.get(m[1]!) ?? new Map()).set(m[2]!, v));
  }
  return [...byIndex.values()].map((f) => ({
    name: f.get('name'),
    address: f.get('ring0_addr'),
    signature: [...f].filter(([k]) => k !== 'name').map(([k, v]) => `${k}=${v}`).sort().join(' '),
  }));
}

/**
 * Nodes keyed by name. A node listed without a name (crmsh writes only ring0_addr and nodeid)
 * takes the name the other side gives the same address: naming it is no change to corosync.
 */
function keyed(entries: NodeEntry[], other: NodeEntry[]): Map<string, NodeEntry> {
  return new Map(entries.map((e) => [e.name ?? other.find((o) => o.name && o.address === e.address)?.name ?? `@${e.address ?? '?'}`, e]));
}

function nodelistChangeOf(before: Map<string, string>, after: Map<string, string>): NodelistChange {
  const ea = nodeEntries(before);
  const eb = nodeEntries(after);
  const a = keyed(ea, eb);
  const b = keyed(eb, ea);
  return {
    added: [...b.keys()].filter((n) => !a.has(n)),
    removed: [...a.keys()].filter((n) => !b.has(n)),
    changed: [...b.keys()].filter((n) => a.has(n) && a.get(n)!.signature !== b.get(n)!.signature),
  };
}

export function nodelistChange(before: string, after: string): NodelistChange {
  return nodelistChangeOf(parseCorosyncConf(before), parseCorosyncConf(after));
}

export function corosyncChangeKind(before: string, after: string, major: 2 | 3 = 3): CorosyncChange {
  return before === after ? 'none' : changeKind(parseCorosyncConf(before), parseCorosyncConf(after), major);
}

/**
 * corosync 3's own defaults for the keys that decide who can talk to whom: a hand-written file
 * that leaves one out means the same as osha's file that spells it out (no restart for that).
 */
const COROSYNC3_DEFAULTS: Record<string, string> = {
  'quorum.two_node': '0',
  'totem.version': '2',
  'totem.transport': 'knet',
  'totem.crypto_cipher': 'none',
  'totem.crypto_hash': 'none',
  'totem.interface[0].linknumber': '0',
  'totem.interface[0].mcastport': '5405',
};

function withDefaults(m: Map<string, string>, major: 2 | 3): Map<string, string> {
  if (major !== 3) return m;
  const out = new Map(m);
  // corosync 3 reads corosync 2's ringnumber as linknumber (crmsh still writes ringnumber).
  for (const [k, v] of m) {
    const ring = /^(totem\.interface\[\d+\])\.ringnumber$/.exec(k);
    if (!ring) continue;
    out.delete(k);
    if (!out.has(`${ring[1]}.linknumber`)) out.set(`${ring[1]}.linknumber`, v);
  }
  for (const [k, v] of Object.entries(COROSYNC3_DEFAULTS)) if (!out.has(k)) out.set(k, v);
  return out;
}

function changeKind(rawA: Map<string, string>, rawB: Map<string, string>, major: 2 | 3): CorosyncChange {
  const a = withDefaults(rawA, major);
  const b = withDefaults(rawB, major);
  const keys = [...new Set([...a.keys(), ...b.keys()])].filter((k) => !k.startsWith('nodelist.') && a.get(k) !== b.get(k));
  const nodes = nodelistChangeOf(a, b);
  const joinOrLeave = nodes.added.length + nodes.removed.length > 0;
  if (keys.length === 0 && !joinOrLeave && nodes.changed.length === 0) return 'none';
  if (keys.some((k) => INCOMPATIBLE.test(k))) return 'full';
  // A node that keeps its name but changes address or id is a restart; corosync 2 cannot reload nodes.
  if (nodes.changed.length > 0 || (joinOrLeave && major !== 3)) return 'rolling';
  const reloadable = (k: string) => RELOADABLE.test(k) || RELOADABLE_QUORUM.test(k) || (joinOrLeave && RELOADABLE_WITH_MEMBERSHIP.test(k));
  return keys.every(reloadable) ? 'reload' : 'rolling';
}

/** What corosync keeps in its cmap from the file it loaded, and osha can compare with the file. */
const LOADED = /^(totem\.(token|token_coefficient|consensus|join|token_retransmits_before_loss_const)|quorum\.two_node|nodelist\.node\[\d+\]\.(name|nodeid|ring0_addr))$/;

/**
 * What it takes for the running corosync to run `file`, judged from its cmap (`loaded`, keys in
 * parseCorosyncConf's form). A run cut short after writing corosync.conf but before the reload or
 * restart leaves a current file and an older runtime: this is what the next run repairs.
 */
export function loadedChangeKind(loaded: Map<string, string>, file: string, major: 2 | 3 = 3): CorosyncChange {
  const pick = (m: Map<string, string>) => new Map([...m].filter(([k]) => LOADED.test(k)));
  return changeKind(pick(loaded), pick(parseCorosyncConf(file)), major);
}

/** The most that any of these changes needs. */
export function worstChange(...kinds: CorosyncChange[]): CorosyncChange {
  const order: CorosyncChange[] = ['none', 'reload', 'rolling', 'full'];
  return order[Math.max(...kinds.map((k) => order.indexOf(k)))]!;
}
