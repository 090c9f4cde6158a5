// The fencer's and the CIB's XML as Pacemaker 2.1.5 (Debian 12) prints it, read by src/facts/fencing.ts.
import { expect } from 'chai';
import { fenceMonitors, parseDeviceList, parseFencerAnswers, parsePacemakerTime, parseStarts } from '../../src/facts/fencing.ts';

describe('fencing facts', () => {
  it('reads the devices of stonith_admin --list --output-as=xml (items carry a name attribute)', () => {
    const xml = `<pacemaker-result api-version="2.25" request="stonith_admin --list=node1 --output-as=xml">
  <list name="registered fence devices" count="1">
    <item name="device">osha-fence-node1</item>
  </list>
  <status code="0" message="OK"/>
</pacemaker-result>`;
    expect(parseDeviceList(xml)).to.deep.equal(['osha-fence-node1']);
    expect(parseDeviceList('<pacemaker-result><list name="registered fence devices" count="0"/></pacemaker-result>')).to.deep.equal([]);
  });

  it('reads the sections of the one-round-trip fencer check, in device order, a missing one as no answer', () => {
    const out = [
      '@osha-fence 0 list',
      '<pacemaker-result><list name="registered fence devices" count="1"><item name="device">osha-fence-node1</item></list></pacemaker-result>',
      '@osha-fence 0 query 0',
      'Device osha-fence-node1 is active',
      '@osha-fence 1 list',
      '<pacemaker-result><list name="registered fence devices" count="0"/></pacemaker-result>',
      '@osha-fence 1 query 1',
      'some noise',
      'Device osha-fence-node2 not found',
      '',
    ].join('\n');
    expect(parseFencerAnswers(out, [true, true, true])).to.deep.equal([
      { devices: ['osha-fence-node1'], query: { code: 0, why: 'Device osha-fence-node1 is active' } },
      { devices: [], query: { code: 1, why: 'Device osha-fence-node2 not found' } },
      { devices: [], query: { code: 255, why: 'no answer' } },
    ]);
  });

  it('gives no query answer for a device that was not queried, and ignores a query section it did not ask for', () => {
    const out = [
      '@osha-fence 0 list',
      '<pacemaker-result><list name="registered fence devices" count="1"><item name="device">osha-fence-node2</item></list></pacemaker-result>',
      '@osha-fence 0 query 0',
      'Device osha-fence-node2 is active',
      '',
    ].join('\n');
    expect(parseFencerAnswers(out, [false])).to.deep.equal([{ devices: ['osha-fence-node2'] }]);
  });

  // As Pacemaker 2.1.5 wrote it on a lab node: node2 runs the device for node1; node3 probed it.
  const monitorCib = (node2Ops: string, node3Crmd = 'online') => `<cib><configuration/><status>
  <node_state id="2" uname="node2" in_ccm="true" crmd="online" join="member" expected="member">
    <lrm id="2"><lrm_resources>
        <lrm_resource id="osha-fence-node1" type="fence_nspawn" class="stonith">
          <lrm_rsc_op id="osha-fence-node1_last_0" operation_key="osha-fence-node1_start_0" operation="start" on_node="node2" call-id="15" rc-code="0" op-status="0" interval="0" last-rc-change="1796523269"/>
          ${node2Ops}
        </lrm_resource>
    </lrm_resources></lrm>
  </node_state>
  <node_state id="3" uname="node3" in_ccm="true" crmd="${node3Crmd}" join="member" expected="member">
    <lrm id="3"><lrm_resources>
        <lrm_resource id="osha-fence-node1" type="fence_nspawn" class="stonith">
          <lrm_rsc_op id="osha-fence-node1_last_0" operation_key="osha-fence-node1_monitor_0" operation="monitor" on_node="node3" call-id="8" rc-code="7" op-status="0" interval="0" last-rc-change="1796523269"/>
        </lrm_resource>
    </lrm_resources></lrm>
  </node_state>
</status></cib>`;
  const passingOp = '<lrm_rsc_op id="osha-fence-node1_monitor_60000" operation_key="osha-fence-node1_monitor_60000" operation="monitor" on_node="node2" call-id="19" rc-code="0" op-status="0" interval="60000" last-rc-change="1796523270"/>';

  it("takes a device's passing recurring monitor as its answer, with node, interval and since when", () => {
    const m = fenceMonitors(monitorCib(passingOp), ['osha-fence-node1', 'osha-fence-node2']);
    expect(m.get('osha-fence-node1')).to.deep.equal({ passing: true, node: 'node2', intervalMs: 60000, sinceS: 1796523270 });
    // A probe (interval 0) is no monitor, and a device with no record at all passes nothing.
    expect(m.get('osha-fence-node2')).to.deep.equal({ passing: false, why: 'no recurring monitor on record' });
  });

  it('does not take a failing monitor, a failure on record, or a monitor on a node whose controller is down', () => {
    const failing = passingOp.replace('rc-code="0"', 'rc-code="1"');
    expect(fenceMonitors(monitorCib(failing), ['osha-fence-node1']).get('osha-fence-node1')).to.deep.equal({ passing: false, why: 'its monitor on node2 reports rc 1, status 0' });
    const pending = passingOp.replace('op-status="0"', 'op-status="-1"');
    expect(fenceMonitors(monitorCib(pending), ['osha-fence-node1']).get('osha-fence-node1')?.passing).to.equal(false);
    const lastFailure = '<lrm_rsc_op id="osha-fence-node1_last_failure_0" operation_key="osha-fence-node1_monitor_60000" operation="monitor" on_node="node2" call-id="19" rc-code="1" op-status="0" interval="60000" last-rc-change="1796523200"/>';
    expect(fenceMonitors(monitorCib(`${passingOp}${lastFailure}`), ['osha-fence-node1']).get('osha-fence-node1')).to.deep.equal({ passing: false, why: 'a failed monitor on node2 is on record (rc 1)' });
    // node2's controller is down (its first node_state): its last record says nothing now.
    const down = monitorCib(passingOp).replace('crmd="online"', 'crmd="offline"');
    expect(fenceMonitors(down, ['osha-fence-node1']).get('osha-fence-node1')?.passing).to.equal(false);
  });

  it('reads each resource start from the CIB status section, with its node, run time and result', () => {
    const xml = `<status>
  <node_state id="3" uname="node3" in_ccm="true" crmd="online" join="member" expected="member">
    <lrm><lrm_resources>
        <lrm_resource id="osha-fence-node1" type="fence_nspawn" class="stonith">
          <lrm_rsc_op id="osha-fence-node1_last_0" operation_key="osha-fence-node1_monitor_0" operation="monitor" on_node="node3" call-id="8" rc-code="7" op-status="0" interval="0" last-rc-change="1796137439" exec-time="8" queue-time="0"/>
        </lrm_resource>
        <lrm_resource id="osha-vip" type="IPaddr2" class="ocf" provider="heartbeat">
          <lrm_rsc_op id="osha-vip_last_0" operation_key="osha-vip_start_0" operation="start" on_node="node3" call-id="18" rc-code="0" op-status="0" interval="0" last-rc-change="1796137439" exec-time="107" queue-time="0"/>
        </lrm_resource>
    </lrm_resources></lrm>
  </node_state>
</status>`;
    expect(parseStarts(xml)).to.deep.equal([{ resource: 'osha-vip', node: 'node3', lastRunS: 1796137439, execMs: 107, queueMs: 0, rc: 0 }]);
  });

  it('reads Pacemaker times with a space and an offset, and ISO 8601', () => {
    expect(parsePacemakerTime('2026-12-01 15:04:05 +00:00')).to.equal(Date.parse('2026-12-01T15:04:05Z'));
    expect(parsePacemakerTime('2026-12-01 16:04:05 +01:00')).to.equal(Date.parse('2026-12-01T15:04:05Z'));
    expect(parsePacemakerTime('2026-12-01T15:04:05.250Z')).to.equal(Date.parse('2026-12-01T15:04:05.250Z'));
    expect(parsePacemakerTime('not a time')).to.equal(undefined);
  });
});
