// The lab's fence device end to end: a real 2-node lab of its own (198.18.210.0/24), the
// fence_nspawn agent run inside node1 against node2, the fence server's refusals, fence.log, and
// a clean teardown. No mocks: every power cut is a real one.
import { expect } from 'chai';
import { existsSync, readFileSync } from 'node:fs';
import { DOMParser, type Element } from '@xmldom/xmldom';
import { labDown, labHeal, labPartition, labStatus, labUp, type LabInfo as ApiLabInfo } from '../../src/lab/index.ts';
import { planLab } from '../../src/lab/plan.ts';
import { fenceFiles } from '../../src/lab/fence.ts';
import { loadInventory } from '../../src/inventory/load.ts';
import { run } from '../../src/lab/exec.ts';
import { nspawnPid, sshBanner } from '../../src/lab/node.ts';
import { waitFor } from '../../src/lab/proc.ts';
import { labExec, labOk, skipWithoutLab, leftovers, labInfoOf, type ExecResult, type LabInfo } from '../support/lab.ts';
import { onTeardown } from '../support/teardown.ts';

const DIR = '/tmp/osha-test-fence';
const SUBNET = 210;
const SERVER = `198.18.${SUBNET}.1`;
const NODE2 = `198.18.${SUBNET}.12`;
/** The agent's parameters as Pacemaker passes them (besides action and port). */
const PARAMS = `ipaddr=${SERVER}\nipport=1622\nlogin=fence\nidentity_file=/etc/osha-lab/fence_key\n`;
/** A raw ssh to the fence server from a node, with the real fence key unless told otherwise. */
const RAW_SSH = `ssh -F /dev/null -p 1622 -o BatchMode=yes -o StrictHostKeyChecking=yes -o UserKnownHostsFile=/etc/osha-lab/fence_known_hosts -o ConnectTimeout=5`;

