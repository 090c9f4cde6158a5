// The handover facts' parsers, on output as the nodes print it.
import { expect } from 'chai';
import { parseGaleraFacts, parseRabbitFacts } from '../../src/facts/handover.ts';
import { parseBootFacts } from '../../src/steps/rabbitmq-handover.ts';

describe('handover facts', () => {
  it("RabbitMQ's: names from the globs, the export's checksum as sha256sum prints it", () => {
    const sha = 'e'.repeat(64);
    const f = parseRabbitFacts(`running=1\nmnesia=1\nbackup=rabbitmq-mnesia-before-cluster-20261206T083351Z\nexport=definitions-node2.json\nexport_sha=${sha}  -\ncib=1\n`);
    expect(f).to.deep.equal({
      systemd: false,
      running: true,
      inCib: true,
      mnesia: true,
      backups: ['rabbitmq-mnesia-before-cluster-20261206T083351Z'],
      exports: ['definitions-node2.json'],
      exportSha: sha,
      liveSha: undefined,
    });
    expect(parseRabbitFacts('systemd=1\n').exportSha).to.equal(undefined);
  });

  it("Galera's: user databases only, every backup", () => {
    const f = parseGaleraFacts('datadir=1\ndb=glance\ndb=keystone\ndb=mysql\ndb=performance_schema\ndb=sys\nbackup=mysql-before-galera-20261206T083349Z\nrunning=1\ncib=1\n');
    expect([f.datadir, f.databases, f.backups, f.running, f.inCib, f.owed, f.grastate]).to.deep.equal([true, ['glance', 'keystone'], ['mysql-before-galera-20261206T083349Z'], true, true, false, undefined]);
  });

  it("the boot definitions': the file's hash, mode and owner, each export's hash by name", () => {
    const [a, b] = ['a'.repeat(64), 'b'.repeat(64)];
    const f = parseBootFacts(undefined, `boot_sha256=${a}  -\nboot_stat=400 rabbitmq:rabbitmq\nexport=definitions-node1.json.imported ${b}  -\n`);
    expect(f.boot).to.deep.equal({ sha256: a, mode: '400', owner: 'rabbitmq:rabbitmq' });
    expect([...f.exports]).to.deep.equal([['definitions-node1.json.imported', b]]);
    expect(parseBootFacts(undefined, '').boot).to.equal(undefined);
  });
});
