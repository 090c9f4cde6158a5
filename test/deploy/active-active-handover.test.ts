// End-to-end [lab]: an operator's controllers (node1 holds MariaDB's data and RabbitMQ's users,
// `osha lab up --openstack --topology active-active`) before they become Galera and a RabbitMQ
// cluster. galera-seed must make node1, the data holder, the node Galera bootstraps from, keep
// node2's and node3's data directories before Galera's copy replaces them, and refuse when two
// nodes hold user databases; rabbitmq-export must keep the broker's definitions before
// init-services stops it; osha's Galera check must tell HAProxy a synced Galera from any other
// state. Only these steps run (and what they need), from a playbook of their own.
import { expect } from 'chai';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freshLab, labExec, labOk, type LabInfo } from '../support/lab.ts';
import { oshaJson } from '../support/osha.ts';
import { galeraCheckProbe } from '../../src/facts/galera.ts';
import { GALERA_CHECK_PORT } from '../../src/render/haproxy.ts';

const DIR = '/tmp/osha-test-aa-handover';

const PLAYBOOK = `name: handover
description: the active-active data handover and the steps it needs
steps:
  - step: preflight
  - step: rabbitmq-export
  - step: init-services
  - step: galera-check
  - step: galera-seed
  - step: rabbitmq-backup
`;

/** A grastate.dat's fields, from the node. */
async function grastate(lab: LabInfo, node: string): Promise<{ uuid: string; seqno: number; safe: string }> {
  const text = await labOk(lab, node, 'cat /var/lib/mysql/grastate.dat');
  const field = (name: string) => new RegExp(`^${name}:\\s*(\\S+)`, 'm').exec(text)?.[1] ?? '';
  return { uuid: field('uuid'), seqno: Number(field('seqno')), safe: field('safe_to_bootstrap') };
}