describe('osha lab fence device (fence_nspawn, 2 real nodes)', function () {
  this.timeout(5 * 60_000);
  const plan = planLab({ dir: DIR, nodes: 2, subnet: SUBNET });
  const log = fenceFiles(plan.dir).log;
  let lab: LabInfo;
  let up: ApiLabInfo;

  before(async function () {
    await skipWithoutLab(this);
    onTeardown(async () => void (await labDown(DIR)));
    await labDown(DIR); // a lab left by a crashed earlier run
    const r = await labUp({ dir: DIR, nodes: 2, subnet: SUBNET });
    if (!r.ok) throw new Error(r.error.message);
    up = r.value;
    lab = labInfoOf(r.value);
  });

  after(async () => void (await labDown(DIR)));

  /** Runs the agent in node1: `args` on its command line, `stdin` fed to it. */
  function agent(args: string, stdin?: string): Promise<ExecResult> {
    const feed = stdin === undefined ? '</dev/null' : `<<'EOF'\n${stdin}EOF`;
    return labExec(lab, 'node1', `fence_nspawn ${args} ${feed}`, 60_000);
  }

  async function node2State(): Promise<{ state: string; partitioned: boolean; nspawnPid?: number }> {
    const s = await labStatus(DIR);
    if (!s.ok) throw new Error(s.error.message);
    return s.value.nodes[1]!;
  }

  const logText = () => readFileSync(log, 'utf8');

  it('installs the agent and its key in every node, pins the server key, and writes the devices into the inventory', async () => {
    for (const n of ['node1', 'node2']) {
      const perms = (await labOk(lab, n, 'stat -c "%a %U" /usr/sbin/fence_nspawn /etc/osha-lab/fence_key')).trim().split('\n');
      expect(perms).to.deep.equal(['755 root', '600 root']);
      expect((await labOk(lab, n, 'cat /etc/osha-lab/fence_known_hosts')).trim()).to.match(/^\[198\.18\.210\.1\]:1622 ssh-ed25519 AAAA\S+$/);
    }
    // The nodes hold the fence key, not the operator's lab key.
    expect((await labOk(lab, 'node1', 'cat /etc/osha-lab/fence_key'))).to.not.equal(readFileSync(up.privateKey, 'utf8'));
    const inv = await loadInventory(up.inventory);
    if (!inv.ok) throw new Error(JSON.stringify(inv.error));
    expect(inv.value.stonith.enabled).to.equal(true);
    expect(inv.value.stonith.devices).to.deep.equal(
      ['node1', 'node2'].map((n) => ({ name: n, agent: 'fence_nspawn', node: n, params: { ipaddr: SERVER, ipport: 1622, login: 'fence', identity_file: '/etc/osha-lab/fence_key' } })),
    );
    expect(up.fence).to.deep.include({ address: SERVER, port: 1622 });
  });

  it('prints well-formed metadata with the parameters and actions Pacemaker reads', async () => {
    const byOption = await agent('-o metadata');
    const byStdin = await agent('', 'action=metadata\n');
    expect(byOption.code).to.equal(0);
    expect(byStdin.stdout).to.equal(byOption.stdout);
    const errors: string[] = [];
    const doc = new DOMParser({ onError: (level, message) => void (level !== 'warning' && errors.push(message)) }).parseFromString(byOption.stdout, 'text/xml');
    expect(errors).to.deep.equal([]);
    const root = doc.documentElement!;
    expect(root.tagName).to.equal('resource-agent');
    expect(root.getAttribute('name')).to.equal('fence_nspawn');
    expect(root.getAttribute('shortdesc')).to.not.equal('');
    expect(root.getElementsByTagName('longdesc').length).to.equal(1);
    const params = Array.from(root.getElementsByTagName('parameter')) as Element[];
    expect(params.map((p) => p.getAttribute('name'))).to.include.members(['port', 'plug', 'ipaddr', 'ipport', 'login', 'identity_file', 'action']);
    for (const p of params) {
      expect(p.getElementsByTagName('getopt')[0]?.getAttribute('mixed'), p.getAttribute('name')!).to.match(/^-\w, --/);
      expect(p.getElementsByTagName('content')[0]?.getAttribute('type')).to.be.oneOf(['string', 'integer']);
      expect(p.getElementsByTagName('shortdesc')[0]?.getAttribute('lang')).to.equal('en');
    }
    const ipport = params.find((p) => p.getAttribute('name') === 'ipport')!;
    expect(ipport.getElementsByTagName('content')[0]!.getAttribute('default')).to.equal('1622');
    const actions = Array.from(root.getElementsByTagName('action')) as Element[];
    expect(actions.map((a) => a.getAttribute('name'))).to.include.members(['on', 'off', 'reboot', 'status', 'list', 'monitor', 'metadata', 'validate-all']);
    expect(actions.find((a) => a.getAttribute('name') === 'on')!.getAttribute('automatic')).to.equal('0');
  });

  it('reports status 0 for a running node, with options on stdin (comments, unknown keys) or the command line', async () => {
    const stdin = await agent('', `# from pacemaker-fenced\naction=status\nport=node2\nnodename=node2\n${PARAMS}pcmk_host_list=node2\nsomething_else=1\n`);
    expect(stdin.code, stdin.stderr).to.equal(0);
    const short = await agent(`-o status -n node2 -a ${SERVER} -u 1622 -l fence -k /etc/osha-lab/fence_key`);
    expect(short.code, short.stderr).to.equal(0);
    const long = await agent(`--action=status --plug=node2 --ip=${SERVER} --ipport=1622 --username=fence --identity-file=/etc/osha-lab/fence_key`);
    expect(long.code, long.stderr).to.equal(0);
    expect((await agent('', 'action=validate-all\n')).code).to.equal(0);
  });

  it('lists the nodes and answers monitor', async () => {
    const list = await agent('', `action=list\n${PARAMS}`);
    expect(list.code, list.stderr).to.equal(0);
    expect(list.stdout).to.equal('node1,node1\nnode2,node2\n');
    expect((await agent('-o monitor')).code).to.equal(0);
  });

  it('off powers node2 off (verified: status exits 2, the lab says killed); on boots it again', async () => {
    const started = Date.now();
    const off = await agent('', `action=off\nport=node2\n${PARAMS}`);
    const offSeconds = (Date.now() - started) / 1000;
    expect(off.code, off.stderr).to.equal(0);
    expect(offSeconds).to.be.below(5);
    expect((await node2State()).state).to.equal('killed');
    expect(await sshBanner(NODE2, 500)).to.equal(false);
    expect((await agent('-o status -n node2')).code).to.equal(2);

    const on = await agent('', `action=on\nport=node2\n${PARAMS}`);
    expect(on.code, on.stderr).to.equal(0);
    expect((await node2State()).state).to.equal('running');
    expect(await waitFor(() => sshBanner(NODE2, 1_000), { timeoutMs: 60_000, intervalMs: 100 })).to.equal(true);
    expect((await labOk(lab, 'node2', 'hostname')).trim()).to.equal('node2');
    expect((await agent('-o status -n node2')).code).to.equal(0);
  });

  it('reboot power-cycles node2 (a fresh /run) and it answers again', async () => {
    // The server's own reboot (the agent does off, verified, then on).
    const direct = await labExec(lab, 'node1', `${RAW_SSH} -T -i /etc/osha-lab/fence_key fence@${SERVER} 'reboot node2' </dev/null`, 30_000);
    expect(direct.code, direct.stderr).to.equal(0);
    expect(direct.stdout).to.equal('on\n');
    expect(await waitFor(() => sshBanner(NODE2, 1_000), { timeoutMs: 60_000, intervalMs: 100 })).to.equal(true);
    await labOk(lab, 'node2', 'touch /run/osha-before-fence');
    const before = (await node2State()).nspawnPid;
    const r = await agent('', `action=reboot\nport=node2\n${PARAMS}`);
    expect(r.code, r.stderr).to.equal(0);
    const after = await node2State();
    expect(after.state).to.equal('running');
    expect(after.nspawnPid).to.not.equal(before);
    expect(await waitFor(() => sshBanner(NODE2, 1_000), { timeoutMs: 60_000, intervalMs: 100 })).to.equal(true);
    expect((await labOk(lab, 'node2', 'test -e /run/osha-before-fence && echo stale || echo fresh')).trim()).to.equal('fresh');
  });

  it('a power cycle keeps a partitioned node cut off (it does not mend the cable)', async () => {
    const cut = await labPartition(DIR, 'node2');
    if (!cut.ok) throw new Error(cut.error.message);
    const r = await agent('-o reboot -n node2');
    expect(r.code, r.stderr).to.equal(0);
    const s = await node2State();
    expect(s).to.deep.include({ state: 'running', partitioned: true });
    expect(await sshBanner(NODE2, 1_000)).to.equal(false);
    const healed = await labHeal(DIR, 'node2');
    if (!healed.ok) throw new Error(healed.error.message);
    expect(await waitFor(() => sshBanner(NODE2, 1_000), { timeoutMs: 60_000, intervalMs: 100 })).to.equal(true);
  });

  it('status exits 1 when the fence server cannot be reached (wrong ipport)', async () => {
    const r = await agent('', `action=status\nport=node2\nipaddr=${SERVER}\nipport=1623\n`);
    expect(r.code).to.equal(1);
    expect(r.stderr).to.match(/fence_nspawn: status node2: .*refused/i);
  });

  it('refuses anything but "ACTION NODE" from a node with the fence key, and leaves node2 running', async () => {
    const pid = (await node2State()).nspawnPid;
    expect(pid).to.be.a('number');
    const raw = (opts: string, command: string) => labExec(lab, 'node1', `${RAW_SSH} ${opts} fence@${SERVER} ${command} </dev/null`, 30_000);
    const key = '-T -i /etc/osha-lab/fence_key';

    const unknown = await raw(key, "'off node9'");
    expect(unknown.code).to.equal(1);
    expect(unknown.stderr.trim()).to.equal('refused: no node named "node9" in this lab (nodes: node1, node2)');
    const extra = await raw(key, "'off node2; id'");
    expect(extra.code).to.equal(1);
    expect(extra.stderr.trim()).to.match(/^refused: only "ACTION NODE"/);
    const verb = await raw(key, "'poweroff node2'");
    expect(verb.code).to.equal(1);
    const shell = await raw(key, '');
    expect(shell.code).to.equal(1);
    expect(shell.stderr.trim()).to.match(/^refused: no shell here/);
    const sftp = await raw(`${key} -s`, 'sftp');
    expect(sftp.code).to.not.equal(0);
    const pty = await raw('-tt -i /etc/osha-lab/fence_key', "'status node2'");
    expect(pty.code).to.not.equal(0);
    expect(pty.stdout).to.not.include('on');
    const forward = await raw(`${key} -W 127.0.0.1:22`, '');
    expect(forward.code).to.not.equal(0);

    // Another key, made in the node: not even authenticated.
    const other = await labExec(lab, 'node1', `rm -f /tmp/other-key; ssh-keygen -q -t ed25519 -N '' -f /tmp/other-key && ${RAW_SSH} -T -i /tmp/other-key -o IdentitiesOnly=yes fence@${SERVER} 'off node2'`, 30_000);
    expect(other.code).to.equal(255);
    expect(other.stderr).to.match(/Permission denied \(publickey\)/);

    // The real fence key from a source that is not a node (the host, 198.18.210.1): dropped.
    const pinned = `${plan.nodes[0]!.root}/etc/osha-lab/fence_known_hosts`;
    const host = await run('ssh', ['-F', '/dev/null', '-T', '-b', SERVER, '-i', fenceFiles(DIR).clientKey, '-p', '1622', '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=yes', '-o', `UserKnownHostsFile=${pinned}`, '-o', 'ConnectTimeout=5', `fence@${SERVER}`, 'off node2'], { timeoutMs: 30_000 });
    expect(host.code).to.equal(255);

    const after = await node2State();
    expect(after.state).to.equal('running');
    expect(after.nspawnPid).to.equal(pid);
    expect(nspawnPid(plan.nodes[1]!)).to.equal(pid);
    expect(await sshBanner(NODE2, 1_000)).to.equal(true);

    const text = logText();
    expect(text).to.match(/198\.18\.210\.11 "off node9" -> refused: no node named "node9"/);
    expect(text).to.match(/198\.18\.210\.11 "off node2; id" -> refused/);
    expect(text).to.match(/198\.18\.210\.11 "poweroff node2" -> refused/);
    expect(text).to.match(/198\.18\.210\.11 shell -> refused/);
    expect(text).to.match(/198\.18\.210\.11 subsystem "sftp" -> refused/);
    expect(text).to.match(/198\.18\.210\.11 pty -> refused/);
    expect(text).to.match(/198\.18\.210\.11 direct-tcpip -> refused/);
    expect(text).to.match(/198\.18\.210\.11 - -> refused: key SHA256:\S+ is not the fence key/);
    expect(text).to.match(/198\.18\.210\.1 - -> refused: the source address is not a node of this lab/);
  });

  it('logs every request with time, source, command and outcome', () => {
    const lines = logText().trim().split('\n');
    const stamp = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z /;
    for (const l of lines) expect(l).to.match(stamp);
    for (const expected of [
      /198\.18\.210\.11 "status node2" -> on$/,
      /198\.18\.210\.11 "list" -> ok$/,
      /198\.18\.210\.11 "monitor" -> ok$/,
      /198\.18\.210\.11 "off node2" -> off \(\d+\.\d\d s\)$/,
      /198\.18\.210\.11 "status node2" -> off$/,
      /198\.18\.210\.11 "on node2" -> on \(\d+\.\d\d s\)$/,
      /198\.18\.210\.11 "reboot node2" -> rebooted \(\d+\.\d\d s\)$/,
      /198\.18\.210\.11 "on node2" -> on, link still cut \(partitioned\)/,
    ]) {
      expect(lines.some((l) => expected.test(l)), String(expected)).to.equal(true);
    }
    // Nothing secret: no key material.
    expect(logText()).to.not.match(/PRIVATE KEY|AAAAC3Nza/);
  });

  it('down stops the fence server and removes everything, fence files included', async () => {
    const status = await labStatus(DIR);
    const pid = status.ok ? status.value.fence?.pid : undefined;
    expect(pid).to.be.a('number');
    const r = await labDown(DIR);
    expect(r.ok && r.value.removed).to.equal(true);
    expect(await leftovers(plan)).to.deep.equal([]);
    expect(existsSync(`/proc/${pid}`)).to.equal(false);
    for (const f of Object.values(fenceFiles(DIR))) expect(existsSync(f), f).to.equal(false);
    expect(await sshBanner(SERVER, 500, 1622)).to.equal(false);
  });
});

