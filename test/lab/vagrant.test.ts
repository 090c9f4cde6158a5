// The Vagrant lab: parsing real-shaped `vagrant ssh-config` samples, the inventory and
// known_hosts it writes (checked by the real inventory loader and `osha validate`), the
// Vagrantfile checked by the real `vagrant validate`, and vagrantLabUp's orchestration driven
// through a MOCK vagrant program (real VMs cannot run here).
import { expect } from 'chai';
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parseInventory } from '../../src/inventory/load.ts';
import { parseKnownHosts, checkHostKey } from '../../src/ssh/known-hosts.ts';
import {
  VAGRANT_DIR,
  nicFor,
  parseHostKeys,
  parseVagrantSshConfig,
  renderVagrantInventory,
  vagrantLabUp,
  type VagrantNodeFacts,
} from '../../src/lab/vagrant.ts';
import { planLab } from '../../src/lab/plan.ts';

const run = promisify(execFile);
const FIXTURES = new URL('./fixtures/', import.meta.url).pathname;
const fixture = (name: string) => readFileSync(join(FIXTURES, name), 'utf8');

describe('vagrant lab: parseVagrantSshConfig', () => {
  it('reads every host of a libvirt lab', () => {
    const r = parseVagrantSshConfig(fixture('ssh-config-libvirt.txt'));
    if (!r.ok) throw new Error(r.error.message);
    expect(r.value.map((h) => h.name)).to.deep.equal(['node1', 'node2', 'node3']);
    expect(r.value[1]).to.deep.equal({
      name: 'node2',
      hostName: '192.168.121.42',
      port: 22,
      user: 'vagrant',
      identityFiles: ['/home/ops/osha/.osha-lab/.vagrant/machines/node2/libvirt/private_key'],
    });
  });

  it('reads forwarded ports and quoted paths with spaces (VirtualBox)', () => {
    const r = parseVagrantSshConfig(fixture('ssh-config-virtualbox.txt'));
    if (!r.ok) throw new Error(r.error.message);
    expect(r.value.map((h) => h.port)).to.deep.equal([2222, 2200]);
    expect(r.value[0]!.identityFiles).to.deep.equal([
      '/Users/Ops Team/osha lab/.vagrant/machines/node1/virtualbox/private_key',
      '/Users/Ops Team/.vagrant.d/insecure_private_key',
    ]);
  });

  it('skips notices Vagrant prints before the first Host', () => {
    const r = parseVagrantSshConfig(fixture('ssh-config-with-notice.txt'));
    if (!r.ok) throw new Error(r.error.message);
    expect(r.value.map((h) => `${h.name}@${h.hostName}`)).to.deep.equal(['node1@192.168.121.41', 'node2@192.168.121.42']);
  });

  it('names every problem in a damaged config', () => {
    const r = parseVagrantSshConfig(fixture('ssh-config-broken.txt'));
    expect(r.ok).to.equal(false);
    if (r.ok) return;
    expect(r.error.message).to.include('line 4: Port "2x22" is not a TCP port');
    expect(r.error.message).to.include('Host node2 has no User, IdentityFile');
  });

  it('refuses output with no machine at all', () => {
    const r = parseVagrantSshConfig('==> vagrant: nothing to see\n');
    expect(r.ok).to.equal(false);
    if (!r.ok) expect(r.error.message).to.include('listed no machines');
  });
});

describe('vagrant lab: host facts', () => {
  it('reads every host key type and the interface of the lab address', () => {
    const text = fixture('vagrant-facts-node2.txt');
    expect(parseHostKeys(text).map((k) => k.type)).to.deep.equal(['ecdsa-sha2-nistp256', 'ssh-ed25519', 'ssh-rsa']);
    expect(nicFor(text, '198.18.0.12')).to.equal('eth1');
    expect(nicFor(text, '198.18.0.99')).to.equal(undefined);
  });
});

function factsFor(configFile: string): VagrantNodeFacts[] {
  const hosts = parseVagrantSshConfig(fixture(configFile));
  if (!hosts.ok) throw new Error(hosts.error.message);
  return hosts.value.map((ssh, i) => {
    const text = fixture(`vagrant-facts-node${i + 1}.txt`);
    const address = `198.18.0.${11 + i}`;
    return { name: ssh.name, address, ssh, hostKeys: parseHostKeys(text), nic: nicFor(text, address) };
  });
}

