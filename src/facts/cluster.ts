// Facts about the cluster as a node sees it, from Pacemaker's XML output (never crm_mon text,
// which changes between releases; the parser is src/facts/status.ts).
import type { HostConnection } from '../ssh/connection.ts';
import { sh } from '../ssh/quote.ts';
import { parseClusterStatus, type ClusterStatus } from './status.ts';
import { parseKeyValues, splitSections } from './host.ts';
import { parseCmap } from './cmap.ts';
import { err, ok, type Result } from '../util/result.ts';
import { sleep } from '../util/concurrency.ts';
import { DOMParser } from '@xmldom/xmldom';
import { child, children, parseXmlStrict } from '../util/dom.ts';

export async function readClusterStatus(c: HostConnection): Promise<Result<ClusterStatus>> {
  const r = await c.exec('crm_mon --one-shot --inactive --output-as=xml', { timeoutMs: 20_000 });
  if (!r.ok) return r;
  if (r.value.code !== 0 && !r.value.stdout.includes('<pacemaker-result')) {
    return err({ host: c.target.name, message: `crm_mon failed (exit ${r.value.code}): ${r.value.stderr.trim() || 'cluster not running'}` });
  }
  return parseClusterStatus(r.value.stdout);
}

/**
 * crm_resource's exit codes when it lost (or could not make) its connection to the CIB manager:
 * CRM_EX_UNAVAILABLE, CRM_EX_OSERR ("Communication error on send", seen while 16 lab nodes joined
 * on 2 cores), CRM_EX_TEMPFAIL, CRM_EX_DISCONNECT. They say nothing about the transition.
 */
const LOST_CIB_CONNECTION: ReadonlySet<number> = new Set([69, 71, 75, 102]);
const SETTLE_RETRY_PAUSE_MS = 1000;

/**
 * Waits until the cluster has finished its transition (`crm_resource --wait`), at most `timeoutS`
 * seconds in all. A wait that lost its CIB connection is tried again for the time left; any other
 * failure (a timeout among them) or an aborted run ends it with crm_resource's message.
 */
export async function waitSettled(c: Pick<HostConnection, 'exec' | 'target'>, timeoutS: number, signal?: AbortSignal): Promise<Result<void>> {
  const deadline = Date.now() + timeoutS * 1000;
  for (;;) {
    const left = Math.max(1, Math.ceil((deadline - Date.now()) / 1000));
    const r = await c.exec(`crm_resource --wait --timeout=${left}s`, { timeoutMs: (left + 30) * 1000 });
    if (!r.ok) return r;
    if (r.value.code === 0) return ok(undefined);
    const failed = err({ host: c.target.name, message: `the cluster did not settle within ${timeoutS} s: ${r.value.stderr.trim()}` });
    if (!LOST_CIB_CONNECTION.has(r.value.code) || Date.now() + SETTLE_RETRY_PAUSE_MS >= deadline) return failed;
    if (!(await sleep(SETTLE_RETRY_PAUSE_MS, signal))) return failed;
  }
}

/**
 * The permanent node attributes (`crm_attribute --lifetime forever`) of every node in the CIB's
 * nodes section, offline nodes included (crm_mon lists attributes of online nodes only).
 */
export function parsePermanentNodeAttributes(xml: string): Result<Map<string, Map<string, string>>> {
  const doc = parseXmlStrict(xml);
  if (!doc.ok) return err({ message: `cibadmin printed something that is not XML: ${doc.error}`, fix: 'run cibadmin --query --scope nodes on the node' });
  const root = doc.value.documentElement;
  if (!root || root.nodeName !== 'nodes') return err({ message: "this is not the CIB's nodes section (no <nodes>)" });
  const out = new Map<string, Map<string, string>>();
  for (const node of children(root).filter((n) => n.nodeName === 'node')) {
    const attrs = new Map<string, string>();
    for (const set of children(node).filter((x) => x.nodeName === 'instance_attributes')) {
      for (const nv of children(set).filter((x) => x.nodeName === 'nvpair')) attrs.set(nv.getAttribute('name') ?? '', nv.getAttribute('value') ?? '');
    }
    out.set(node.getAttribute('uname') ?? '', attrs);
  }
  return ok(out);
}

