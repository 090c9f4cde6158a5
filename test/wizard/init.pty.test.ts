// `osha init` driven for real in a terminal (tmux): the actual CLI, the actual prompts, keys
// typed one answer at a time. HOME is a scratch folder so the key list and known_hosts are ours.
import { expect } from 'chai';
import { execFile, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parseInventory } from '../../src/inventory/load.ts';
import { WIZARD_DEFAULT_SERVICES } from '../../src/inventory/services.ts';
import { checkHostKey, readKnownHosts } from '../../src/ssh/known-hosts.ts';
import { isRoot, sharedSshd } from '../support/sshd.ts';
import { answer, answerVipToPassword, press, refused, ROOT, startInit as startInitIn } from './drive.ts';
import type { Tmux } from './tmux.ts';

const run = promisify(execFile);

let home: string;
let out: string;
let t: Tmux | undefined;

async function startInit(args: string[] = ['--out', out]): Promise<Tmux> {
  t = await startInitIn(home, args);
  return t;
}

async function answerNodes(s: Tmux): Promise<void> {
  await answer(s, 'Node 1 name', 'alpha');
  await answer(s, 'Node 1 (alpha) address', '198.18.0.11');
  await answer(s, 'Node 2 name', 'bravo');
  await answer(s, 'Node 2 (bravo) address', ''); // default: the next address, .12
  await answer(s, 'Add another node?', ''); // default yes below 3 nodes
  await answer(s, 'Node 3 name', ''); // controller3
  await answer(s, 'Node 3 (controller3) address', '');
  await answer(s, 'Add another node?', ''); // default no at 3
}

/** Per-test scratch HOME and tmux session; called inside each describe (not root-level hooks). */
function scratchHome(): void {
  beforeEach(function () {
    home = mkdtempSync(join(tmpdir(), 'osha-init-home-'));
    mkdirSync(join(home, '.ssh'), { mode: 0o700 });
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'wizard-test', '-f', join(home, '.ssh', 'id_ed25519')]);
    out = join(home, 'inventory.yaml');
  });

  afterEach(async () => {
    await t?.kill();
    t = undefined;
    rmSync(home, { recursive: true, force: true });
  });
}

