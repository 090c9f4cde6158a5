// End-to-end: a cluster built by hand, the way the articles build one (corosync.conf written by
// hand with its own node ids, an authkey from corosync-keygen, resources made with `crm
// configure`), meets osha. Under another name it is refused with nothing changed; with the
// inventory's name and nodes it is adopted in place: ids, key and the hand-made resource kept,
// corosync reloaded rather than restarted, the resource never stopped.
import { expect } from 'chai';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freshLab, labOk, nodeRun, offlineInstallScript, type LabInfo } from '../support/lab.ts';
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

/** The hand-made resource's state: its CIB XML and the last operation Pacemaker recorded for it. */
async function dummyState(lab: LabInfo): Promise<{ xml: string; ops: string }> {
  const xml = await sh(lab, 'node1', `cibadmin --query --xpath "//primitive[@id='p_dummy']"`);
  const status = await sh(lab, 'node1', 'cibadmin --query --scope status');
  // One line per recorded operation: node, operation, call id, when it last changed.
  const ops = [...status.matchAll(/<node_state [^>]*uname="([^"]+)"[\s\S]*?<\/node_state>/g)]
    .flatMap((m) => [...m[0].matchAll(/<lrm_rsc_op [^>]*id="p_dummy_[^"]*"[^>]*>/g)].map((o) => `${m[1]} ${/operation="([^"]+)"/.exec(o[0])?.[1]} ${/call-id="([^"]+)"/.exec(o[0])?.[1]} ${/last-rc-change="([^"]+)"/.exec(o[0])?.[1]}`))
    .sort()
    .join('\n');
  return { xml, ops };
}

describe('[lab] a cluster built by hand: refused under another name, adopted in place under its own', function () {
  this.timeout(20 * 60_000);
  let lab: LabInfo;
  const NAME = 'handmade';

  before(async function () {
    lab = await freshLab(this, { dir: '/tmp/osha-test-adopt', nodes: 3, subnet: 58 });
    const install = offlineInstallScript(['pacemaker', 'corosync', 'crmsh', 'resource-agents'], '/var/log/osha-test-install.log');
    await Promise.all(lab.nodes.map((n) => sh(lab, n.name, install)));
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
    await sh(lab, 'node1', 'for i in $(seq 1 240); do crm_mon -1 --output-as=xml | grep -q \'<resource id="p_dummy"[^>]*role="Started"\' && exit 0; sleep 0.5; done; exit 1');
  });

  it('under another cluster name: refused in preflight, naming what runs there, and no node changes', async () => {
    const before = await Promise.all(lab.nodes.map((n) => sh(lab, n.name, FINGERPRINT)));
    const other = join(lab.dir, 'inventory-other-name.yaml');
    writeFileSync(other, readFileSync(lab.inventory, 'utf8'));
    const r = await osha(['deploy', other, '--yes']);
    expect(r.code).to.equal(1);
    expect(r.stdout + r.stderr).to.include(`runs cluster "${NAME}" (nodes node1, node2, node3; 1 resource (p_dummy), 0 constraints, 0 stonith devices), which osha did not configure`);
    expect(r.stdout + r.stderr).to.include(`set cluster.name: ${NAME}`);
    const after = await Promise.all(lab.nodes.map((n) => sh(lab, n.name, FINGERPRINT)));
    expect(after).to.deep.equal(before);
  });

  it('under its own name: the plan adopts it with nothing disruptive; the deploy keeps ids, key, corosync and p_dummy as they were', async () => {
    const inv = join(lab.dir, 'inventory-adopt.yaml');
    writeFileSync(inv, readFileSync(lab.inventory, 'utf8').replace(/^ {2}name: osha-lab$/m, `  name: ${NAME}`));
    const pids = await Promise.all(lab.nodes.map((n) => sh(lab, n.name, 'pidof corosync pacemakerd')));
    const keys = await Promise.all(lab.nodes.map((n) => sh(lab, n.name, 'sha256sum < /etc/corosync/authkey')));
    const dummy = await dummyState(lab);
    expect(dummy.ops).to.match(/ start /);

    const plan = await osha(['plan', inv]);
    expect(plan.code, plan.stderr).to.equal(0);
    expect(plan.stdout).to.include(`adopting cluster "${NAME}"`);
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
      expect(await sh(lab, n.name, 'test -e /etc/corosync/corosync.conf.osha-orig && head -1 /etc/corosync/corosync.conf.osha-orig')).to.include('written by hand');
    }
    expect(await Promise.all(lab.nodes.map((n) => sh(lab, n.name, 'pidof corosync pacemakerd')))).to.deep.equal(pids);
    expect(await Promise.all(lab.nodes.map((n) => sh(lab, n.name, 'sha256sum < /etc/corosync/authkey')))).to.deep.equal(keys);
    // The hand-made resource: byte-identical, and no operation on it since (no stop, no restart).
    expect(await dummyState(lab)).to.deep.equal(dummy);
    const mon = await sh(lab, 'node1', 'crm_mon -1 --output-as=xml');
    expect(mon).to.match(/<resource id="osha-vip"[^>]*role="Started"/);

    const again = await oshaJson(['deploy', inv]);
    expect(again.run.code, again.run.stderr).to.equal(0);
    expect(again.summary.changed).to.equal(0);
  });
});