describe('vagrant lab: inventory', () => {
  it('is accepted by the inventory loader, in the nspawn lab\'s shape, with one key per VM', () => {
    const plan = planLab({ dir: '/srv/lab', nodes: 3 });
    const text = renderVagrantInventory(plan, factsFor('ssh-config-libvirt.txt'));
    const r = parseInventory(text, 'lab.yaml');
    if (!r.ok) throw new Error(JSON.stringify(r.error));
    const inv = r.value;
    expect(inv.cluster.name).to.equal('osha-lab');
    expect(inv.ssh.user).to.equal('root');
    expect(inv.ssh.known_hosts).to.equal('/srv/lab/known_hosts');
    expect(inv.nodes.map((n) => [n.name, n.address])).to.deep.equal(plan.nodes.map((n) => [n.name, n.address]));
    expect(inv.nodes[2]!.ssh?.private_key).to.equal('/home/ops/osha/.osha-lab/.vagrant/machines/node3/libvirt/private_key');
    expect(inv.vip).to.deep.equal({ address: plan.vip, cidr_netmask: 24, nic: 'eth1' });
  });

  it('puts a key shared by every VM under ssh, and quotes paths with spaces', () => {
    const plan = planLab({ dir: '/srv/lab', nodes: 2 });
    const shared = parseInventory(renderVagrantInventory(plan, factsFor('ssh-config-shared-key.txt')), 'lab.yaml');
    if (!shared.ok) throw new Error(JSON.stringify(shared.error));
    expect(shared.value.ssh.private_key).to.equal('/home/ops/.vagrant.d/insecure_private_key');
    expect(shared.value.nodes.every((n) => n.ssh === undefined)).to.equal(true);
    const spaced = parseInventory(renderVagrantInventory(plan, factsFor('ssh-config-virtualbox.txt')), 'lab.yaml');
    if (!spaced.ok) throw new Error(JSON.stringify(spaced.error));
    expect(spaced.value.nodes[0]!.ssh?.private_key).to.equal('/Users/Ops Team/osha lab/.vagrant/machines/node1/virtualbox/private_key');
  });
});

describe('vagrant lab: vagrantLabUp with a MOCK vagrant (no VMs can run here)', () => {
  const fake = join(FIXTURES, 'fake-vagrant.sh');
  let dir: string;
  let saved: NodeJS.ProcessEnv;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'osha-vagrant-lab-'));
    saved = { ...process.env };
    process.env.FAKE_VAGRANT_LOG = join(dir, 'calls.log');
  });
  afterEach(() => {
    process.env = saved;
    rmSync(dir, { recursive: true, force: true });
  });

  it('writes an inventory `osha validate` accepts and known_hosts holding every VM key', async () => {
    const labDir = join(dir, 'lab');
    const r = await vagrantLabUp({ nodes: 3, dir: labDir, vagrant: fake });
    if (!r.ok) throw new Error(r.error.message);
    expect(r.value.inventory).to.equal(join(labDir, 'inventory.yaml'));

    const calls = readFileSync(join(dir, 'calls.log'), 'utf8').trim().split('\n');
    expect(calls.map((c) => c.split('|')[0])).to.deep.equal([
      'up',
      'ssh-config',
      'ssh node1 -c cat /etc/ssh/ssh_host_*_key.pub; ip -o -4 addr show',
      'ssh node2 -c cat /etc/ssh/ssh_host_*_key.pub; ip -o -4 addr show',
      'ssh node3 -c cat /etc/ssh/ssh_host_*_key.pub; ip -o -4 addr show',
    ]);
    // Vagrant's state goes to the lab folder, the Vagrantfile is the repository's.
    expect(calls[0]!.split('|').slice(1)).to.deep.equal([VAGRANT_DIR, join(labDir, '.vagrant'), '3 198.18.0']);

    const { stdout } = await run('node', ['bin/osha.js', 'validate', r.value.inventory]);
    expect(stdout).to.include('valid (cluster osha-lab, 3 nodes, VIP 198.18.0.100/24)');

    const known = parseKnownHosts(readFileSync(r.value.knownHosts, 'utf8'));
    expect(known).to.have.length(9);
    const node3Ed25519 = parseHostKeys(fixture('vagrant-facts-node3.txt')).find((k) => k.type === 'ssh-ed25519')!;
    expect(checkHostKey(known, '198.18.0.13', 22, Buffer.from(node3Ed25519.base64, 'base64')).kind).to.equal('match');
    expect(checkHostKey(known, '198.18.0.11', 22, Buffer.from(node3Ed25519.base64, 'base64')).kind).to.equal('mismatch');
    expect(statSync(labDir).mode & 0o777).to.equal(0o700);
    expect(statSync(r.value.knownHosts).mode & 0o777).to.equal(0o600);
  });

  it('reports a failed vagrant up and writes no inventory', async () => {
    process.env.FAKE_VAGRANT_FAIL = 'up';
    const labDir = join(dir, 'lab');
    const r = await vagrantLabUp({ nodes: 3, dir: labDir, vagrant: fake });
    expect(r.ok).to.equal(false);
    if (!r.ok) expect(r.error.message).to.match(/vagrant up failed \(exit 1\): The box 'debian\/bookworm64' could not be found/);
    expect(existsSync(join(labDir, 'inventory.yaml'))).to.equal(false);
  });

  it('refuses a lab whose ssh-config lacks a node', async () => {
    process.env.FAKE_VAGRANT_SSH_CONFIG = 'ssh-config-with-notice.txt';
    const r = await vagrantLabUp({ nodes: 3, dir: join(dir, 'lab'), vagrant: fake });
    expect(r.ok).to.equal(false);
    if (!r.ok) expect(r.error.message).to.equal('vagrant ssh-config has no machine node3');
  });

  it('says how to install vagrant when it is missing, and checks the node count first', async () => {
    const missing = await vagrantLabUp({ nodes: 3, dir: join(dir, 'lab'), vagrant: join(dir, 'no-such-vagrant') });
    expect(missing.ok).to.equal(false);
    if (!missing.ok) expect(missing.error.fix).to.include('apt-get install vagrant');
    const tooFew = await vagrantLabUp({ nodes: 1, dir: join(dir, 'lab'), vagrant: fake });
    expect(tooFew.ok).to.equal(false);
    expect(existsSync(join(dir, 'calls.log'))).to.equal(false);
  });
});

