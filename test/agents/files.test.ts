// What the deploy uploads: the file set, placement, modes, checksums and the upload decision.
import { expect } from 'chai';
import { createHash } from 'node:crypto';
import {
  AGENT_ALIASES,
  AGENT_DIR,
  AGENT_NAMES,
  agentFiles,
  filesToUpload,
  LIBRARY_DIR,
  verifyCommand,
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
    for (const n of ['keystone', 'glance-api', 'glance-registry', 'nova-api', 'nova-scheduler', 'nova-conductor', 'nova-consoleauth', 'nova-novncproxy', 'neutron-server', 'neutron-dhcp-agent', 'neutron-l3-agent', 'neutron-metadata-agent', 'cinder-api', 'cinder-scheduler', 'cinder-volume', 'heat-api', 'heat-engine']) {
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
