// desiredCib: osha's objects merged into a live CIB without touching anything else, checked with
// the real crm_diff, cibadmin (file-backed CIB), crm_verify and crm_simulate.
import { expect } from 'chai';
import { buildResourceModel } from '../../src/cluster/build.ts';
import { primitivesOf, type ResourceModel } from '../../src/model/resources.ts';
import { configurationXml } from '../../src/render/cib.ts';
import { desiredCib, objectChanges, removedResources, stopRemovedCib } from '../../src/cluster/merge.ts';
import { renderChange } from '../../src/render/crmsh.ts';
import { havePacemakerTools, inventoryFrom, liveCib, threeNodeInventory } from './fixtures.ts';
import { cibadminPatch, crmDiff, crmVerify, settled, simulate } from './tools.ts';

const INVENTORY = threeNodeInventory(['mysql', 'rabbitmq', 'keystone', 'glance-api', 'cinder-volume', 'cinder-scheduler', 'cinder-api']);
const full = buildResourceModel(inventoryFrom(INVENTORY));
const withoutCinder = buildResourceModel(inventoryFrom(INVENTORY.replace(', cinder-volume, cinder-scheduler, cinder-api', '')));

// Foreign objects, written the way cibadmin prints them; the test checks they come back verbatim.
const FOREIGN_PRIMITIVE = `
      <primitive id="web" class="ocf" provider="heartbeat" type="Dummy">
        <instance_attributes id="web-instance_attributes">
          <nvpair id="web-instance_attributes-state" name="state" value="/run/web.state"/>
        </instance_attributes>
        <operations>
          <op name="monitor" interval="10s" timeout="20s" id="web-monitor-10s"/>
        </operations>
      </primitive>`;
const FOREIGN_CONSTRAINT = `
      <rsc_location id="web-prefers-node3" rsc="web" node="node3" score="50"/>`;
const FOREIGN_PROPS = `        <nvpair id="cib-bootstrap-options-placement-strategy" name="placement-strategy" value="balanced"/>
        <nvpair id="cib-bootstrap-options-batch-limit" name="batch-limit" value="10"/>`;
const AUTOMATIC = [
  '<nvpair id="cib-bootstrap-options-have-watchdog" name="have-watchdog" value="false"/>',
  '<nvpair id="cib-bootstrap-options-dc-version" name="dc-version" value="2.1.5-a3f44794f94"/>',
  '<nvpair id="cib-bootstrap-options-cluster-infrastructure" name="cluster-infrastructure" value="corosync"/>',
  '<nvpair id="cib-bootstrap-options-cluster-name" name="cluster-name" value="lab"/>',
];

const live = liveCib({ resources: FOREIGN_PRIMITIVE, constraints: FOREIGN_CONSTRAINT, props: FOREIGN_PROPS });

function must<T>(r: { ok: true; value: T } | { ok: false; error: { message: string } }): T {
  if (!r.ok) throw new Error(r.error.message);
  return r.value;
}

