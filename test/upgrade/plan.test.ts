// The rolling upgrade's pure parts: the release table's checks, the node order, what refuses.
import { expect } from 'chai';
import { planUpgrade, type UpgradeNodeFacts, type UpgradeRequest } from '../../src/upgrade/plan.ts';
import { checkJumps, rewriteSources, upstreamVersion, RELEASE_UPGRADES } from '../../src/upgrade/releases.ts';
import { parseHostReport, resourcesOn } from '../../src/upgrade/facts.ts';
import { aptCommands, aptFailure, parseAptCounts } from '../../src/upgrade/run.ts';
import { parseClusterStatus } from '../../src/facts/status.ts';

// Versions as Debian 12's packages have them (read from the lab's bookworm image).
const BOOKWORM = {
  pacemaker: '2.1.5-1+deb12u1',
  corosync: '3.1.7-1+deb12u2',
  'mariadb-server': '1:10.11.19-0+deb12u1',
  'rabbitmq-server': '3.10.8-1.1+deb12u1',
  keystone: '2:22.0.2-0+deb12u6',
};

function node(name: string, over: Partial<UpgradeNodeFacts> = {}): UpgradeNodeFacts {
  return { name, codename: 'bookworm', versions: { ...BOOKWORM }, online: true, standby: false, runs: [], pending: 3, ...over };
}
const classic: UpgradeRequest = { to: 'trixie', topology: 'classic', services: ['mysql', 'keystone'], quorate: true };

describe('upgrade: releases', function () {
  it('reads the upstream major.minor of Debian versions, epochs and revisions aside', function () {
    expect(upstreamVersion('1:10.11.19-0+deb12u1')).to.deep.equal({ major: 10, minor: 11 });
    expect(upstreamVersion('2:27.0.0-3+deb13u6')).to.deep.equal({ major: 27, minor: 0 });
    expect(upstreamVersion('3.1.9-2+deb13u1')).to.deep.equal({ major: 3, minor: 1 });
    expect(upstreamVersion('~weird')).to.equal(undefined);
  });

  it('rewrites bookworm, -updates and -security sources (one-line and deb822), nothing else', function () {
    const list = 'deb http://deb.debian.org/debian bookworm main\ndeb http://deb.debian.org/debian bookworm-updates main\ndeb http://security.debian.org/debian-security bookworm-security main\n# bookwormish stays\n';
    expect(rewriteSources(list, 'bookworm', 'trixie')).to.equal(
      'deb http://deb.debian.org/debian trixie main\ndeb http://deb.debian.org/debian trixie-updates main\ndeb http://security.debian.org/debian-security trixie-security main\n# bookwormish stays\n',
    );
    expect(rewriteSources('Types: deb\nSuites: bookworm bookworm-updates\n', 'bookworm', 'trixie')).to.equal('Types: deb\nSuites: trixie trixie-updates\n');
  });

  it('refuses RabbitMQ 3 -> 4 when the cluster runs the broker, notes it when it does not', function () {
    const ships = RELEASE_UPGRADES.bookworm!.ships;
    const run = checkJumps({ installed: BOOKWORM, ships, topology: 'classic', services: ['mysql', 'rabbitmq', 'keystone'] });
    expect(run.blockers.map((b) => b.what)).to.deep.equal(['RabbitMQ 3.10 -> 4.0']);
    expect(run.blockers[0]!.path).to.include('export_definitions');
    const not = checkJumps({ installed: BOOKWORM, ships, topology: 'classic', services: ['mysql', 'keystone'] });
    expect(not.blockers).to.deep.equal([]);
    expect(not.notes.join('\n')).to.include('rabbitmq-server 3.10 -> 4.0 is installed but not one of the inventory');
  });

  it('refuses a Galera jump over major releases, takes the classic shared-storage MariaDB with mariadb-upgrade', function () {
    const ships = RELEASE_UPGRADES.bookworm!.ships;
    const aa = checkJumps({ installed: BOOKWORM, ships, topology: 'active-active', services: ['mysql', 'keystone'] });
    expect(aa.blockers.map((b) => b.what)).to.deep.equal(['MariaDB Galera 10.11 -> 11.8']);
    const cl = checkJumps({ installed: BOOKWORM, ships, topology: 'classic', services: ['mysql', 'keystone'] });
    expect(cl.notes.join('\n')).to.include('mariadb-upgrade');
    expect(cl.notes.join('\n')).to.include('Pacemaker 2.1 -> 3.0');
    expect(cl.notes.join('\n')).to.include('db_sync');
  });
});

