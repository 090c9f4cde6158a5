// Issue 6 end to end: a fresh 3-node lab with real MariaDB, RabbitMQ, keystone and glance-api under
// Pacemaker through `osha deploy`; a token and an image through the VIP; `osha drill` kills the
// VIP's node and both come back within the measured recovery time, nothing lost; re-deploys change
// nothing, leave hand-made resources alone, and remove exactly what leaves the inventory.
import { expect } from 'chai';
import { createHash, randomBytes } from 'node:crypto';
import { DOMParser, XMLSerializer, type Element } from '@xmldom/xmldom';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { dropAfterSuite, skipWithoutLab } from '../support/lab.ts';
import { labHeal, labPartition } from '../../src/lab/index.ts';
import { waitFor } from '../../src/lab/proc.ts';
import { parseFenceHistory } from '../../src/facts/fencing.ts';
import { onTeardown } from '../support/teardown.ts';
import type { LoadSummary } from '../../src/drill/load.ts';
import { osha, oshaJson, startOsha } from '../support/osha.ts';
import {
  HA_PLACE,
  activeNode,
  crmMon,
  deployOk,
  evidence,
  haInventory,
  haLabDown,
  haLabUp,
  runDemo,
  issueToken,
  listImages,
  listProjects,
  nodeOk,
  nodeScript,
  uploadImage,
  type HaLab,
  type Image,
} from './setup.ts';

/** Deploys that start glance-api get room for one failed start and its retry after failure-timeout. */
const GLANCE_START = ['--timeout', '300'];

interface DrillJson {
  node: string;
  mode: string;
  startedAt?: string;
  phases: { detectionMs?: number; fencing?: { action: string; target: string; by?: string; status: string; doneMs?: number; ms?: number } };
  vipMs?: number;
  services: { id: string; node?: string; recoveryMs?: number; error?: string }[];
  rejoinMs?: number;
  load?: LoadSummary;
  errors: string[];
}

/** Every top-level resource and constraint of a CIB, by id, as serialised XML. */
function cibObjects(cib: string): Map<string, string> {
  const doc = new DOMParser().parseFromString(cib, 'text/xml');
  const out = new Map<string, string>();
  for (const section of ['resources', 'constraints']) {
    const parent = doc.getElementsByTagName(section)[0];
    if (!parent) continue;
    for (let c = parent.firstChild; c; c = c.nextSibling) {
      if (c.nodeType !== 1) continue;
      const el = c as Element;
      out.set(el.getAttribute('id') ?? '', new XMLSerializer().serializeToString(el));
    }
  }
  return out;
}

interface TokenSample {
  start: number;
  end: number;
  ok: boolean;
}

interface TokenOutage {
  /** Start of the last successful request before the longest run of failures. */
  lastOkBefore?: number;
  /** End of the first successful request after it. */
  firstOkAfter?: number;
  failures: number;
  samples: TokenSample[];
}

/** Polls for tokens through the VIP until stopped, and finds the outage (the longest run of failures). */
function watchTokens(vip: string, password: string): { stop(): Promise<TokenOutage> } {
  let running = true;
  const samples: TokenSample[] = [];
  const loop = (async () => {
    while (running) {
      const start = Date.now();
      let good = false;
      try {
        // 10 s: a keystone that has just started, on a loaded machine, can take seconds per token;
        // a slow answer is not an outage. (A dead VIP holder only delays the first failure.)
        good = (await issueToken(vip, password, 'admin', 'admin', 10_000)).status === 201;
      } catch {
        good = false;
      }
      samples.push({ start, end: Date.now(), ok: good });
      await new Promise((r) => setTimeout(r, 200));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      let best: TokenOutage = { failures: 0, samples };
      for (let i = 0; i < samples.length; ) {
        if (samples[i]!.ok) {
          i++;
          continue;
        }
        let j = i;
        while (j < samples.length && !samples[j]!.ok) j++;
        if (j - i > best.failures) best = { failures: j - i, lastOkBefore: samples[i - 1]?.start, firstOkAfter: samples[j]?.end, samples };
        i = j;
      }
      return best;
    },
  };
}

/** Which nodes run a MariaDB server (mariadbd/mysqld), sampled from the host's /proc every 100 ms. */
function watchMariadb(ha: HaLab): { stop(): { at: number; nodes: string[] }[] } {
  const samples: { at: number; nodes: string[] }[] = [];
  const once = () => {
    const nodes = new Set<string>();
    for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
      try {
        const comm = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
        if (comm !== 'mariadbd' && comm !== 'mysqld') continue;
        const cg = readFileSync(`/proc/${pid}/cgroup`, 'utf8');
        const n = ha.nodes.find((x) => cg.includes(`/osha${HA_PLACE.subnet}/${x.name}/`) || cg.includes(`/osha${HA_PLACE.subnet}/${x.name}\n`));
        if (n) nodes.add(n.name);
      } catch {
        // Gone while we looked.
      }
    }
    samples.push({ at: Date.now(), nodes: [...nodes].sort() });
  };
  once();
  const timer = setInterval(once, 100);
  return {
    stop() {
      clearInterval(timer);
      once();
      return samples;
    },
  };
}

