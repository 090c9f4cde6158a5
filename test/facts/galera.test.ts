// Galera's state as osha status reads it: MariaDB's wsrep status, grastate.dat, and the promotion
// history in the CIB's status section (the shapes MariaDB 10.11 and Pacemaker 2.1 print).
import { expect } from 'chai';
import { firstPromoted, galeraCheckProbe, galeraReports, galeraWaitsFor, galeraStateScript, parseGaleraState, startsNewCluster } from '../../src/facts/galera.ts';

describe('galera state', function () {
  it('reads a running node from SHOW GLOBAL STATUS', function () {
    const out = 'wsrep_cluster_size\t3\nwsrep_cluster_status\tPrimary\nwsrep_last_committed\t42\nwsrep_local_state_comment\tSynced\n--- grastate\n# GALERA saved state\nversion: 2.1\nuuid:    6f1c-x\nseqno:   -1\nsafe_to_bootstrap: 0\n';
    expect(parseGaleraState('node1', out)).to.deep.equal({ node: 'node1', running: true, clusterStatus: 'Primary', localState: 'Synced', clusterSize: 3, seqno: '42' });
  });

  it('reads a stopped node from grastate.dat, with the safe-to-bootstrap mark', function () {
    const out = '--- grastate\n# GALERA saved state\nversion: 2.1\nuuid:    6f1c-x\nseqno:   57\nsafe_to_bootstrap: 1\n';
    expect(parseGaleraState('node2', out)).to.deep.equal({ node: 'node2', running: false, seqno: '57', safeToBootstrap: true });
    expect(parseGaleraState('node3', '--- grastate\n')).to.deep.equal({ node: 'node3', running: false });
  });

  it("reads what osha's Galera check answers HAProxy for the node, after the rest; nothing when it did not answer", function () {
    const live = 'wsrep_cluster_size\t3\nwsrep_cluster_status\tPrimary\nwsrep_last_committed\t42\nwsrep_local_state_comment\tDonor/Desynced\n--- grastate\nseqno:   -1\n--- mariadbd\n/usr/sbin/mariadbd --wsrep-cluster-address=gcomm://node1,node2\n--- check\n';
    const answer = 'HTTP/1.0 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 58\r\nConnection: close\r\n\r\nGalera not synced: wsrep_local_state 2 (Donor/Desynced)\r\n';
    expect(parseGaleraState('node1', live + answer)).to.deep.include({ running: true, localState: 'Donor/Desynced', check: { status: 503, reason: 'not synced: wsrep_local_state 2 (Donor/Desynced)' } });
    expect(parseGaleraState('node1', live)).to.not.have.property('check');
    expect(galeraStateScript()).not.to.include('--- check');
    expect(galeraStateScript(galeraCheckProbe('198.18.0.11', 9200))).to.include("--- check'\ntimeout 5 bash -c").and.include(' probe 198.18.0.11 9200');
  });

  it('tells the server that bootstrapped the cluster by its command line (the galera agent\'s empty gcomm://)', function () {
    const live = 'wsrep_cluster_size\t3\nwsrep_cluster_status\tPrimary\nwsrep_last_committed\t42\nwsrep_local_state_comment\tSynced\n--- grastate\nseqno:   -1\n--- mariadbd\n';
    const args = (address: string) => `/usr/sbin/mariadbd --defaults-file=/etc/mysql/my.cnf --datadir=/var/lib/mysql --wsrep_on=ON --wsrep-cluster-address=${address} --log-error=/var/log/mysqld.log\n`;
    expect(parseGaleraState('node1', live + args('gcomm://'))).to.include({ running: true, bootstrapped: true });
    expect(parseGaleraState('node2', live + args('gcomm://node1,node2,node3'))).to.not.have.property('bootstrapped');
    expect(parseGaleraState('node3', live)).to.not.have.property('bootstrapped');
    expect(startsNewCluster('/usr/sbin/mariadbd --wsrep-new-cluster --datadir=/var/lib/mysql')).to.equal(true);
    expect(startsNewCluster('/usr/sbin/mariadbd --wsrep_cluster_address=gcomm://')).to.equal(true);
    expect(startsNewCluster('/usr/sbin/mariadbd --wsrep_cluster_address=gcomm://node1')).to.equal(false);
    // Stopped: whatever ps printed (nothing) says nothing about bootstrapping.
    expect(parseGaleraState('node3', '--- grastate\nseqno:   57\nsafe_to_bootstrap: 1\n--- mariadbd\n')).to.deep.equal({ node: 'node3', running: false, seqno: '57', safeToBootstrap: true });
  });

  it('names the node promoted first among the online nodes\' last promotions', function () {
    const op = (node: string, t: number, operation = 'promote', crmd = 'online') =>
      `<node_state id="${node}" uname="${node}" crmd="${crmd}"><lrm id="${node}"><lrm_resources><lrm_resource id="osha-galera" type="galera" class="ocf" provider="heartbeat"><lrm_rsc_op id="osha-galera_last_0" operation="${operation}" rc-code="0" last-rc-change="${t}"/></lrm_resource></lrm_resources></lrm></node_state>`;
    const xml = `<status>${op('node1', 1700000010)}${op('node2', 1700000005)}${op('node3', 1700000001, 'start')}${op('node4', 1600000000, 'promote', 'offline')}</status>`;
    expect(firstPromoted(xml, 'osha-galera')).to.deep.equal({ node: 'node2', at: new Date(1700000005_000) });
    expect(firstPromoted('<status/>', 'osha-galera')).to.equal(undefined);
    // Pacemaker 3 (Debian 13) writes the time the controller joined, 0 when it is down.
    const p3 = `<status>${op('node1', 1700000010, 'promote', '1796436789')}${op('node2', 1700000005, 'promote', '0')}</status>`;
    expect(firstPromoted(p3, 'osha-galera')).to.deep.equal({ node: 'node1', at: new Date(1700000010_000) });
  });

  it("after a full outage: what each node's agent reported to Pacemaker, and whom it still waits for", function () {
    const attrs = (node: string, pairs: [string, string][]) =>
      `<node_state id="${node}" uname="${node}" crmd="online"><transient_attributes id="${node}"><instance_attributes id="status-${node}">${pairs.map(([n, v]) => `<nvpair id="status-${node}-${n}" name="${n}" value="${v}"/>`).join('')}</instance_attributes></transient_attributes></node_state>`;
    const xml = `<status>${attrs('node1', [['osha-galera-last-committed', '15'], ['osha-galera-safe-to-bootstrap', '0']])}${attrs('node2', [['osha-galera-last-committed', '17']])}${attrs('node3', [['other-last-committed', '9']])}</status>`;
    const reports = galeraReports(xml, 'osha-galera');
    expect([...reports.lastCommitted]).to.deep.equal([['node1', '15'], ['node2', '17']]);
    expect(reports.safeToBootstrap).to.deep.equal([]);
    expect(galeraWaitsFor(['node1', 'node2', 'node3', 'node4'], false, reports)).to.deep.equal(['node3', 'node4']);
    // Galera runs, or a clean shutdown left a node safe to bootstrap: the agent waits for nobody.
    expect(galeraWaitsFor(['node1', 'node2', 'node3'], true, reports)).to.deep.equal([]);
    const safe = galeraReports(`<status>${attrs('node2', [['osha-galera-safe-to-bootstrap', '1']])}</status>`, 'osha-galera');
    expect(safe.safeToBootstrap).to.deep.equal(['node2']);
    expect(galeraWaitsFor(['node1', 'node2'], false, safe)).to.deep.equal([]);
  });
});
