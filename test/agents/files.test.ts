// What the deploy uploads: the file set, placement, modes, checksums and the upload decision.
import { expect } from 'chai';
import { createHash } from 'node:crypto';
import {
  AGENT_ALIASES,
  AGENT_DIR,
  AGENT_NAMES,
  agentFiles,
  checkedMark,
  filesToUpload,
  LIBRARY_DIR,
  LOADER_FILES,
  planAgentChecks,
  verifyCommand,
  type AgentFile,
  type AgentNodeFacts,
} from '../../src/agents/files.ts';
import { SERVICE_ALIASES, SERVICE_NAMES } from '../../src/inventory/services.ts';
import { parseChecksums } from '../../src/facts/host.ts';

describe('agentFiles(): what the deploy uploads', function () {
  it('has the library first, then every agent (0755) and alias (0755); the library is 0644 outside resource.d', async function () {
    const files = await agentFiles();
    expect(files[0]!.kind).to.equal('library');
    expect(files[0]!.remotePath).to.equal(`${LIBRARY_DIR}/ocf-openstack-funcs`);
    expect(files[0]!.mode).to.equal(0o644);
    const agents = files.filter((f) => f.kind === 'agent');
    const aliases = files.filter((f) => f.kind === 'alias');
    expect(agents.map((f) => f.name)).to.deep.equal([...AGENT_NAMES]);
    expect(aliases.map((f) => f.name).sort()).to.deep.equal(Object.keys(AGENT_ALIASES).sort());
    for (const f of [...agents, ...aliases]) {
      expect(f.mode, f.name).to.equal(0o755);
      expect(f.remotePath).to.equal(`${AGENT_DIR}/${f.name}`);
    }
    for (const f of files) expect(f.sha256).to.equal(createHash('sha256').update(f.content).digest('hex'));
  });

  it('covers the issue\'s services and the articles\' names, consistent with the inventory model', function () {
    for (const n of ['keystone', 'glance-api', 'glance-registry', 'placement-api', 'nova-api', 'nova-api-metadata', 'nova-scheduler', 'nova-conductor', 'nova-consoleauth', 'nova-novncproxy', 'neutron-server', 'neutron-rpc-server', 'neutron-dhcp-agent', 'neutron-l3-agent', 'neutron-metadata-agent', 'cinder-api', 'cinder-scheduler', 'cinder-volume', 'heat-api', 'heat-api-cfn', 'heat-engine']) {
      expect(AGENT_NAMES as readonly string[]).to.include(n);
    }
    for (const n of AGENT_NAMES) expect(SERVICE_NAMES as readonly string[], n).to.include(n);
    for (const [alias, target] of Object.entries(AGENT_ALIASES)) expect(SERVICE_ALIASES[alias], alias).to.equal(target);
  });

  it('aliases are tiny execs of the canonical agent; agents hold no shared logic (no functions)', async function () {
    for (const f of await agentFiles()) {
      const text = f.content.toString();
      if (f.kind === 'alias') {
        expect(text.trim().split('\n')).to.have.length(3);
        expect(text).to.contain(`exec "$(dirname "$0")/${AGENT_ALIASES[f.name]}" "$@"`);
      }
      if (f.kind === 'agent') {
        expect(text, f.name).not.to.match(/^\s*[a-z_]+\s*\(\)\s*\{/m);
        expect(text).to.contain('. "${OCF_FUNCTIONS_DIR}/ocf-shellfuncs"');
        expect(text).to.contain(': "${OCF_FUNCTIONS_DIR:=${OCF_ROOT}/lib/heartbeat}"');
        expect(text.trim().endsWith('osa_main "$@"')).to.equal(true);
      }
    }
  });

  it('uploads only files whose checksum differs on the node', async function () {
    const files = await agentFiles();
    const [lib, keystone] = [files[0]!, files.find((f) => f.name === 'keystone')!];
    const remote = parseChecksums(`${lib.sha256}  ${lib.remotePath}\n${'0'.repeat(64)}  ${keystone.remotePath}\n`);
    const todo = filesToUpload(files, remote).map((f) => f.name);
    expect(todo).not.to.include(lib.name);
    expect(todo).to.include('keystone');
    expect(todo).to.have.length(files.length - 1);
    expect(filesToUpload(files, new Map(files.map((f) => [f.remotePath, f.sha256])))).to.deep.equal([]);
  });

  it('builds the verification command', function () {
    expect(verifyCommand('glance-api')).to.equal('crm_resource --show-metadata ocf:openstack:glance-api');
  });
});

describe('planAgentChecks(): every agent checked once per Pacemaker build and OCF library', function () {
  let files: AgentFile[];
  let names: string[];
  before(async () => {
    files = await agentFiles();
    names = files.filter((f) => f.kind !== 'library').map((f) => f.name);
  });
  const loader = (tag: string) => new Map(LOADER_FILES.map((p) => [p, `${tag}${p}`]));
  const node = (tag: string, opts: { uploaded?: boolean; record?: 'all' | 'one' | 'stale' } = {}): AgentNodeFacts => {
    const sums = new Map([...loader(tag), ...(opts.uploaded ? files.map((f): [string, string] => [f.remotePath, f.sha256]) : [])]);
    const { mark } = checkedMark(files, sums);
    const record = opts.record === 'stale' ? `${'0'.repeat(64)} ${mark.split(' ')[1]} all` : opts.record ? `${mark} ${opts.record}` : undefined;
    return { sums, ...(record ? { mark: record } : {}) };
  };

  it('fresh nodes of one loader: every agent on the first, one agent on the others, naming the first', () => {
    const plans = planAgentChecks(files, new Map([['node1', node('a')], ['node2', node('a')], ['node3', node('a')]]));
    expect(plans.get('node1')!.check).to.deep.equal(names);
    expect(plans.get('node1')).to.not.have.property('checkedOn');
    expect(plans.get('node1')!.record).to.match(/^[0-9a-f]{64} [0-9a-f]{64} all$/);
    for (const n of ['node2', 'node3']) {
      expect(plans.get(n)!.check, n).to.deep.equal([names[0]]);
      expect(plans.get(n)!.checkedOn).to.equal('node1');
      expect(plans.get(n)!.record).to.equal(plans.get('node1')!.record.replace(/ all$/, ' one'));
      expect(plans.get(n)!.upload).to.have.length(files.length);
    }
  });

  it('two loaders (a mixed-release cluster): every agent checked once on each', () => {
    const plans = planAgentChecks(files, new Map([['node1', node('a')], ['node2', node('b')], ['node3', node('b')]]));
    expect(plans.get('node1')!.check).to.deep.equal(names);
    expect(plans.get('node2')!.check).to.deep.equal(names);
    expect(plans.get('node3')!.checkedOn).to.equal('node2');
  });

  it('a done node with a record of every agent stands for a new node; done nodes do nothing', () => {
    const plans = planAgentChecks(files, new Map([['node1', node('a', { uploaded: true, record: 'one' })], ['node2', node('a', { uploaded: true, record: 'all' })], ['node4', node('a')]]));
    expect(plans.get('node1')).to.deep.include({ upload: [], check: [] });
    expect(plans.get('node2')).to.deep.include({ upload: [], check: [] });
    expect(plans.get('node4')).to.deep.include({ check: [names[0]], checkedOn: 'node2' });
  });

  it('a record of one agent does not stand for others: its voucher may have failed since', () => {
    const plans = planAgentChecks(files, new Map([['node1', node('a')], ['node2', node('a', { uploaded: true, record: 'one' })]]));
    expect(plans.get('node1')!.check).to.deep.equal(names);
    expect(plans.get('node2')!.check).to.deep.equal([]);
  });

  it('files in place but no record, or a record of another agent set or loader: checked again, nothing uploaded', () => {
    const plans = planAgentChecks(files, new Map([['node1', node('a', { uploaded: true })], ['node2', node('a', { uploaded: true, record: 'stale' })]]));
    expect(plans.get('node1')).to.deep.include({ upload: [], check: names });
    expect(plans.get('node2')).to.deep.include({ upload: [], check: [names[0]], checkedOn: 'node1' });
    // A node whose loader changed (Pacemaker upgraded) is a new loader: every agent again.
    const upgraded = node('c', { uploaded: true });
    upgraded.mark = node('a', { uploaded: true, record: 'all' }).mark!;
    expect(planAgentChecks(files, new Map([['node1', upgraded]])).get('node1')!.check).to.deep.equal(names);
  });
});