describe('active-active handover of MariaDB and RabbitMQ data [lab]', function () {
  this.timeout(15 * 60_000);
  let lab: LabInfo;
  let playbook: string;
  const run = (...extra: string[]) => oshaJson(['run', playbook, lab.inventory, ...extra]);

  before(async function () {
    lab = await freshLab(this, { dir: DIR, nodes: 3, subnet: 235, openstack: true, topology: 'active-active' });
    playbook = join(DIR, 'handover.yaml');
    writeFileSync(playbook, PLAYBOOK);
  });

  it('keeps node1\'s data local: no shared storage in the inventory, topology active-active', async () => {
    const inv = readFileSync(lab.inventory, 'utf8');
    expect(inv).to.match(/^topology: active-active$/m);
    expect(inv).not.to.match(/storage:/);
    expect((await labExec(lab, 'node1', 'mountpoint -q /var/lib/mysql')).code).to.not.equal(0);
    expect(await labOk(lab, 'node1', 'ls /var/lib/mysql')).to.match(/^keystone$/m).and.match(/^glance$/m);
  });

  it('refuses when a second node holds a user database, naming both and changing nothing', async () => {
    // A directory in the data dir is a database to MariaDB: the cheapest way to make one.
    await labOk(lab, 'node2', 'install -d -o mysql -g mysql -m 0700 /var/lib/mysql/nova');
    try {
      const { run: r, summary } = await run('--dry-run');
      expect(r.code).to.equal(1);
      const seed = summary.hosts.node1!.find((s) => s.step === 'galera-seed')!;
      expect(seed.status).to.equal('failed');
      expect(seed.error).to.include('node1 (glance, keystone), node2 (nova)').and.include('osha will not choose');
      expect(seed.error).to.include('mysqldump');
    } finally {
      await labOk(lab, 'node2', 'rmdir /var/lib/mysql/nova');
    }
    expect((await labExec(lab, 'node1', 'test -e /var/lib/mysql/grastate.dat')).code).to.not.equal(0);
  });

  it('plans the handover: node1 seeds, node2 and node3 keep their data dirs and take node1\'s copy', async () => {
    const { summary } = await run('--dry-run');
    const changes = (node: string) => summary.hosts[node]!.find((s) => s.step === 'galera-seed')!.changes.join('\n');
    expect(changes('node1')).to.match(/seed Galera from \/var\/lib\/mysql here \(databases: glance, keystone\)/);
    for (const node of ['node2', 'node3']) {
      expect(changes(node)).to.match(/\/var\/lib\/mysql \(system tables only\) kept at \/var\/lib\/osha\/backup\/mysql-before-galera-\d{8}T\d{6}Z, then replaced by Galera's copy from node1/);
    }
  });

  it('seeds Galera on node1, copies the others aside, exports RabbitMQ; a second run plans nothing', async () => {
    const { run: r, summary } = await run('--yes');
    expect(summary.failed, r.stdout + r.stderr).to.equal(0);

    const g = await grastate(lab, 'node1');
    expect(g.safe).to.equal('1');
    expect(g.uuid).to.match(/^[0-9a-f-]{36}$/).and.not.equal('00000000-0000-0000-0000-000000000000');
    expect(g.seqno).to.be.at.least(0);
    expect(await labOk(lab, 'node1', 'ls /var/lib/mysql')).to.match(/^keystone$/m).and.match(/^glance$/m);
    expect(await labOk(lab, 'node1', 'ls /var/lib/osha/owed')).to.equal('');
    expect(await labOk(lab, 'node1', 'ls -d /var/lib/osha/backup/mysql-before-galera-* 2>/dev/null; true')).to.equal('');
    for (const node of ['node2', 'node3']) {
      const kept = (await labOk(lab, node, 'ls -d /var/lib/osha/backup/mysql-before-galera-*')).trim().split('\n');
      expect(kept).to.have.length(1);
      // A whole copy: the system schema and InnoDB's files, owned as before.
      expect(await labOk(lab, node, `stat -c '%U' ${kept[0]}/mysql ${kept[0]}/ibdata1`)).to.equal('mysql\nmysql\n');
      expect((await labExec(lab, node, 'test -e /var/lib/mysql/grastate.dat')).code).to.not.equal(0);
    }

    // The export holds password hashes: only its mode and user names are looked at.
    const file = '/var/lib/osha/rabbitmq/definitions-node1.json';
    expect(await labOk(lab, 'node1', `stat -c '%a %U' ${file}`)).to.equal('600 root\n');
    const users = await labOk(lab, 'node1', `python3 -c 'import json; print(" ".join(sorted(u["name"] for u in json.load(open("${file}"))["users"])))'`);
    expect(users.trim().split(' ')).to.include('openstack');
    expect(await labOk(lab, 'node1', 'ls /var/lib/osha/backup')).to.match(/^rabbitmq-mnesia-before-cluster-\d{8}T\d{6}Z$/m);

    const again = await run('--dry-run');
    expect(again.summary.changed, again.run.stdout).to.equal(0);
    expect(again.summary.failed).to.equal(0);
  });

  it('finishes a seed cut short: the record left behind makes node1 the seed again', async () => {
    // What a run killed mid-seed leaves: the record, and Galera's state of a server that died.
    await labOk(lab, 'node1', "mkdir -p -m 0700 /var/lib/osha/owed && echo cut > /var/lib/osha/owed/galera-seed && sed -i -e 's/^seqno:.*/seqno:   -1/' -e 's/^safe_to_bootstrap: 1/safe_to_bootstrap: 0/' /var/lib/mysql/grastate.dat");
    const { summary } = await run('--yes');
    expect(summary.failed).to.equal(0);
    expect(summary.hosts.node1!.find((s) => s.step === 'galera-seed')!.changes.join('\n')).to.include('seed Galera');
    const g = await grastate(lab, 'node1');
    expect(g.safe).to.equal('1');
    expect(g.seqno).to.be.at.least(0);
    expect((await run('--dry-run')).summary.changed).to.equal(0);
  });

  it("osha's Galera check answers what HAProxy needs from the real Galera: 503 while MariaDB is stopped, 200 once synced, 503 while desynced", async () => {
    const node1 = lab.nodes.find((n) => n.name === 'node1')!.address;
    expect(node1).to.match(/^198\.18\./);
    // From node2, as HAProxy on another node asks.
    const ask = () => labOk(lab, 'node2', galeraCheckProbe(node1, GALERA_CHECK_PORT));
    const answers = async (want: RegExp): Promise<string> => {
      const deadline = Date.now() + 30_000;
      let last = '';
      while (Date.now() < deadline) {
        last = await ask();
        if (want.test(last)) return last;
        await new Promise((r) => setTimeout(r, 200));
      }
      throw new Error(`osha's Galera check on node1 never answered ${want}; last: ${last}`);
    };
    for (const node of ['node1', 'node2', 'node3']) {
      expect(await labOk(lab, node, 'systemctl is-enabled osha-galera-check.socket; systemctl is-active osha-galera-check.socket')).to.equal('enabled\nactive\n');
    }
    expect(await answers(/^HTTP\/1\.0 503 /)).to.match(/\r\n\r\nGalera MariaDB does not answer: /);

    // node1's data as a one-node Galera, as the seed runs it: with networking, for this check only.
    const start = [
      'install -d -o mysql -g mysql -m 0755 /run/mysqld',
      '/usr/sbin/mariadbd --user=mysql --wsrep-on=ON --wsrep-provider=/usr/lib/galera/libgalera_smm.so --wsrep-cluster-address=gcomm:// --wsrep-new-cluster --binlog-format=ROW --bind-address=127.0.0.1 </dev/null >/dev/null 2>&1 &',
      'echo $!',
    ].join('\n');
    const pid = (await labOk(lab, 'node1', start)).trim();
    try {
      expect(await answers(/^HTTP\/1\.0 200 /)).to.match(/\r\n\r\nGalera synced: wsrep_local_state 4 \(Synced\)\r\n$/);
      await labOk(lab, 'node1', 'mysql -e "SET GLOBAL wsrep_desync = ON"');
      expect(await answers(/^HTTP\/1\.0 503 /)).to.match(/\r\n\r\nGalera not synced: wsrep_local_state 2 \(Donor\/Desynced\)\r\n$/);
      await labOk(lab, 'node1', 'mysql -e "SET GLOBAL wsrep_desync = OFF"');
      await answers(/^HTTP\/1\.0 200 /);
    } finally {
      await labExec(lab, 'node1', `mysqladmin shutdown || kill ${pid}; while kill -0 ${pid} 2>/dev/null; do sleep 0.2; done`);
    }
    expect(await answers(/^HTTP\/1\.0 503 /)).to.match(/MariaDB does not answer/);
    // One responder process served every check: no journal line per connection.
    expect(Number(await labOk(lab, 'node1', "journalctl -u osha-galera-check.service -o cat | grep -c '^Started' || true"))).to.be.at.most(2);
  });
});

