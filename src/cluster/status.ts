// Reads `crm_mon --one-shot --output-as=xml` (never its text, which changes between releases) and
// says which osha resources are not yet running well: the "wait until every osha resource is
// started" check of deploy. Pure: XML text in, values out.
import { DOMParser, type Element } from '@xmldom/xmldom';
import { primitivesOf, type ResourceModel } from './model.ts';
import { children, child } from '../render/dom.ts';
import { err, ok, oshaError, messageOf, type Result } from '../util/result.ts';

export interface ResourceState {
  id: string;
  /** class:provider:type, e.g. ocf:heartbeat:IPaddr2. */
  agent: string;
  /** The group or clone it belongs to, if any. */
  parent?: string;
  /** Started, Stopped, Starting, Stopping, Promoted...; one per instance for clones. */
  roles: string[];
  nodes: string[];
  failed: boolean;
  blocked: boolean;
  managed: boolean;
}

export interface Failure {
  resource: string;
  node: string;
  /** e.g. osha-keystone_monitor_30000 */
  opKey: string;
  exitStatus: string;
  exitReason: string;
}

export interface NodeState {
  name: string;
  /** member (a corosync node), remote or ping, as crm_mon says. */
  type: string;
  online: boolean;
  standby: boolean;
  maintenance: boolean;
}

export interface ClusterStatus {
  quorate: boolean;
  /** The designated controller, when one is elected. */
  dc?: string;
  nodes: NodeState[];
  onlineNodes: string[];
  resources: Map<string, ResourceState>;
  failures: Failure[];
}


export function parseClusterStatus(xml: string): Result<ClusterStatus> {
  let root: Element | null;
  try {
    root = new DOMParser({
      onError: (level, message) => {
        if (level !== 'warning') throw new Error(message);
      },
    }).parseFromString(xml, 'text/xml').documentElement;
  } catch (e) {
    return err(oshaError(`crm_mon printed something that is not XML: ${messageOf(e).split('\n')[0]}`, { fix: 'run crm_mon --one-shot --output-as=xml' }));
  }
  if (!root || root.nodeName !== 'pacemaker-result') return err(oshaError('this is not crm_mon XML output (no <pacemaker-result>)'));
  const status = child(root, 'status');
  if (status && status.getAttribute('code') !== '0') {
    return err(oshaError(`crm_mon failed (exit ${status.getAttribute('code')}): ${status.getAttribute('message') ?? ''}`));
  }
  const dc = child(child(root, 'summary'), 'current_dc');
  const nodes = children(child(root, 'nodes')).map((n) => ({
    name: n.getAttribute('name') ?? '',
    type: n.getAttribute('type') ?? 'member',
    online: n.getAttribute('online') === 'true',
    standby: n.getAttribute('standby') === 'true',
    maintenance: n.getAttribute('maintenance') === 'true',
  }));
  return ok({
    quorate: dc?.getAttribute('with_quorum') === 'true',
    dc: dc?.getAttribute('present') === 'true' ? (dc.getAttribute('name') ?? undefined) : undefined,
    nodes,
    onlineNodes: nodes.filter((n) => n.online).map((n) => n.name),
    resources: resourceStates(child(root, 'resources')),
    failures: children(child(root, 'failures')).map(failure),
  });
}

function resourceStates(resources: Element | undefined): Map<string, ResourceState> {
  const out = new Map<string, ResourceState>();
  const walk = (el: Element) => {
    for (const c of children(el)) {
      if (c.nodeName !== 'resource') {
        walk(c);
        continue;
      }
      const id = c.getAttribute('id') ?? '';
      const parent = el.nodeName === 'group' || el.nodeName === 'clone' ? (el.getAttribute('id') ?? undefined) : undefined;
      const s = out.get(id) ?? { id, agent: c.getAttribute('resource_agent') ?? '', parent, roles: [], nodes: [], failed: false, blocked: false, managed: true };
      s.roles.push(c.getAttribute('role') ?? '');
      s.nodes.push(...children(c).filter((n) => n.nodeName === 'node').map((n) => n.getAttribute('name') ?? ''));
      s.failed ||= c.getAttribute('failed') === 'true';
      s.blocked ||= c.getAttribute('blocked') === 'true';
      s.managed &&= c.getAttribute('managed') !== 'false';
      out.set(id, s);
    }
  };
  if (resources) walk(resources);
  return out;
}

function failure(f: Element): Failure {
  const opKey = f.getAttribute('op_key') ?? '';
  // op_key is <resource>_<task>_<interval>; tasks such as migrate_to contain "_" themselves.
  const suffix = `_${f.getAttribute('task') ?? ''}_${f.getAttribute('interval') ?? ''}`;
  return {
    resource: opKey.endsWith(suffix) ? opKey.slice(0, -suffix.length) : opKey,
    node: f.getAttribute('node') ?? '',
    opKey,
    exitStatus: f.getAttribute('exitstatus') ?? '',
    exitReason: f.getAttribute('exitreason') ?? '',
  };
}

export interface NotReady {
  id: string;
  why: string;
}

/**
 * osha primitives that are not started, failed, blocked or unmanaged; empty means deploy is done.
 * A clone counts as started when at least one instance runs (a node may be in standby).
 */
export function notReady(status: ClusterStatus, model: ResourceModel): NotReady[] {
  const out: NotReady[] = [];
  if (!status.quorate) out.push({ id: '(cluster)', why: 'the cluster has no quorum, so nothing starts' });
  for (const p of primitivesOf(model.resources)) {
    const s = status.resources.get(p.id);
    const failures = status.failures.filter((f) => f.resource === p.id || f.resource.startsWith(`${p.id}:`));
    const reason = failures.map((f) => `${f.opKey} on ${f.node}: ${f.exitStatus}${f.exitReason ? ` (${f.exitReason})` : ''}`).join('; ');
    if (!s) out.push({ id: p.id, why: 'not in the cluster status (not configured yet?)' });
    else if (s.failed) out.push({ id: p.id, why: `failed${reason ? `: ${reason}` : ''}` });
    else if (s.blocked) out.push({ id: p.id, why: 'blocked: Pacemaker cannot act on it (a stop failed and fencing is off?)' });
    else if (!s.managed) out.push({ id: p.id, why: 'unmanaged: Pacemaker does not start or stop it (maintenance?)' });
    else if (!s.roles.includes('Started')) out.push({ id: p.id, why: `${s.roles.join(', ') || 'Stopped'}${reason ? `; ${reason}` : ''}` });
  }
  return out;
}


