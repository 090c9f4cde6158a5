// End-to-end: `osha deploy` brings real lab nodes from bare to a quorate, encrypted cluster.
// Each describe gets its own fresh lab (bare nodes); the lab boots in seconds, the package
// installs are what takes time, so the cases share one deploy each.
import { expect } from 'chai';
import { writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { labKill, labStart } from '../../src/lab/index.ts';
import { freshLab, inventoryWithout, labExec, labOk, type LabInfo } from '../support/lab.ts';
import { parseFenceHistory } from '../../src/facts/fencing.ts';
import { planLab } from '../../src/lab/plan.ts';
import { waitFor } from '../../src/lab/proc.ts';
import { run } from '../../src/lab/exec.ts';
import { OSHA_BIN, oshaJson, osha, startOsha } from '../support/osha.ts';
import { Tmux } from '../wizard/tmux.ts';

/** Bare nodes of their own per describe: a deploy from scratch must start from a fresh lab. */
function bareLab(ctx: Mocha.Context, nodes: number, subnet: number): Promise<LabInfo> {
  return freshLab(ctx, { dir: `/tmp/osha-test-deploy-${subnet}`, nodes, subnet });
}

const sh = labOk;

/**
 * Every file and directory a deploy could touch: checksums of the files under /etc, Pacemaker's
 * and corosync's state, osha's records and policy-rc.d; every directory there with its mode and
 * owner; the package list; whether the stack runs.
 */
const FINGERPRINT =
  'find /etc /var/lib/pacemaker /var/lib/corosync /var/lib/osha /usr/lib/ocf /usr/sbin/policy-rc.d -xdev -type f 2>/dev/null | sort | xargs -r sha256sum; ' +
  "find /etc /var/lib /usr/lib/ocf -xdev -type d -printf '%p %m %u:%g\\n' 2>/dev/null | sort; " +
  'dpkg-query -W -f "\\${Package} \\${Version}\\n"; systemctl is-active corosync pacemaker || true';

function onlineNodes(crmMonXml: string): string[] {
  return [...crmMonXml.matchAll(/<node name="([^"]+)"[^>]*online="true"/g)].map((m) => m[1]!);
}

describe('[lab] osha deploy: 3 bare nodes to a quorate, encrypted cluster', function () {
  this.timeout(20 * 60_000);
  let lab: LabInfo;

  before(async function () {
    lab = await bareLab(this, 3, 53);
  });

  it('--dry-run changes nothing on any node (checksums of /etc, state dirs and packages)', async () => {
    const before = await Promise.all(lab.nodes.map((n) => sh(lab, n.name, FINGERPRINT)));
    const { run, summary } = await oshaJson(['deploy', lab.inventory, '--dry-run']);
    expect(run.code, run.stderr).to.equal(0);
    expect(summary.dryRun).to.equal(true);
    expect(summary.changed).to.be.greaterThan(10); // it does show the work to do
    expect(run.stderr).to.include('+++ b/etc/corosync/corosync.conf');
    expect(run.stderr).to.match(/authkey sha256:[0-9a-f]{16}/);
    const after = await Promise.all(lab.nodes.map((n) => sh(lab, n.name, FINGERPRINT)));
    expect(after).to.deep.equal(before);
  });

  it('preflight failing on one node (its corosync port taken) stops the run before any node changes', async () => {
    const before = await Promise.all(lab.nodes.map((n) => sh(lab, n.name, FINGERPRINT)));
    // Something else listens on UDP 5405 on node3 only.
    const squatter = 'import socket, time\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\ns.bind(("0.0.0.0", 5405))\ntime.sleep(600)\n';
    const pid = (await sh(lab, 'node3', `printf '%s' '${squatter}' > /tmp/squat.py && (setsid python3 /tmp/squat.py >/dev/null 2>&1 & echo $!) && for i in $(seq 1 40); do ss -Hlun 'sport = :5405' | grep -q . && break; sleep 0.1; done`)).trim();
    try {
      const { run, summary } = await oshaJson(['deploy', lab.inventory, '--yes']);
      expect(run.code).to.equal(1);
      expect(run.stdout + run.stderr).to.include('node3: failed - UDP port 5405 is already used by python3');
      expect(summary.notRun).to.include('hosts-file');
      expect(summary.changed).to.equal(0);
    } finally {
      await sh(lab, 'node3', `kill ${pid}; rm -f /tmp/squat.py`);
    }
    const after = await Promise.all(lab.nodes.map((n) => sh(lab, n.name, FINGERPRINT)));
    expect(after).to.deep.equal(before);
  });

  it('deploys: every node online, with quorum, knet traffic encrypted, key 0400 root', async () => {
    const { run, summary } = await oshaJson(['deploy', lab.inventory]);
    expect(run.code, `${run.stdout}\n${run.stderr}`).to.equal(0);
    expect(summary.failed).to.equal(0);
    const xml = await sh(lab, 'node2', 'crm_mon --one-shot --output-as=xml');
    expect(onlineNodes(xml).sort()).to.deep.equal(['node1', 'node2', 'node3']);
    expect(xml).to.match(/with_quorum="true"/);
    for (const n of lab.nodes) {
      expect(await sh(lab, n.name, 'corosync-cmapctl -g totem.crypto_cipher; corosync-cmapctl -g totem.crypto_hash')).to.include('aes256').and.include('sha256');
      expect((await sh(lab, n.name, 'stat -c "%a %U:%G" /etc/corosync/authkey')).trim()).to.equal('400 root:root');
      expect(await sh(lab, n.name, 'cat /etc/hosts')).to.include('# BEGIN osha managed block').and.include(`${lab.nodes[2]!.address} node3`);
      expect(await sh(lab, n.name, 'test -e /usr/sbin/policy-rc.d && echo left || echo gone')).to.include('gone');
    }
    const keys = await Promise.all(lab.nodes.map((n) => sh(lab, n.name, 'sha256sum < /etc/corosync/authkey')));
    expect(new Set(keys).size).to.equal(1);
    // The key itself is never printed, only its fingerprint.
    const key = (await sh(lab, 'node1', 'od -An -tx1 /etc/corosync/authkey | tr -d " \\n"')).trim();
    expect(run.stdout + run.stderr).to.not.include(key.slice(0, 32));
  });

  it('a VIP that another machine already answers on is refused in preflight, also on nodes without ping', async () => {
    // The lab host takes an address in the nodes' subnet: a machine outside the cluster.
    const taken = '198.18.53.99';
    const bridge = planLab({ dir: lab.dir, nodes: 3, subnet: 53 }).bridge;
    const hide = 'for p in /usr/bin/ping /bin/ping; do if [ -e "$p" ] && [ ! -L "$p" ]; then mv "$p" "$p.osha-test"; fi; done; ! command -v ping';
    const restore = 'for p in /usr/bin/ping /bin/ping; do if [ -e "$p.osha-test" ]; then mv "$p.osha-test" "$p"; fi; done';
    expect((await run('ip', ['addr', 'add', `${taken}/24`, 'dev', bridge])).code).to.equal(0);
    try {
      for (const n of lab.nodes) await sh(lab, n.name, hide);
      const inv = join(lab.dir, 'inventory-vip-taken.yaml');
      writeFileSync(inv, readFileSync(lab.inventory, 'utf8').replace(/^ {2}address: 198\.18\.53\.100$/m, `  address: ${taken}`));
      const r = await osha(['plan', inv]);
      expect(r.code, r.stdout).to.equal(1);
      expect(r.stdout).to.include(`the VIP ${taken} already answers, but no cluster node holds it`);
      expect(r.stdout).to.not.include('VIP not probed');
    } finally {
      for (const n of lab.nodes) await sh(lab, n.name, restore);
      await run('ip', ['addr', 'del', `${taken}/24`, 'dev', bridge]);
    }
  });

  it('a second run changes nothing and restarts nothing (same corosync PIDs, same CIB epoch)', async () => {
    const pids = await Promise.all(lab.nodes.map((n) => sh(lab, n.name, 'pidof corosync pacemakerd')));
    const epoch = await sh(lab, 'node1', 'cibadmin --query | head -1 | grep -o " epoch=\\"[0-9]*\\""');
    const { run, summary } = await oshaJson(['deploy', lab.inventory]);
    expect(run.code, run.stderr).to.equal(0);
    expect(summary.changed).to.equal(0);
    expect(summary.failed).to.equal(0);
    expect(await Promise.all(lab.nodes.map((n) => sh(lab, n.name, 'pidof corosync pacemakerd')))).to.deep.equal(pids);
    expect(await sh(lab, 'node1', 'cibadmin --query | head -1 | grep -o " epoch=\\"[0-9]*\\""')).to.equal(epoch);
  });

  it('osha\'s agents: all checked on node1, one on each other node; a node whose check fails keeps no record and is checked again', async () => {
    const record = async (n: string) => (await sh(lab, n, 'cat /var/lib/osha/agents-checked')).trim();
    const all = await record('node1');
    expect(all).to.match(/^[0-9a-f]{64} [0-9a-f]{64} all$/);
    for (const n of ['node2', 'node3']) expect(await record(n), n).to.equal(all.replace(/ all$/, ' one'));
    // node3 loses its record, and its crm_resource refuses osha's agents (a wrapper earlier in
    // root's PATH: only the check sees it, Pacemaker's own daemons and agents do not, so nothing
    // else fails and nothing is fenced). The run checks node3 again, fails there, leaves no record.
    const wrapper = '/usr/local/sbin/crm_resource';
    await sh(lab, 'node3', `rm /var/lib/osha/agents-checked && printf '#!/bin/sh\\ncase "$*" in *ocf:openstack:*) echo "osha test: meta-data refused" >&2; exit 1;; esac\\nexec /usr/sbin/crm_resource "$@"\\n' > ${wrapper} && chmod 755 ${wrapper}`);
    try {
      const broken = await oshaJson(['run', 'agents', lab.inventory]);
      expect(broken.run.code).to.not.equal(0);
      expect(broken.summary.changed).to.equal(0);
      expect(broken.run.stdout + broken.run.stderr).to.match(/node3.*Pacemaker cannot use osha's agents: no valid meta-data from: keystone \(osha test: meta-data refused\)/s);
      expect((await labExec(lab, 'node3', 'test -e /var/lib/osha/agents-checked')).code).to.not.equal(0);
      expect(await record('node1')).to.equal(all);
    } finally {
      await sh(lab, 'node3', `rm -f ${wrapper}`);
    }
    // Mended: the next run checks node3 again (one agent: node1 checked all with this loader).
    const mended = await oshaJson(['run', 'agents', lab.inventory]);
    expect(mended.run.code, mended.run.stderr).to.equal(0);
    expect(mended.summary.hosts.node3!.map((s) => s.changes).flat()).to.deep.equal(['check that Pacemaker loads keystone (every agent is checked on node1: same Pacemaker and OCF library): no record of a check against this node\'s Pacemaker and OCF library']);
    expect(mended.summary.changed).to.equal(1);
    expect(await record('node3')).to.equal(all.replace(/ all$/, ' one'));
  });

  it('a run cut short after writing a new authkey, before corosync restarted: the record it left makes the next run restart', async () => {
    const all = (cmd: string) => Promise.all(lab.nodes.map((n) => sh(lab, n.name, cmd)));
    const keysBefore = await all('sha256sum < /etc/corosync/authkey');
    const pids = await all('pidof corosync');
    // A playbook that ends right after the authkey step: the state a run killed at that point leaves.
    const cut = join(lab.dir, 'cut-after-authkey.yaml');
    writeFileSync(cut, 'name: cut\ndescription: the cluster playbook cut after the authkey step\nsteps:\n  - step: preflight\n  - step: authkey\n');
    const unconfirmed = await osha(['run', cut, lab.inventory, '--regenerate-key']);
    expect(unconfirmed.code, 'a key rotation on a running cluster needs confirming').to.equal(2);
    expect(await all('sha256sum < /etc/corosync/authkey')).to.deep.equal(keysBefore);
    // On a terminal osha asks; "no" changes nothing either.
    const t = await Tmux.start([process.execPath, OSHA_BIN, 'run', cut, lab.inventory, '--regenerate-key'], { cwd: lab.dir, env: {} });
    try {
      await t.waitFor('These changes interrupt service:', 60_000);
      await t.waitFor('Apply them now?');
      await t.type('n');
      expect(await t.waitExit(60_000)).to.equal(2);
    } finally {
      await t.kill();
    }
    expect(await all('sha256sum < /etc/corosync/authkey')).to.deep.equal(keysBefore);
    const first = await osha(['run', cut, lab.inventory, '--regenerate-key', '--yes']);
    expect(first.code, first.stderr).to.equal(0);
    const keys = await all('sha256sum < /etc/corosync/authkey');
    expect(new Set(keys).size).to.equal(1);
    expect(keys[0]).to.not.equal(keysBefore[0]);
    expect(await all('pidof corosync')).to.deep.equal(pids);
    expect(await all('cat /var/lib/osha/owed/corosync-restart')).to.deep.equal(lab.nodes.map(() => 'corosync owes a restart for its new authkey\n'));

    const plan = await osha(['plan', lab.inventory]);
    expect(plan.stdout).to.include('a new authkey was installed by a run cut short before corosync restarted: restarting now');
    expect(plan.stdout).to.match(/restart corosync and pacemaker on all 3 nodes together.*\[DISRUPTIVE/);
    const next = await oshaJson(['deploy', lab.inventory, '--yes']);
    expect(next.run.code, next.run.stderr).to.equal(0);
    const after = await all('pidof corosync');
    after.forEach((p, i) => expect(p, lab.nodes[i]!.name).to.not.equal(pids[i]));
    expect(await all('ls /var/lib/osha/owed | wc -l')).to.deep.equal(lab.nodes.map(() => '0\n'));
    expect(onlineNodes(await sh(lab, 'node1', 'crm_mon --one-shot --output-as=xml')).sort()).to.deep.equal(['node1', 'node2', 'node3']);
    expect((await oshaJson(['deploy', lab.inventory])).summary.changed).to.equal(0);
  });

  it('osha export of the running cluster gives an inventory that validates and whose plan changes nothing', async () => {
    const out = join(lab.dir, 'exported.yaml');
    const exp = await osha(['export', '--address', lab.nodes[1]!.address, '--private-key', lab.privateKey, '--known-hosts', lab.knownHosts, '--out', out]);
    expect(exp.code, exp.stderr).to.equal(0);
    const text = readFileSync(out, 'utf8');
    expect(text).to.match(/^cluster:\n {2}name: osha-lab$/m);
    for (const [i, n] of lab.nodes.entries()) expect(text).to.include(`- name: ${n.name}\n    address: ${n.address}\n    nodeid: ${i + 1}\n`);
    expect(text).to.include(`vip:\n  address: ${lab.vip}\n  cidr_netmask: 24\n  nic: eth0\n`);
    expect((await osha(['validate', out])).code).to.equal(0);
    const { run, summary } = await oshaJson(['plan', out]);
    expect(run.code, run.stderr).to.equal(0);
    expect(summary.changed, `${JSON.stringify(summary.hosts)}\n${run.stderr}`).to.equal(0);
  });

  it('a changed token timeout reaches every node while the cluster keeps quorum throughout', async () => {
    const inv = join(lab.dir, 'inventory-token.yaml');
    writeFileSync(inv, readFileSync(lab.inventory, 'utf8').replace(/^services:/m, 'corosync:\n  token_timeout: 4200\nservices:'));
    // Watch quorum from node3 every 100 ms while the deploy runs.
    const watcher = startWatch(lab, 'node3');
    const { run, summary } = await oshaJson(['deploy', inv]);
    const samples = await watcher.stop();
    expect(run.code, run.stderr).to.equal(0);
    expect(summary.changed).to.be.greaterThan(0);
    for (const n of lab.nodes) {
      expect(await sh(lab, n.name, 'corosync-cmapctl -g totem.token')).to.match(/= 4200$/m);
      expect(await sh(lab, n.name, 'corosync-cmapctl -g runtime.config.totem.token')).to.match(/= 4850$/m); // + 650 ms for the third node
    }
    expect(samples.length).to.be.greaterThan(5);
    expect(samples.filter((q) => q !== 'quorate'), samples.join(',')).to.deep.equal([]);
    // And back: the original inventory again is one more reload, then nothing.
    const back = await oshaJson(['deploy', lab.inventory]);
    expect(back.run.code).to.equal(0);
    const again = await oshaJson(['deploy', lab.inventory]);
    expect(again.summary.changed).to.equal(0);
  });

  it("a re-run that changes nothing takes each fence device's answer from Pacemaker's own monitor; a device with a failure on record is asked live", async () => {
    const quiet = await oshaJson(['deploy', lab.inventory, '--verbose']);
    expect(quiet.summary.changed, quiet.run.stderr).to.equal(0);
    for (const id of ['osha-fence-node1', 'osha-fence-node2', 'osha-fence-node3']) expect(quiet.run.stderr).to.match(new RegExp(`answering by Pacemaker's own monitor, not queried again: ${id} \\(on node[123], every 60 s`));
    expect(quiet.run.stderr).to.not.match(/stonith_admin --query=/);
    // A monitor failure on record for one device (crm_resource --fail, as a failed monitor would leave).
    const where = (await sh(lab, 'node1', 'crm_resource --locate --resource osha-fence-node1')).match(/running on: (\S+)/)?.[1];
    expect(where).to.be.oneOf(['node1', 'node2']);
    await sh(lab, 'node1', `crm_resource --fail --resource osha-fence-node1 --node ${where}`);
    try {
      const asked = await oshaJson(['deploy', lab.inventory, '--verbose']);
      expect(asked.run.code, asked.run.stderr).to.equal(0);
      expect(asked.run.stderr).to.match(/stonith_admin --query=osha-fence-node1 /);
      expect(asked.summary.hosts.node2!.find((r) => r.step === 'fencing')?.status).to.equal('ok');
    } finally {
      await sh(lab, 'node1', 'crm_resource --cleanup --resource osha-fence-node1');
    }
  });

  it("a fencer that never registers a device: polled by list only (its status queried once), then the run fails with what every other fencer says and where its reason is logged", async () => {
    // node2's fencer checks osha-fence-node1. An operator's ban of that device on node2 (not
    // osha's to remove) makes node2's fencer drop it, while node3's keeps it.
    await sh(lab, 'node1', 'crm_resource --ban --resource osha-fence-node1 --node node2');
    try {
      // A failure on record makes the run query the device's status: once, not at every poll.
      expect(await waitFor(async () => (await sh(lab, 'node1', 'crm_resource --locate --resource osha-fence-node1')).includes('running on: node3'), { timeoutMs: 30_000, intervalMs: 500 })).to.equal(true);
      await sh(lab, 'node1', 'crm_resource --fail --resource osha-fence-node1 --node node3');
      const lacking = await oshaJson(['deploy', lab.inventory, '--timeout', '5', '--verbose']);
      expect(lacking.run.stderr.match(/node2\$ .*stonith_admin --list=node1 /g)?.length ?? 0, lacking.run.stderr).to.be.at.least(4);
      expect(lacking.run.stderr.match(/stonith_admin --query=osha-fence-node1 --timeout=/g)?.length ?? 0, lacking.run.stderr).to.be.at.most(2);
      expect(lacking.run.code, lacking.run.stderr).to.not.equal(0);
      const failed = lacking.summary.hosts.node2!.find((r) => r.step === 'fencing');
      expect(failed?.status).to.equal('failed');
      expect(failed?.error).to.match(/^the fencer on node2 has no device osha-fence-node1 for node1 \(it knows: none\); all it has registered: osha-fence-node3; every other node's fencer lists it \(1\), so node2's alone lags/);
      expect(failed?.error).to.contain('grep pacemaker-fenced /var/log/pacemaker/pacemaker.log | grep osha-fence-node1');
      // And the log line the hint points at is there, with the reason.
      expect(await sh(lab, 'node2', 'grep pacemaker-fenced /var/log/pacemaker/pacemaker.log | grep osha-fence-node1')).to.match(/Device osha-fence-node1 has been disabled on node2: score=-INFINITY/);
    } finally {
      await sh(lab, 'node1', 'crm_resource --clear --resource osha-fence-node1');
      // The cleanup restarts the device: wait for it, or the next run waits and counts a change.
      await sh(lab, 'node1', 'crm_resource --cleanup --resource osha-fence-node1 && crm_resource --wait --timeout=60s');
    }
    const back = await oshaJson(['deploy', lab.inventory]);
    expect(back.run.code, back.run.stderr).to.equal(0);
    expect(back.summary.changed).to.equal(0);
  });

  it('repairs a run cut short after writing corosync.conf but before the reload: the next run applies it', async () => {
    const inv = join(lab.dir, 'inventory-token.yaml');
    const all = (cmd: string) => Promise.all(lab.nodes.map((n) => sh(lab, n.name, cmd)));
    // The state such a run leaves: every node has the new file, corosync still runs the old one.
    await all('cp -p /etc/corosync/corosync.conf /root/corosync.conf.before');
    expect((await oshaJson(['deploy', inv])).run.code).to.equal(0);
    await all('cp -p /etc/corosync/corosync.conf /root/corosync.conf.after && cp -p /root/corosync.conf.before /etc/corosync/corosync.conf');
    await sh(lab, 'node1', 'corosync-cfgtool -R');
    await all('cp -p /root/corosync.conf.after /etc/corosync/corosync.conf && rm -f /root/corosync.conf.before /root/corosync.conf.after');
    for (const n of lab.nodes) expect(await sh(lab, n.name, 'corosync-cmapctl -g totem.token')).to.match(/= 3000$/m);

    const plan = await osha(['deploy', inv, '--dry-run']);
    expect(plan.stdout).to.include('corosync runs an older configuration than /etc/corosync/corosync.conf');
    expect(plan.stdout).to.include('corosync-cfgtool -R');
    const { run, summary } = await oshaJson(['deploy', inv]);
    expect(run.code, run.stderr).to.equal(0);
    expect(summary.changed).to.equal(1); // the one reload
    for (const n of lab.nodes) expect(await sh(lab, n.name, 'corosync-cmapctl -g totem.token')).to.match(/= 4200$/m);
    expect((await oshaJson(['deploy', lab.inventory])).run.code).to.equal(0);
    expect((await oshaJson(['deploy', lab.inventory])).summary.changed).to.equal(0);
  });
});

/** Samples corosync's quorum state on a node in a loop in one command until stopped. */
function startWatch(lab: LabInfo, node: string): { stop(): Promise<string[]> } {
  const run = labExec(
    lab,
    node,
    'end=$(( $(date +%s) + 600 )); while [ ! -e /tmp/osha-stop-watch ] && [ $(date +%s) -lt $end ]; do if corosync-quorumtool -s >/dev/null 2>&1; then echo quorate; else echo LOST; fi; sleep 0.1; done; rm -f /tmp/osha-stop-watch',
  );
  return {
    async stop() {
      await labExec(lab, node, 'touch /tmp/osha-stop-watch');
      const r = await run;
      return r.stdout.split('\n').filter(Boolean);
    },
  };
}

describe('[lab] osha deploy: 2 nodes, a node killed mid-deploy, then a third node added and removed', function () {
  this.timeout(20 * 60_000);
  /** The 2-node cluster: the lab's first two nodes and an inventory of just those. */
  let lab: LabInfo;
  /** The whole lab: node3 waits, bare, until the growth test adds it to the inventory. */
  let whole: LabInfo;

  before(async function () {
    whole = await bareLab(this, 3, 52);
    const two = inventoryWithout(whole.inventory, ['node3'], join(whole.dir, 'inventory-2-nodes.yaml'));
    lab = { ...whole, inventory: two, nodes: whole.nodes.slice(0, 2) };
  });

  it('reports the killed node by name, and converges on a re-run after it is back', async () => {
    const deploy = startOsha(['deploy', lab.inventory]);
    await deploy.waitForOutput(/== packages/);
    const killed = await labKill(lab.dir, 'node2');
    expect(killed.ok).to.equal(true);
    const first = await deploy.done;
    expect(first.code).to.equal(1);
    expect(first.stdout).to.match(/node2: failed/);
    expect(first.stdout).to.match(/node2: failed - .*(lost|timed out|closed|connect)/);
    const started = await labStart(lab.dir, 'node2');
    expect(started.ok).to.equal(true);
    const { run, summary } = await oshaJson(['deploy', lab.inventory]);
    expect(run.code, `${run.stdout}\n${run.stderr}`).to.equal(0);
    expect(summary.failed).to.equal(0);
  });

  it('gives a 2-node cluster two_node: 1 and both nodes online with quorum', async () => {
    for (const n of lab.nodes) expect(await sh(lab, n.name, 'corosync-cmapctl -g quorum.two_node')).to.match(/= 1$/m);
    const xml = await sh(lab, 'node1', 'crm_mon --one-shot --output-as=xml');
    expect(onlineNodes(xml).sort()).to.deep.equal(['node1', 'node2']);
    expect(xml).to.match(/with_quorum="true"/);
    const again = await oshaJson(['deploy', lab.inventory]);
    expect(again.summary.changed).to.equal(0);
  });

  it('fences for real: every device registered and answering; a 2-node split (corosync cut, fence path kept) leaves exactly one survivor, the VIP holder', async () => {
    for (const n of lab.nodes) expect(await sh(lab, n.name, 'crm_attribute --type crm_config --name stonith-enabled --query --quiet')).to.equal('true\n');
    const xml = await sh(lab, 'node1', 'crm_mon --one-shot --output-as=xml');
    const vipAt = xml.match(/<resource id="osha-vip"[\s\S]*?<node name="([^"]+)"/)?.[1];
    expect(vipAt, xml).to.be.oneOf(['node1', 'node2']);
    // The fence history is the cluster's; ask the node expected to survive (the other one reboots).
    const fenced = async (target: string) => parseFenceHistory(await sh(lab, vipAt!, `stonith_admin --history=${target} --verbose --output-as=xml`)).filter((e) => e.status === 'success');
    const loser = vipAt === 'node1' ? 'node2' : 'node1';
    const before = { [vipAt!]: (await fenced(vipAt!)).length, [loser]: (await fenced(loser)).length };
    const corosyncPid = await sh(lab, vipAt!, 'pidof corosync');
    // Cut only the cluster network: each node drops the other's address; both still reach the
    // fence device (the lab host), as with a separate management network.
    const plan = planLab({ dir: lab.dir, nodes: 3, subnet: 52 });
    const ns = (name: string) => plan.nodes.find((n) => n.name === name)!;
    const blackhole = (on: string, to: string, add: boolean) => run('ip', ['-n', ns(on).netns, 'route', add ? 'add' : 'del', 'blackhole', `${ns(to).address}/32`]);
    expect((await blackhole('node1', 'node2', true)).code).to.equal(0);
    expect((await blackhole('node2', 'node1', true)).code).to.equal(0);
    try {
      // Both stay quorate (two_node) and both ask to fence; the VIP holder's request goes first.
      const done = await waitFor(async () => (await fenced(loser).catch(() => [])).length > before[loser]!, { timeoutMs: 90_000, intervalMs: 500 });
      expect(done, `${loser} was not fenced`).to.equal(true);
      const event = (await fenced(loser)).at(-1)!;
      expect(event).to.include({ target: loser, delegate: vipAt, action: 'reboot' });
      expect(readFileSync(join(lab.dir, 'fence.log'), 'utf8')).to.match(new RegExp(`off ${loser}`));
    } finally {
      await blackhole('node1', 'node2', false);
      await blackhole('node2', 'node1', false);
    }
    // The survivor was never fenced and never restarted its stack; the VIP stayed with it.
    expect((await fenced(vipAt!)).length).to.equal(before[vipAt!]);
    expect(await sh(lab, vipAt!, 'pidof corosync')).to.equal(corosyncPid);
    // The fenced node came back through the device (power on), booted and rejoins.
    const rejoined = await waitFor(async () => {
      const r = await labExec(lab, vipAt!, 'crm_mon --one-shot --output-as=xml', 20_000);
      return r.code === 0 && onlineNodes(r.stdout).length === 2;
    }, { timeoutMs: 180_000, intervalMs: 1000 });
    expect(rejoined, `${loser} did not rejoin`).to.equal(true);
    const now = await sh(lab, vipAt!, 'crm_mon --one-shot --output-as=xml');
    expect(now.match(/<resource id="osha-vip"[\s\S]*?<node name="([^"]+)"/)?.[1]).to.equal(vipAt);
  });

  it('points glance-api.conf at the VIP, keeps a backup, re-runs as a no-op, and rolls back byte for byte', async () => {
    // Debian's own glance-api, installed in the lab image: its default files are the input.
    const files = ['/etc/glance/glance-api.conf'];
    const original = await sh(lab, 'node1', `sha256sum ${files.join(' ')}`);
    const inv = join(lab.dir, 'inventory-openstack.yaml');
    writeFileSync(inv, readFileSync(lab.inventory, 'utf8').replace(/^services: \[\]/m, 'services: [glance-api]'));
    const first = await oshaJson(['run', 'openstack', inv]);
    expect(first.run.code, first.run.stderr).to.equal(0);
    expect(first.summary.changed).to.equal(2); // both nodes
    for (const n of lab.nodes) {
      const glance = await sh(lab, n.name, 'sed -n "/^\\[DEFAULT\\]/,/^\\[/p" /etc/glance/glance-api.conf | grep "^bind_host"');
      expect(glance.trim()).to.equal(`bind_host = ${lab.vip}`);
      // Only the intended lines changed: diff against the backup shows added/changed option lines only.
      const d = await labExec(lab, n.name, `diff /etc/glance/glance-api.conf.osha-orig /etc/glance/glance-api.conf | grep '^[<>]'`);
      expect(d.stdout.trim()).to.equal(`> bind_host = ${lab.vip}`);
      expect((await sh(lab, n.name, 'stat -c "%a %U:%G" /etc/glance/glance-api.conf')).trim()).to.equal((await sh(lab, n.name, 'stat -c "%a %U:%G" /etc/glance/glance-api.conf.osha-orig')).trim());
    }
    const again = await oshaJson(['run', 'openstack', inv]);
    expect(again.summary.changed).to.equal(0);
    const rollback = await osha(['rollback', inv]);
    expect(rollback.code, rollback.stderr).to.equal(0);
    expect(rollback.stdout).to.include('restored /etc/glance/glance-api.conf');
    expect(await sh(lab, 'node1', `sha256sum ${files.join(' ')}`)).to.equal(original);
    expect((await labExec(lab, 'node1', 'ls /etc/glance/*.osha-orig')).code).to.not.equal(0);
  });

  it('install-guide configs: a `controller` that /etc/hosts resolves to node1 is pointed at the VIP, and the plan names it', async () => {
    // The database behind the VIP is what makes glance's [database] connection osha's to rewrite.
    const inv = join(lab.dir, 'inventory-openstack-db.yaml');
    writeFileSync(inv, readFileSync(lab.inventory, 'utf8').replace(/^services: \[\]/m, 'services: [mysql, glance-api]'));
    const setup = `echo '${lab.nodes[0]!.address} controller' >> /etc/hosts; ` +
      `sed -i 's|^\\[database\\]$|[database]\\nconnection = mysql+pymysql://glance:Gl4nce@controller/glance|' /etc/glance/glance-api.conf`;
    for (const n of lab.nodes) await sh(lab, n.name, setup);
    expect(await sh(lab, 'node2', 'grep "^connection" /etc/glance/glance-api.conf')).to.include('@controller/glance');
    const plan = await osha(['plan', inv]);
    expect(plan.code, plan.stderr).to.equal(0);
    expect(plan.stdout).to.include(`/etc/hosts resolves "controller" to ${lab.nodes[0]!.address} (node1): options naming controller are pointed at the VIP too`);
    const r = await oshaJson(['run', 'openstack', inv]);
    expect(r.run.code, r.run.stderr).to.equal(0);
    for (const n of lab.nodes) expect(await sh(lab, n.name, 'grep "^connection" /etc/glance/glance-api.conf')).to.include(`@${lab.vip}/glance`);
    expect((await osha(['rollback', inv])).code).to.equal(0);
    for (const n of lab.nodes) expect(await sh(lab, n.name, 'grep "^connection" /etc/glance/glance-api.conf')).to.include('@controller/glance');
  });

  it('refuses to run against an invalid inventory and touches no node', async () => {
    const bad = join(lab.dir, 'bad.yaml');
    writeFileSync(bad, readFileSync(lab.inventory, 'utf8').replace(/cidr_netmask: 24/, 'cidr_netmask: "24"'));
    const r = await osha(['deploy', bad]);
    expect(r.code).to.equal(2);
    expect(r.stderr).to.match(/bad\.yaml:\d+:\d+ vip\.cidr_netmask: expected number/);
  });
  it('grows to 3 nodes when node3 joins the inventory: corosync reloaded, not restarted; quorum kept throughout; the VIP stays', async () => {
    const pids = await Promise.all(lab.nodes.map((n) => sh(lab, n.name, 'pidof corosync pacemakerd')));
    const vipOn = async () => (await Promise.all(whole.nodes.map(async (n) => ((await sh(whole, n.name, 'ip -o -4 addr show')).includes(` ${whole.vip}/`) ? n.name : '')))).filter(Boolean);
    const vipBefore = await vipOn();
    expect(vipBefore).to.have.length(1);

    const plan = await osha(['deploy', whole.inventory, '--dry-run']);
    expect(plan.code, plan.stderr).to.equal(0);
    expect(plan.stdout).to.include('reload corosync.conf on every running node (corosync-cfgtool -R), no restart needed; node3 joins the nodelist');
    expect(plan.stdout).to.not.match(/restart corosync and pacemaker on node/);

    const watch = startWatch(lab, 'node1');
    const { run, summary } = await oshaJson(['deploy', whole.inventory]);
    const samples = await watch.stop();
    expect(run.code, `${run.stdout}\n${run.stderr}`).to.equal(0);
    expect(summary.failed).to.equal(0);
    expect(samples.length).to.be.greaterThan(5);
    expect(samples.filter((q) => q !== 'quorate'), samples.join(',')).to.deep.equal([]);

    const xml = await sh(whole, 'node3', 'crm_mon --one-shot --output-as=xml');
    expect(onlineNodes(xml).sort()).to.deep.equal(['node1', 'node2', 'node3']);
    expect(xml).to.match(/with_quorum="true"/);
    for (const n of whole.nodes) {
      const q = await sh(whole, n.name, 'corosync-quorumtool -s');
      expect(q).to.match(/Expected votes: +3/);
      expect(q).to.not.match(/Flags:.*2Node/);
      expect(await sh(whole, n.name, 'cat /etc/hosts')).to.include(`${whole.nodes[2]!.address} node3`);
    }
    expect(await Promise.all(lab.nodes.map((n) => sh(lab, n.name, 'pidof corosync pacemakerd')))).to.deep.equal(pids);
    expect(await vipOn()).to.deep.equal(vipBefore);
    const again = await oshaJson(['deploy', whole.inventory]);
    expect(again.summary.changed).to.equal(0);
  });
  it('shrinks back to 2 nodes by dropping the middle node: node2 stopped, then dropped from the inventory; ids kept, corosync reloaded (two_node again), node2 gone from Pacemaker\'s node list', async () => {
    const ids = async (on: LabInfo, node: string) => (await sh(on, node, 'corosync-cmapctl nodelist.node | grep -E "\\.(name|nodeid) "')).trim();
    expect(await ids(whole, 'node3')).to.match(/nodeid \(u32\) = 3$/m);
    await sh(whole, 'node2', 'systemctl stop pacemaker corosync');
    const remaining = { ...whole, inventory: inventoryWithout(whole.inventory, ['node2'], join(whole.dir, 'inventory-without-node2.yaml')), nodes: [whole.nodes[0]!, whole.nodes[2]!] };
    const pids = await Promise.all(remaining.nodes.map((n) => sh(remaining, n.name, 'pidof corosync pacemakerd')));
    const plan = await osha(['deploy', remaining.inventory, '--dry-run']);
    expect(plan.code, plan.stderr).to.equal(0);
    expect(plan.stdout).to.include('node2 leaves it');
    expect(plan.stdout).to.include("remove node2 from Pacemaker's node list (no longer in the inventory, and offline)");
    expect(plan.stdout).to.not.include('DISRUPTIVE');

    const watch = startWatch(remaining, 'node1');
    const { run, summary } = await oshaJson(['deploy', remaining.inventory]);
    const samples = await watch.stop();
    expect(run.code, `${run.stdout}\n${run.stderr}`).to.equal(0);
    expect(summary.failed).to.equal(0);
    expect(samples.filter((q) => q !== 'quorate'), samples.join(',')).to.deep.equal([]);
    const xml = await sh(remaining, 'node1', 'crm_mon --one-shot --output-as=xml');
    expect(onlineNodes(xml).sort()).to.deep.equal(['node1', 'node3']);
    expect(xml).to.not.include('name="node2"');
    // node3 keeps id 3 (list position would have made it 2): no restart, no name/id clash.
    for (const n of remaining.nodes) {
      expect(await ids(remaining, n.name)).to.match(/name \(str\) = node1\n.*nodeid \(u32\) = 1\n.*name \(str\) = node3\n.*nodeid \(u32\) = 3$/);
      expect(await sh(remaining, n.name, 'corosync-quorumtool -s')).to.match(/Expected votes: +2/).and.match(/Flags:.*2Node/);
    }
    // Pacemaker's peer list: every id with one name and every name with one id (the controller
    // may still remember node2 as lost, under its own id).
    const peers = (await sh(remaining, 'node1', 'crm_node -l')).trim().split('\n').map((l) => l.split(' '));
    expect(peers.filter((p) => p[2] === 'member').map((p) => `${p[0]} ${p[1]}`)).to.deep.equal(['1 node1', '3 node3']);
    expect(JSON.stringify(peers.filter((p) => p[2] !== 'member').map((p) => `${p[0]} ${p[1]}`))).to.be.oneOf(['[]', '["2 node2"]']);
    expect(new Set(peers.map((p) => p[0])).size).to.equal(peers.length);
    expect(new Set(peers.map((p) => p[1])).size).to.equal(peers.length);
    expect(await Promise.all(remaining.nodes.map((n) => sh(remaining, n.name, 'pidof corosync pacemakerd')))).to.deep.equal(pids);
    expect((await oshaJson(['deploy', remaining.inventory])).summary.changed).to.equal(0);
  });
});