/** Every id="..." in a CIB text. */
const ids = (xml: string): Set<string> => new Set([...xml.matchAll(/ id="([^"]+)"/g)].map((m) => m[1]!));

describe('desiredCib: merging osha objects into a live CIB', function () {
  it('keeps foreign objects, foreign properties and automatic properties byte for byte', function () {
    const out = must(desiredCib(live, full));
    expect(out).to.include(FOREIGN_PRIMITIVE);
    expect(out).to.include(FOREIGN_CONSTRAINT);
    expect(out).to.include(FOREIGN_PROPS);
    for (const a of AUTOMATIC) expect(out).to.include(a);
    expect(out).to.include('<status>');
    expect(out).to.include('<node_state id="2" uname="node2"');
  });

  it('adds osha objects only, and bumps epoch once', function () {
    const out = must(desiredCib(live, full));
    const added = [...ids(out)].filter((id) => !ids(live).has(id));
    expect(added.length).to.be.greaterThan(20);
    for (const id of added) expect(id, id).to.match(/^osha-/);
    expect(out).to.match(/<cib [^>]*epoch="8"/);
    expect(out).to.match(/<cib [^>]*num_updates="0"/);
  });

  it('gives the same text when applied twice (no epoch bump without a change)', function () {
    const once = must(desiredCib(live, full));
    expect(must(desiredCib(once, full))).to.equal(once);
  });

  it('removing services removes exactly their objects and leaves the rest as it was', function () {
    const before = must(desiredCib(live, full));
    const after = must(desiredCib(before, withoutCinder));
    const gone = [...ids(before)].filter((id) => !ids(after).has(id));
    expect(gone.length).to.be.greaterThan(0);
    for (const id of gone) expect(id, id).to.match(/^osha-(g-cinder|cinder-|co-g-cinder-|o-g-cinder-)/);
    const cinderIds = [...ids(before)].filter((id) => /cinder/.test(id));
    expect(gone.sort()).to.deep.equal(cinderIds.sort());
    expect([...ids(after)].filter((id) => !ids(before).has(id))).to.deep.equal([]);
    expect(after).to.include(FOREIGN_PRIMITIVE);
    expect(must(removedResources(before, withoutCinder))).to.deep.equal(['osha-g-cinder']);
  });

  it('refuses to drop an osha resource a foreign constraint still refers to', function () {
    const before = must(desiredCib(live, full));
    const tangled = before.replace('<rsc_location id="web-prefers-node3"', '<rsc_colocation id="web-with-cinder" rsc="web" with-rsc="osha-g-cinder" score="100"/><rsc_location id="web-prefers-node3"');
    const r = desiredCib(tangled, withoutCinder);
    expect(r.ok).to.equal(false);
    if (!r.ok) {
      expect(r.error.message).to.include('web-with-cinder');
      expect(r.error.fix).to.include('crm configure delete web-with-cinder');
    }
  });

  it('also sees references from foreign resource sets and tags', function () {
    const before = must(desiredCib(live, full));
    const withSet = before.replace(
      '<rsc_location id="web-prefers-node3"',
      '<rsc_order id="web-set"><resource_set id="web-set-0"><resource_ref id="web"/><resource_ref id="osha-cinder-api"/></resource_set></rsc_order><rsc_location id="web-prefers-node3"',
    );
    const r = desiredCib(withSet, withoutCinder);
    expect(r.ok).to.equal(false);
    if (!r.ok) expect(r.error.message).to.equal("web-set (not osha's) refers to osha-cinder-api, which this inventory removes");
    const tagged = before.replace('</constraints>', '</constraints><tags><tag id="mine"><obj_ref id="osha-g-cinder"/></tag></tags>');
    const t = desiredCib(tagged, withoutCinder);
    expect(t.ok).to.equal(false);
    if (!t.ok) expect(t.error.message).to.equal("mine (not osha's) refers to osha-g-cinder, which this inventory removes");
  });

  it('owns stonith-enabled: replaces a foreign value, names it fencing-enabled on Pacemaker 3.0.2+', function () {
    const foreignFencing = liveCib({ props: '        <nvpair id="cib-bootstrap-options-stonith-enabled" name="stonith-enabled" value="true"/>' });
    const out = must(desiredCib(foreignFencing, full));
    expect(out).to.not.include('cib-bootstrap-options-stonith-enabled');
    expect(out).to.include('<nvpair id="osha-option-stonith-enabled" name="stonith-enabled" value="false"/>');
    const v3 = must(desiredCib(liveCib({ dcVersion: '3.0.2-1.el10' }), full));
    expect(v3).to.include('name="fencing-enabled" value="false"');
    expect(v3).to.not.include('stonith-enabled');
  });

  it('reports bad input as an error value', function () {
    expect(desiredCib('<cib><configuration>', full).ok).to.equal(false);
    expect(desiredCib('<other/>', full).ok).to.equal(false);
  });

  it('lists what changes object by object', function () {
    const before = must(desiredCib(live, full));
    expect(must(objectChanges(before, full))).to.deep.equal([]);
    const changes = must(objectChanges(before, withoutCinder));
    expect(changes.every((c) => c.change === 'remove')).to.equal(true);
    expect(changes.map((c) => c.id)).to.include.members(['osha-g-cinder', 'osha-co-g-cinder-with-g-keystone', 'osha-o-g-cinder-after-g-keystone']);
    const adding = must(objectChanges(live, full));
    expect(adding.filter((c) => c.change !== 'add')).to.deep.equal([]);
  });

  describe('with the real Pacemaker tools', function () {
    before(function () {
      if (!havePacemakerTools()) this.skip(); // needs Debian package pacemaker-cli-utils
    });

    it('crm_verify accepts the merged CIB, foreign objects included', function () {
      const v = crmVerify(must(desiredCib(live, full)));
      expect(v.ok, v.output).to.equal(true);
    });

    it('crm_diff finds nothing to do the second time, and cibadmin applies the first patch', function () {
      const first = must(desiredCib(live, full));
      const diff = crmDiff(live, first);
      expect(diff.status).to.equal(1);
      // The patch only names osha objects (and the version header).
      for (const id of ids(diff.patch)) expect(id, id).to.match(/^osha-/);
      const applied = cibadminPatch(live, diff.patch);
      expect(applied.status, applied.stderr).to.equal(0);
      // What cibadmin made of the patch is what osha wanted: re-merging changes nothing.
      const again = must(desiredCib(applied.cib, full));
      expect(crmDiff(applied.cib, again).status).to.equal(0);
      expect(crmDiff(first, must(desiredCib(first, full))).status).to.equal(0);
      // A patch made from an older CIB is refused with 103: the caller re-reads and retries.
      const stale = cibadminPatch(applied.cib, diff.patch);
      expect(stale.status).to.equal(103);
    });

    it('removes services in two steps: stop in order, then delete', function () {
      const running = settled(must(desiredCib(live, full)));
      const stopping = must(stopRemovedCib(running, withoutCinder));
      expect(crmVerify(stopping).ok).to.equal(true);
      const sim = simulate(stopping);
      const stops = sim.steps.filter((s) => s.op === 'stop').map((s) => s.resource);
      // Group members stop in reverse start order; nothing else stops.
      expect(stops).to.deep.equal(['osha-cinder-api', 'osha-cinder-scheduler', 'osha-cinder-volume']);
      const stopped = settled(stopping);
      const final = must(desiredCib(stopped, withoutCinder));
      expect(crmVerify(final).ok).to.equal(true);
      expect(simulate(final).actions.filter((a) => a.action !== 'stop')).to.deep.equal([]);
      // The status section keeps the stopped resources' history until Pacemaker cleans it up.
      expect(final.slice(final.indexOf('<configuration>'), final.indexOf('</configuration>'))).to.not.include('cinder');
    });
  });
});

describe('desiredCib: osha objects moved into foreign ones', function () {
  it('refuses, naming the foreign container', function () {
    const model = buildResourceModel(inventoryFrom(INVENTORY));
    const once = desiredCib(liveCib({ resources: FOREIGN_PRIMITIVE }), model);
    if (!once.ok) throw new Error(once.error.message);
    // Someone wrapped osha's VIP in their own group by hand.
    const wrapped = once.value.replace(/<primitive id="osha-vip"[\s\S]*?<\/primitive>/, (m) => `<group id="mine">${m}</group>`);
    const r = desiredCib(wrapped, model);
    expect(r.ok).to.equal(false);
    if (!r.ok) expect(r.error.message).to.equal("osha-vip is inside mine, which is not osha's");
  });
});

describe('desiredCib: osha agents monitored once per depth', function () {
  const deep = buildResourceModel(inventoryFrom(INVENTORY + 'openstack: { password: { file: /etc/osha/pw } }\n'));
  /** What an osha release before per-depth monitors wrote: one monitor every 30 s, at depth 20 on APIs with credentials, else 10. */
  const oneMonitor = (m: ResourceModel): ResourceModel => {
    const old = structuredClone(m);
    for (const p of primitivesOf(old.resources)) {
      if (p.agent.provider !== 'openstack') continue;
      const depth = p.ops.some((o) => o.depth === 20) ? 20 : 10;
      p.ops = [...p.ops.filter((o) => o.name !== 'monitor'), { name: 'monitor', interval: '30s', timeout: '60s', depth }];
    }
    return old;
  };
  const monitorOps = (xml: string, rsc: string) =>
    [...xml.slice(xml.indexOf(`<primitive id="${rsc}"`)).split('</primitive>')[0]!.matchAll(/<op id="([^"]+)" name="monitor" interval="([^"]+)"[^>]*>(?:<instance_attributes[^>]*><nvpair[^>]*name="OCF_CHECK_LEVEL" value="(\d+)"\/>)?/g)].map(
      (m) => [m[1], m[2], m[3]],
    );

  it('writes three monitor ops with distinct intervals, stable ids and their OCF_CHECK_LEVEL; other agents keep one', function () {
    const xml = configurationXml(deep);
    expect(monitorOps(xml, 'osha-keystone')).to.deep.equal([
      ['osha-keystone-monitor-10s', '10s', '0'],
      ['osha-keystone-monitor-30s', '30s', '10'],
      ['osha-keystone-monitor-300s', '300s', '20'],
    ]);
    expect(xml).to.include('<nvpair id="osha-keystone-monitor-300s-instance_attributes-OCF_CHECK_LEVEL" name="OCF_CHECK_LEVEL" value="20"/>');
    expect(monitorOps(xml, 'osha-cinder-volume')).to.deep.equal([
      ['osha-cinder-volume-monitor-10s', '10s', '0'],
      ['osha-cinder-volume-monitor-30s', '30s', '10'],
    ]);
    expect(monitorOps(xml, 'osha-mysql')).to.deep.equal([['osha-mysql-monitor-30s', '30s', undefined]]);
    const ids = [...xml.matchAll(/ id="([^"]+)"/g)].map((m) => m[1]);
    expect(ids.length).to.equal(new Set(ids).size);
  });

  it('moves a cluster deployed with one monitor to the new set in place: only primitives change, the plan shows every monitor, a re-run changes nothing', function () {
    const before = must(desiredCib(live, oneMonitor(deep)));
    expect(monitorOps(before, 'osha-keystone')).to.deep.equal([['osha-keystone-monitor-30s', '30s', '20']]);
    const changes = must(objectChanges(before, deep));
    const agents = primitivesOf(deep.resources).filter((p) => p.agent.provider === 'openstack').map((p) => p.id);
    expect(changes.map((c) => `${c.change} ${c.id}`)).to.have.members(agents.map((id) => `change ${id}`));
    const plan = renderChange(deep, changes);
    expect(plan).to.include(
      '~ primitive osha-keystone ocf:openstack:keystone \\\n' +
        '      params config="/etc/keystone/keystone.conf" os_auth_url="http://198.18.0.100:5000/v3" os_username="admin" os_project_name="admin" os_user_domain_name="Default" os_project_domain_name="Default" os_password_file="/etc/osha/openstack-password" \\\n' +
        '      meta migration-threshold="3" failure-timeout="120s" \\\n' +
        '      op start interval="0s" timeout="120s" \\\n' +
        '      op stop interval="0s" timeout="120s" \\\n' +
        '      op monitor interval="10s" timeout="20s" OCF_CHECK_LEVEL="0" \\\n' +
        '      op monitor interval="30s" timeout="60s" OCF_CHECK_LEVEL="10" \\\n' +
        '      op monitor interval="300s" timeout="60s" OCF_CHECK_LEVEL="20"\n',
    );
    expect(plan).to.match(new RegExp(`0 to add, ${agents.length} to change, 0 to remove\\n$`));
    const after = must(desiredCib(before, deep));
    // The 30 s op keeps its id (now depth 10); the others are new.
    expect(monitorOps(after, 'osha-keystone').map(([id]) => id)).to.deep.equal(['osha-keystone-monitor-10s', 'osha-keystone-monitor-30s', 'osha-keystone-monitor-300s']);
    expect(must(desiredCib(after, deep))).to.equal(after);
    expect(must(objectChanges(after, deep))).to.deep.equal([]);
  });

  describe('with the real Pacemaker tools', function () {
    before(function () {
      if (!havePacemakerTools()) this.skip(); // needs Debian package pacemaker-cli-utils
    });

    it('on a running cluster the new monitors only schedule monitors: nothing stops, restarts or moves', function () {
      const running = settled(must(desiredCib(live, oneMonitor(deep))));
      const next = must(desiredCib(running, deep));
      const v = crmVerify(next);
      expect(v.ok, v.output).to.equal(true);
      const sim = simulate(next);
      expect(sim.actions.map((a) => `${a.action} ${a.resource}`)).to.deep.equal([]);
      expect(sim.steps.filter((st) => st.op !== 'monitor' && st.op !== 'cancel')).to.deep.equal([]);
      const keystone = sim.steps.filter((st) => st.resource === 'osha-keystone' && st.op === 'monitor').map((st) => st.interval);
      expect(keystone).to.include.members([10000, 300000]);
      // Applied (file-backed CIB): a second merge has nothing to patch.
      const applied = cibadminPatch(running, crmDiff(running, next).patch);
      expect(applied.status, applied.stderr).to.equal(0);
      expect(crmDiff(applied.cib, must(desiredCib(applied.cib, deep))).status).to.equal(0);
    });
  });
});
