// osha export: a running cluster, as corosync and Pacemaker report it on one node, written as an
// inventory. osha's own objects become inventory settings; hand-made resources that do one of
// osha's jobs (the articles' p_IP, p_keystone, ...) become services kept as they are
// (resources.existing, action: keep); fence devices osha did not make are kept too; everything
// else is listed in a comment, untouched by osha. Secrets never leave the cluster: a fence
// password becomes an {env: ...} placeholder. Pure: cluster facts in, YAML text out.
import { DOMParser, type Element } from '@xmldom/xmldom';
import { Document as YamlDocument, isMap, isSeq, type YAMLMap } from 'yaml';
import { children, child } from '../util/dom.ts';
import { foreignPrimitives, findOverlaps } from './existing.ts';
import { OSHA_PREFIX, isOshaId } from '../model/resources.ts';
import { SERVICE_NAMES, type ServiceName } from '../inventory/services.ts';
import { err, ok, type Result } from '../util/result.ts';

export interface ClusterFacts {
  /** `corosync-cmapctl totem. nodelist. quorum.` in parseCmap form. */
  cmap: Map<string, string>;
  /** `cibadmin --query`. */
  cib: string;
  /** Where it was read, for the header. */
  from: string;
  /** SSH settings to write (those used to read it). */
  ssh: { user: string; port?: number; private_key?: string; known_hosts?: string };
}

interface Primitive {
  id: string;
  cls: string;
  type: string;
  params: Map<string, string>;
}

function primitivesIn(root: Element | undefined): Primitive[] {
  const resources = child(child(root, 'configuration'), 'resources');
  const out: Primitive[] = [];
  const walk = (e: Element) => {
    if (e.nodeName === 'primitive') {
      const params = new Map<string, string>();
      for (const set of children(e).filter((c) => c.nodeName === 'instance_attributes')) {
        for (const nv of children(set)) if (nv.nodeName === 'nvpair') params.set(nv.getAttribute('name') ?? '', nv.getAttribute('value') ?? '');
      }
      out.push({ id: e.getAttribute('id') ?? '', cls: e.getAttribute('class') ?? '', type: e.getAttribute('type') ?? '', params });
      return;
    }
    for (const c of children(e)) walk(c);
  };
  for (const r of children(resources)) walk(r);
  return out;
}

function property(root: Element | undefined, name: string): string | undefined {
  const crm = child(child(root, 'configuration'), 'crm_config');
  for (const set of children(crm)) for (const nv of children(set)) if (nv.getAttribute('name') === name) return nv.getAttribute('value') ?? undefined;
  return undefined;
}

/** Pacemaker's no-quorum-policy as the inventory says it; stop is what osha's auto resolves to. */
const QUORUM_POLICIES: Record<string, string> = { stop: 'auto', freeze: 'freeze', ignore: 'ignore', demote: 'demote', suicide: 'fence', fence: 'fence' };

/** Fence agent parameters osha sets itself (or that carry a secret): not exported as params. */
const FENCE_OWN_PARAMS = new Set(['pcmk_host_list', 'pcmk_host_map', 'pcmk_delay_base', 'password', 'passwd', 'password_script', 'passwd_script']);
const NOT_SECRET = new Set(['pcmk_host_list', 'pcmk_host_map', 'pcmk_delay_base']);

