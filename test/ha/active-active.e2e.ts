// End-to-end [lab]: the active-active topology on 3 lab nodes that are OpenStack controllers before
// HA (`osha lab up --openstack --topology active-active`: node1 holds MariaDB's data and RabbitMQ's
// users on its own disk). One `osha deploy` makes MariaDB Galera and a RabbitMQ cluster of all
// three nodes, HAProxy on every node with the VIP, keystone and glance-api on every node; fencing
// is on (fence_nspawn). Then: the data on every node, tokens and image lists through the VIP and
// through each node's own backend, a re-deploy that changes nothing, drills under load, a full
// outage, and a topology switch refused. On Debian 12 nodes by default; OSHA_TEST_RELEASE=trixie
// (npm run test:active-active-trixie) runs the same on Debian 13's Pacemaker 3, MariaDB 11.8 and
// RabbitMQ 4.0.
import { expect } from 'chai';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { labKill, labStart } from '../../src/lab/index.ts';
import { readControllerSecrets } from '../../src/lab/openstack.ts';
import { freshLab, labExec, labOk, testRelease, type LabInfo } from '../support/lab.ts';
import { osha, oshaJson } from '../support/osha.ts';
import { AA_NODES as NODES, allRunning, crmMon, deployOk, instances, issueToken, until, wsrep } from './setup.ts';
import type { LoadSummary } from '../../src/drill/load.ts';
import { HAPROXY_ADMIN_SOCKET } from '../../src/render/haproxy.ts';

const PLACE = { dir: '/tmp/osha-test-aa', subnet: 72 } as const;
const RELEASE = testRelease();

/** What the tests read of `osha status --json` in this topology. */
interface GaleraReport {
  galera: { nodes: { node: string; clusterStatus?: string; check?: { status: number } }[]; bootstrappedBy?: string; promotedFirst?: { node: string } };
}

