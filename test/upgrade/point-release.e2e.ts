// End-to-end [lab], opt-in (npm run test:point-release; not in npm test, for the suite's time:
// about 300 s of apt and failovers beside the demo's lab): `osha upgrade` to the point release on
// the demo's 3-node HA lab (MariaDB, RabbitMQ, keystone, glance-api), node by node through the
// lab's package proxy, under the client load of `--load`. The image's base system lags Debian's
// updates and security archives, so every node has packages to upgrade.
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { osha } from '../support/osha.ts';
import { activeNode, crmMon, haInventory, issueToken, listImages, nodeOk, suiteHaLab, uploadImage, type HaLab, type Image, type UpgradeJson } from '../ha/setup.ts';

const PLACE = { dir: '/tmp/osha-test-point-release', subnet: 74 } as const;

describe('[lab] osha upgrade to the point release on the HA lab, under load', function () {
  this.timeout(10 * 60_000);
  let ha: HaLab;
  let inventory: string;
  let image: Image;

  before(async function () {
    this.timeout(45 * 60_000);
    ha = await suiteHaLab(this, { ...PLACE });
    inventory = haInventory(ha);
    image = await uploadImage(ha.vip, ha.secrets.admin, 'before-point-release', randomBytes(64 * 1024));
  });

  it('osha upgrade (the point release) with --load: node by node through the lab\'s package proxy, one failover, no acknowledged write lost; a re-run has nothing to do', async function () {
    this.timeout(20 * 60_000);
    const pending = await nodeOk(ha.nodes[0]!, 'apt-get -s', 'apt-get -s -o Debug::NoLocking=1 dist-upgrade | grep -c "^Inst " || true');
    expect(Number(pending), 'the bookworm image has no pending update: nothing for a point-release upgrade to do').to.be.greaterThan(0);
    const holder = activeNode(await crmMon(ha), 'osha-vip');
    const run = await osha(['upgrade', inventory, '--yes', '--load', '--json', '--timeout', '300']);
    expect(run.code, `${run.stdout}\n${run.stderr}`).to.equal(0);
    const r = JSON.parse(run.stdout) as UpgradeJson;
    const done = r.nodes.filter((n) => !n.skipped);
    console.log(`      upgrade: ${done.map((n) => `${n.node} drained ${n.drainMs} ms, apt ${n.aptMs} ms (${n.packages?.upgraded} upgraded), rejoined ${n.rejoinMs} ms, total ${n.totalMs} ms`).join('; ')}`);
    const load = r.load!;
    console.log(`      load: ${load.requests} requests, ${load.failed} failed; longest gap ${load.longestGapMs} ms; writes ${load.acknowledgedWrites} acknowledged, ${load.lostWrites} lost`);
    expect(r.errors).to.deep.equal([]);
    expect(done.map((n) => n.node).sort()).to.deep.equal(ha.nodes.map((n) => n.name).sort());
    // The node running the services went last: their one move was onto an upgraded node.
    expect(done[done.length - 1]!.node).to.equal(holder);
    for (const n of done) expect(n.packages!.upgraded, n.node).to.be.greaterThan(0);
    expect(load.acknowledgedWrites).to.be.greaterThan(0);
    expect(load.lostWrites).to.equal(0);
    expect(load.stillFailing).to.deep.equal([]);
    // Every node back online, none left in standby or marked; the services up through the VIP.
    const mon = await crmMon(ha);
    expect(mon).to.not.match(/standby="true"/);
    expect(await nodeOk(ha.nodes[0]!, 'marks', 'cibadmin --query --scope nodes | grep -c osha-upgrade || true')).to.equal('0\n');
    expect((await issueToken(ha.vip, ha.secrets.admin)).status).to.equal(201);
    expect((await listImages(ha.vip, ha.secrets.admin)).find((i) => i.id === image.id)).to.deep.equal(image);
    for (const n of ha.nodes) expect(await nodeOk(n, 'apt-get -s', 'apt-get -s -o Debug::NoLocking=1 dist-upgrade | grep -c "^Inst " || true'), n.name).to.equal('0\n');
    const again = await osha(['upgrade', inventory, '--dry-run']);
    expect(again.code, again.stderr).to.equal(0);
    expect(again.stdout.match(/skipped: no package to upgrade/g) ?? []).to.have.length(ha.nodes.length);
  });
});
