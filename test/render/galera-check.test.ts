// osha's Galera check for HAProxy: its systemd units (checked by the real systemd-analyze), and the
// responder itself (playbooks/files/osha-galera-check) run for real by systemd-socket-activate on
// this machine, which has no MariaDB: it must still answer HTTP, 503 with the reason; and, with a
// stand-in client, keep one client for every status read. Its answers from a real Galera are
// checked on a lab (test/deploy/active-active.test.ts).
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { activeActive, V6_NODES } from './topology-fixtures.ts';
import { GALERA_CHECK_SOURCE, renderGaleraCheckService, renderGaleraCheckSocket } from '../../src/render/galera-check.ts';
import { parseGaleraCheckAnswer } from '../../src/facts/galera.ts';
import { PLAYBOOK_DIR } from '../../src/playbook/names.ts';

/** One HTTP exchange as HAProxy's `option httpchk` makes it; the raw answer. */
function ask(port: number, request = 'OPTIONS / HTTP/1.0\r\n\r\n'): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = createConnection({ host: '127.0.0.1', port }, () => s.write(request));
    let got = '';
    s.setEncoding('utf8');
    s.on('data', (d) => (got += d));
    s.on('end', () => resolve(got));
    s.on('error', reject);
    s.setTimeout(10_000, () => s.destroy(new Error('no answer in 10 s')));
  });
}

