// galera-seed's decision, from facts alone: who seeds, who keeps a copy, when osha refuses.
import { expect } from 'chai';
import { decideSeed } from '../../src/steps/galera-seed.ts';
import { parseGaleraFacts, type GaleraFacts } from '../../src/facts/handover.ts';

const node = (f: Partial<GaleraFacts> = {}): GaleraFacts => ({ datadir: true, databases: [], running: false, inCib: false, backups: [], owed: false, ...f });
const galera = { uuid: '9b9eb56b-edc5-11f1-bcce-c7344ab61d9a', seqno: 1, safeToBootstrap: true };

describe('galera-seed decision', () => {
  it('seeds from the only data holder, wherever it is in the inventory, and copies the others aside', () => {
    const d = decideSeed(new Map([['node1', node()], ['node2', node({ databases: ['keystone'] })], ['node3', node()]]));
    expect(d).to.deep.equal({ kind: 'handover', seed: 'node2', source: 'node2', backups: ['node1', 'node3'] });
  });

  it('refuses two holders, naming each with its databases', () => {
    const d = decideSeed(new Map([['node1', node({ databases: ['glance', 'keystone'] })], ['node2', node({ databases: ['nova'] })], ['node3', node()]]));
    expect(d.kind).to.equal('conflict');
    if (d.kind === 'conflict') expect([...d.holders]).to.deep.equal([['node1', ['glance', 'keystone']], ['node2', ['nova']]]);
  });

  it('seeds nothing once a node has a Galera state; backs up only nodes not copied yet', () => {
    const d = decideSeed(new Map([['node1', node({ databases: ['keystone'], grastate: galera })], ['node2', node({ backups: ['mysql-before-galera-x'] })], ['node3', node()]]));
    expect(d).to.deep.equal({ kind: 'handover', seed: undefined, source: 'node1', backups: ['node3'] });
  });

  it('seeds again where a seed was cut short, and plans nothing once Pacemaker owns Galera', () => {
    const cut = decideSeed(new Map([['node1', node({ databases: ['keystone'], grastate: { ...galera, seqno: -1 }, owed: true })], ['node2', node({ backups: ['b'] })], ['node3', node({ backups: ['b'] })]]));
    expect(cut).to.deep.equal({ kind: 'handover', seed: 'node1', source: 'node1', backups: [] });
    expect(decideSeed(new Map([['node1', node({ inCib: true })], ['node2', node({ databases: ['x'] })]]))).to.deep.equal({ kind: 'pacemaker' });
  });

  it('reads the facts: databases without the system schemas, grastate after its marker', () => {
    const f = parseGaleraFacts('datadir=1\ndb=glance\ndb=mysql\ndb=performance_schema\ndb=sys\nrunning=1\n--- grastate ---\n# GALERA saved state\nversion: 2.1\nuuid:    00000000-0000-0000-0000-000000000000\nseqno:   -1\nsafe_to_bootstrap: 0\n');
    expect(f).to.deep.include({ datadir: true, databases: ['glance'], running: true, inCib: false, owed: false });
    expect(f.grastate).to.deep.equal({ uuid: '00000000-0000-0000-0000-000000000000', seqno: -1, safeToBootstrap: false });
  });
});

describe('rabbitmq.conf keys (rabbitmq-boot-definitions)', function () {
  it('replaces a key where it stands, appends missing ones under a note, keeps the rest', async function () {
    const { withRabbitConfKeys } = await import('../../src/steps/rabbitmq-handover.ts');
    const keys = [['cluster_partition_handling', 'pause_minority'], ['load_definitions', '/etc/rabbitmq/osha-definitions.json']] as const;
    expect(withRabbitConfKeys('', keys)).to.equal('# Set by osha (active-active topology).\ncluster_partition_handling = pause_minority\nload_definitions = /etc/rabbitmq/osha-definitions.json\n');
    const mine = '# mine\nlisteners.tcp.default = 5672\ncluster_partition_handling=ignore\n';
    const out = withRabbitConfKeys(mine, keys);
    expect(out).to.equal('# mine\nlisteners.tcp.default = 5672\ncluster_partition_handling = pause_minority\n\n# Set by osha (active-active topology).\nload_definitions = /etc/rabbitmq/osha-definitions.json\n');
    expect(withRabbitConfKeys(out, keys)).to.equal(out);
  });
});
