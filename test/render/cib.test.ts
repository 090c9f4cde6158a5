// desiredCib: osha's objects merged into a live CIB without touching anything else, checked with
// the real crm_diff, cibadmin (file-backed CIB), crm_verify and crm_simulate.
import { expect } from 'chai';
import { buildResourceModel } from '../../src/cluster/build.ts';
import { desiredCib, objectChanges, removedResources, stopRemovedCib } from '../../src/render/cib.ts';
import { havePacemakerTools, inventoryFrom, liveCib, threeNodeInventory } from '../cluster/fixtures.ts';
import { cibadminPatch, crmDiff, crmVerify, settled, simulate } from '../cluster/tools.ts';

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
