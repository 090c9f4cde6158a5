// End-to-end: a cluster built by hand, the way the articles build one (corosync.conf written by
// hand with its own node ids, an authkey from corosync-keygen, resources made with `crm
// configure`: a Dummy and Listing 2's p_IP on the VIP's address), meets osha. Under another name
// it is refused with nothing changed; under its own name osha refuses to put a second VIP beside
// p_IP until the inventory decides; with `keep` it is adopted in place (ids, key, corosync and
// both hand-made resources as they were, nothing stopped); with `replace` the one announced swap
// needs --yes.
import { expect } from 'chai';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freshLab, labOk, logPhase, nodeRun, offlineInstallScript, seconds, type LabInfo } from '../support/lab.ts';
import { osha, oshaJson } from '../support/osha.ts';

const sh = labOk;

/** Every file a deploy could touch, checksummed (the policy engine's own inputs left out). */
const FINGERPRINT =
  "find /etc /var/lib/pacemaker /var/lib/corosync /usr/sbin/policy-rc.d -xdev -type f -not -path '/var/lib/pacemaker/pengine/*' 2>/dev/null | sort | xargs -r sha256sum; " +
  'dpkg-query -W -f "\\${Package} \\${Version}\\n"; pidof corosync pacemakerd';

/** corosync.conf as an operator writes it for corosync 3 after article 002: ids 10, 20, 30. */
function handWrittenConf(name: string, lab: LabInfo): string {
  const nodes = lab.nodes.map((n, i) => `    node {\n        ring0_addr: ${n.address}\n        name: ${n.name}\n        nodeid: ${(i + 1) * 10}\n    }`).join('\n');
  return `# written by hand
totem {
    version: 2
    cluster_name: ${name}
    transport: knet
    crypto_cipher: aes256
    crypto_hash: sha256
}

nodelist {
${nodes}
}

quorum {
    provider: corosync_votequorum
}

logging {
    to_syslog: yes
}
`;
}

/** Hand-made resources' state: their CIB XML and the operations Pacemaker recorded for them. */
async function handState(lab: LabInfo): Promise<{ xml: string; ops: string }> {
  const xml = await sh(lab, 'node1', `cibadmin --query --xpath "//primitive[@id='p_dummy' or @id='p_IP']"`);
  const status = await sh(lab, 'node1', 'cibadmin --query --scope status');
  // One line per recorded operation: node, resource, operation, call id, when it last changed.
  const ops = [...status.matchAll(/<node_state [^>]*uname="([^"]+)"[\s\S]*?<\/node_state>/g)]
    .flatMap((m) =>
      [...m[0].matchAll(/<lrm_rsc_op [^>]*id="(p_dummy|p_IP)_[^"]*"[^>]*>/g)].map(
        (o) => `${m[1]} ${o[1]} ${/operation="([^"]+)"/.exec(o[0])?.[1]} ${/call-id="([^"]+)"/.exec(o[0])?.[1]} ${/last-rc-change="([^"]+)"/.exec(o[0])?.[1]}`,
      ),
    )
    .sort()
    .join('\n');
  return { xml, ops };
}

/** The lab's inventory under the hand-made cluster's name, with `extra` appended. */
function inventoryAs(lab: LabInfo, name: string, file: string, extra = ''): string {
  const path = join(lab.dir, file);
  writeFileSync(path, readFileSync(lab.inventory, 'utf8').replace(/^ {2}name: osha-lab$/m, `  name: ${name}`) + extra);
  return path;
}

/**
 * A fresh 3-node lab with the cluster stack installed, as an operator installs it by hand: the
 * lab's stack layer holds the packages (installed once, not per node at every run), `extra` is
 * installed here, and the units are enabled as Debian's install leaves them.
 */
async function stackLab(ctx: Mocha.Context, dir: string, subnet: number, extra: string[] = []): Promise<LabInfo> {
  const lab = await freshLab(ctx, { dir, nodes: 3, subnet, stack: true });
  const install = `${offlineInstallScript(['pacemaker', 'corosync', 'crmsh', 'resource-agents', ...extra], '/var/log/osha-test-install.log')}systemctl enable --quiet corosync pacemaker\n`;
  const started = Date.now();
  await Promise.all(lab.nodes.map((n) => sh(lab, n.name, install)));
  logPhase(`cluster stack installed on the 3 nodes: ${seconds(Date.now() - started)}`);
  return lab;
}

