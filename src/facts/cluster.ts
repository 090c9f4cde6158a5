// Facts about the cluster as a node sees it, from Pacemaker's XML output (never crm_mon text,
// which changes between releases).
import { DOMParser } from '@xmldom/xmldom';
import type { HostConnection } from '../ssh/connection.ts';
import { parseKeyValues } from './host.ts';
import { err, ok, type Result } from '../util/result.ts';

export interface ClusterStatus {
  quorate: boolean;
  dc?: string;
  /** Node name -> online. */
  nodes: Map<string, boolean>;
  /** Per node: standby / maintenance flags (for `osha status`). */
  nodeFlags: Map<string, { standby: boolean; maintenance: boolean }>;
  resources: ResourceStatus[];
  failures: FailedAction[];
}

export interface ResourceStatus {
  id: string;
  agent: string;
  role: string;
  active: boolean;
  failed: boolean;
  /** Nodes it runs on (more than one for clones). */
  nodes: string[];
  /** The group or clone it belongs to, if any. */
  parent?: string;
}

export interface FailedAction {
  resource: string;
  operation: string;
  node: string;
  exitStatus: string;
  exitReason: string;
}

/** Parses `crm_mon --output-as=xml`. */
export function parseCrmMonXml(xml: string): Result<ClusterStatus> {
  let doc: Document;
  try {
    doc = new DOMParser().parseFromString(xml, 'text/xml') as unknown as Document;
  } catch (e) {
    return err({ message: `crm_mon printed XML osha cannot read: ${String(e)}` });
  }
  const dc = doc.getElementsByTagName('current_dc')[0];
  if (!dc) return err({ message: 'crm_mon XML has no current_dc element (is pacemaker running?)' });
  const nodes = new Map<string, boolean>();
  const nodesEl = doc.getElementsByTagName('nodes')[0];
  const list = nodesEl ? nodesEl.getElementsByTagName('node') : [];
  for (const n of Array.from(list)) {
    const name = n.getAttribute('name');
    if (name) nodes.set(name, n.getAttribute('online') === 'true');
  }
  const nodeFlags = new Map<string, { standby: boolean; maintenance: boolean }>();
  for (const n of Array.from(list)) {
    const name = n.getAttribute('name');
    if (name) nodeFlags.set(name, { standby: n.getAttribute('standby') === 'true', maintenance: n.getAttribute('maintenance') === 'true' });
  }
  const resources: ResourceStatus[] = [];
  const resourcesEl = doc.getElementsByTagName('resources')[0];
  for (const r of resourcesEl ? Array.from(resourcesEl.getElementsByTagName('resource')) : []) {
    const parentEl = r.parentNode as Element | null;
    const parentTag = parentEl?.nodeName;
    resources.push({
      id: r.getAttribute('id') ?? '',
      agent: r.getAttribute('resource_agent') ?? '',
      role: r.getAttribute('role') ?? '',
      active: r.getAttribute('active') === 'true',
      failed: r.getAttribute('failed') === 'true',
      nodes: Array.from(r.getElementsByTagName('node')).map((n) => n.getAttribute('name') ?? ''),
      parent: parentTag === 'group' || parentTag === 'clone' ? (parentEl?.getAttribute('id') ?? undefined) : undefined,
    });
  }
  const failures: FailedAction[] = Array.from(doc.getElementsByTagName('failure')).map((f) => ({
    resource: (f.getAttribute('op_key') ?? '').replace(/_[a-z]+_\d+$/, ''),
    operation: f.getAttribute('task') ?? '',
    node: f.getAttribute('node') ?? '',
    exitStatus: f.getAttribute('exitstatus') ?? '',
    exitReason: f.getAttribute('exitreason') ?? '',
  }));
  return ok({
    quorate: dc.getAttribute('with_quorum') === 'true',
    dc: dc.getAttribute('present') === 'true' ? (dc.getAttribute('name') ?? undefined) : undefined,
    nodes,
    nodeFlags,
    resources,
    failures,
  });
}

export async function readClusterStatus(c: HostConnection): Promise<Result<ClusterStatus>> {
  const r = await c.exec('crm_mon --one-shot --inactive --output-as=xml', { timeoutMs: 20_000 });
  if (!r.ok) return r;
  if (r.value.code !== 0 && !r.value.stdout.includes('<current_dc')) {
    return err({ host: c.target.name, message: `crm_mon failed (exit ${r.value.code}): ${r.value.stderr.trim() || 'cluster not running'}` });
  }
  return parseCrmMonXml(r.value.stdout);
}

/** Ok when the cluster, seen from this node, has quorum and every expected node online. */
export function judgeFormed(status: ClusterStatus, expected: string[]): Result<ClusterStatus> {
  const missing = expected.filter((n) => status.nodes.get(n) !== true);
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
}

export async function readStackFacts(c: HostConnection): Promise<Result<StackFacts>> {
  const r = await c.run(
    `echo "version=$(corosync -v 2>/dev/null | sed -n "s/.*version '\\([0-9.]*\\)'.*/\\1/p" | head -1)"; ` +
      `for s in corosync pacemaker; do echo "$s.active=$(systemctl is-active $s 2>/dev/null)"; echo "$s.enabled=$(systemctl is-enabled $s 2>/dev/null)"; done`,
  );
  if (!r.ok) return r;
  const kv = parseKeyValues(r.value.stdout);
  return ok({
    corosyncVersion: kv.get('version') || undefined,
    corosyncActive: kv.get('corosync.active') === 'active',
    pacemakerActive: kv.get('pacemaker.active') === 'active',
    corosyncEnabled: kv.get('corosync.enabled') === 'enabled',
    pacemakerEnabled: kv.get('pacemaker.enabled') === 'enabled',
  });
}