describe('osha lab up --no-fencing', function () {
  this.timeout(3 * 60_000);
  const dir = '/tmp/osha-test-fence-none';
  const plan = planLab({ dir, nodes: 2, subnet: 211 });

  before(async function () {
    await skipWithoutLab(this);
    onTeardown(async () => void (await labDown(dir)));
    await labDown(dir);
  });
  after(async () => void (await labDown(dir)));

  it('runs no fence server, installs no agent, and writes stonith off with unsafe_no_fencing', async () => {
    const r = await labUp({ dir, nodes: 2, subnet: 211, fencing: false });
    if (!r.ok) throw new Error(r.error.message);
    expect(r.value.fence).to.equal(undefined);
    const text = readFileSync(r.value.inventory, 'utf8');
    expect(text).to.match(/^# A lab without a fence device/m);
    expect(text).to.match(/^stonith:\n {2}enabled: false\n {2}unsafe_no_fencing: true$/m);
    const lab = labInfoOf(r.value);
    expect((await labOk(lab, 'node1', 'test -e /usr/sbin/fence_nspawn && echo yes || echo no')).trim()).to.equal('no');
    expect(await sshBanner('198.18.211.1', 500, 1622)).to.equal(false);
    const s = await labStatus(dir);
    expect(s.ok && s.value.fence).to.equal(undefined);
    const down = await labDown(dir);
    expect(down.ok).to.equal(true);
    expect(await leftovers(plan)).to.deep.equal([]);
  });
});