describe('vagrant lab: the Vagrantfile (real `vagrant validate`)', function () {
  let hasVagrant = true;
  try {
    execFileSync('vagrant', ['--version'], { stdio: 'ignore' });
  } catch {
    hasVagrant = false;
  }
  let state: string;
  before(function () {
    if (!hasVagrant) {
      console.log('    skipped: vagrant is not installed (apt-get install vagrant; listed in .ci/apt-packages)');
      this.skip();
    }
    state = mkdtempSync(join(tmpdir(), 'osha-vagrant-validate-'));
  });
  after(() => {
    if (state) rmSync(state, { recursive: true, force: true });
  });

  const validate = (extra: Record<string, string>) =>
    run('vagrant', ['validate'], {
      // A scratch VAGRANT_HOME and dotfile path: validating touches neither the repo nor ~.
      env: { ...process.env, VAGRANT_CWD: VAGRANT_DIR, VAGRANT_DOTFILE_PATH: join(state, 'dot'), VAGRANT_HOME: join(state, 'home'), ...extra },
    }).then(
      (r) => ({ code: 0, out: r.stdout + r.stderr }),
      (e: { code?: number; stdout?: string; stderr?: string }) => ({ code: e.code ?? 1, out: `${e.stdout ?? ''}${e.stderr ?? ''}` }),
    );

  it('validates with the defaults and with an Ubuntu box and 5 nodes', async () => {
    const defaults = await validate({});
    expect(defaults, defaults.out).to.include({ code: 0 });
    const ubuntu = await validate({ OSHA_LAB_BOX: 'generic/ubuntu2204', OSHA_LAB_NODES: '5', OSHA_LAB_NET: '198.18.7' });
    expect(ubuntu, ubuntu.out).to.include({ code: 0 });
  });

  it('refuses a node count or network outside the lab rules, saying why', async () => {
    const one = await validate({ OSHA_LAB_NODES: '1' });
    expect(one.code).to.not.equal(0);
    expect(one.out).to.include('OSHA_LAB_NODES must be from 2 to 16, got 1');
    const outside = await validate({ OSHA_LAB_NET: '10.0.0' });
    expect(outside.code).to.not.equal(0);
    expect(outside.out).to.include('OSHA_LAB_NET must look like 198.18.X or 198.19.X');
  });
});