export async function readPermanentNodeAttributes(c: HostConnection): Promise<Result<Map<string, Map<string, string>>>> {
  const r = await c.exec('cibadmin --query --scope nodes', { timeoutMs: 20_000 });
  if (!r.ok) return r;
  if (r.value.code !== 0) return err({ host: c.target.name, message: `cibadmin --query --scope nodes failed (exit ${r.value.code}): ${r.value.stderr.trim() || 'cluster not running'}` });
  return parsePermanentNodeAttributes(r.value.stdout);
}

/** Ok when the cluster, seen from this node, has quorum and every expected node online. */
export function judgeFormed(status: ClusterStatus, expected: string[]): Result<ClusterStatus> {
  const missing = expected.filter((n) => !status.onlineNodes.includes(n));
  if (missing.length > 0) return err({ message: `nodes not online: ${missing.join(', ')}` });
  if (!status.quorate) return err({ message: 'cluster has no quorum' });
  if (!status.dc) return err({ message: 'no DC elected yet' });
  return ok(status);
}

export interface StackFacts {
  corosyncVersion?: string;
  corosyncActive: boolean;
  pacemakerActive: boolean;
  corosyncEnabled: boolean;
  pacemakerEnabled: boolean;
  /** What the running corosync loaded (its cmap: totem, nodelist, quorum), when it runs. */
  loaded?: Map<string, string>;
}

const CMAP_MARK = '--- cmap ---';
const UNITS_MARK = '--- units ---';

/**
 * One round trip, three processes: corosync's version, both units' state, and what corosync runs
 * (its cmap, to catch a file written but never loaded). The output is sorted out here, not with
 * sed, head or a second systemctl on the node: each process costs milliseconds on a busy node.
 */
export const STACK_SCRIPT =
  `corosync -v 2>/dev/null; echo '${UNITS_MARK}'; systemctl show -p ActiveState -p UnitFileState corosync pacemaker 2>/dev/null; ` +
  `echo '${CMAP_MARK}'; corosync-cmapctl totem. nodelist. quorum. 2>/dev/null; true`;

export async function readStackFacts(c: HostConnection): Promise<Result<StackFacts>> {
  const r = await c.run(STACK_SCRIPT);
  if (!r.ok) return r;
  return ok(parseStackFacts(r.value.stdout));
}

/** Pure: STACK_SCRIPT's output. The cmap counts only when systemd says corosync is active. */
export function parseStackFacts(output: string): StackFacts {
  const [version = '', units = '', cmap = ''] = splitSections(output, [UNITS_MARK, CMAP_MARK]);
  const [corosync, pacemaker] = units.split(/\n\s*\n/).map(parseKeyValues);
  const corosyncActive = corosync?.get('ActiveState') === 'active';
  return {
    loaded: corosyncActive ? parseCmap(cmap) : undefined,
    corosyncVersion: /version '([0-9.]+)'/.exec(version)?.[1],
    corosyncActive,
    pacemakerActive: pacemaker?.get('ActiveState') === 'active',
    corosyncEnabled: corosync?.get('UnitFileState') === 'enabled',
    pacemakerEnabled: pacemaker?.get('UnitFileState') === 'enabled',
  };
}

/** What a CIB holds, counted: enough to tell an empty package default from a cluster in use. */
export interface CibCensus {
  /** Ids of the top-level resources (primitives, groups, clones, bundles), stonith devices included. */
  resources: string[];
  stonith: string[];
  constraints: number;
}

/**
 * The CIB of a node: from the running Pacemaker, else from its file on disk. Undefined when
 * neither can be read (then nothing about the cluster is proven).
 */
export async function readCibCensus(c: HostConnection): Promise<Result<CibCensus | undefined>> {
  const r = await c.run('if systemctl is-active -q pacemaker; then cibadmin --query --local 2>/dev/null; elif [ -r /var/lib/pacemaker/cib/cib.xml ]; then cat /var/lib/pacemaker/cib/cib.xml; fi; true', { timeoutMs: 30_000 });
  if (!r.ok) return r;
  return ok(parseCibCensus(r.value.stdout));
}

