// The release upgrade end to end: a bookworm cluster of the demo's controllers (VIP, MariaDB on
// the shared storage, keystone, glance-api) taken to trixie node by node by `osha upgrade --to
// trixie`, while a client loop through the VIP counts failures. Not part of `npm test`: three
// full Debian release upgrades take 15-25 minutes on a 2-core host, more than CI's budget has
// left. Run it with `npm run test:release-upgrade` (README, "Rolling upgrades").
import { expect } from 'chai';
import { osha } from '../support/osha.ts';
import type { LoadSummary } from '../../src/drill/load.ts';
import { activeNode, crmMon, deployOk, haInventory, issueToken, listImages, nodeOk, uploadImage, type HaLab, suiteHaLab } from '../ha/setup.ts';
import { randomBytes } from 'node:crypto';

const PLACE = { dir: '/tmp/osha-test-release-upgrade', subnet: 87 } as const;

interface UpgradeJson {
  target: { kind: string; from?: string; to?: string };
  nodes: { node: string; skipped?: string; drainMs?: number; migrated: string[]; aptMs?: number; rebooted: boolean; rejoinMs?: number; totalMs?: number; packages?: { upgraded: number; installed: number; removed: number } }[];
  mixedMs?: number;
  after: string[];
  load?: LoadSummary;
  errors: string[];
}

describe('[lab] osha upgrade --to trixie: a bookworm cluster taken to Debian 13 node by node under a client loop', function () {
  this.timeout(60 * 60_000);
  let ha: HaLab & { demo: string };
  let inventory: string;

  before(async function () {
    this.timeout(45 * 60_000);
    ha = await suiteHaLab(this, { ...PLACE, release: 'bookworm' });
    // RabbitMQ 3.10 cannot be rolled to 4.0 (osha refuses it, test/ha/ha.test.ts): the cluster
    // runs the demo's other services.
    inventory = haInventory(ha, { services: ['mysql', 'keystone', 'glance-api'], name: 'inventory-upgrade.yaml' });
    await deployOk(ha, inventory, ['--yes', '--timeout', '300']);
  });

  it('upgrades every node (one failover, schemas migrated where the services moved), keeps quorum, loses no acknowledged write; the cluster runs trixie after', async () => {
    const data = randomBytes(64 * 1024);
    const image = await uploadImage(ha.vip, ha.secrets.admin, 'before-upgrade', data);
    const holder = activeNode(await crmMon(ha), 'osha-vip');
    const plan = await osha(['upgrade', inventory, '--to', 'trixie', '--dry-run']);
    expect(plan.code, plan.stderr).to.equal(0);
    console.log(plan.stdout.replace(/^/gm, '      '));
    expect(plan.stdout).to.match(new RegExp(`3\\. ${holder} +bookworm -> trixie +DISRUPTIVE`));

    const run = await osha(['upgrade', inventory, '--to', 'trixie', '--yes', '--load', '--json', '--timeout', '900']);
    console.log(run.stderr.replace(/^/gm, '      '));
    expect(run.code, `${run.stdout}\n${run.stderr}`).to.equal(0);
    const r = JSON.parse(run.stdout) as UpgradeJson;
    for (const n of r.nodes) {
      console.log(`      ${n.node}: drained ${n.drainMs} ms, apt ${n.aptMs} ms (${JSON.stringify(n.packages)}), rebooted ${n.rebooted}, rejoined ${n.rejoinMs} ms, total ${n.totalMs} ms${n.migrated.length ? `, ${n.migrated.join(', ')}` : ''}`);
    }
    const load = r.load!;
    console.log(`      mixed releases for ${r.mixedMs} ms; after: ${r.after.join('; ')}`);
    console.log(`      load: ${load.requests} requests, ${load.failed} failed ${JSON.stringify(load.failures)}; longest gap ${load.longestGapMs} ms; ${Object.entries(load.byKind).map(([k, x]) => `${k} ${x.failed}/${x.requests} failed, gap ${x.longestGapMs} ms`).join('; ')}; writes ${load.acknowledgedWrites} acknowledged, ${load.lostWrites} lost`);
    expect(r.errors).to.deep.equal([]);
    expect(r.target).to.deep.equal({ kind: 'release', from: 'bookworm', to: 'trixie' });
    expect(r.nodes.map((n) => n.node)[2]).to.equal(holder);
    for (const n of r.nodes) {
      expect(n.skipped, n.node).to.equal(undefined);
      expect(n.rebooted, n.node).to.equal(true);
      expect(n.packages!.upgraded, n.node).to.be.greaterThan(100);
    }
    // The services moved once, when the last node went out: that is where the schemas moved on.
    expect(r.nodes[2]!.migrated.join('\n')).to.match(/mariadb-upgrade on node\d/);
    expect(r.nodes[2]!.migrated.join('\n')).to.match(/keystone db sync on node\d/);
    expect(r.mixedMs).to.be.a('number');
    expect(load.lostWrites).to.equal(0);
    expect(load.acknowledgedWrites).to.be.greaterThan(0);
    expect(load.stillFailing).to.deep.equal([]);

    for (const n of ha.nodes) {
      const v = await nodeOk(n, 'versions', ". /etc/os-release; echo $VERSION_CODENAME; dpkg-query -W -f='${Package} ${Version}\\n' pacemaker mariadb-server keystone");
      expect(v, n.name).to.match(/^trixie$/m);
      expect(v, n.name).to.match(/^pacemaker 3\./m);
      expect(v, n.name).to.match(/^mariadb-server 1:11\.8/m);
      expect(v, n.name).to.match(/^keystone 2:27\./m);
    }
    expect(r.after.join('\n')).to.include('cibadmin --upgrade');
    expect(await nodeOk(ha.nodes[0]!, 'crm_verify', 'crm_verify --live-check 2>&1; echo "exit $?"')).to.equal('exit 0\n');
    expect((await issueToken(ha.vip, ha.secrets.admin)).status).to.equal(201);
    expect((await listImages(ha.vip, ha.secrets.admin)).find((i) => i.id === image.id)).to.deep.equal(image);
  });

  it('then: a re-run has nothing to do, and a re-deploy on trixie changes nothing', async () => {
    const again = await osha(['upgrade', inventory, '--to', 'trixie', '--dry-run']);
    expect(again.code, again.stderr).to.equal(0);
    expect(again.stdout).to.match(/^upgrade: nothing to do, every node runs trixie$/m);
    expect(again.stdout.match(/skipped: already on trixie/g) ?? []).to.have.length(ha.nodes.length);
    const r = await deployOk(ha, inventory, ['--timeout', '300']);
    expect(r.summary.changed).to.equal(0);
  });
});
