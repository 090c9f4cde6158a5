// From nothing to a running cluster the way a new operator goes: `osha init` in a terminal
// (tmux), answered with the lab's nodes and key, host keys checked and accepted at the prompt,
// then `osha deploy` of exactly the file the wizard wrote onto bare lab nodes.
import { expect } from 'chai';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseInventory } from '../../src/inventory/load.ts';
import type { RunSummary } from '../../src/runner/types.ts';
import { freshLab, labOk, type LabInfo } from '../support/lab.ts';
import { osha, type OshaRun } from '../support/osha.ts';
import { answer, answerVipToPassword, press, startInit } from './drive.ts';
import type { Tmux } from './tmux.ts';

/** SHA256:... as OpenSSH prints it, from a known_hosts line of the lab. */
function fingerprintOf(knownHostsLine: string): string {
  const blob = Buffer.from(knownHostsLine.trim().split(/\s+/)[2]!, 'base64');
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

const sh = labOk;

function summaryOf(run: OshaRun): RunSummary {
  try {
    return JSON.parse(run.stdout) as RunSummary;
  } catch {
    throw new Error(`osha printed no JSON summary (exit ${run.code}):\n${run.stdout}\n${run.stderr}`);
  }
}

describe('[lab] osha init, then osha deploy of the inventory it wrote', function () {
  this.timeout(20 * 60_000);
  let lab: LabInfo;
  let home: string;
  let out: string;
  let tmux: Tmux | undefined;

  before(async function () {
    lab = await freshLab(this, { dir: '/tmp/osha-test-wizard-deploy', nodes: 3, subnet: 56, stack: true });
    // The one service chosen below, MariaDB, comes installed with the lab image, as on a real controller.
    // The operator's machine: a HOME of its own, with an empty known_hosts to start from.
    home = mkdtempSync(join(tmpdir(), 'osha-init-deploy-home-'));
    mkdirSync(join(home, '.ssh'), { mode: 0o700 });
    out = join(home, 'inventory.yaml');
  });

  after(async () => {
    await tmux?.kill();
    if (home) rmSync(home, { recursive: true, force: true });
  });

  it('the wizard tests SSH to every lab node, shows each real host key and writes a valid inventory', async () => {
    const known = readFileSync(lab.knownHosts, 'utf8').split('\n').filter(Boolean);
    const s = (tmux = await startInit(home, ['--out', out]));
    await answer(s, 'Cluster name', 'wizard-lab');
    await answer(s, 'Node 1 name', lab.nodes[0]!.name);
    await answer(s, `Node 1 (${lab.nodes[0]!.name}) address`, lab.nodes[0]!.address);
    await answer(s, 'Node 2 name', lab.nodes[1]!.name);
    await answer(s, `Node 2 (${lab.nodes[1]!.name}) address`, ''); // the suggested next address is the lab's
    await answer(s, 'Add another node?', '');
    await answer(s, 'Node 3 name', lab.nodes[2]!.name);
    await answer(s, `Node 3 (${lab.nodes[2]!.name}) address`, '');
    await answer(s, 'Add another node?', '');
    await answer(s, 'SSH user on the nodes', '');
    await answer(s, 'SSH port', '');
    await press(s, 'SSH private key', 'Enter'); // the scratch HOME has no keys: "another key file..."
    await answer(s, 'Path to the private key', lab.privateKey);
    await answer(s, 'known_hosts file', '');
    await answer(s, 'Test SSH to each node now', '');
    for (const node of lab.nodes) {
      const screen = await s.waitFor(`? Accept this host key for ${node.name}?`);
      const line = known.find((l) => l.startsWith(`${node.address} `));
      expect(line, `lab known_hosts has ${node.address}`).to.not.equal(undefined);
      expect(screen).to.include(`${node.name} (${node.address}) presents host key ssh-ed25519 ${fingerprintOf(line!)}`);
      await s.type('y');
      await s.waitFor(`${node.name}: logged in as root`);
    }
    // Only MariaDB: `a` selects all, `a` again clears all, space checks the first (mysql). No
    // keystone here, so no password for deep checks.
    await answerVipToPassword(s, { serviceKeys: ['a', 'a', 'Space'], password: 'none' });
    const end = await s.waitFor('Next: osha deploy');
    expect(end).to.include('and 3 host keys to');
    expect(await s.waitExit()).to.equal(0);

    const parsed = parseInventory(readFileSync(out, 'utf8'), out);
    if (!parsed.ok) throw new Error(JSON.stringify(parsed.error));
    expect(parsed.value.nodes).to.deep.equal(lab.nodes.map((n) => ({ name: n.name, address: n.address })));
    expect(parsed.value.services).to.deep.equal(['mysql']);
    expect(parsed.value.ssh.private_key).to.equal(lab.privateKey);
    const validate = await osha(['validate', out], { HOME: home });
    expect(validate.code, validate.stderr).to.equal(0);
  });

  it('osha deploy of that file forms the cluster and runs the VIP and MariaDB on one node; a re-run changes nothing', async () => {
    // HOME is the wizard's: ~/.ssh/known_hosts in the inventory means the keys accepted above.
    const first = await osha(['deploy', out, '--json'], { HOME: home });
    const summary = summaryOf(first);
    expect(first.code, `${first.stdout}\n${first.stderr}`).to.equal(0);
    expect(summary.failed).to.equal(0);

    const xml = await sh(lab, lab.nodes[0]!.name, 'crm_mon --one-shot --output-as=xml');
    const online = [...xml.matchAll(/<node name="([^"]+)"[^>]*online="true"/g)].map((m) => m[1]);
    expect(online.sort()).to.deep.equal(lab.nodes.map((n) => n.name).sort());
    expect(xml).to.match(/with_quorum="true"/);
    expect(await sh(lab, lab.nodes[0]!.name, 'corosync-cmapctl -g totem.cluster_name')).to.include('= wizard-lab');
    const placed = (agent: string): string[] =>
      [...xml.matchAll(/<resource id="([^"]+)" resource_agent="([^"]+)" role="Started"[^>]*>\s*<node name="([^"]+)"/g)]
        .filter((m) => m[2] === agent)
        .map((m) => m[3]!);
    const vipOn = placed('ocf:heartbeat:IPaddr2');
    const dbOn = placed('ocf:heartbeat:mysql');
    expect(vipOn, xml).to.have.length(1);
    expect(dbOn, xml).to.deep.equal(vipOn);

    // The VIP really is on that node, and MariaDB there really answers.
    const inventory = parseInventory(readFileSync(out, 'utf8'), out);
    if (!inventory.ok) throw new Error('inventory no longer parses');
    expect(await sh(lab, vipOn[0]!, 'ip -o -4 addr show')).to.include(` ${inventory.value.vip.address}/`);
    expect(await sh(lab, dbOn[0]!, 'mysqladmin --connect-timeout=5 ping')).to.include('mysqld is alive');

    const again = await osha(['deploy', out, '--json'], { HOME: home });
    expect(again.code, again.stderr).to.equal(0);
    expect(summaryOf(again).changed).to.equal(0);
  });
});
