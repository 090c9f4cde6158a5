// The drill's pure judgement of a crm_mon status: a resource that came back only on the node the
// drill took out (fenced, rebooted, rejoined before the survivors started it) ends the wait at once.
import { expect } from 'chai';
import { backOnVictim } from '../../src/drill/drill.ts';
import { parseClusterStatus, type ClusterStatus } from '../../src/facts/status.ts';

/** crm_mon --output-as=xml, cut to what the parser reads: three nodes, the VIP where `vipOn` says. */
function status(online: string[], vipOn: string | undefined): ClusterStatus {
  const nodes = ['node1', 'node2', 'node3'].map((n) => `<node name="${n}" id="${n.slice(-1)}" online="${online.includes(n)}" standby="false" maintenance="false" type="member"/>`);
  const vip = vipOn
    ? `<resource id="osha-vip" resource_agent="ocf:heartbeat:IPaddr2" role="Started" active="true" failed="false" blocked="false" managed="true" nodes_running_on="1"><node name="${vipOn}" id="${vipOn.slice(-1)}" cached="true"/></resource>`
    : '<resource id="osha-vip" resource_agent="ocf:heartbeat:IPaddr2" role="Stopped" active="false" failed="false" blocked="false" managed="true" nodes_running_on="0"/>';
  const xml = `<pacemaker-result api-version="2.30" request="crm_mon --output-as=xml"><summary><current_dc present="true" name="node1" with_quorum="true"/></summary><nodes>${nodes.join('')}</nodes><resources>${vip}</resources><status code="0" message="OK"/></pacemaker-result>`;
  const s = parseClusterStatus(xml);
  if (!s.ok) throw new Error(s.error.message);
  return s.value;
}

describe('osha drill: a resource back only on the node taken out', () => {
  it('is recognised when that node, seen gone, is online again and runs it', () => {
    expect(backOnVictim(status(['node1', 'node2', 'node3'], 'node2'), 'osha-vip', 'node2', true)).to.equal(true);
  });

  it('is not before the node was seen gone: until the survivors notice, it still shows what it ran', () => {
    expect(backOnVictim(status(['node1', 'node2', 'node3'], 'node2'), 'osha-vip', 'node2', false)).to.equal(false);
  });

  it('is not while it runs on a survivor, is stopped, or the node is still away', () => {
    expect(backOnVictim(status(['node1', 'node2', 'node3'], 'node1'), 'osha-vip', 'node2', true)).to.equal(false);
    expect(backOnVictim(status(['node1', 'node2', 'node3'], undefined), 'osha-vip', 'node2', true)).to.equal(false);
    // A stale entry for the unclean node before it is fenced: not back, still waiting.
    expect(backOnVictim(status(['node1', 'node3'], 'node2'), 'osha-vip', 'node2', true)).to.equal(false);
    expect(backOnVictim(status(['node1', 'node2', 'node3'], 'node2'), 'osha-unknown', 'node2', true)).to.equal(false);
  });
});