describe('osha init in a terminal', function () {
  this.timeout(60_000);
  scratchHome();

  it('a full run with defaults writes an inventory that osha validate accepts (replacing a file when told to)', async () => {
    writeFileSync(out, 'old: file\n');
    const s = await startInit();
    await answer(s, `${out} already exists. Replace it`, 'y');
    await answer(s, 'Cluster name', 'lab-one');
    await answerNodes(s);
    await answer(s, 'SSH user on the nodes', '');
    await answer(s, 'SSH port', '');
    await press(s, 'SSH private key', 'Enter'); // the first key found: ~/.ssh/id_ed25519
    await answer(s, 'known_hosts file', '');
    await answer(s, 'Test SSH to each node now', 'n');
    await answerVipToPassword(s, { password: 'env' }); // VIP .100, the articles' services
    await answer(s, 'Environment variable name', '');
    const screen = await s.waitFor(`Next: osha deploy ${out}`);
    expect(await s.waitExit(), screen).to.equal(0);

    const text = readFileSync(out, 'utf8');
    const parsed = parseInventory(text, out);
    if (!parsed.ok) throw new Error(JSON.stringify(parsed.error));
    const inv = parsed.value;
    expect(inv.cluster.name).to.equal('lab-one');
    expect(inv.nodes).to.deep.equal([
      { name: 'alpha', address: '198.18.0.11' },
      { name: 'bravo', address: '198.18.0.12' },
      { name: 'controller3', address: '198.18.0.13' },
    ]);
    expect(inv.ssh).to.include({ user: 'root', port: 22, private_key: '~/.ssh/id_ed25519', known_hosts: '~/.ssh/known_hosts' });
    expect(inv.vip).to.deep.equal({ address: '198.18.0.100', cidr_netmask: 24 });
    expect(inv.services).to.deep.equal(WIZARD_DEFAULT_SERVICES);
    expect(inv.stonith).to.deep.equal({ enabled: false, devices: [], unsafe_no_fencing: true });
    expect(inv.openstack?.password).to.deep.equal({ env: 'OS_PASSWORD' });
    expect(text).to.include('# Fencing is OFF by an explicit choice made in `osha init`.');

    const v = await run('node', ['bin/osha.js', 'validate', out], { cwd: ROOT });
    expect(v.stdout).to.include('valid (cluster lab-one, 3 nodes, VIP 198.18.0.100/24)');
  });

  it('a run with fencing, a public VIP and sudo writes secrets only as references', async () => {
    const s = await startInit();
    await answer(s, 'Cluster name', '');
    await answerNodes(s);
    await answer(s, 'SSH user on the nodes', 'debian');
    await answer(s, 'SSH port', '');
    await press(s, 'SSH private key', 'Enter');
    await answer(s, 'known_hosts file', '');
    await press(s, 'debian is not root', 'Down', 'Enter'); // sudo with a password
    await press(s, 'Where does osha read the sudo password from?', 'Enter'); // environment
    await answer(s, 'Environment variable name', '');
    await answer(s, 'Test SSH to each node now', 'n');
    await answer(s, 'Prefix length', '');
    await answer(s, 'VIP address', '198.18.0.50');
    await answer(s, 'Network interface for the VIP', 'eth1');
    await answer(s, 'Add a public VIP', 'y');
    await refused(s, 'Public VIP address', '198.18.0.50', 'public_vip must differ from vip');
    await answer(s, 'Public VIP address', '198.19.0.50');
    await answer(s, 'Prefix length of the public network', '');
    await answer(s, 'Network interface for the public VIP', '');
    await press(s, 'OpenStack services', 'Enter');
    await press(s, 'Fencing', 'Enter');
    await answer(s, 'Fence agent', '');
    await answer(s, 'Management controller (BMC) user name', '');
    await press(s, 'Where does osha read the BMC password from?', 'Down', 'Enter'); // a file
    await answer(s, 'Path of the file holding it', '/etc/osha/ipmi-password');
    await refused(s, 'BMC address of alpha', 'bmc-alpha', 'must be an IPv4 or IPv6 address');
    await answer(s, 'BMC address of alpha', '198.18.1.11');
    await answer(s, 'BMC address of bravo', '198.18.1.12');
    await answer(s, 'BMC address of controller3', '198.18.1.13');
    await answer(s, 'Keystone URL', '');
    await answer(s, 'OpenStack user', '');
    await answer(s, 'Its project', '');
    await press(s, 'Its password', 'Down', 'Enter'); // no deep checks
    await s.waitFor('Next: osha deploy');
    expect(await s.waitExit()).to.equal(0);

    const parsed = parseInventory(readFileSync(out, 'utf8'), out);
    if (!parsed.ok) throw new Error(JSON.stringify(parsed.error));
    const inv = parsed.value;
    expect(inv.ssh.sudo).to.deep.equal({ password: { env: 'SUDO_PASSWORD' } });
    expect(inv.vip).to.deep.equal({ address: '198.18.0.50', cidr_netmask: 24, nic: 'eth1' });
    expect(inv.public_vip).to.deep.equal({ address: '198.19.0.50', cidr_netmask: 24 });
    expect(inv.stonith.enabled).to.equal(true);
    expect(inv.stonith.devices[2]).to.deep.equal({
      name: 'fence-controller3',
      agent: 'fence_ipmilan',
      node: 'controller3',
      params: { ip: '198.18.1.13', username: 'admin', lanplus: 1 },
      password: { file: '/etc/osha/ipmi-password' },
    });
    expect(inv.openstack?.password).to.equal(undefined);
    expect(inv.openstack?.auth_url).to.equal('http://198.18.0.50:5000/v3');
  });

  it('refuses a bad IP, a duplicate node and a VIP equal to a node at the prompt; Ctrl-C then writes nothing', async () => {
    const s = await startInit();
    await refused(s, 'Cluster name', 'my cluster!', 'must be a cluster name');
    await answer(s, 'Cluster name', 'c1');
    await answer(s, 'Node 1 name', 'alpha');
    await refused(s, 'Node 1 (alpha) address', '198.18.0.300', 'must be an IPv4 or IPv6 address, such as 198.18.0.11');
    await answer(s, 'Node 1 (alpha) address', '198.18.0.11');
    await refused(s, 'Node 2 name', 'alpha', 'node name "alpha" is also used by node alpha; give every node its own name');
    await answer(s, 'Node 2 name', 'bravo');
    await refused(s, 'Node 2 (bravo) address', '198.18.0.11', 'address 198.18.0.11 is also used by node alpha; give every node its own address');
    await answer(s, 'Node 2 (bravo) address', '198.18.0.12');
    await answer(s, 'Add another node?', 'n');
    await answer(s, 'SSH user on the nodes', '');
    await refused(s, 'SSH port', '70000', 'must be a TCP port from 1 to 65535');
    await answer(s, 'SSH port', '22');
    await press(s, 'SSH private key', 'Enter');
    await answer(s, 'known_hosts file', '');
    await answer(s, 'Test SSH to each node now', 'n');
    await answer(s, 'Prefix length', '');
    await refused(s, 'VIP address', '198.18.0.12', '198.18.0.12 is the address of node bravo; the VIP must be a free address that no node owns');
    await refused(s, 'VIP address', '10.1.2.3', '10.1.2.3/24 is not in the subnet of any node');
    await s.waitFor('? VIP address');
    await s.key('C-c');
    await s.waitFor('Interrupted: nothing was written.');
    expect(await s.waitExit()).to.equal(130);
    expect(existsSync(out)).to.equal(false);
    expect(existsSync(join(home, '.ssh', 'known_hosts'))).to.equal(false);
  });

  it('Ctrl-C at the very last question leaves no file', async () => {
    const s = await startInit();
    await answer(s, 'Cluster name', '');
    await answerNodes(s);
    await answer(s, 'SSH user on the nodes', '');
    await answer(s, 'SSH port', '');
    await press(s, 'SSH private key', 'Enter');
    await answer(s, 'known_hosts file', '');
    await answer(s, 'Test SSH to each node now', 'n');
    await answerVipToPassword(s, { password: 'env' });
    await s.waitFor('? Environment variable name');
    await s.key('C-c');
    await s.waitFor('Interrupted: nothing was written.');
    expect(await s.waitExit()).to.equal(130);
    expect(existsSync(out)).to.equal(false);
  });

  it('does not overwrite an existing file unless told to', async () => {
    writeFileSync(out, 'keep: me\n');
    const s = await startInit();
    await answer(s, `${out} already exists. Replace it`, ''); // default: no
    await s.waitFor('nothing was written');
    expect(await s.waitExit()).to.equal(1);
    expect(readFileSync(out, 'utf8')).to.equal('keep: me\n');
  });

  it('without a terminal it says what to do instead and exits 2 at once', async () => {
    const started = Date.now();
    const child = spawn('node', ['bin/osha.js', 'init', '--out', out], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((r) => child.on('close', r));
    expect(code).to.equal(2);
    expect(stderr).to.include('needs a terminal');
    expect(stderr).to.include('inventory.example.yaml');
    expect(Date.now() - started).to.be.below(10_000);
    expect(existsSync(out)).to.equal(false);
  });
});

describe('osha init in a terminal: SSH test against a real sshd', function () {
  this.timeout(60_000);
  scratchHome();

  before(function () {
    if (!isRoot()) {
      console.log('    skipped: the test sshd needs root to create its users');
      this.skip();
    }
  });

  it('shows the host key fingerprint, records it on accept, and reports unreachable nodes', async () => {
    const sshd = await sharedSshd();
    const expectedFp = execFileSync('ssh-keygen', ['-lf', join(sshd.dir, 'host_ed25519.pub')], { encoding: 'utf8' }).split(' ')[1]!;
    const s = await startInit();
    await answer(s, 'Cluster name', '');
    await answer(s, 'Node 1 name', 'alpha');
    await answer(s, 'Node 1 (alpha) address', '127.0.0.1');
    await answer(s, 'Node 2 name', 'bravo');
    await answer(s, 'Node 2 (bravo) address', ''); // 127.0.0.2: nothing listens there
    await answer(s, 'Add another node?', 'n');
    await answer(s, 'SSH user on the nodes', sshd.users.nopasswd);
    await answer(s, 'SSH port', String(sshd.port));
    await press(s, 'SSH private key', 'Down', 'Enter'); // another key file
    await answer(s, 'Path to the private key', sshd.clientKey);
    await answer(s, 'known_hosts file', '');
    await press(s, `${sshd.users.nopasswd} is not root`, 'Enter'); // passwordless sudo
    await answer(s, 'Test SSH to each node now', '');
    const shown = await s.waitFor('? Accept this host key for alpha?');
    expect(shown).to.include(`alpha (127.0.0.1) presents host key ssh-ed25519 ${expectedFp}`);
    await s.type('y');
    await s.waitFor(`alpha: logged in as ${sshd.users.nopasswd}`);
    await s.waitFor(`bravo: cannot reach 127.0.0.2:${sshd.port}`);
    await answerVipToPassword(s, { password: 'none' });
    await s.waitFor('and 1 host key to');
    expect(await s.waitExit()).to.equal(0);

    const known = await readKnownHosts(join(home, '.ssh', 'known_hosts'));
    const blob = Buffer.from(sshd.hostKeyPub.split(' ')[1]!, 'base64');
    expect(checkHostKey(known, '127.0.0.1', sshd.port, blob).kind).to.equal('match');
    expect(known).to.have.length(1);
    const parsed = parseInventory(readFileSync(out, 'utf8'), out);
    if (!parsed.ok) throw new Error(JSON.stringify(parsed.error));
    expect(parsed.value.ssh.sudo).to.equal(true);
  });
});
