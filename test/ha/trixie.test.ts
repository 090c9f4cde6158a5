// Debian 13 (trixie) end to end: the demo on trixie nodes, whose cluster stack is Pacemaker 3.0,
// corosync 3.1.9, crmsh 5 and resource-agents 4.16, with OpenStack 2025.1, MariaDB 11.8 and
// RabbitMQ 4.0 from Debian's packages. One `osha deploy` takes the controllers over, `osha drill`
// kills the VIP's node (fenced through the lab's device), every service recovers elsewhere, and a
// re-deploy changes nothing. The bookworm side of the same, and much more, is test/ha/ha.test.ts;
// this file is kept to the demo's one failover so that both releases fit in CI's time.
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { osha } from '../support/osha.ts';
import { activeNode, crmMon, haInventory, issueToken, listImages, nodeOk, type HaLab, suiteHaLab } from './setup.ts';

const PLACE = { dir: '/tmp/osha-test-trixie', subnet: 81 } as const;

describe('[lab] Debian 13 (trixie) nodes: the demo with Pacemaker 3, crmsh 5 and OpenStack 2025.1', function () {
  this.timeout(10 * 60_000);
  let ha: HaLab & { demo: string };
  let inventory: string;

  before(async function () {
    this.timeout(45 * 60_000);
    ha = await suiteHaLab(this, { ...PLACE, release: 'trixie' });
    inventory = haInventory(ha);
  });

  it("the nodes run trixie's cluster stack and services: Pacemaker 3, corosync 3.1, crmsh 5, resource-agents 4.16, MariaDB 11", async () => {
    const out = await nodeOk(
      ha.nodes[0]!,
      'versions',
      ["grep -h '^VERSION_CODENAME=' /etc/os-release", "dpkg-query -W -f='${Package} ${Version}\\n' pacemaker corosync crmsh resource-agents mariadb-server keystone"].join('\n'),
    );
    console.log(`      ${out.trim().split('\n').join('; ')}`);
    expect(out).to.match(/^VERSION_CODENAME=trixie$/m);
    expect(out).to.match(/^pacemaker 3\./m);
    expect(out).to.match(/^corosync 3\.1\./m);
    expect(out).to.match(/^crmsh 5\./m);
    expect(out).to.match(/^resource-agents 1:4\.(1[6-9]|[2-9]\d)\./m);
    expect(out).to.match(/^mariadb-server 1:11\./m);
  });

  it('the demo deployed, showed a quorate cluster, and drilled a kill of the VIP node: fenced, every service back elsewhere', () => {
    const out = ha.demo;
    expect(out).to.match(/^deploy: \d+ ok, \d+ changed, 0 failed/m);
    expect(out).to.match(/^cluster osha-lab: quorate/m);
    expect(out).to.match(/^ {2}fencing +[\d.]+ s reboot of node\d by node\d: success/m);
    for (const id of ['osha-mysql', 'osha-rabbitmq', 'osha-keystone', 'osha-glance-api']) expect(out).to.match(new RegExp(`^ {2}${id} +[\\d.]+ s on node\\d`, 'm'));
  });

  it("runs every osha resource where the VIP is; Pacemaker 3's crm_verify --live-check finds nothing wrong in the CIB osha wrote", async () => {
    const xml = await crmMon(ha);
    const vipAt = activeNode(xml, 'osha-vip');
    expect(vipAt).to.be.a('string');
    for (const id of ['osha-fs-mysql', 'osha-mysql', 'osha-rabbitmq', 'osha-keystone', 'osha-glance-api']) expect(activeNode(xml, id), id).to.equal(vipAt);
    const node = ha.nodes.find((n) => n.name === vipAt)!;
    // Exit 0 and no output: no error, and no warning (Pacemaker 3 warns about deprecated syntax).
    expect(await nodeOk(node, 'crm_verify', 'crm_verify --live-check 2>&1')).to.equal('');
  });

  it('issues a token and lists images through the VIP', async () => {
    const t = await issueToken(ha.vip, ha.secrets.admin);
    expect(t.status).to.equal(201);
    expect((await issueToken(ha.vip, `${ha.secrets.admin}x`)).status).to.equal(401);
    expect(await listImages(ha.vip, ha.secrets.admin)).to.be.an('array');
  });

  it("a re-deploy after the demo's drill changes nothing", async () => {
    const again = await osha(['deploy', inventory, '--json']);
    expect(again.code, again.stderr).to.equal(0);
    expect((JSON.parse(again.stdout) as { changed: number }).changed).to.equal(0);
  });

  it('osha export reads the running trixie cluster back as an inventory that validates', async () => {
    const out = join(ha.dir, 'exported.yaml');
    const exp = await osha(['export', '--address', ha.nodes[0]!.address, '--private-key', ha.privateKey, '--known-hosts', ha.knownHosts, '--out', out]);
    expect(exp.code, exp.stderr).to.equal(0);
    const text = readFileSync(out, 'utf8');
    for (const n of ha.nodes) expect(text).to.include(`- name: ${n.name}\n    address: ${n.address}\n`);
    expect(text).to.include(`vip:\n  address: ${ha.vip}\n`);
    expect((await osha(['validate', out])).code).to.equal(0);
  });

  it("osha rollback puts every node's keystone and glance configs back as they were before osha, byte for byte (last: it leaves the services' configs on the node addresses)", async () => {
    const files = ['/etc/keystone/keystone.conf', '/etc/glance/glance-api.conf'];
    const sums = (paths: string[]) => Promise.all(ha.nodes.map((n) => nodeOk(n, 'sha256sum', `sha256sum ${paths.join(' ')} | cut -d' ' -f1`)));
    const backups = await sums(files.map((f) => `${f}.osha-orig`));
    const r = await osha(['rollback', inventory]);
    expect(r.code, r.stderr).to.equal(0);
    for (const n of ha.nodes) {
      const line = r.stdout.split('\n').find((l) => l.startsWith(`${n.name}: restored `)) ?? '';
      for (const f of files) expect(line, r.stdout).to.include(f);
    }
    expect(await sums(files)).to.deep.equal(backups);
  });
});