/** Pure: the census of a CIB's XML text; undefined when the text is no CIB. */
export function parseCibCensus(xml: string): CibCensus | undefined {
  if (!xml.includes('<cib')) return undefined;
  const doc = new DOMParser({ onError: () => undefined }).parseFromString(xml, 'text/xml');
  const cib = doc.documentElement ?? undefined;
  if (!cib || cib.nodeName !== 'cib') return undefined;
  const configuration = child(cib, 'configuration');
  const resources = children(child(configuration, 'resources'));
  const stonith = resources.filter((e) => e.nodeName === 'primitive' && e.getAttribute('class') === 'stonith');
  return {
    resources: resources.map((e) => e.getAttribute('id') ?? e.nodeName),
    stonith: stonith.map((e) => e.getAttribute('id') ?? 'stonith'),
    constraints: children(child(configuration, 'constraints')).length,
  };
}

/** Where a Pacemaker property lives: cluster options (crm_config) or resource defaults (rsc_defaults). */
export type PropertySection = 'crm_config' | 'rsc_defaults';

/** The current values of these properties ('' when unset), keyed `section/name`. */
export async function readProperties(c: HostConnection, wanted: { type: PropertySection; name: string }[]): Promise<Result<Map<string, string>>> {
  // Every property at once (each crm_attribute asks the CIB manager); a line each, written whole.
  const query = `${wanted.map((p) => sh`{ echo ${`${p.type}/${p.name}`}="$(crm_attribute --type ${p.type} --name ${p.name} --query --quiet 2>/dev/null)"; } &`).join(' ')} wait`;
  const r = await c.run(query);
  if (!r.ok) return r;
  return ok(parseKeyValues(r.value.stdout));
}

/**
 * Pure: the same values from a CIB's XML (cibadmin --query), so that a step with the CIB at hand
 * runs no crm_attribute. Undefined when the text is no CIB, or when a property is set more than
 * once in its section (sets with rules): crm_attribute decides those.
 */
export function propertiesFromCib(xml: string, wanted: { type: PropertySection; name: string }[]): Map<string, string> | undefined {
  const doc = parseXmlStrict(xml);
  if (!doc.ok || doc.value.documentElement?.nodeName !== 'cib') return undefined;
  const configuration = child(doc.value.documentElement, 'configuration');
  const values = new Map<string, string>();
  for (const p of wanted) {
    const pairs = children(child(configuration, p.type))
      .flatMap((set) => children(set))
      .filter((e) => e.nodeName === 'nvpair' && e.getAttribute('name') === p.name);
    if (pairs.length > 1) return undefined;
    values.set(`${p.type}/${p.name}`, pairs[0]?.getAttribute('value') ?? '');
  }
  return values;
}

/** The corosync authkey on a node (checksum, mode, owner; none when missing), and whether osha wrote its corosync.conf. */
export interface AuthkeyFacts {
  sha256?: string;
  mode?: string;
  owner?: string;
  /** corosync.conf on this node was written by osha (so its key is osha's, not the package's). */
  managed: boolean;
}

/** One round trip, three processes; the paths and marker come from the caller (the renderer owns them). */
export async function readAuthkeyFacts(c: HostConnection, files: { authkey: string; conf: string; marker: string }): Promise<Result<AuthkeyFacts>> {
  const { authkey, conf, marker } = files;
  const r = await c.run(
    sh`if [ -e ${authkey} ]; then sha256sum < ${authkey}; stat -c 'mode=%a owner=%U:%G' -- ${authkey}; fi; ` + sh`grep -q -F ${marker} ${conf} 2>/dev/null && echo managed=1; true`,
  );
  if (!r.ok) return r;
  return ok(parseAuthkeyFacts(r.value.stdout));
}

/** Pure: readAuthkeyFacts' output (sha256sum's line, stat's line, the marker's). */
export function parseAuthkeyFacts(output: string): AuthkeyFacts {
  const stat = /^mode=(\d+) owner=(\S+)$/m.exec(output);
  return { sha256: /^([0-9a-f]{64}) /m.exec(output)?.[1], mode: stat?.[1], owner: stat?.[2], managed: /^managed=1$/m.test(output) };
}

/** The live CIB, or undefined when this node's Pacemaker cannot give it (not running). */
export async function readCib(c: HostConnection): Promise<Result<string | undefined>> {
  const r = await c.exec('cibadmin --query', { timeoutMs: 60_000 });
  if (!r.ok) return r;
  return ok(r.value.code === 0 ? r.value.stdout : undefined);
}