describe('upgrade: plan', function () {
  it('takes the nodes that run nothing first and the one running the services last (one failover)', function () {
    const r = planUpgrade([node('node1', { runs: ['osha-mysql', 'osha-vip'] }), node('node2'), node('node3')], classic);
    if (!r.ok) throw new Error(JSON.stringify(r.blockers));
    expect(r.plan.target).to.deep.equal({ kind: 'release', from: 'bookworm', to: 'trixie' });
    expect(r.plan.nodes.map((n) => [n.node, n.moves.length])).to.deep.equal([
      ['node2', 0],
      ['node3', 0],
      ['node1', 2],
    ]);
  });

  it('a re-run skips the nodes already upgraded and resumes the one osha left in standby first', function () {
    const r = planUpgrade(
      // node3's cluster stack was stopped when the last run failed: offline, but osha's.
      [node('node1', { runs: ['osha-vip'] }), node('node2', { codename: 'trixie', versions: {} }), node('node3', { standby: true, online: false, mark: 'trixie' })],
      classic,
    );
    if (!r.ok) throw new Error(JSON.stringify(r.blockers));
    expect(r.plan.nodes.map((n) => [n.node, n.skip ?? (n.resumes ? 'resume' : 'do')])).to.deep.equal([
      ['node3', 'resume'],
      ['node1', 'do'],
      ['node2', 'already on trixie'],
    ]);
  });

  it('a point release skips nodes with nothing to upgrade', function () {
    const r = planUpgrade([node('node1', { pending: 0 }), node('node2')], { ...classic, to: undefined });
    if (!r.ok) throw new Error(JSON.stringify(r.blockers));
    expect(r.plan.target).to.deep.equal({ kind: 'packages' });
    expect(r.plan.nodes.find((n) => n.node === 'node1')!.skip).to.equal('no package to upgrade');
  });

  it('refuses, naming each reason: an offline node, a standby osha did not set, no quorum', function () {
    const r = planUpgrade([node('node1', { online: false }), node('node2', { standby: true }), node('node3')], { ...classic, quorate: false });
    expect(r.ok).to.equal(false);
    if (r.ok) return;
    expect(r.blockers.map((b) => b.what)).to.deep.equal(['node1 is not online in the cluster', 'node2 is in standby, and osha did not put it there', 'the cluster has no quorum']);
    expect(r.blockers[1]!.path).to.include('crm node online node2');
  });

  it('refuses a downgrade, a skipped release and an unknown one, saying what to ask for', function () {
    const down = planUpgrade([node('n1', { codename: 'trixie' }), node('n2', { codename: 'trixie' })], { ...classic, to: 'bookworm' });
    expect(!down.ok && down.blockers[0]!.why).to.equal('that is not an upgrade');
    const skip = planUpgrade([node('n1', { codename: 'bullseye' })], classic);
    expect(!skip.ok && skip.blockers[0]!.path).to.equal('osha has no upgrade from bullseye');
    const unknown = planUpgrade([node('n1')], { ...classic, to: 'forky' });
    expect(!unknown.ok && unknown.blockers[0]!.what).to.equal('unknown release "forky"');
    const mixed = planUpgrade([node('n1'), node('n2', { codename: 'trixie' })], { ...classic, to: undefined });
    expect(!mixed.ok && mixed.blockers[0]!.path).to.include('--to trixie');
  });
});

describe('upgrade: facts and apt', function () {
  it('parses the host report: installed packages only, the pending count', function () {
    const r = parseHostReport('codename bookworm\npkg pacemaker 2.1.5-1+deb12u1\npkg keystone 2:22.0.2-0+deb12u6\npending 19\n');
    expect(r).to.deep.equal({ codename: 'bookworm', versions: { pacemaker: '2.1.5-1+deb12u1', keystone: '2:22.0.2-0+deb12u6' }, pending: 19 });
  });

  it('counts what apt did over both runs of a release upgrade', function () {
    const out = '12 upgraded, 0 newly installed, 0 to remove and 600 not upgraded.\n...\n580 upgraded, 95 newly installed, 4 to remove and 0 not upgraded.\n';
    expect(parseAptCounts(out)).to.deep.equal({ upgraded: 592, installed: 95, removed: 4 });
    expect(aptCommands(true)).to.have.length(4);
    expect(aptCommands(true)[0]).to.include('dpkg --configure -a');
    expect(aptCommands(false).join('\n')).to.not.include('--without-new-pkgs');
    for (const c of aptCommands(true)) expect(c).to.include('DEBIAN_FRONTEND=noninteractive');
  });

  it('names the package whose maintainer script failed (from dpkg\'s output, not apt\'s last line)', function () {
    // What trixie's keystone postinst printed on a node where osha had masked keystone.service.
    const stdout = 'Setting up keystone (2:27.0.0-3+deb13u6) ...\nFailed to enable unit: Unit file /etc/systemd/system/keystone.service is masked.\ndpkg: error processing package keystone (--configure):\n installed keystone package post-installation script subprocess returned error exit status 1\nSetting up glance-api (2:30.0.0-3+deb13u5) ...\nErrors were encountered while processing:\n keystone\n';
    const why = aptFailure(stdout, 'E: Sub-process /usr/bin/dpkg returned an error code (1)\n', 100);
    expect(why).to.equal('exit 100: dpkg: error processing package keystone (--configure):\n installed keystone package post-installation script subprocess returned error exit status 1\nE: Sub-process /usr/bin/dpkg returned an error code (1)');
  });

  it('what runs on a node: fence devices and clone instances do not move', function () {
    const xml = `<pacemaker-result api-version="2.3" request="crm_mon"><summary><current_dc present="true" name="node1" with_quorum="true"/></summary>
<nodes><node name="node1" online="true" standby="false" type="member"/><node name="node2" online="true" standby="false" type="member"/></nodes>
<resources>
<resource id="osha-fence-node2" resource_agent="stonith:fence_nspawn" role="Started"><node name="node1"/></resource>
<group id="osha-g-basic"><resource id="osha-vip" resource_agent="ocf:heartbeat:IPaddr2" role="Started"><node name="node1"/></resource></group>
<clone id="osha-cl-haproxy"><resource id="osha-haproxy" resource_agent="systemd:haproxy" role="Started"><node name="node1"/></resource><resource id="osha-haproxy" resource_agent="systemd:haproxy" role="Started"><node name="node2"/></resource></clone>
</resources></pacemaker-result>`;
    const s = parseClusterStatus(xml);
    if (!s.ok) throw new Error(s.error.message);
    expect(resourcesOn(s.value, 'node1', { movable: true })).to.deep.equal(['osha-vip']);
    expect(resourcesOn(s.value, 'node1', { movable: false })).to.deep.equal(['osha-fence-node2', 'osha-haproxy', 'osha-vip']);
    expect(resourcesOn(s.value, 'node2', { movable: true, cloned: new Set(['osha-haproxy']) })).to.deep.equal([]);
  });
});
