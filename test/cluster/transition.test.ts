// parseSimulation on what the real crm_simulate prints (--output-as=xml), plus the shapes of
// output that are hard to provoke offline (a failed run, blocked actions).
import { expect } from 'chai';
import { buildResourceModel } from '../../src/cluster/build.ts';
import { describeActions, parseSimulation } from '../../src/cluster/transition.ts';
import { desiredCib } from '../../src/cluster/merge.ts';
import { havePacemakerTools, inventoryFrom, liveCib, threeNodeInventory } from './fixtures.ts';
import { settled, simulate } from './tools.ts';

const INVENTORY = threeNodeInventory(['keystone', 'glance-api', 'neutron-openvswitch-agent']);

describe('crm_simulate output parser', function () {
  it('reads actions, steps and placement from crm_simulate XML', function () {
    const xml = `<pacemaker-result api-version="2.25" request="crm_simulate">
  <actions>
    <rsc_action action="start" resource="a" node="n1"/>
    <rsc_action action="move" resource="b" source="n1" dest="n2"/>
    <rsc_action action="restart" resource="c:0" source="n3" reason="required a running"/>
    <rsc_action action="start" resource="d" node="n1" blocked="true"/>
  </actions>
  <transition>
    <pseudo_action task="g_start_0"/>
    <rsc_action resource="a" op="start" node="n1"/>
    <rsc_action resource="a" op="monitor" node="n1" interval="10000"/>
  </transition>
  <revised_cluster_status><resources>
    <group id="g"><resource id="a" role="Started"><node name="n1" id="1"/></resource></group>
    <clone id="cl"><resource id="c" role="Started"><node name="n3" id="3"/></resource><resource id="c" role="Started"><node name="n1" id="1"/></resource></clone>
  </resources></revised_cluster_status>
  <status code="0" message="OK"/>
</pacemaker-result>`;
    const r = parseSimulation(xml);
    if (!r.ok) throw new Error(r.error.message);
    expect(r.value.actions).to.deep.equal([
      { action: 'start', resource: 'a', node: 'n1' },
      { action: 'move', resource: 'b', node: 'n2', from: 'n1' },
      { action: 'restart', resource: 'c:0', node: 'n3', reason: 'required a running' },
      { action: 'start', resource: 'd', node: 'n1', blocked: true },
    ]);
    expect(r.value.steps).to.deep.equal([
      { op: 'start', resource: 'a', node: 'n1' },
      { op: 'monitor', resource: 'a', node: 'n1', interval: 10000 },
    ]);
    expect(r.value.placement).to.deep.equal({ a: ['n1'], c: ['n1', 'n3'] });
    expect(describeActions(r.value.actions)).to.deep.equal([
      'start a on n1',
      'move b n1 → n2',
      'restart c:0 on n3 (required a running)',
      'start d on n1 [blocked]',
    ]);
  });

  it('turns a failed run and non-XML into error values', function () {
    const failed = parseSimulation(
      '<pacemaker-result><status code="78" message="Invalid configuration"><errors><error>no such resource</error></errors></status></pacemaker-result>',
    );
    expect(failed.ok).to.equal(false);
    if (!failed.ok) expect(failed.error.message).to.equal('crm_simulate failed (exit 78): Invalid configuration; no such resource');
    expect(parseSimulation('Transition Summary:\n  * Start a').ok).to.equal(false);
    expect(parseSimulation('<cib/>').ok).to.equal(false);
  });

  describe('on the real crm_simulate', function () {
    let cib: string;
    before(function () {
      if (!havePacemakerTools()) this.skip(); // needs Debian package pacemaker-cli-utils
      const d = desiredCib(liveCib(), buildResourceModel(inventoryFrom(INVENTORY)));
      if (!d.ok) throw new Error(d.error.message);
      cib = d.value;
    });

    it('predicts the first start: the VIP and keystone on one node, the clone everywhere', function () {
      const sim = simulate(cib);
      const starts = sim.actions.filter((a) => a.action === 'start');
      const vip = starts.find((a) => a.resource === 'osha-vip')!.node;
      expect(starts.find((a) => a.resource === 'osha-keystone')!.node).to.equal(vip);
      expect(starts.filter((a) => a.resource.startsWith('osha-neutron-openvswitch-agent:')).map((a) => a.node).sort()).to.deep.equal(['node1', 'node2', 'node3']);
    });

    it('predicts a move when the VIP\'s node is banned', function () {
      const running = settled(cib);
      const node = simulate(running).placement['osha-vip']![0]!;
      const banned = running.replace('<constraints>', `<constraints><rsc_location id="ban" rsc="osha-vip" node="${node}" score="-INFINITY"/>`);
      const moves = simulate(banned).actions.filter((a) => a.action === 'move');
      expect(moves.map((a) => a.resource)).to.include.members(['osha-vip', 'osha-keystone', 'osha-glance-api']);
      for (const m of moves) {
        expect(m.from).to.equal(node);
        expect(m.node).to.not.equal(node);
      }
    });
  });
});