describe("osha's Galera check for HAProxy", () => {
  it('listens on the node\'s own address (IPv6 in brackets), kept by systemd, one responder for every check', () => {
    const inv = activeActive();
    const socket = renderGaleraCheckSocket(inv, inv.nodes[1]!);
    expect(socket).to.match(/^# Written by osha for cluster c1/);
    expect(socket).to.include('\nListenStream=198.18.0.12:9200\n').and.include('\nFreeBind=yes\n').and.include('\nAccept=no\n').and.include('\nWantedBy=sockets.target\n');
    const v6 = activeActive({ addresses: V6_NODES });
    expect(renderGaleraCheckSocket(v6, v6.nodes[0]!)).to.include('\nListenStream=[fd00:18::11]:9200\n');
  });

  it('runs the responder without capabilities on a read-only file system', () => {
    const service = renderGaleraCheckService(activeActive());
    for (const line of ['ExecStart=/usr/lib/osha/galera-check', 'Requires=osha-galera-check.socket', 'CapabilityBoundingSet=', 'NoNewPrivileges=yes', 'ProtectSystem=strict']) {
      expect(service).to.include(`\n${line}\n`);
    }
  });

  it('reads an answer of the responder, and nothing else', () => {
    expect(parseGaleraCheckAnswer('HTTP/1.0 200 OK\r\nContent-Length: 10\r\n\r\nGalera synced: wsrep_local_state 4 (Synced)\r\n')).to.deep.equal({ status: 200, reason: 'synced: wsrep_local_state 4 (Synced)' });
    expect(parseGaleraCheckAnswer('HTTP/1.0 503 Service Unavailable\r\n\r\nGalera not synced\r\n')).to.deep.equal({ status: 503, reason: 'not synced' });
    expect(parseGaleraCheckAnswer('HTTP/1.1 200 OK\r\n\r\nhello\r\n')).to.equal(undefined);
    expect(parseGaleraCheckAnswer('')).to.equal(undefined);
  });

  describe('checked by the real systemd', function () {
    let dir = '';
    before(function () {
      if (spawnSync('systemd-analyze', ['--version']).status !== 0) this.skip(); // needs systemd (every CI machine has it)
      dir = mkdtempSync(join(tmpdir(), 'osha-galera-check-'));
    });
    after(() => {
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    it('systemd-analyze verify finds nothing in the units but the responder missing on this machine', () => {
      const inv = activeActive();
      writeFileSync(join(dir, 'osha-galera-check.socket'), renderGaleraCheckSocket(inv, inv.nodes[0]!));
      writeFileSync(join(dir, 'osha-galera-check.service'), renderGaleraCheckService(inv));
      const units = ['osha-galera-check.socket', 'osha-galera-check.service'].map((u) => join(dir, u));
      const r = spawnSync('systemd-analyze', ['verify', ...units], { encoding: 'utf8' });
      const complaints = (r.stdout + r.stderr).split('\n').filter((l) => l.trim() !== '' && !l.includes('/usr/lib/osha/galera-check is not executable'));
      expect(complaints).to.deep.equal([]);
      // The same check fails on a unit with a mistake in it.
      writeFileSync(units[0]!, renderGaleraCheckSocket(inv, inv.nodes[0]!).replace('FreeBind=', 'FreeBound='));
      expect(spawnSync('systemd-analyze', ['verify', ...units], { encoding: 'utf8' }).stderr).to.include("Unknown key 'FreeBound'");
    });

    it('the responder, started by socket activation, answers every check in HTTP: 503 and why, here where no MariaDB runs', async function () {
      const port = 19200 + (process.pid % 500);
      // PATH without a MariaDB client, as on a node where it is missing: the answer says so.
      const child = spawn('systemd-socket-activate', ['-l', `127.0.0.1:${port}`, join(PLAYBOOK_DIR, GALERA_CHECK_SOURCE)], { env: { PATH: '/usr/bin:/bin' }, stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (d) => (stderr += d));
      try {
        // systemd-socket-activate says so once it listens.
        await new Promise<void>((resolve, reject) => {
          child.stderr.on('data', () => (stderr.includes('Listening on') ? resolve() : undefined));
          child.on('exit', () => reject(new Error(`systemd-socket-activate ended: ${stderr}`)));
        });
        const answers = await Promise.all([ask(port), ask(port), ask(port, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n')]);
        for (const a of answers) {
          expect(a).to.match(/^HTTP\/1\.0 503 Service Unavailable\r\n/);
          const reason = parseGaleraCheckAnswer(a)?.reason ?? '';
          expect(reason).to.match(/no MariaDB client|MariaDB does not answer/);
        }
      } finally {
        child.kill();
      }
    });

    it('keeps one MariaDB client running for every status read, and replaces one that ended (a stand-in client: no MariaDB here)', async function () {
      const port = 19700 + (process.pid % 500);
      // Stand-in for the mariadb client in batch mode: answers the status query as a synced
      // Galera node would, echoes the marker SELECT, logs each start. `mode`: `end` makes it end at
      // its next query (once); `refuse` too, and a new one then fails as a client finding no server.
      const bin = join(dir, 'bin');
      mkdirSync(bin, { recursive: true });
      const mode = join(dir, 'mode');
      const starts = join(dir, 'starts');
      writeFileSync(mode, 'ok\n');
      writeFileSync(
        join(bin, 'mariadb'),
        [
          '#!/bin/bash',
          `echo start >> ${starts}`,
          `if [ "$(cat ${mode})" = refuse ]; then echo "ERROR 2002 (HY000): Can't connect to local server through socket '/run/mysqld/mysqld.sock' (2)"; exit 1; fi`,
          'while IFS= read -r line; do',
          '  case "$line" in',
          `    SHOW*) m=$(cat ${mode}); if [ "$m" != ok ]; then [ "$m" = end ] && echo ok > ${mode}; exit 1; fi`,
          "           printf 'wsrep_cluster_status\\tPrimary\\nwsrep_local_state\\t4\\nwsrep_local_state_comment\\tSynced\\nwsrep_ready\\tON\\n' ;;",
          `    SELECT*) echo "$line" | sed -E "s/^SELECT '(.*)';$/\\1/" ;;`,
          '  esac',
          'done',
          '',
        ].join('\n'),
        { mode: 0o755 },
      );
      const child = spawn('systemd-socket-activate', ['-l', `127.0.0.1:${port}`, join(PLAYBOOK_DIR, GALERA_CHECK_SOURCE)], { env: { PATH: `${bin}:/usr/bin:/bin` }, stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (d) => (stderr += d));
      const reason = async () => parseGaleraCheckAnswer(await ask(port))?.reason;
      /** Answers until the status is read afresh (it is cached STATUS_TTL, 0.5 s). */
      const fresh = async (want: string) => {
        const deadline = Date.now() + 10_000;
        let last: string | undefined;
        while (Date.now() < deadline && !(last = await reason())?.includes(want)) await new Promise((r) => setTimeout(r, 100));
        return last;
      };
      const startCount = () => readFileSync(starts, 'utf8').split('\n').filter(Boolean).length;
      try {
        await new Promise<void>((resolve, reject) => {
          child.stderr.on('data', () => (stderr.includes('Listening on') ? resolve() : undefined));
          child.on('exit', () => reject(new Error(`systemd-socket-activate ended: ${stderr}`)));
        });
        expect(await reason()).to.equal('synced: wsrep_local_state 4 (Synced)');
        // Several reads later (each after the cache expired), still the first client.
        for (let i = 0; i < 3; i++) {
          await new Promise((r) => setTimeout(r, 600));
          expect(await reason()).to.equal('synced: wsrep_local_state 4 (Synced)');
        }
        expect(startCount()).to.equal(1);
        // The client ends (MariaDB restarted): the same read goes through a new one.
        writeFileSync(mode, 'end\n');
        await new Promise((r) => setTimeout(r, 600));
        expect(await reason()).to.equal('synced: wsrep_local_state 4 (Synced)');
        expect(startCount()).to.equal(2);
        // MariaDB gone: the running client ends, the new one finds no server; 503 with its error.
        writeFileSync(mode, 'refuse\n');
        expect(await fresh("Can't connect")).to.equal("MariaDB does not answer: ERROR 2002 (HY000): Can't connect to local server through socket '/run/mysqld/mysqld.sock' (2)");
      } finally {
        child.kill();
      }
    });
  });
});
