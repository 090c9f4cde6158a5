// The galera-check step, without a network: which listeners block it, which answers of the
// responder let a deploy go on, and what it plans from a node's facts. Run for real on a lab in
// test/deploy/active-active.test.ts.
import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { hostActions, judgeProbe, parseGaleraCheckFacts, portTaken, type GaleraCheckFacts } from '../../src/steps/galera-check.ts';
import { GALERA_CHECK_SCRIPT, GALERA_CHECK_SERVICE, GALERA_CHECK_SOCKET, GALERA_CHECK_SOURCE, renderGaleraCheckService, renderGaleraCheckSocket } from '../../src/render/galera-check.ts';
import { PLAYBOOK_DIR } from '../../src/playbook/names.ts';
import type { StepContext } from '../../src/runner/types.ts';
import type { HostHandle } from '../../src/steps/common.ts';
import { activeActive } from '../render/topology-fixtures.ts';

const SYNCED = 'HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nGalera synced: wsrep_local_state 4 (Synced)\r\n';
const STOPPED = 'HTTP/1.0 503 Service Unavailable\r\n\r\nGalera MariaDB does not answer: ERROR 2002\r\n';

describe('galera-check step', () => {
  it('reads the facts of its one round trip (systemctl, ss and MariaDB as they print them)', () => {
    const output = [
      'script_dir=1',
      'ActiveState=active',
      'UnitFileState=disabled',
      '--- listeners ---',
      'LISTEN 0      4096     198.18.0.11:9200      0.0.0.0:*',
      'LISTEN 0      4096       127.0.0.1:9200      0.0.0.0:*',
      '--- wsrep ---',
      'wsrep_local_state\t4',
      '',
    ].join('\n');
    const f = parseGaleraCheckFacts(new Map([[GALERA_CHECK_SCRIPT, Buffer.from('x')], [GALERA_CHECK_SOCKET, undefined]]), output);
    expect(f.scriptDir).to.equal(true);
    expect(f.socketActive).to.equal(true);
    expect(f.socketEnabled).to.equal(false);
    // systemctl is-enabled's meaning of enabled: static and indirect units too; masked ones not.
    const enabled = (state: string) => parseGaleraCheckFacts(new Map(), `UnitFileState=${state}\n--- listeners ---\n--- wsrep ---\n`).socketEnabled;
    expect(['enabled', 'static', 'indirect', 'masked', 'disabled', ''].map(enabled)).to.deep.equal([true, true, true, false, false, false]);
    expect(f.listeners).to.deep.equal(['198.18.0.11:9200', '127.0.0.1:9200']);
    expect(f.wsrepState).to.equal('4');
    expect(f.files.get(GALERA_CHECK_SCRIPT)).to.deep.equal({ exists: true, content: Buffer.from('x') });
    expect(f.files.get(GALERA_CHECK_SOCKET)).to.deep.equal({ exists: false });
    expect(parseGaleraCheckFacts(new Map(), '').wsrepState).to.equal(undefined);
  });

  it("a listener on any address or the node's own keeps the responder out; one on another address does not", () => {
    expect(portTaken(['0.0.0.0:9200'], '198.18.0.11')).to.equal('0.0.0.0:9200');
    expect(portTaken(['*:9200'], '198.18.0.11')).to.equal('*:9200');
    expect(portTaken(['[::]:9200'], 'fd00:18::11')).to.equal('[::]:9200');
    expect(portTaken(['[fd00:18::11]:9200'], 'fd00:18::11')).to.equal('[fd00:18::11]:9200');
    expect(portTaken(['198.18.0.11:9200'], '198.18.0.11')).to.equal('198.18.0.11:9200');
    expect(portTaken(['127.0.0.1:9200', '198.18.0.12:9200'], '198.18.0.11')).to.equal(undefined);
  });

  it('goes on with any answer of the responder, except a 503 from a node that is synced', () => {
    expect(judgeProbe(SYNCED, true)).to.deep.equal({ ok: true, value: '200 synced: wsrep_local_state 4 (Synced)' });
    expect(judgeProbe(STOPPED, false).ok).to.equal(true);
    const refused = judgeProbe(STOPPED, true);
    expect(refused.ok).to.equal(false);
    if (!refused.ok) expect(refused.error.message).to.include('answers 503 (MariaDB does not answer: ERROR 2002) although this node\'s Galera is synced');
    const nothing = judgeProbe('', false);
    expect(nothing.ok).to.equal(false);
    if (!nothing.ok) expect(nothing.error.message).to.include("no answer from osha's Galera check");
  });

  describe('plans from the facts', () => {
    const inv = activeActive();
    const notes: string[] = [];
    const ctx = { inv, note: (host: string, line: string) => notes.push(`${host}: ${line}`) } as unknown as StepContext;
    const handle = (init = 'systemd') => ({ host: 'n1', c: {}, os: { init } }) as unknown as HostHandle;
    const script = readFileSync(`${PLAYBOOK_DIR}/${GALERA_CHECK_SOURCE}`);
    const inPlace = (over: Partial<GaleraCheckFacts> = {}): GaleraCheckFacts => ({
      files: new Map([
        [GALERA_CHECK_SCRIPT, { exists: true, content: script }],
        [GALERA_CHECK_SOCKET, { exists: true, content: Buffer.from(renderGaleraCheckSocket(inv, inv.nodes[0]!)) }],
        [GALERA_CHECK_SERVICE, { exists: true, content: Buffer.from(renderGaleraCheckService(inv)) }],
      ]),
      scriptDir: true,
      socketActive: true,
      socketEnabled: true,
      listeners: ['198.18.0.11:9200'],
      wsrepState: '4',
      ...over,
    });
    const summaries = (f: GaleraCheckFacts) => {
      const p = hostActions(ctx, handle(), f, script);
      if (!p.ok) throw new Error(p.error.message);
      return p.value.map((a) => a.summary);
    };

    it('nothing when every file is ours and the socket is enabled and listening', () => {
      expect(summaries(inPlace())).to.deep.equal([]);
    });

    it('a stopped or disabled socket is started again, then asked once', () => {
      for (const f of [inPlace({ socketActive: false, listeners: [] }), inPlace({ socketEnabled: false })]) {
        expect(summaries(f)).to.deep.equal([
          "(re)start osha's Galera check on 198.18.0.11:9200 (systemd socket osha-galera-check.socket, enabled)",
          "ask osha's Galera check on 198.18.0.11:9200 once, as HAProxy will (this node is synced: it must answer 200)",
        ]);
      }
    });

    it('a fresh node gets the directory, the responder and both units; a node not synced may answer 503', () => {
      const fresh = summaries({ files: new Map(), scriptDir: false, socketActive: false, socketEnabled: false, listeners: [] });
      expect(fresh).to.deep.equal([
        'create /usr/lib/osha',
        'create /usr/lib/osha/galera-check (mode 0755)',
        'create /etc/systemd/system/osha-galera-check.socket (mode 0644)',
        'create /etc/systemd/system/osha-galera-check.service (mode 0644)',
        "(re)start osha's Galera check on 198.18.0.11:9200 (systemd socket osha-galera-check.socket, enabled)",
        "ask osha's Galera check on 198.18.0.11:9200 once, as HAProxy will",
      ]);
    });

    it('refuses to replace a file at its paths that osha did not write, naming it', () => {
      const theirs = inPlace();
      theirs.files.set(GALERA_CHECK_SERVICE, { exists: true, content: Buffer.from('[Service]\nExecStart=/usr/local/bin/mine\n') });
      const plan = hostActions(ctx, handle(), theirs, script);
      expect(plan.ok).to.equal(false);
      if (!plan.ok) {
        expect(plan.error.message).to.equal(`${GALERA_CHECK_SERVICE} exists and osha did not write it; osha replaces no file it did not make`);
        expect(plan.error.fix).to.include(`move ${GALERA_CHECK_SERVICE} away on n1`);
      }
    });

    it('refuses a port another program holds, and a node without systemd', () => {
      const taken = hostActions(ctx, handle(), inPlace({ socketActive: false, listeners: ['0.0.0.0:9200'] }), script);
      expect(taken.ok).to.equal(false);
      if (!taken.ok) {
        expect(taken.error.message).to.equal("0.0.0.0:9200 is taken by another program; osha's Galera check for HAProxy listens on 198.18.0.11:9200");
        expect(taken.error.fix).to.include("ss -ltnp 'sport = :9200'");
      }
      const sysv = hostActions(ctx, handle('sysvinit'), inPlace(), script);
      expect(sysv.ok).to.equal(false);
      if (!sysv.ok) expect(sysv.error.message).to.include('init system is sysvinit');
    });
  });
});
