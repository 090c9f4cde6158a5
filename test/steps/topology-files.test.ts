// The topology-files step: which Erlang cookie every node gets, the one-round-trip facts read for
// real through OpenSSH's sshd on 127.0.0.1, and a classic run that leaves the active-active steps out.
import { expect } from 'chai';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decideCookie, galeraEvictionCommand, nodeListRisk, nodesLeavingList } from '../../src/steps/topology-files.ts';
import { parseIsoDuration, parseTopologyOutput, readTopologyFacts } from '../../src/facts/topology.ts';
import { parseInventory } from '../../src/inventory/load.ts';
import { runSteps, type Reporter } from '../../src/runner/run.ts';
import { STEPS } from '../../src/steps/index.ts';
import type { SshSession } from '../../src/ssh/session.ts';
import { sharedSshd, isRoot, openAsRoot } from '../support/sshd.ts';

const A = 'a'.repeat(64);
const B = 'b'.repeat(64);

describe('topology-files step', () => {
  describe("Galera's node list losing nodes", () => {
    it('names the nodes a list has that the inventory no longer has', () => {
      expect(nodesLeavingList('gcomm://node1,node2,node3,node4\n', ['node1', 'node2', 'node3'])).to.deep.equal(['node4']);
      expect(nodesLeavingList('gcomm://node1,node2\n', ['node1', 'node2', 'node3'])).to.deep.equal([]);
      expect(nodesLeavingList(undefined, ['node1'])).to.deep.equal([]);
    });

    it('needs a yes only while no primary component runs (the agent waits for every listed node)', () => {
      const risk = nodeListRisk(['node4'], false, ['node1', 'node2', 'node3']);
      expect(risk).to.include('no primary component').and.include('most advanced of node1, node2, node3').and.include('what only node4 committed is lost');
      expect(nodeListRisk(['node4'], true, ['node1', 'node2', 'node3'])).to.equal(undefined);
      expect(nodeListRisk([], false, ['node1'])).to.equal(undefined);
    });

    it('reads whether MariaDB is in the primary component', () => {
      expect(parseTopologyOutput(new Map(), 'mariadb_running=1\ngalera_primary=1\n').galeraPrimary).to.equal(true);
      expect(parseTopologyOutput(new Map(), 'mariadb_running=1\n').galeraPrimary).to.equal(false);
    });

    it("sorts out the node's process list and MariaDB's answer (as an active-active node printed them)", () => {
      const output = [
        `cookie_sha256=${A}  -`,
        'cookie_mode=400',
        'cookie_owner=rabbitmq:rabbitmq',
        'rabbitmq_user=1',
        'sysctl:net.ipv4.ip_nonlocal_bind=0',
        'dir=/etc/osha',
        '--- processes ---',
        'root                             pacemakerd',
        'haproxy                          haproxy',
        'rabbitmq                         beam.smp',
        'mysql                            mariadbd',
        '--- wsrep ---',
        'wsrep_cluster_status\tPrimary',
        'wsrep_provider_options\tbase_dir = /var/lib/mysql/; evs.auto_evict = 0; evs.keepalive_period = PT1S; evs.suspect_timeout = PT5S; evs.user_send_window = 2',
        '--- end ---',
      ].join('\n');
      const f = parseTopologyOutput(new Map(), output);
      expect(f.cookie).to.deep.equal({ sha256: A, mode: '400', owner: 'rabbitmq:rabbitmq' });
      expect([f.rabbitmqUser, f.rabbitmqRunning, f.rabbitmqUnitActive, f.mariadbRunning, f.haproxyRunning, f.galeraPrimary]).to.deep.equal([true, true, false, true, true, true]);
      expect(f.galeraEviction).to.deep.equal({ suspectMs: 5000, keepaliveMs: 1000, variables: false });
      expect([...f.dirs]).to.deep.equal(['/etc/osha']);
      expect(f.sysctl.get('net.ipv4.ip_nonlocal_bind')).to.deep.equal({ value: '0', writable: false });
      // beam.smp counts as RabbitMQ only as the rabbitmq user's; no Galera answer, no Galera facts.
      const other = parseTopologyOutput(new Map(), '--- processes ---\nroot beam.smp\nroot mysqld\n--- wsrep ---\n--- end ---\n');
      expect(other.cookie).to.equal(undefined);
      expect([other.rabbitmqRunning, other.mariadbRunning, other.galeraPrimary, other.galeraEviction]).to.deep.equal([false, true, false, undefined]);
      // MariaDB 11 (Debian 13): one variable per provider option.
      const eleven = parseTopologyOutput(new Map(), '--- processes ---\n--- wsrep ---\nwsrep_cluster_status\tNon-primary\nwsrep_provider_options\tevs.keepalive_period = PT0.5S; evs.suspect_timeout = PT2S\nwsrep_provider_evs_suspect_timeout\t2\n--- end ---\n');
      expect([eleven.galeraPrimary, eleven.galeraEviction]).to.deep.equal([false, { suspectMs: 2000, keepaliveMs: 500, variables: true }]);
    });
  });

  describe('the Erlang cookie', () => {
    const node = (host: string, sha256?: string, running = false) => ({ host, sha256, running });

    it('keeps a cookie every node has', () => {
      expect(decideCookie([node('n1', A, true), node('n2', A, true), node('n3', A)])).to.deep.equal({ kind: 'keep', sha256: A });
    });

    it('copies the first node that has one (inventory order) to the others', () => {
      expect(decideCookie([node('n1'), node('n2', B), node('n3', A)])).to.deep.equal({ kind: 'copy', sha256: B, from: 'n2', to: ['n1', 'n3'] });
      // The source may run: only the nodes whose cookie changes must not.
      expect(decideCookie([node('n1', A, true), node('n2', B), node('n3')])).to.deep.equal({ kind: 'copy', sha256: A, from: 'n1', to: ['n2', 'n3'] });
    });

    it('makes a new one when no node has one', () => {
      expect(decideCookie([node('n1'), node('n2'), node('n3')])).to.deep.equal({ kind: 'generate', to: ['n1', 'n2', 'n3'] });
    });

    it('refuses to change the cookie of a running RabbitMQ, naming fingerprints only', () => {
      const d = decideCookie([node('n1', A, true), node('n2', B, true), node('n3', A, true)]);
      expect(d.kind).to.equal('refuse');
      if (d.kind !== 'refuse') return;
      expect(d.message).to.include('RabbitMQ runs on n2').and.include(`n2: sha256:${'b'.repeat(16)}`).and.not.include(B);
      expect(d.fix).to.match(/^stop RabbitMQ on n2/);
    });
  });

  describe("a running Galera's eviction timing", () => {
    it('reads it from the server\'s provider options, in ms; none without Galera', () => {
      expect(parseIsoDuration('PT5S')).to.equal(5000);
      expect(parseIsoDuration('PT0.5S')).to.equal(500);
      expect(parseIsoDuration('PT1M30S')).to.equal(90000);
      expect(parseIsoDuration('P1D')).to.equal(undefined);
      expect(parseIsoDuration('PT')).to.equal(undefined);
      const facts = parseTopologyOutput(new Map(), 'mariadb_running=1\nevs_keepalive_period=PT1S\nevs_suspect_timeout=PT5S\n');
      expect(facts.galeraEviction).to.deep.equal({ suspectMs: 5000, keepaliveMs: 1000, variables: false });
      const eleven = parseTopologyOutput(new Map(), 'evs_keepalive_period=PT0.5S\nevs_suspect_timeout=PT2S\nevs_variables=1\n');
      expect(eleven.galeraEviction).to.deep.equal({ suspectMs: 2000, keepaliveMs: 500, variables: true });
      expect(parseTopologyOutput(new Map(), 'mariadb_running=1\n').galeraEviction).to.equal(undefined);
    });

    it('is changed live, keepalives under a third of the timeout at every step, and left alone when it matches', () => {
      const defaults = { suspectMs: 5000, keepaliveMs: 1000, variables: false };
      const fast = { suspectMs: 2000, keepaliveMs: 500, variables: false };
      expect(galeraEvictionCommand(fast, fast)).to.equal(undefined);
      // Faster: keepalive first (a 1 s keepalive with a 2 s timeout would stop Galera's next start).
      expect(galeraEvictionCommand(defaults, fast)).to.equal(
        "mysql -e 'SET GLOBAL wsrep_provider_options='\\''evs.keepalive_period=PT0.5S'\\''; SET GLOBAL wsrep_provider_options='\\''evs.suspect_timeout=PT2S'\\'';'",
      );
      // Slower: the timeout first.
      expect(galeraEvictionCommand(fast, defaults)).to.match(/suspect_timeout=PT5S.*keepalive_period=PT1S/);
      // MariaDB 11 (Debian 13) refuses wsrep_provider_options while it runs: one variable per option, in seconds.
      expect(galeraEvictionCommand({ ...fast, variables: true }, defaults)).to.equal(
        "mysql -e 'SET GLOBAL wsrep_provider_evs_suspect_timeout = 5; SET GLOBAL wsrep_provider_evs_keepalive_period = 1;'",
      );
    });
  });

  it('a run of a classic inventory leaves out every active-active step: no header, no result, no node asked', async () => {
    const r = parseInventory('cluster: { name: c1 }\nnodes:\n  - { name: n1, address: 198.18.0.11 }\n  - { name: n2, address: 198.18.0.12 }\n  - { name: n3, address: 198.18.0.13 }\nvip: { address: 198.18.0.100, cidr_netmask: 24 }\nservices: [mysql, rabbitmq]\n', 'x.yaml');
    if (!r.ok) throw new Error(r.error.map((p) => p.message).join('; '));
    const activeActive = STEPS.filter((s) => s.topology === 'active-active');
    expect(activeActive.map((s) => s.name)).to.include.members(['topology-files', 'galera-seed', 'rabbitmq-export', 'rabbitmq-backup', 'rabbitmq-boot-definitions', 'rabbitmq-import']);
    const started: string[] = [];
    const reporter: Reporter = { stepStarted: (s) => void started.push(s.name), planned() {}, hostDone() {}, stepFinished() {}, note() {}, log() {}, finished() {} };
    const session = {
      concurrency: 4,
      connect: () => {
        throw new Error('classic must not connect');
      },
    } as unknown as SshSession;
    const options = { dryRun: true, regenerateKey: false, settleTimeoutMs: 1000 };
    const summary = await runSteps({ playbook: 'deploy', steps: activeActive, inv: r.value, inventoryFile: 'x.yaml', session, options, reporter, signal: new AbortController().signal });
    expect(started).to.deep.equal([]);
    expect(summary.steps).to.deep.equal([]);
    expect(summary.ok + summary.changed + summary.failed + summary.skipped).to.equal(0);
    // A run cut short does not name them as left undone either.
    const aborted = new AbortController();
    aborted.abort();
    const cut = await runSteps({ playbook: 'deploy', steps: activeActive, inv: r.value, inventoryFile: 'x.yaml', session, options, reporter, signal: aborted.signal });
    expect(cut.notRun).to.deep.equal([]);
  });

  it('reads files, cookie checksum, sysctl values and directories in one command over ssh', async function () {
    if (!isRoot()) {
      console.log('      (skipped: the sshd tests need root)');
      this.skip();
    }
    const sshd = await sharedSshd();
    const dir = mkdtempSync(join(tmpdir(), 'osha-topology-'));
    try {
      writeFileSync(join(dir, 'present'), 'NODE_IP_ADDRESS=1.2.3.4\n');
      mkdirSync(join(dir, 'sub dir'));
      const c = await openAsRoot(sshd);
      try {
        const paths = [join(dir, 'present'), join(dir, 'missing')];
        const f = await readTopologyFacts(c, paths, [join(dir, 'sub dir'), join(dir, 'nope')], ['net.ipv4.ip_nonlocal_bind', 'net.no_such.key']);
        if (!f.ok) throw new Error(f.error.message);
        expect(f.value.files.get(paths[0]!)?.content?.toString()).to.equal('NODE_IP_ADDRESS=1.2.3.4\n');
        expect(f.value.files.get(paths[1]!)).to.deep.equal({ exists: false });
        expect([...f.value.dirs]).to.deep.equal([join(dir, 'sub dir')]);
        expect(f.value.sysctl.get('net.ipv4.ip_nonlocal_bind')?.value).to.match(/^[01]$/);
        expect(f.value.sysctl.get('net.no_such.key')).to.deep.equal({ value: '', writable: false });
        // This machine runs no RabbitMQ.
        expect(f.value.rabbitmqRunning).to.equal(false);
      } finally {
        c.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