export function inventoryFromCluster(facts: ClusterFacts): Result<{ text: string; unrecognised: string[] }> {
  const root = new DOMParser({ onError: () => undefined }).parseFromString(facts.cib, 'text/xml').documentElement ?? undefined;
  if (root?.nodeName !== 'cib') return err({ message: `no CIB could be read on ${facts.from} (is Pacemaker running there?)` });
  const name = facts.cmap.get('totem.cluster_name');
  if (!name) return err({ message: `corosync on ${facts.from} reports no cluster_name`, fix: 'set totem.cluster_name in corosync.conf (a reload takes it), then export again' });
  // Pacemaker knows every node by name and id (its nodes section): crmsh lists nodes without a name.
  const unames = new Map(children(child(child(root, 'configuration'), 'nodes')).map((n) => [n.getAttribute('id') ?? '', n.getAttribute('uname') ?? '']));
  const nodes = [...facts.cmap.keys()]
    .filter((k) => /^nodelist\.node\[\d+\]\.ring0_addr$/.test(k))
    .map((k) => {
      const i = /\[(\d+)\]/.exec(k)![1]!;
      const id = facts.cmap.get(`nodelist.node[${i}].nodeid`);
      const address = facts.cmap.get(k)!;
      const nodeName = facts.cmap.get(`nodelist.node[${i}].name`) ?? (id ? unames.get(id) : undefined) ?? address;
      return { name: nodeName, address, nodeid: id && /^\d+$/.test(id) ? Number(id) : undefined };
    });
  if (nodes.length === 0) return err({ message: `corosync on ${facts.from} runs without a nodelist`, fix: 'osha needs a nodelist (corosync 3 requires one for knet)' });

  const prims = primitivesIn(root);
  const foreign = foreignPrimitives(facts.cib);
  const inv: Record<string, unknown> = {};
  inv.cluster = { name };
  inv.ssh = Object.fromEntries(Object.entries(facts.ssh).filter(([, v]) => v !== undefined));
  inv.nodes = nodes.map((n) => ({ name: n.name, address: n.address, ...(n.nodeid !== undefined ? { nodeid: n.nodeid } : {}) }));

  // The VIP: osha's, else the first hand-made IPaddr2 (kept as it is).
  const existing: { id: string; as: string; action: 'keep' }[] = [];
  const vipOf = (p: Primitive) => ({
    address: p.params.get('ip') ?? '',
    cidr_netmask: Number(p.params.get('cidr_netmask') ?? '24'),
    ...(p.params.get('nic') ? { nic: p.params.get('nic') } : {}),
  });
  const oshaVip = prims.find((p) => p.id === `${OSHA_PREFIX}vip`);
  const ipPrims = foreign.filter((f) => f.agent === 'ocf:heartbeat:IPaddr2' || f.agent === 'ocf:heartbeat:IPaddr');
  if (oshaVip) inv.vip = vipOf(oshaVip);
  else if (ipPrims[0]) {
    inv.vip = vipOf(prims.find((p) => p.id === ipPrims[0]!.id)!);
  } else {
    return err({ message: `the cluster on ${facts.from} has no IPaddr2 resource to take as the VIP`, fix: 'add a vip (a free address in the nodes\' subnet) to the exported file by hand' });
  }
  const publicVip = prims.find((p) => p.id === `${OSHA_PREFIX}public-vip`);
  if (publicVip) inv.public_vip = vipOf(publicVip);

  const transport = facts.cmap.get('totem.transport') ?? 'knet';
  const cipher = facts.cmap.get('totem.crypto_cipher') ?? 'none';
  const corosync: Record<string, unknown> = { transport: transport === 'udpu' ? 'udpu' : 'knet', crypto: cipher !== 'none' };
  const port = facts.cmap.get('totem.interface[0].mcastport');
  if (port && port !== '5405') corosync.port = Number(port);
  inv.corosync = corosync;

  // Services: osha's primitives by id; hand-made ones by agent or the articles' ids (kept).
  const services = new Set<ServiceName>();
  for (const s of SERVICE_NAMES) if (prims.some((p) => p.id === `${OSHA_PREFIX}${s}`)) services.add(s);
  const vipAddress = (inv.vip as { address: string }).address;
  const overlaps = findOverlaps({ vip: { address: vipAddress, cidr_netmask: 24 }, public_vip: undefined, services: [...SERVICE_NAMES] }, foreign);
  for (const o of overlaps) {
    if (existing.some((e) => e.id === o.foreign.id)) continue;
    if (o.role === 'vip' && !oshaVip) existing.push({ id: o.foreign.id, as: 'vip', action: 'keep' });
    else if (o.role !== 'vip' && o.role !== 'public-vip' && !services.has(o.role)) {
      services.add(o.role);
      existing.push({ id: o.foreign.id, as: o.role, action: 'keep' });
    }
  }

  // Fencing: osha's devices come back as devices, hand-made ones are kept.
  const fencing = property(root, 'fencing-enabled') ?? property(root, 'stonith-enabled') ?? 'true';
  const devices = prims
    .filter((p) => p.cls === 'stonith' && p.id.startsWith(`${OSHA_PREFIX}fence-`))
    .map((p) => {
      const deviceName = p.id.slice(`${OSHA_PREFIX}fence-`.length);
      const params = Object.fromEntries([...p.params].filter(([k]) => !FENCE_OWN_PARAMS.has(k)));
      const hasSecret = [...p.params.keys()].some((k) => FENCE_OWN_PARAMS.has(k) && !NOT_SECRET.has(k));
      // osha writes one node per device: pcmk_host_list=NODE, or pcmk_host_map=NODE:PLUG.
      const [node, plug] = (p.params.get('pcmk_host_map') ?? p.params.get('pcmk_host_list') ?? '').split(':');
      return {
        name: deviceName,
        agent: p.type,
        node: node ?? '',
        ...(plug ? { plug } : {}),
        ...(Object.keys(params).length ? { params } : {}),
        ...(hasSecret ? { password: { env: `OSHA_FENCE_${deviceName.toUpperCase().replace(/[^A-Z0-9]/g, '_')}_PASSWORD` } } : {}),
      };
    });
  for (const f of foreign) if (f.agent.startsWith('stonith:')) existing.push({ id: f.id, as: 'fencing', action: 'keep' });
  // Two nodes without fencing validate only when said out loud: the cluster runs that way today.
  const unsafe = fencing !== 'true' && (inv.nodes as unknown[]).length === 2;
  inv.stonith = { enabled: fencing === 'true', ...(devices.length ? { devices } : {}), ...(unsafe ? { unsafe_no_fencing: true } : {}) };
  const policy = property(root, 'no-quorum-policy');
  inv.quorum = { policy: policy ? (QUORUM_POLICIES[policy] ?? 'auto') : 'auto' };
  inv.services = [...services];
  if (existing.length) inv.resources = { existing };

  const accounted = new Set(existing.map((e) => e.id));
  const topIds = children(child(child(root, 'configuration'), 'resources')).map((e) => e.getAttribute('id') ?? '');
  const constraintIds = children(child(child(root, 'configuration'), 'constraints')).map((e) => e.getAttribute('id') ?? '');
  const unrecognised = [
    ...foreign.filter((f) => !accounted.has(f.id)).map((f) => `${f.id} (${f.agent}${f.top !== f.id ? `, in ${f.top}` : ''})`),
    ...topIds.filter((id) => !isOshaId(id) && !foreign.some((f) => f.id === id)).map((id) => `${id} (group or clone)`),
    ...constraintIds.filter((id) => !isOshaId(id)).map((id) => `${id} (constraint)`),
  ];

  const yaml = new YamlDocument(inv);
  yaml.commentBefore = [
    ` Written by \`osha export\` from ${facts.from}: the running cluster "${name}" as an osha inventory.`,
    ' Check it, then `osha validate` and `osha plan` it before a deploy.',
  ].join('\n');
  const top = yaml.contents as YAMLMap;
  const comment = (key: string, text: string) => {
    const pair = top.items.find((p) => (p.key as { value?: unknown }).value === key);
    if (pair && (isMap(pair.value) || isSeq(pair.value))) (pair.key as { commentBefore?: string }).commentBefore = text;
  };
  if (existing.length) comment('resources', ' Hand-made resources that do one of osha\'s jobs: kept as they are (action: replace hands one over to osha).');
  if (unsafe) comment('stonith', ' This 2-node cluster runs without fencing (split brain is possible): add a device per node and remove unsafe_no_fencing.');
  else if (devices.some((d) => 'password' in d)) comment('stonith', ' Fence passwords stay on the cluster: export each OSHA_FENCE_..._PASSWORD before a deploy.');
  if (unrecognised.length) {
    yaml.comment = [' Not recognised, left alone by osha (it never changes objects it did not make):', ...unrecognised.map((u) => `   - ${u}`)].join('\n');
  }
  return ok({ text: yaml.toString({ lineWidth: 0 }), unrecognised });
}
