// Parses `crm_mon --one-shot --output-as=xml` (never its text, which changes between releases)
// into the state of nodes and resources. Pure: XML text in, values out.
import type { Element } from '@xmldom/xmldom';
import { children, child, parseXmlStrict } from '../util/dom.ts';
import { err, ok, oshaError, type Result } from '../util/result.ts';

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
  const doc = parseXmlStrict(xml);
  if (!doc.ok) return err(oshaError(`crm_mon printed something that is not XML: ${doc.error}`, { fix: 'run crm_mon --one-shot --output-as=xml' }));
  const root = doc.value.documentElement;
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
