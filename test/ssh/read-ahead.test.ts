// Reads asked ahead (src/ssh/read-ahead.ts, connection.ts readAhead) against a real OpenSSH sshd on
// 127.0.0.1: what a run noted while planning, the next run asks for in its first round trip.
import { expect } from 'chai';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HostConnection } from '../../src/ssh/connection.ts';
import { SshSession } from '../../src/ssh/session.ts';
import { parseReadAhead, readAheadPath } from '../../src/ssh/read-ahead.ts';
import type { SshTarget } from '../../src/ssh/target.ts';
import { sharedSshd, isRoot, type TestSshd } from '../support/sshd.ts';

function target(sshd: TestSshd): SshTarget {
  return { name: 'local', host: '127.0.0.1', port: sshd.port, user: 'root', privateKey: sshd.clientKey, knownHosts: sshd.knownHosts, agent: false, sudo: { mode: 'none' }, connectTimeoutMs: 5000, commandTimeoutMs: 30_000 };
}

const stdout = (r: Awaited<ReturnType<HostConnection['exec']>>) => (r.ok ? r.value.stdout : `error: ${r.error.message}`);

describe('reads asked ahead', () => {
  it('keeps its file per inventory and playbook under XDG_CACHE_HOME, and takes only well-formed entries from it', () => {
    const a = readAheadPath('/etc/osha/prod.yaml', 'deploy', { XDG_CACHE_HOME: '/c' });
    expect(a).to.match(/^\/c\/osha\/read-ahead\/[0-9a-f]{16}\.json$/);
    expect(readAheadPath('/etc/osha/prod.yaml', 'agents', { XDG_CACHE_HOME: '/c' })).to.not.equal(a);
    expect(parseReadAhead('{"version":1,"changed":false,"hosts":{"n1":[{"command":"cat /etc/hosts"},{"command":"id -u","noSudo":true},{"command":3},{"command":"crm_mon","timeoutMs":60000},{"command":"x","timeoutMs":-1}]}}')).to.deep.equal(
      new Map([['n1', [{ command: 'cat /etc/hosts' }, { command: 'id -u', noSudo: true }, { command: 'crm_mon', timeoutMs: 60000 }]]]),
    );
    expect(parseReadAhead('not json')).to.deep.equal(new Map());
    // After a run that changed the nodes, nothing is read ahead.
    expect(parseReadAhead('{"version":1,"changed":true,"hosts":{"n1":[{"command":"x"}]}}')).to.deep.equal(new Map());
    expect(parseReadAhead('{"version":2,"hosts":{"n1":[{"command":"x"}]}}')).to.deep.equal(new Map());
  });

  describe('against a real sshd on 127.0.0.1', function () {
    let sshd: TestSshd;
    let work: string;
    before(async function () {
      if (!isRoot()) this.skip();
      sshd = await sharedSshd();
      work = mkdtempSync(join(tmpdir(), 'osha-ahead-'));
    });
    after(() => {
      if (work) rmSync(work, { recursive: true, force: true });
    });

    it('serves a read asked ahead once, in the first batch, and drops the rest once the run changes something', async () => {
      let planning: string | undefined = 'planning step preflight';
      const lines: string[] = [];
      const r = await HostConnection.open(target(sshd), { readOnly: () => planning, log: (l) => lines.push(l) });
      if (!r.ok) throw new Error(r.error.message);
      const c = r.value;
      try {
        // The reads asked ahead go in one exec of their own, beside the step's own reads: each
        // answer names its shell, and those asked ahead name the same one.
        c.readAhead([{ command: 'echo ahead $$; date +%s%N' }, { command: 'echo later $$' }, { command: 'echo unused $$', timeoutMs: 5000 }]);
        const own = await c.exec('echo own $$');
        const first = await c.exec('echo ahead $$; date +%s%N');
        expect(lines.filter((l) => l.includes('(one of 3 at once, read ahead)'))).to.have.length(3);
        expect(lines.filter((l) => l.endsWith('(read ahead)'))).to.have.length(1);
        expect(stdout(first)).to.match(/^ahead \d+\n\d+\n$/);
        expect(stdout(first).split('\n')[0]).to.not.equal(stdout(own).replace('own', 'ahead').trim());
        // Asked again, it runs again: a result serves one request (a poll is never answered from the past).
        const again = await c.exec('echo ahead $$; date +%s%N');
        expect(stdout(again)).to.not.equal(stdout(first));
        // The run changes a node: what was asked ahead is dropped, and runs when asked.
        c.stopReadAhead();
        await c.exec('echo later $$');
        expect(lines.filter((l) => l.endsWith('(read ahead)'))).to.have.length(1);
        // Noted for the next run: what planning asked before the change, in order, once each.
        expect(c.plannedReads().map((x) => x.command)).to.deep.equal(['echo own $$', 'echo ahead $$; date +%s%N']);
        planning = undefined;
      } finally {
        c.close();
      }
    });

    it('a session keeps what its run read while planning (0600, in a 0700 dir) and the next session asks for it ahead', async () => {
      const file = join(work, 'cache', 'osha', 'read-ahead', 'x.json');
      const run = async (reads: string[], lines: string[], change = false) => {
        const session = new SshSession([target(sshd)], { log: (l) => lines.push(l) }, 4, file);
        session.planning = 'planning step preflight';
        const c = await session.connect('local');
        if (!c.ok) throw new Error(c.error.message);
        for (const command of reads) await c.value.exec(command);
        session.planning = undefined;
        if (change) session.changed();
        await session.close();
      };
      const first: string[] = [];
      await run(['cat /etc/hostname', 'id -u'], first);
      expect(first.some((l) => l.endsWith('(read ahead)'))).to.equal(false);
      expect((statSync(file).mode & 0o777).toString(8)).to.equal('600');
      expect((statSync(join(file, '..')).mode & 0o777).toString(8)).to.equal('700');
      expect(parseReadAhead(readFileSync(file, 'utf8')).get('local')).to.deep.equal([{ command: 'cat /etc/hostname' }, { command: 'id -u' }]);
      const second: string[] = [];
      await run(['cat /etc/hostname', 'id -u'], second);
      expect(second.filter((l) => l.endsWith('(read ahead)'))).to.have.length(2);
      // A run that changed something: the next one reads as it goes, then asks ahead again.
      await run(['cat /etc/hostname', 'id -u'], [], true);
      const afterChange: string[] = [];
      await run(['cat /etc/hostname', 'id -u'], afterChange);
      expect(afterChange.some((l) => l.endsWith('(read ahead)'))).to.equal(false);
      // A file others may write is not used: it names commands run on the nodes.
      chmodSync(file, 0o666);
      const third: string[] = [];
      await run(['cat /etc/hostname'], third);
      expect(third.some((l) => l.endsWith('(read ahead)'))).to.equal(false);
      const fourth: string[] = [];
      await run(['cat /etc/hostname'], fourth);
      expect(fourth.filter((l) => l.endsWith('(read ahead)'))).to.have.length(1);
    });
  });
});
