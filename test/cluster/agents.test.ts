// The model against the agents' own meta-data: every parameter osha sets is one the agent
// advertises, every depth osha asks for is one it implements, and no operation timeout is below
// the agent's advertised minimum. Runs the real agents: osha's, resource-agents' heartbeat ones,
// and rabbitmq-server's own, taken from Debian's .deb (installing the broker here would start it).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DOMParser, type Element } from '@xmldom/xmldom';
import { expect } from 'chai';
import { buildResourceModel } from '../../src/cluster/build.ts';
import { primitivesOf, type Primitive } from '../../src/model/resources.ts';
import { SERVICE_NAMES } from '../../src/inventory/services.ts';
import { inventoryFrom, run } from './fixtures.ts';
import { debCacheDir, fetchDeb } from '../openstack/debian-configs.ts';
import { onTeardown } from '../support/teardown.ts';

const OSHA_AGENTS = join(process.cwd(), 'playbooks', 'agents');
const OCF_ROOT = '/usr/lib/ocf';

const inv = inventoryFrom(`
cluster: { name: lab }
nodes: [{ name: node1, address: 198.18.0.11 }, { name: node2, address: 198.18.0.12 }]
stonith: { unsafe_no_fencing: true }
vip: { address: 198.18.0.100, cidr_netmask: 24 }
services: [${SERVICE_NAMES.join(', ')}]
openstack: { password: { file: /etc/osha/pw } }
resources: { storage: { mysql: { device: /dev/drbd0, fstype: ext4 } } }
`);
const model = buildResourceModel(inv);

interface MetaData {
  params: Set<string>;
  /** Advertised timeout (seconds) per action, and per monitor depth. */
  timeouts: Map<string, number>;
}

function seconds(d: string): number {
  const m = d.match(/^(\d+)(ms|s|m|min|h)?$/);
  if (!m) throw new Error(`bad duration ${d}`);
  const n = Number(m[1]);
  return m[2] === 'ms' ? n / 1000 : m[2] === 'm' || m[2] === 'min' ? n * 60 : m[2] === 'h' ? n * 3600 : n;
}

/** Agents that come with a daemon's package rather than resource-agents: provider -> Debian package. */
const PACKAGED_AGENTS: Record<string, string> = { rabbitmq: 'rabbitmq-server' };
/** Where the .debs of PACKAGED_AGENTS are unpacked for this run. */
let unpacked: string | undefined;

function agentFile(p: Primitive): string {
  const provider = p.agent.provider ?? '';
  if (provider === 'openstack') return join(OSHA_AGENTS, p.agent.type);
  const installed = join(OCF_ROOT, 'resource.d', provider, p.agent.type);
  if (existsSync(installed) || !unpacked || !PACKAGED_AGENTS[provider]) return installed;
  return join(unpacked, 'usr/lib/ocf/resource.d', provider, p.agent.type);
}

function metaData(p: Primitive): MetaData {
  const file = agentFile(p);
  if (!existsSync(join(OCF_ROOT, 'lib/heartbeat/ocf-shellfuncs'))) throw new Error('ocf-shellfuncs is missing: apt-get install resource-agents (listed in .ci/apt-packages)');
  if (!existsSync(file)) throw new Error(`agent ${file} not found`);
  const r = run('sh', [file, 'meta-data'], { OCF_ROOT, OCF_OPENSTACK_LIBDIR: OSHA_AGENTS });
  expect(r.status, `${file} meta-data: ${r.stderr}`).to.equal(0);
  const doc = new DOMParser().parseFromString(r.stdout, 'text/xml');
  const params = new Set<string>();
  const ps = doc.getElementsByTagName('parameter');
  for (let i = 0; i < ps.length; i++) params.add((ps[i] as Element).getAttribute('name')!);
  const timeouts = new Map<string, number>();
  const as = doc.getElementsByTagName('action');
  for (let i = 0; i < as.length; i++) {
    const a = as[i] as Element;
    const key = a.getAttribute('name') === 'monitor' ? `monitor@${a.getAttribute('depth') ?? '0'}` : a.getAttribute('name')!;
    if (a.getAttribute('timeout')) timeouts.set(key, seconds(a.getAttribute('timeout')!));
  }
  return { params, timeouts };
}

describe('the model against the agents\' meta-data', function () {
  const checked: string[] = [];

  before(async function () {
    this.timeout(5 * 60_000);
    const needed = new Set(primitivesOf(model.resources).map((p) => p.agent.provider ?? ''));
    const dir = mkdtempSync(join(tmpdir(), 'osha-agent-debs-'));
    onTeardown(() => rmSync(dir, { recursive: true, force: true }));
    for (const [provider, pkg] of Object.entries(PACKAGED_AGENTS)) {
      if (needed.has(provider)) execFileSync('dpkg-deb', ['-x', await fetchDeb(debCacheDir(), pkg), dir]);
    }
    unpacked = dir;
  });

  after(function () {
    // Not a silent pass: say how many agents were really read.
    if (checked.length === 0) console.log('    (no agent was available to check)');
  });

  for (const p of primitivesOf(model.resources)) {
    it(`${p.id} (${p.agent.class}:${p.agent.provider ?? ''}:${p.agent.type})`, function () {
      const md = metaData(p);
      checked.push(p.id);
      for (const [name] of p.params) expect(md.params.has(name), `parameter ${name}`).to.equal(true);
      for (const op of p.ops) {
        const key = op.name === 'monitor' ? `monitor@${op.depth ?? 0}` : op.name;
        const advertised = md.timeouts.get(key);
        if (op.name === 'monitor') expect(advertised, `the agent advertises a monitor at depth ${op.depth ?? 0}`).to.not.equal(undefined);
        if (advertised !== undefined) expect(seconds(op.timeout), `${key} timeout`).to.be.at.least(advertised);
      }
    });
  }
});