describe(`[lab] active-active on ${RELEASE}: Galera, a RabbitMQ cluster, HAProxy and the APIs on every node`, function () {
  this.timeout(15 * 60_000);
  let lab: LabInfo;
  let admin: string;

  before(async function () {
    this.timeout(30 * 60_000);
    const t0 = Date.now();
    lab = await freshLab(this, { dir: PLACE.dir, nodes: 3, subnet: PLACE.subnet, openstack: true, topology: 'active-active', release: RELEASE });
    admin = (await readControllerSecrets(PLACE.dir)).admin;
    const t1 = Date.now();
    const { summary } = await deployOk(lab, lab.inventory, ['--yes']);
    console.log(`      (active-active: lab and controllers ${Math.round((t1 - t0) / 1000)} s, deploy ${Math.round((Date.now() - t1) / 1000)} s, ${summary.changed} changed)`);
  });

  it('runs Galera promoted, RabbitMQ, HAProxy, keystone and glance-api on all three nodes, the VIP with one HAProxy', async () => {
    // The deploy returns once one Galera instance is promoted; the others join by state transfer.
    await until(lab, 'every instance running', 180_000, () => allRunning(lab));
  });

  it('Galera: one primary component of three, bootstrapped from node1 (the data holder); keystone\'s data on every node', async () => {
    for (const n of NODES) {
      const w = await wsrep(lab, n);
      expect(w.wsrep_cluster_status, n).to.equal('Primary');
      expect(w.wsrep_cluster_size, n).to.equal('3');
      expect(Number((await labOk(lab, n, 'mysql -N -B -e "SELECT COUNT(*) FROM keystone.user"')).trim()), n).to.be.greaterThan(0);
    }
    // node2's and node3's own data directories were kept before Galera's copy replaced them.
    for (const n of ['node2', 'node3']) expect(await labOk(lab, n, 'ls /var/lib/osha/backup'), n).to.match(/^mysql-before-galera-\d{8}T\d{6}Z$/m);
    const status = await osha(['status', lab.inventory, '--json']);
    expect(status.code, status.stdout + status.stderr).to.equal(0);
    const report = JSON.parse(status.stdout) as GaleraReport;
    expect(report.galera.nodes.map((n) => n.clusterStatus)).to.deep.equal(['Primary', 'Primary', 'Primary']);
    // osha's Galera check lets HAProxy send every node clients.
    expect(report.galera.nodes.map((n) => n.check?.status)).to.deep.equal([200, 200, 200]);
    expect(report.galera.promotedFirst?.node).to.equal('node1');
    expect(report.galera.bootstrappedBy).to.equal('node1');
    const text = await osha(['status', lab.inventory]);
    expect(text.stdout).to.match(/^galera: primary component on node1, node2, node3 \(size 3\), bootstrapped from node1/m);
  });

  it('RabbitMQ: one cluster of three running nodes; the operator\'s openstack user carried over', async () => {
    const out = await labOk(lab, 'node2', 'rabbitmqctl cluster_status --formatter json');
    const running = (JSON.parse(out) as { running_nodes: string[] }).running_nodes.sort();
    expect(running).to.deep.equal(NODES.map((n) => `rabbit@${n}`));
    expect(await labOk(lab, 'node3', 'rabbitmqctl list_users --quiet')).to.match(/^openstack\s/m);
    // Every node listens for AMQP on its own address only: HAProxy holds VIP:5672.
    expect(await labOk(lab, 'node1', 'ss -Hltn "sport = :5672"')).to.include(`${lab.vip}:5672`);
  });

  it('issues tokens and lists images through the VIP and through every node\'s own keystone and glance', async () => {
    const t = await issueToken(lab.vip, admin);
    expect(t.status).to.equal(201);
    for (const n of lab.nodes) {
      const direct = await issueToken(n.address, admin);
      expect(direct.status, `keystone on ${n.name}`).to.equal(201);
      const images = await fetch(`http://${n.address}:9292/v2/images`, { headers: { 'x-auth-token': direct.token! }, signal: AbortSignal.timeout(20_000) });
      expect(images.status, `glance on ${n.name}`).to.equal(200);
      await images.arrayBuffer();
    }
  });

  it('a re-deploy changes nothing', async () => {
    const { summary } = await oshaJson(['deploy', lab.inventory]);
    expect(summary.failed).to.equal(0);
    expect(summary.changed).to.equal(0);
    // Nothing held back for a confirmation either (a re-deploy without --yes).
    expect(summary.skipped, JSON.stringify(summary.unconfirmed)).to.equal(0);
  });

  it("HAProxy asks osha's Galera check: a desynced writer (as for a backup) is taken out, the writes move to a synced node and stay there once it is synced again", async () => {
    const vipNode = instances(await crmMon(lab), 'osha-vip', 'Started')[0]!;
    // check_status is the last check's result; HAProxy prefixes it with "* " while the next one runs.
    const stat = async () => Object.fromEntries((await labOk(lab, vipNode, haproxyCommand('show stat'))).split('\n').filter((l) => l.startsWith('mysql,node')).map((l) => { const f = l.split(','); return [f[1]!, `${f[17]} ${f[36]!.replace(/^\* /, '')}`]; }));
    expect(Object.values(await stat())).to.deep.equal(['UP L7OK', 'UP L7OK', 'UP L7OK']);
    const writer = (await writerNow(vipNode))!;
    expect(writer).to.be.oneOf(NODES);
    await labOk(lab, writer, 'mysql -e "SET GLOBAL wsrep_desync = ON"');
    try {
      const t0 = Date.now();
      await until(lab, `${writer} marked down by HAProxy on ${vipNode}`, 15_000, async () => {
        expect((await stat())[writer]).to.equal('DOWN L7STS');
      });
      console.log(`      (desynced writer ${writer} out of the mysql section within ${((Date.now() - t0) / 1000).toFixed(1)} s)`);
      const next = await newSessionNode(vipNode);
      expect(next).to.be.oneOf(NODES).and.not.equal(writer);
      await labOk(lab, writer, 'mysql -e "SET GLOBAL wsrep_desync = OFF"');
      await until(lab, `${writer} up again`, 15_000, async () => {
        expect((await stat())[writer]).to.equal('UP L7OK');
      });
      expect(await newSessionNode(vipNode), 'the writes went back to the node that was desynced').to.equal(next);
    } finally {
      await labExec(lab, writer, 'mysql -e "SET GLOBAL wsrep_desync = OFF"');
    }
  });

  /** The node a new database session through the VIP lands on (keystone's credentials, read on the node; never on a command line). */
  async function newSessionNode(node: string): Promise<string> {
    const cmd = `MYSQL_PWD="$(sed -n 's|^connection = mysql+pymysql://keystone:\\([^@]*\\)@.*|\\1|p' /etc/keystone/keystone.conf)" mysql -h ${lab.vip} -u keystone -NBe 'SELECT @@hostname'`;
    return (await labOk(lab, node, cmd)).trim();
  }

  it("the fast profile gives the running Galera a shorter eviction timing live (no MariaDB restarted); back to default the same way", async () => {
    /** Each node's evs timing as the running server reports it, and its mariadbd PID. */
    const evs = async () =>
      Promise.all(
        NODES.map(async (n) => {
          const out = await labOk(lab, n, `mysql -NBe "SHOW GLOBAL VARIABLES LIKE 'wsrep_provider_options'" | tr ';' '\\n' | grep -E 'evs\\.(suspect_timeout|keepalive_period) ='; pgrep -x mariadbd`);
          return out.replace(/\s+/g, ' ').trim();
        }),
      );
    const before = await evs();
    for (const line of before) expect(line).to.match(/evs\.keepalive_period = PT1S evs\.suspect_timeout = PT5S \d+$/);
    const fast = join(PLACE.dir, 'inventory-fast.yaml');
    writeFileSync(fast, `${readFileSync(lab.inventory, 'utf8')}\ncorosync: { profile: fast }\n`);
    try {
      const { summary } = await deployOk(lab, fast, ['--yes']);
      expect(summary.changed).to.be.greaterThan(0);
      const after = await evs();
      after.forEach((line, i) => expect(line).to.equal(before[i]!.replace('PT1S', 'PT0.5S').replace('PT5S', 'PT2S')));
      for (const n of NODES) expect(await labOk(lab, n, 'cat /etc/mysql/mariadb.conf.d/65-osha-galera.cnf')).to.include(';evs.keepalive_period=PT0.5S;evs.suspect_timeout=PT2S"');
      expect((await oshaJson(['deploy', fast])).summary.changed).to.equal(0);
    } finally {
      await deployOk(lab, lab.inventory, ['--yes']);
    }
    expect(await evs()).to.deep.equal(before);
  });

  /** osha drill --load --json on this lab; the load's numbers printed (the issue asks for them exactly). */
  async function loadDrill(extra: string[]): Promise<LoadSummary & { vipMs?: number }> {
    const r = await osha(['drill', lab.inventory, '--lab', PLACE.dir, '--load', '--json', '--timeout', '300', ...extra]);
    const drill = JSON.parse(r.stdout) as { node: string; vipMs?: number; errors: string[]; load?: LoadSummary };
    expect(drill.load, r.stderr).to.not.equal(undefined);
    const load = drill.load!;
    const kinds = Object.entries(load.byKind).map(([k, x]) => `${k} ${x.failed}/${x.requests} failed, gap ${x.longestGapMs} ms`);
    console.log(`      drill of ${drill.node}: VIP back ${drill.vipMs ?? '-'} ms; load ${load.requests} requests, ${load.failed} failed ${JSON.stringify(load.failures)}; longest gap ${load.longestGapMs} ms; ${kinds.join('; ')}; writes ${load.acknowledgedWrites} acknowledged, ${load.lostWrites} lost`);
    expect(drill.errors, r.stdout).to.deep.equal([]);
    expect(load.lostWrites).to.equal(0);
    expect(load.cleanup.left).to.deep.equal([]);
    return { ...load, vipMs: drill.vipMs };
  }

  it('drill --load, kill of the VIP node: no acknowledged write lost, the longest gap far below the classic layout\'s', async () => {
    await until(lab, 'every instance running', 120_000, () => allRunning(lab));
    const load = await loadDrill([]);
    expect(load.acknowledgedWrites).to.be.greaterThan(0);
    // Only the VIP moves (detection, fencing, IPaddr2): the clients wait for it and for nothing
    // else, where the classic layout's clients wait some 17 s more for every service to restart
    // elsewhere (README). Stated against the drill's own VIP time, not a fixed 20 s: on a loaded
    // host (load average 16, a CI-like run) the VIP alone took 21 and 27 s to come back.
    expect(load.vipMs, 'the drill measured no VIP time').to.be.a('number');
    expect(load.longestGapMs).to.be.below(load.vipMs! + 8_000);
  });

  it('drill --load, kill of a node without the VIP: the clients through the VIP barely notice (a node that is neither the VIP\'s nor the database writer)', async () => {
    await until(lab, 'every instance running', 300_000, () => allRunning(lab));
    const vipNode = instances(await crmMon(lab), 'osha-vip', 'Started')[0]!;
    // Neither the VIP's node nor node1, HAProxy's one MariaDB writer: losing the writer stalls
    // Galera's writes until it evicts the node (evs.suspect_timeout, 5 s), which the issue's
    // clients (2 s per request) see; measured apart, see the issue notes.
    const other = [...NODES].reverse().find((n) => n !== vipNode && n !== 'node1') ?? NODES.find((n) => n !== vipNode)!;
    const load = await loadDrill(['--node', other]);
    // The issue asks for none. HAProxy sends a token issue or an image list the dead node had to
    // another node (keepalives notice the death, `retry-on`), and a request sent there after the
    // kill is retried within 1 s (connect timeout, redispatch); writes Galera holds while it evicts
    // the node are slow, not failed: the loop waits 10 s for an answer. What can still fail is the
    // one project creation in flight to the dead node: a POST is never sent twice.
    const { write, ...others } = load.byKind;
    expect(Object.values(others).reduce((n, k) => n + k.failed, 0), JSON.stringify(load.failures)).to.equal(0);
    expect(write?.failed ?? 0, JSON.stringify(load.failures)).to.be.at.most(1);
    // No wait for the rejoined node's instances here: the full outage next takes every node down anyway.
  });

  it('drill --load, kill of the database writer: another node takes the writes and keeps them when the writer is back (no failback, no session cut)', async () => {
    await until(lab, 'every instance running', 300_000, () => allRunning(lab));
    let vipNode = instances(await crmMon(lab), 'osha-vip', 'Started')[0]!;
    // The VIP's node also writing (after the VIP drill, likely): the VIP goes to a node that is
    // neither it nor node1, whose HAProxy starts a new table, so node1 takes the writes there.
    if ((await writerNow(vipNode)) === vipNode) {
      const to = NODES.find((n) => n !== vipNode && n !== NODES[0])!;
      await labOk(lab, vipNode, `crm_resource --move -r osha-vip -N ${to} && crm_resource --wait --timeout=120 && crm_resource --clear -r osha-vip`);
      await labOk(lab, to, haproxyCommand('clear table mysql'));
      vipNode = to;
    }
    const writer = await writerNow(vipNode);
    expect(writer, 'HAProxy names no MariaDB writer').to.be.oneOf(NODES);
    expect(writer).to.not.equal(vipNode);
    const load = await loadDrill(['--node', writer!]);
    // A query under way on the writer when it died fails (keystone's 500): reported, loosely bound.
    expect(load.failed, JSON.stringify(load.failures)).to.be.at.most(3);
    await until(lab, 'every instance running with the old writer back', 300_000, () => allRunning(lab));
    const now = await mysqlWriter(vipNode);
    expect(now, 'the writes went back to the node that had died').to.not.equal(writer);
    expect(await mysqlSessions(vipNode, writer!), 'HAProxy sends database sessions to the rejoined node').to.equal(0);
  });

  /** The writer after a token through the VIP, which makes keystone use the database and so fills the table. */
  async function writerNow(vipNode: string): Promise<string | undefined> {
    expect((await issueToken(lab.vip, admin)).status).to.equal(201);
    return mysqlWriter(vipNode);
  }

  /** The server HAProxy's mysql section sends every session to (its stick table), on the VIP's node. */
  async function mysqlWriter(node: string): Promise<string | undefined> {
    const out = await labOk(lab, node, haproxyCommand('show table mysql'));
    return /server_key=(\S+)/.exec(out)?.[1];
  }

  /** HAProxy's current sessions on a node's MariaDB, as the VIP's node counts them. */
  async function mysqlSessions(node: string, server: string): Promise<number> {
    const csv = await labOk(lab, node, haproxyCommand('show stat'));
    const row = csv.split('\n').find((l) => l.startsWith(`mysql,${server},`));
    if (!row) throw new Error(`no mysql/${server} in HAProxy's stats`);
    return Number(row.split(',')[4]);
  }

  /** A command for HAProxy's admin socket, sent by python3 (every controller has it). */
  function haproxyCommand(command: string): string {
    const py = `import socket; s=socket.socket(socket.AF_UNIX); s.connect('${HAPROXY_ADMIN_SOCKET}'); s.sendall(b'${command}\\n'); print(b''.join(iter(lambda: s.recv(65536), b'')).decode())`;
    return `python3 -c "${py}"`;
  }

  it('refuses to switch the running cluster to the classic topology, before any change', async () => {
    const classic = join(PLACE.dir, 'inventory-classic.yaml');
    writeFileSync(classic, readFileSync(lab.inventory, 'utf8').replace(/^topology: active-active$/m, 'topology: classic'));
    const r = await oshaJson(['deploy', classic, '--yes']);
    expect(r.run.code).to.not.equal(0);
    const pre = r.summary.hosts.node1!.find((s) => s.step === 'preflight')!;
    expect(pre.status).to.equal('failed');
    expect(pre.error).to.match(/runs osha's active-active topology and the inventory says topology: classic; osha does not convert a running cluster in place/);
    expect(r.summary.hosts.node1!.filter((s) => s.status === 'changed')).to.deep.equal([]);
  });

  it('a full outage: all three nodes killed and started again come back by themselves: Galera bootstraps from the node the agent finds most advanced, RabbitMQ re-forms with the operator\'s users', async () => {
    for (const n of NODES) {
      const r = await labKill(PLACE.dir, n);
      if (!r.ok) throw new Error(r.error.message);
    }
    const t0 = Date.now();
    await Promise.all(
      NODES.map(async (n) => {
        const r = await labStart(PLACE.dir, n);
        if (!r.ok) throw new Error(r.error.message);
      }),
    );
    await until(lab, 'every instance running after the outage', 400_000, () => allRunning(lab));
    await until(lab, 'a token through the VIP after the outage', 60_000, async () => {
      expect((await issueToken(lab.vip, admin)).status).to.equal(201);
    });
    console.log(`      (full outage: everything back ${Math.round((Date.now() - t0) / 1000)} s after the nodes were started)`);
    for (const n of NODES) expect((await wsrep(lab, n)).wsrep_cluster_size, n).to.equal('3');
    expect((await labExec(lab, 'node1', 'rabbitmqctl list_users --quiet')).stdout).to.match(/^openstack\s/m);
    // osha status names the node the agent bootstrapped from: the one whose server started the cluster.
    const status = JSON.parse((await osha(['status', lab.inventory, '--json'])).stdout) as GaleraReport;
    console.log(`      (bootstrapped from ${status.galera.bootstrappedBy}, promoted first ${status.galera.promotedFirst?.node})`);
    expect(status.galera.bootstrappedBy).to.be.oneOf(NODES);
    expect(status.galera.promotedFirst?.node).to.equal(status.galera.bootstrappedBy);
  });
});