async function imageData(ha: HaLab, id: string): Promise<Buffer> {
  const t = await issueToken(ha.vip, ha.secrets.admin);
  const r = await fetch(`http://${ha.vip}:9292/v2/images/${id}/file`, { headers: { 'x-auth-token': t.token ?? '' }, signal: AbortSignal.timeout(30_000) });
  expect(r.status).to.equal(200);
  return Buffer.from(await r.arrayBuffer());
}

describe('[lab] high availability: MariaDB, RabbitMQ, keystone and glance on a 3-node lab through the VIP', function () {
  this.timeout(10 * 60_000);
  let ha: HaLab & { demo: string };
  let inventory: string;
  let image: Image;
  const data = randomBytes(256 * 1024);
  let startedAt = 0;

  before(async function () {
    this.timeout(45 * 60_000);
    await skipWithoutLab(this);
    startedAt = Date.now();
    const drop = async () => {
      await haLabDown(HA_PLACE.dir);
      console.log(`      (HA lab: ${Math.round((Date.now() - startedAt) / 1000)} s from fixture start to teardown)`);
    };
    dropAfterSuite(this, drop);
    onTeardown(drop);
    ha = await haLabUp({ log: (l) => console.log(`      ${l}`) });
    inventory = haInventory(ha);
  });

  it('the demo (npm run demo) deployed, showed the cluster, drilled a kill with fencing, and listed what to try next', () => {
    const out = ha.demo;
    expect(out).to.match(/osha lab: node1: MariaDB on the shared storage|openstack bootstrapped: node1 runs MariaDB, RabbitMQ, keystone and glance-api/);
    expect(out).to.match(/^deploy: \d+ ok, \d+ changed, 0 failed/m);
    expect(out).to.match(/^cluster osha-lab: quorate/m);
    expect(out).to.match(/^ {2}osha-glance-api +Started/m);
    expect(out).to.match(/^ {2}fencing +[\d.]+ s reboot of node\d by node\d: success/m);
    expect(out).to.match(/^ {2}osha-keystone +[\d.]+ s on node\d/m);
    expect(out).to.match(/demo: done\. Try next:/);
  });

  it('runs every osha resource, MariaDB on the shared storage, where the VIP is', async () => {
    const xml = await crmMon(ha);
    const vipAt = activeNode(xml, 'osha-vip');
    expect(vipAt).to.be.a('string');
    for (const id of ['osha-fs-mysql', 'osha-mysql', 'osha-rabbitmq', 'osha-keystone', 'osha-glance-api']) {
      expect(activeNode(xml, id), id).to.equal(vipAt);
    }
    const node = ha.nodes.find((n) => n.name === vipAt)!;
    expect(await nodeOk(node, 'findmnt', 'findmnt -n -o SOURCE,TARGET /var/lib/mysql')).to.match(/\/mysql\]?\s+\/var\/lib\/mysql/);
  });

  it('took the controllers over as they were: configs moved from each node\'s own address to the VIP (backups kept), the init system runs none of the services', async () => {
    for (const n of ha.nodes) {
      const out = await nodeOk(
        n,
        'configs and units',
        [
          'grep -h "^connection" /etc/keystone/keystone.conf /etc/glance/glance-api.conf',
          'echo ---',
          'grep -h "^connection" /etc/keystone/keystone.conf.osha-orig /etc/glance/glance-api.conf.osha-orig',
          'echo ---',
          'systemctl is-enabled mariadb rabbitmq-server keystone glance-api || true',
        ].join('\n'),
      );
      const [now = '', before = '', units = ''] = out.split('---\n');
      const own = n.address.replace(/\./g, '\\.');
      for (const db of ['keystone', 'glance']) {
        expect(now, n.name).to.match(new RegExp(`@${ha.vip.replace(/\./g, '\\.')}/${db}$`, 'm'));
        expect(before, n.name).to.match(new RegExp(`@${own}/${db}$`, 'm'));
      }
      expect(now, n.name).to.not.match(new RegExp(`@${own}/`));
      expect(units.trim().split('\n'), n.name).to.deep.equal(['masked', 'masked', 'masked', 'masked']);
    }
  });

  it('issues a token through the VIP (POST /v3/auth/tokens: 201 with X-Subject-Token)', async () => {
    const t = await issueToken(ha.vip, ha.secrets.admin);
    expect(t.status).to.equal(201);
    expect(t.token).to.match(/^[A-Za-z0-9_-]{100,}$/);
    // A wrong password is refused: the 201 above is a real login.
    expect((await issueToken(ha.vip, `${ha.secrets.admin}x`)).status).to.equal(401);
  });

  it('lists an image uploaded through the VIP (glance v2), with the checksum of the data', async () => {
    image = await uploadImage(ha.vip, ha.secrets.admin, 'osha-ha-test', data);
    expect(image.size).to.equal(data.length);
    expect(image.checksum).to.equal(createHash('md5').update(data).digest('hex'));
  });

  it('keystone lists the identity and image endpoints on the VIP, exactly once per interface (openstack endpoint list)', async () => {
    // The OpenStack client inside a node; the password travels in the script on stdin, not on argv.
    const out = await nodeOk(
      ha.nodes[0]!,
      'openstack endpoint list',
      [
        `export OS_AUTH_URL=http://${ha.vip}:5000/v3 OS_USERNAME=admin OS_PROJECT_NAME=admin OS_USER_DOMAIN_NAME=Default OS_PROJECT_DOMAIN_NAME=Default OS_IDENTITY_API_VERSION=3`,
        `export OS_PASSWORD='${ha.secrets.admin}'`,
        'openstack endpoint list -f json',
      ].join('\n'),
    );
    const rows = JSON.parse(out) as Record<string, string>[];
    for (const type of ['identity', 'image']) {
      for (const iface of ['public', 'internal', 'admin']) {
        const found = rows.filter((r) => r['Service Type'] === type && r['Interface'] === iface);
        expect(found, `${type} ${iface}: ${JSON.stringify(rows)}`).to.have.length(1);
        expect(new URL(found[0]!['URL']!).hostname).to.equal(ha.vip);
      }
    }
    // And a re-run of the endpoints step changes nothing.
    const again = await osha(['run', 'openstack', inventory, '--json']);
    expect(again.code, again.stderr).to.equal(0);
    expect((JSON.parse(again.stdout) as { changed: number }).changed).to.equal(0);
  });

  it('osha drill --load kills the VIP node: recovery measured per service; token and the same image back within it; the client loop lost no write', async () => {
    const before = activeNode(await crmMon(ha), 'osha-vip');
    const tokens = watchTokens(ha.vip, ha.secrets.admin);
    // 300 s: room for one failed glance-api start and its retry after failure-timeout (120 s).
    const run = await osha(['drill', inventory, '--lab', ha.dir, '--load', '--json', '--timeout', '300']);
    const seen = await tokens.stop();
    expect(run.code, `${run.stdout}\n${run.stderr}`).to.equal(0);
    const drill = JSON.parse(run.stdout) as DrillJson;
    console.log(
      `      drill: ${drill.node} killed; VIP ${drill.vipMs} ms; ${drill.services.map((s) => `${s.id} ${s.recoveryMs} ms on ${s.node}`).join(', ')}; rejoin ${drill.rejoinMs} ms`,
    );
    expect(drill.node).to.equal(before);
    expect(drill.mode).to.equal('kill');
    expect(drill.errors).to.deep.equal([]);
    // Fencing was on: the survivors fenced the dead node (a reboot through the lab's device) before
    // its services started elsewhere, and the device powered it back on.
    console.log(`      phases: detection ${drill.phases.detectionMs} ms, fencing ${JSON.stringify(drill.phases.fencing)}`);
    expect(drill.phases.detectionMs).to.be.a('number');
    expect(drill.phases.fencing).to.include({ action: 'reboot', target: before, status: 'success' });
    expect(drill.phases.fencing!.by).to.be.a('string').and.not.equal(before);
    // The fence history stamps completion in whole seconds (truncated), while detection is the
    // drill's own poll: the true completion lies within the second after doneMs.
    expect(drill.phases.fencing!.doneMs! + 1000).to.be.greaterThan(drill.phases.detectionMs!);
    const mysql = drill.services.find((s) => s.id === 'osha-mysql')!;
    expect(mysql.recoveryMs).to.be.greaterThan(drill.phases.fencing!.doneMs!);
    expect(readFileSync(join(ha.dir, 'fence.log'), 'utf8')).to.match(new RegExp(`(reboot|off) ${before}`));
    expect(drill.vipMs).to.be.a('number').and.greaterThan(0);
    const ids = drill.services.map((s) => s.id).sort();
    expect(ids).to.include.members(['osha-fs-mysql', 'osha-glance-api', 'osha-keystone', 'osha-mysql', 'osha-rabbitmq']);
    for (const s of drill.services) {
      expect(s.recoveryMs, s.id).to.be.a('number').and.greaterThan(0);
      expect(s.node, s.id).to.be.a('string').and.not.equal(before);
    }
    // Clients saw an outage; and once the drill called keystone recovered (its depth-10 monitor
    // passed on the new node), every token request through the VIP that started from then on
    // got a token: the drill's figure is not earlier than what clients see. Stated on request
    // start times, so a slow first answer on a loaded machine is latency, not outage. (In CI a
    // bound on the outage's end failed twice for that reason: 26.5 s and 49.0 s against
    // recoveries of 20.8 s and 37.8 s.)
    const keystone = drill.services.find((s) => s.id === 'osha-keystone')!;
    expect(seen.failures, 'the token watcher saw no outage').to.be.greaterThan(0);
    expect(seen.lastOkBefore).to.be.a('number');
    expect(seen.firstOkAfter, 'no token after the outage').to.be.a('number');
    expect(drill.startedAt).to.be.a('string');
    const recoveredAt = Date.parse(drill.startedAt!) + keystone.recoveryMs!;
    const after = seen.samples.filter((s) => s.start >= recoveredAt);
    const firstOk = seen.samples.find((s) => s.ok && s.end >= seen.firstOkAfter!)!;
    console.log(
      `      token outage seen through the VIP: ${seen.firstOkAfter! - seen.lastOkBefore!} ms at most, its first token took ${firstOk.end - firstOk.start} ms (keystone recovery measured by the drill: ${keystone.recoveryMs} ms); ${after.length} requests after that recovery`,
    );
    expect(after.length, 'no token request started after keystone recovered').to.be.greaterThan(0);
    const failedAfter = after.filter((s) => !s.ok).map((s) => `${s.start - recoveredAt} ms after recovery, failed after ${s.end - s.start} ms`);
    // Once seen (not reproduced): refusals through the VIP for 30 s after keystone's recovery. What
    // the cluster did then (a monitor that failed, a move) is in crm_mon's failed actions and the log.
    if (failedAfter.length > 0) console.log(`      after the recovery, the cluster:\n${await evidence(ha)}`);
    expect(failedAfter, 'token requests through the VIP failed after the drill called keystone recovered').to.deep.equal([]);
    // Nothing lost: a new token, the same image listed with the same checksum and the same bytes.
    expect((await issueToken(ha.vip, ha.secrets.admin)).status).to.equal(201);
    const listed = (await listImages(ha.vip, ha.secrets.admin)).find((i) => i.id === image.id);
    expect(listed).to.deep.equal(image);
    expect((await imageData(ha, image.id)).equals(data)).to.equal(true);

    // --load: requests through the VIP all along; no acknowledged write lost; its projects gone.
    const load = drill.load!;
    const gaps = Object.entries(load.byKind).map(([k, x]) => `${k} ${x.failed}/${x.requests} failed, gap ${x.longestGapMs} ms`);
    console.log(`      load: ${load.requests} requests, ${load.failed} failed ${JSON.stringify(load.failures)}; longest gap ${load.longestGapMs} ms; ${gaps.join('; ')}; writes ${load.acknowledgedWrites} acknowledged, ${load.lostWrites} lost; ${load.cleanup.deleted} deleted`);
    expect(load.requests).to.be.greaterThan(0);
    expect(load.failed).to.be.a('number').and.at.most(load.requests);
    expect(Object.keys(load.byKind)).to.deep.equal(['token', 'images', 'write']);
    expect(load.acknowledgedWrites).to.be.greaterThan(0);
    expect(load.lostWrites).to.equal(0);
    expect(load.cleanup.left).to.deep.equal([]);
    expect(load.cleanup.deleted).to.be.at.least(load.acknowledgedWrites);
    expect((await listProjects(ha.vip, ha.secrets.admin)).filter((n) => n.startsWith('osha-drill-'))).to.deep.equal([]);
    expect(run.stdout + run.stderr).to.not.include(ha.secrets.admin);
  });

  it('a 2+1 partition: the minority node is fenced and MariaDB never runs on two nodes at once; every acknowledged write is there', async () => {
    const xml = await crmMon(ha);
    const victim = activeNode(xml, 'osha-mysql')!;
    const writer = ha.nodes.find((n) => n.name !== victim)!;
    const pw = randomBytes(12).toString('hex');
    // The password in a 0600 file the client reads, not on its command line.
    await nodeOk(writer, 'journal setup', `umask 077; printf '[client]\\nuser=journal\\npassword=%s\\nhost=${ha.vip}\\nconnect-timeout=2\\n' '${pw}' > /root/journal.cnf`);
    await nodeOk(ha.nodes.find((n) => n.name === victim)!, 'journal db', `mysql <<'SQL'\nCREATE DATABASE IF NOT EXISTS journal;\nCREATE TABLE IF NOT EXISTS journal.w (seq INT PRIMARY KEY, host VARCHAR(64), at TIMESTAMP(6) DEFAULT CURRENT_TIMESTAMP(6));\nCREATE USER IF NOT EXISTS 'journal'@'%' IDENTIFIED BY '${pw}';\nGRANT ALL ON journal.* TO 'journal'@'%';\nSQL\n`);
    // The writer: one INSERT at a time through the VIP; a line per acknowledged write.
    const writing = nodeScript(
      writer,
      `rm -f /root/journal.acks /root/journal.stop; i=0\nwhile [ ! -e /root/journal.stop ]; do i=$((i+1))\n  if mysql --defaults-extra-file=/root/journal.cnf -e "INSERT INTO journal.w (seq, host) VALUES ($i, @@hostname)" 2>/dev/null; then echo $i >> /root/journal.acks; fi\n  sleep 0.1\ndone\n`,
      15 * 60_000,
    );
    // Writes acknowledged by the victim's MariaDB first, so the journal spans the failover.
    const acked = async () => Number((await nodeScript(writer, 'cat /root/journal.acks 2>/dev/null | wc -l')).stdout.trim());
    const writingBefore = await waitFor(async () => (await acked()) >= 5, { timeoutMs: 60_000, intervalMs: 300 });
    expect(writingBefore, 'the writer got no writes acknowledged before the partition').to.equal(true);
    // Watched from the host: which nodes run a MariaDB server, every 100 ms (by each process's cgroup).
    const sampler = watchMariadb(ha);
    const t0 = Date.now();
    const cut = await labPartition(ha.dir, victim);
    expect(cut.ok).to.equal(true);
    let recovered = false;
    try {
      // The majority fences the minority node, then starts MariaDB itself.
      recovered = await waitFor(async () => {
        const other = ha.nodes.filter((n) => n.name !== victim);
        const mon = await crmMon(ha, other).catch(() => '');
        const at = mon ? activeNode(mon, 'osha-mysql') : undefined;
        return at !== undefined && at !== victim;
      }, { timeoutMs: 240_000, intervalMs: 500 });
    } finally {
      await nodeOk(writer, 'stop writer', 'sleep 3; touch /root/journal.stop');
      await writing;
    }
    const timeline = sampler.stop();
    try {
      await checkPartition();
    } finally {
      // Heal: the fenced node came back through the device (still cut off), now rejoins.
      expect((await labHeal(ha.dir, victim)).ok).to.equal(true);
      const back = await waitFor(async () => (await crmMon(ha).catch(() => '')).match(/online="true"/g)?.length === 3, { timeoutMs: 180_000, intervalMs: 1000 });
      expect(back, `${victim} did not rejoin after the heal`).to.equal(true);
    }

    async function checkPartition(): Promise<void> {
      expect(recovered, 'MariaDB did not start on the majority side').to.equal(true);
      console.log(`      partition of ${victim}: MariaDB back on the majority after ${Math.round((Date.now() - t0) / 1000)} s`);
      const history = parseFenceHistory(await nodeOk(writer, 'history', `stonith_admin --history=${victim} --verbose --output-as=xml`));
      expect(history.some((e) => e.target === victim && e.status === 'success' && (e.completedMs ?? 0) >= t0 - 1000), JSON.stringify(history)).to.equal(true);
      const both = timeline.filter((t) => t.nodes.length > 1);
      expect(both, `MariaDB ran on two nodes at once: ${JSON.stringify(both.slice(0, 3))}`).to.deep.equal([]);
      expect(new Set(timeline.flatMap((t) => t.nodes)).size, 'the sampler saw MariaDB move').to.equal(2);
      // Every acknowledged write is in the table, and the writers (servers) follow one another.
      const acks = (await nodeOk(writer, 'acks', 'cat /root/journal.acks')).trim().split('\n').map(Number);
      const rows = (await nodeOk(writer, 'rows', `mysql --defaults-extra-file=/root/journal.cnf -N -e 'SELECT seq, host FROM journal.w ORDER BY seq'`)).trim().split('\n').map((l) => l.split('\t'));
      const stored = new Set(rows.map((r) => Number(r[0])));
      expect(acks.length).to.be.greaterThan(10);
      expect(acks.filter((a) => !stored.has(a)), 'acknowledged writes missing').to.deep.equal([]);
      const hosts = rows.map((r) => r[1]).filter((h, i, all) => i === 0 || h !== all[i - 1]);
      expect(hosts, 'servers interleaved').to.deep.equal([victim, activeNode(await crmMon(ha, ha.nodes.filter((n) => n.name !== victim)), 'osha-mysql')]);
    }
  });

  it('a re-deploy after the drill reports 0 changed', async () => {
    // The partition test ends once MariaDB is back; keystone and glance may still be starting.
    // crm_resource --wait alone is not enough: it counts only actions Pacemaker can run now, and
    // once (CI, 2026-12-02) it returned while glance-api was still Stopped with no failure
    // recorded, which the re-deploy then waited for and reported as a change. So the test waits
    // for what deploy itself checks (osha status: no osha resource `not running`), and says how
    // long. (Failed actions of the partition may stay listed until their failure-timeout.)
    await nodeOk(ha.nodes[0]!, 'cluster settles', 'crm_resource --wait --timeout=300s', 330_000);
    const t0 = Date.now();
    let first: string | undefined;
    const settled = await waitFor(async () => {
      const st = await osha(['status', inventory, '--json']);
      const report = JSON.parse(st.stdout) as { quorate: boolean; notRunning: string[] };
      const running = report.quorate && report.notRunning.length === 0;
      if (!running) first ??= st.stdout;
      return running;
    }, { timeoutMs: 300_000, intervalMs: 2000 });
    if (first !== undefined) console.log(`      after crm_resource --wait, every osha resource ran only ${Date.now() - t0} ms later; osha status first said:\n${first}\n${await evidence(ha)}`);
    expect(settled, 'osha resources still not running 300 s after the cluster settled').to.equal(true);
    const { summary } = await deployOk(ha, inventory);
    expect(summary.changed, JSON.stringify(summary.hosts)).to.equal(0);
  });

  it('the demo run again reuses the lab: 0 changed, the first drill\'s table shown again', async () => {
    const again = await runDemo(ha.dir, HA_PLACE.subnet);
    expect(again.stdout).to.match(/demo: reusing the lab/);
    expect(again.stdout).to.match(/^deploy: \d+ ok, 0 changed, 0 failed/m);
    expect(again.stdout).to.match(/demo: failover drill of .* \(run it again: /);
    expect(again.stdout).to.not.match(/taking node\d out/);
  });

  it('a primitive added by hand with crm configure survives a re-deploy untouched', async () => {
    const node = ha.nodes[1]!;
    await nodeOk(node, 'crm configure', 'crm configure primitive handmade-dummy ocf:heartbeat:Dummy op monitor interval=30s timeout=20s');
    const query = `cibadmin --query --xpath "//primitive[@id='handmade-dummy']"`;
    const before = await nodeOk(node, 'cibadmin', query);
    expect(before).to.include('ocf').and.include('Dummy');
    const { summary } = await deployOk(ha, inventory);
    expect(summary.changed).to.equal(0);
    expect(await nodeOk(node, 'cibadmin', query)).to.equal(before);
    expect(activeNode(await crmMon(ha), 'handmade-dummy')).to.be.a('string');
  });

  it('osha killed (SIGKILL) after rewriting glance-api.conf, before glance restarted: the record it left makes the next deploy restart glance', async () => {
    const where = activeNode(await crmMon(ha), 'osha-glance-api')!;
    const node = ha.nodes.find((n) => n.name === where)!;
    // An operator points bind_host back at each node's own address; osha must undo that.
    await Promise.all(ha.nodes.map((n) => nodeOk(n, 'edit', `sed -i 's/^bind_host = .*/bind_host = ${n.address}/' /etc/glance/glance-api.conf`)));
    const pid = (await nodeOk(node, 'pgrep', 'pgrep -o -f /usr/bin/glance-api')).trim();
    // The resources step reads the CIB on node1 right after the config rewrite: a cibadmin found
    // first on PATH holds there once node1's file is rewritten, so the kill lands in between.
    const first = ha.nodes[0]!;
    const hold = `#!/bin/sh\nif grep -q '^bind_host = ${ha.vip}$' /etc/glance/glance-api.conf; then touch /run/osha-test-held; while [ ! -e /run/osha-test-release ]; do sleep 0.1; done; fi\nexec /usr/sbin/cibadmin "$@"\n`;
    await nodeOk(first, 'hold', `rm -f /run/osha-test-held /run/osha-test-release\ncat > /usr/local/sbin/cibadmin <<'EOF'\n${hold}EOF\nchmod 755 /usr/local/sbin/cibadmin\n`);
    try {
      const run = startOsha(['deploy', inventory]);
      await nodeOk(first, 'wait for the hold', 'for i in $(seq 1 1200); do [ -e /run/osha-test-held ] && exit 0; sleep 0.1; done; exit 1', 180_000);
      process.kill(run.pid, 'SIGKILL');
      expect((await run.done).code).to.equal(-1);
    } finally {
      await nodeOk(first, 'release', 'rm -f /usr/local/sbin/cibadmin; touch /run/osha-test-release');
    }
    for (const n of ha.nodes) {
      expect(await nodeOk(n, 'grep', 'grep "^bind_host" /etc/glance/glance-api.conf')).to.equal(`bind_host = ${ha.vip}\n`);
      expect(await nodeOk(n, 'owed', 'ls /var/lib/osha/owed')).to.include('restart-glance');
    }
    expect((await nodeOk(node, 'pgrep', 'pgrep -o -f /usr/bin/glance-api')).trim()).to.equal(pid);

    const plan = await osha(['plan', inventory]);
    expect(plan.stdout).to.match(/restart osha-glance-api: its config now points at the VIP \[DISRUPTIVE/);
    await deployOk(ha, inventory, ['--yes', ...GLANCE_START]);
    const now = activeNode(await crmMon(ha), 'osha-glance-api')!;
    const after = (await nodeOk(ha.nodes.find((n) => n.name === now)!, 'pgrep', 'pgrep -o -f /usr/bin/glance-api')).trim();
    expect(`${now} ${after}`).to.not.equal(`${where} ${pid}`);
    for (const n of ha.nodes) expect(await nodeOk(n, 'owed', 'ls /var/lib/osha/owed | wc -l')).to.equal('0\n');
    expect((await listImages(ha.vip, ha.secrets.admin)).find((i) => i.id === image.id)).to.deep.equal(image);
    expect((await deployOk(ha, inventory)).summary.changed).to.equal(0);
  });

  it('an inventory without glance-api removes exactly glance\'s objects; putting it back restores glance', async () => {
    const node = ha.nodes[0]!;
    const before = cibObjects(await nodeOk(node, 'cibadmin', 'cibadmin --query'));
    const without = haInventory(ha, { services: ['mysql', 'rabbitmq', 'keystone'], name: 'inventory-no-glance.yaml' });
    // Deleting a running service interrupts it: without --yes (and no TTY) the deploy stops first.
    const unconfirmed = await oshaJson(['deploy', without]);
    expect(unconfirmed.run.code, unconfirmed.run.stderr).to.equal(2);
    expect(unconfirmed.summary.unconfirmed?.join('\n')).to.match(/deletes .*osha-glance-api/);
    expect(unconfirmed.run.stderr).to.include('re-run with --yes');
    expect(cibObjects(await nodeOk(node, 'cibadmin', 'cibadmin --query'))).to.deep.equal(before);
    const r = await deployOk(ha, without, ['--yes']);
    expect(r.summary.changed).to.be.greaterThan(0);
    const after = cibObjects(await nodeOk(node, 'cibadmin', 'cibadmin --query'));
    const removed = [...before.keys()].filter((id) => !after.has(id)).sort();
    const added = [...after.keys()].filter((id) => !before.has(id));
    console.log(`      removed: ${removed.join(', ')}`);
    expect(added).to.deep.equal([]);
    // The group held only glance-api: the group and its constraints go with it.
    expect(removed).to.include('osha-g-glance');
    expect(removed.filter((id) => !/glance/.test(id)), 'removed objects that are not glance\'s').to.deep.equal([]);
    const glanceOwned = [...before].filter(([, xml]) => /"osha-(glance-api|g-glance)"/.test(xml)).map(([id]) => id);
    expect(glanceOwned.sort()).to.deep.equal(removed);
    // Everything else byte for byte the same, the hand-made primitive included.
    for (const [id, xml] of after) expect(xml, id).to.equal(before.get(id));
    expect(after.has('handmade-dummy')).to.equal(true);
    const mon = await crmMon(ha);
    expect(activeNode(mon, 'osha-glance-api')).to.equal(undefined);
    expect(activeNode(mon, 'osha-keystone')).to.be.a('string');
    for (const n of ha.nodes) expect(await nodeOk(n, 'pgrep', 'pgrep -f /usr/bin/glance-api || true'), n.name).to.equal('');
    expect((await issueToken(ha.vip, ha.secrets.admin)).status).to.equal(201);

    await deployOk(ha, inventory, GLANCE_START);
    const back = cibObjects(await nodeOk(node, 'cibadmin', 'cibadmin --query'));
    expect([...back.keys()].sort()).to.deep.equal([...before.keys()].sort());
    expect((await listImages(ha.vip, ha.secrets.admin)).find((i) => i.id === image.id)).to.deep.equal(image);
  });

  it('osha upgrade --to trixie is refused while the cluster runs RabbitMQ 3.10 (4.0 cannot be rolled), with the supported path; nothing changed', async () => {
    const before = await nodeOk(ha.nodes[0]!, 'cibadmin', 'cibadmin --query --scope nodes');
    const r = await osha(['upgrade', inventory, '--to', 'trixie', '--yes']);
    expect(r.code, r.stderr).to.equal(2);
    expect(r.stderr).to.include('refused, nothing was changed');
    expect(r.stderr).to.include('RabbitMQ 3.10 -> 4.0');
    expect(r.stderr).to.include('rabbitmqctl export_definitions');
    expect(await nodeOk(ha.nodes[0]!, 'cibadmin', 'cibadmin --query --scope nodes')).to.equal(before);
    for (const n of ha.nodes) expect(await nodeOk(n, 'os-release', '. /etc/os-release; echo $VERSION_CODENAME'), n.name).to.equal('bookworm\n');
  });
});