const fingerprints = (lab: LabInfo) => Promise.all(lab.nodes.map((n) => sh(lab, n.name, FINGERPRINT)));

describe('[lab] a cluster built by hand: refused under another name, adopted in place under its own', function () {
  this.timeout(20 * 60_000);
  let lab: LabInfo;
  const NAME = 'handmade';

  before(async function () {
    lab = await stackLab(this, '/tmp/osha-test-adopt', 58);
    // One key, made on node1 by corosync-keygen, carried to the others over stdin.
    const key = await sh(lab, 'node1', 'corosync-keygen -l >/dev/null 2>&1 && base64 -w0 /etc/corosync/authkey');
    const conf = handWrittenConf(NAME, lab);
    for (const n of lab.nodes) {
      const r = await nodeRun(n, 'bash -s', {
        input: `set -eu\nbase64 -d > /etc/corosync/authkey <<'EOF'\n${key}\nEOF\nchmod 0400 /etc/corosync/authkey\ncat > /etc/corosync/corosync.conf <<'EOF'\n${conf}EOF\nsystemctl start corosync pacemaker\n`,
      });
      if (r.code !== 0) throw new Error(`${n.name}: hand setup failed: ${r.stderr}`);
    }
    await sh(lab, 'node1', 'for i in $(seq 1 240); do crm_mon -1 --output-as=xml 2>/dev/null | grep -q \'with_quorum="true"\' && [ "$(crm_mon -1 --output-as=xml | grep -c \'online="true"\')" = 3 ] && exit 0; sleep 0.5; done; exit 1');
    await sh(lab, 'node1', 'crm configure property stonith-enabled=false && crm configure primitive p_dummy ocf:heartbeat:Dummy op monitor interval=10s');
    // Listing 2, line 4: the VIP as the article makes it.
    await sh(lab, 'node1', `crm configure primitive p_IP ocf:heartbeat:IPaddr2 params cidr_netmask=24 ip=${lab.vip} nic=${lab.nic} op monitor interval=120s timeout=60s`);
    for (const id of ['p_dummy', 'p_IP']) {
      await sh(lab, 'node1', `for i in $(seq 1 240); do crm_mon -1 --output-as=xml | grep -q '<resource id="${id}"[^>]*role="Started"' && exit 0; sleep 0.5; done; exit 1`);
    }
  });

  it('under another cluster name: refused in preflight, naming what runs there, and no node changes', async () => {
    const before = await fingerprints(lab);
    const other = join(lab.dir, 'inventory-other-name.yaml');
    writeFileSync(other, readFileSync(lab.inventory, 'utf8'));
    const r = await osha(['deploy', other, '--yes']);
    expect(r.code).to.equal(1);
    expect(r.stdout + r.stderr).to.include(`runs cluster "${NAME}" (nodes node1, node2, node3; 2 resources (p_dummy, p_IP), 0 constraints, 0 stonith devices), which osha did not configure`);
    expect(r.stdout + r.stderr).to.include(`set cluster.name: ${NAME}`);
    expect(await fingerprints(lab)).to.deep.equal(before);
  });

  it('under its own name with p_IP on the VIP\'s address and nothing decided: refused, no second VIP, no node changes', async () => {
    const before = await fingerprints(lab);
    const r = await osha(['deploy', inventoryAs(lab, NAME, 'inventory-undecided.yaml'), '--yes']);
    expect(r.code).to.equal(1);
    expect(r.stdout + r.stderr).to.include(`the cluster already has p_IP, ocf:heartbeat:IPaddr2 on the VIP ${lab.vip}: osha's own vip would fight it`);
    expect(r.stdout + r.stderr).to.include('{id: p_IP, as: vip, action: keep}');
    expect(await fingerprints(lab)).to.deep.equal(before);
  });

  it('osha export reads it as an inventory (ids, VIP kept as p_IP, p_dummy listed as not recognised) that validates and plans nothing disruptive', async () => {
    const before = await fingerprints(lab);
    const out = join(lab.dir, 'exported.yaml');
    const exp = await osha(['export', '--address', lab.nodes[0]!.address, '--private-key', lab.privateKey, '--known-hosts', lab.knownHosts, '--out', out]);
    expect(exp.code, exp.stderr).to.equal(0);
    const text = readFileSync(out, 'utf8');
    expect(text).to.match(new RegExp(`^cluster:\\n {2}name: ${NAME}$`, 'm'));
    for (const [i, n] of lab.nodes.entries()) expect(text).to.include(`- name: ${n.name}\n    address: ${n.address}\n    nodeid: ${(i + 1) * 10}\n`);
    expect(text).to.include(`vip:\n  address: ${lab.vip}\n  cidr_netmask: 24\n  nic: ${lab.nic}\n`);
    expect(text).to.include('corosync:\n  transport: knet\n  crypto: true\n');
    expect(text).to.include('    - id: p_IP\n      as: vip\n      action: keep\n');
    expect(text).to.match(/Not recognised, left alone by osha.*\n#\s+- p_dummy \(ocf:heartbeat:Dummy\)/);
    expect((await osha(['validate', out])).code).to.equal(0);
    const plan = await osha(['plan', out]);
    expect(plan.code, plan.stderr).to.equal(0);
    expect(plan.stdout).to.include(`adopting cluster "${NAME}"`);
    expect(plan.stdout).to.not.include('DISRUPTIVE');
    expect(await fingerprints(lab)).to.deep.equal(before);
  });

  it('keep: adopted in place with nothing disruptive; ids, key, corosync, p_dummy and p_IP as they were, no osha VIP beside p_IP', async () => {
    const inv = inventoryAs(lab, NAME, 'inventory-keep.yaml', 'resources:\n  existing:\n    - { id: p_IP, as: vip, action: keep }\n');
    const pids = await Promise.all(lab.nodes.map((n) => sh(lab, n.name, 'pidof corosync pacemakerd')));
    const keys = await Promise.all(lab.nodes.map((n) => sh(lab, n.name, 'sha256sum < /etc/corosync/authkey')));
    const hand = await handState(lab);
    expect(hand.ops).to.match(/ p_dummy start /).and.match(/ p_IP start /);

    const plan = await osha(['plan', inv]);
    expect(plan.code, plan.stderr).to.equal(0);
    expect(plan.stdout).to.include(`adopting cluster "${NAME}"`);
    expect(plan.stdout).to.include('p_IP (ocf:heartbeat:IPaddr2 on the VIP');
    expect(plan.stdout).to.include('is kept as the vip');
    expect(plan.stdout).to.include('reload corosync.conf on every running node');
    expect(plan.stdout).to.not.include('DISRUPTIVE');

    // No --yes: nothing here may interrupt service, so nothing needs confirming.
    const { run, summary } = await oshaJson(['deploy', inv]);
    expect(run.code, `${run.stdout}\n${run.stderr}`).to.equal(0);
    expect(summary.failed).to.equal(0);
    for (const n of lab.nodes) {
      const ids = await sh(lab, n.name, 'corosync-cmapctl nodelist.node | grep -E "\\.nodeid "');
      expect(ids.trim().split('\n').map((l) => l.replace(/.* = /, ''))).to.deep.equal(['10', '20', '30']);
      expect(await sh(lab, n.name, 'head -1 /etc/corosync/corosync.conf')).to.include('Managed by osha');
      expect(await sh(lab, n.name, 'head -1 /etc/corosync/corosync.conf.osha-orig')).to.include('written by hand');
    }
    expect(await Promise.all(lab.nodes.map((n) => sh(lab, n.name, 'pidof corosync pacemakerd')))).to.deep.equal(pids);
    expect(await Promise.all(lab.nodes.map((n) => sh(lab, n.name, 'sha256sum < /etc/corosync/authkey')))).to.deep.equal(keys);
    // The hand-made resources: byte-identical, and no operation on them since (no stop, no restart).
    expect(await handState(lab)).to.deep.equal(hand);
    expect(await sh(lab, 'node1', 'cibadmin --query --scope resources')).to.not.include('osha-vip');

    const again = await oshaJson(['deploy', inv]);
    expect(again.run.code, again.run.stderr).to.equal(0);
    expect(again.summary.changed).to.equal(0);
  });

  it('replace: marked disruptive, refused without --yes with nothing changed, then one swap from p_IP to osha-vip', async () => {
    const inv = inventoryAs(lab, NAME, 'inventory-replace.yaml', 'resources:\n  existing:\n    - { id: p_IP, as: vip, action: replace }\n');
    const plan = await osha(['plan', inv]);
    expect(plan.code, plan.stderr).to.equal(0);
    expect(plan.stdout).to.match(/\[DISRUPTIVE: deletes p_IP/);
    const cib = await sh(lab, 'node1', 'cibadmin --query --scope resources');
    const refused = await oshaJson(['deploy', inv]);
    expect(refused.run.code).to.equal(2);
    expect(refused.run.stderr).to.include('stopped before changes that interrupt service');
    expect(refused.summary.unconfirmed?.join('\n')).to.include('deletes p_IP');
    expect(await sh(lab, 'node1', 'cibadmin --query --scope resources')).to.equal(cib);

    const { run } = await oshaJson(['deploy', inv, '--yes']);
    expect(run.code, `${run.stdout}\n${run.stderr}`).to.equal(0);
    const resources = await sh(lab, 'node1', 'cibadmin --query --scope resources');
    expect(resources).to.not.include('id="p_IP"');
    expect(resources).to.include('id="p_dummy"');
    const mon = await sh(lab, 'node1', 'crm_mon -1 --output-as=xml');
    expect(mon).to.match(/<resource id="osha-vip"[^>]*role="Started"/);
    const holders = await Promise.all(lab.nodes.map(async (n) => ((await sh(lab, n.name, 'ip -o -4 addr show')).includes(` ${lab.vip}/`) ? n.name : '')));
    expect(holders.filter(Boolean)).to.have.length(1);
    expect((await oshaJson(['deploy', inv])).summary.changed).to.equal(0);
  });
});

describe('[lab] a cluster bootstrapped by crmsh (crm cluster init on node1, nodes listed the way its join lists them): adopted in place', function () {
  this.timeout(20 * 60_000);
  let lab: LabInfo;
  const NAME = 'crmsh-made';

  before(async function () {
    lab = await stackLab(this, '/tmp/osha-test-adopt-crmsh', 59, ['csync2']);
    // The real `crm cluster init` on node1: its corosync.conf (knet, aes256/sha1, no node names,
    // ringnumber, watchdog_device off), its authkey, Pacemaker started, the VIP as admin-ip.
    // crmsh keeps hacluster's ssh key in /var/lib/pacemaker/.ssh, which Debian's packages do not make.
    await sh(lab, 'node1', 'install -d -m 0700 -o hacluster -g haclient /var/lib/pacemaker/.ssh');
    const init = Date.now();
    await sh(lab, 'node1', `crm cluster init -y --name ${NAME} -i ${lab.nic} -A ${lab.vip} >/var/log/crm-init.log 2>&1 || { tail -30 /var/log/crm-init.log >&2; exit 1; }`, 10 * 60_000);
    logPhase(`crm cluster init on node1: ${seconds(Date.now() - init)}`);
    // crmsh 4.4.1's `crm cluster join` fails on Debian 12 (it fetches /etc/csync2/{csync2.cfg,key_hagroup},
    // a SUSE path, with an scp brace expansion bookworm's SFTP-based scp does not do). What a
    // working join leaves is done here: each node added to the nodelist by address and id, the
    // same conf and key everywhere, the members reloaded, the new nodes started.
    const nodelist = lab.nodes.map((n, i) => `\tnode {\n\t\tring0_addr: ${n.address}\n\t\tnodeid: ${i + 1}\n\t}`).join('\n');
    await sh(lab, 'node1', `python3 - <<'EOF'\nimport re\np='/etc/corosync/corosync.conf'\ns=open(p).read()\ns=re.sub(r'nodelist \\{.*?\\n\\}\\n', 'nodelist {\\n' + ${JSON.stringify(nodelist)} + '\\n}\\n', s, flags=re.S)\ns=re.sub(r'expected_votes: \\d+', 'expected_votes: 3', s)\nopen(p,'w').write(s)\nEOF\ncorosync-cfgtool -R >/dev/null`);
    const conf = await sh(lab, 'node1', 'base64 -w0 /etc/corosync/corosync.conf');
    const key = await sh(lab, 'node1', 'base64 -w0 /etc/corosync/authkey');
    for (const n of lab.nodes.slice(1)) {
      await sh(lab, n.name, `echo ${conf} | base64 -d > /etc/corosync/corosync.conf && echo ${key} | base64 -d > /etc/corosync/authkey && chmod 0400 /etc/corosync/authkey && systemctl start corosync pacemaker`);
    }
    await sh(lab, 'node1', 'for i in $(seq 1 240); do [ "$(crm_mon -1 --output-as=xml | grep -c \'online="true"\')" = 3 ] && exit 0; sleep 0.5; done; crm_mon -1 >&2; exit 1');
    await sh(lab, 'node1', 'crm configure primitive p_dummy ocf:heartbeat:Dummy op monitor interval=10s');
    await sh(lab, 'node1', 'for i in $(seq 1 240); do crm_mon -1 --output-as=xml | grep -q \'<resource id="p_dummy"[^>]*role="Started"\' && exit 0; sleep 0.5; done; exit 1');
    expect(await sh(lab, 'node2', 'grep -c "^[[:space:]]*name:" /etc/corosync/corosync.conf || true')).to.equal('0\n');
  });

  it('export, then deploy of the exported inventory: ids, key and corosync kept, p_dummy never stopped, a re-run changes nothing', async () => {
    const out = join(lab.dir, 'exported.yaml');
    const exp = await osha(['export', '--address', lab.nodes[0]!.address, '--private-key', lab.privateKey, '--known-hosts', lab.knownHosts, '--out', out]);
    expect(exp.code, exp.stderr).to.equal(0);
    expect((await osha(['validate', out])).code).to.equal(0);
    const ids = async () => Promise.all(lab.nodes.map((n) => sh(lab, n.name, 'corosync-cmapctl nodelist.node | grep -E "\\.nodeid " | sed "s/.* = //" | paste -sd" "')));
    const idsBefore = await ids();
    const pids = await Promise.all(lab.nodes.map((n) => sh(lab, n.name, 'pidof corosync pacemakerd')));
    const keys = await Promise.all(lab.nodes.map((n) => sh(lab, n.name, 'sha256sum < /etc/corosync/authkey')));
    const hand = await sh(lab, 'node1', `cibadmin --query --xpath "//primitive[@id='p_dummy']"`);
    const ops = async () => (await sh(lab, 'node1', 'cibadmin --query --scope status')).match(/<lrm_rsc_op [^>]*id="p_dummy_last_0"[^>]*>/g)?.join('\n');
    const opsBefore = await ops();

    const plan = await osha(['plan', out]);
    expect(plan.code, plan.stderr).to.equal(0);
    expect(plan.stdout).to.include(`adopting cluster "${NAME}"`);
    expect(plan.stdout).to.not.include('DISRUPTIVE');
    const { run, summary } = await oshaJson(['deploy', out]);
    expect(run.code, `${run.stdout}\n${run.stderr}`).to.equal(0);
    expect(summary.failed).to.equal(0);
    expect(await ids()).to.deep.equal(idsBefore);
    expect(await Promise.all(lab.nodes.map((n) => sh(lab, n.name, 'pidof corosync pacemakerd')))).to.deep.equal(pids);
    expect(await Promise.all(lab.nodes.map((n) => sh(lab, n.name, 'sha256sum < /etc/corosync/authkey')))).to.deep.equal(keys);
    expect(await sh(lab, 'node1', `cibadmin --query --xpath "//primitive[@id='p_dummy']"`)).to.equal(hand);
    expect(await ops()).to.equal(opsBefore);
    expect((await oshaJson(['deploy', out])).summary.changed).to.equal(0);
  });
});
