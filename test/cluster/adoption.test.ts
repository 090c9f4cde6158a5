// Existing clusters, decided without a network: node ids that stay with their node, and what
// may be done with a running corosync that osha did not configure.
import { expect } from 'chai';
import { assignNodeIds, nodeIdsOf } from '../../src/cluster/nodeids.ts';
import { judgeRunningCluster } from '../../src/cluster/foreign.ts';
import { parseCibCensus } from '../../src/facts/cluster.ts';
import { corosyncChangeKind, nodelistChange, parseCorosyncConf, renderCorosyncConf, settingsToKeep } from '../../src/render/corosync.ts';
import { parseCmap } from '../../src/facts/cmap.ts';
import { inventoryFromCluster } from '../../src/cluster/export.ts';
import { inventoryFrom } from './fixtures.ts';

const ids = (o: Record<string, number>) => new Map(Object.entries(o));
const nodes = (...names: string[]) => names.map((name) => ({ name }));

describe('corosync node ids', () => {
  it('keeps the ids a running cluster gives its nodes, whatever their place in the list', () => {
    const r = assignNodeIds(nodes('node3', 'node1', 'node2'), [ids({ node1: 10, node2: 20, node3: 30 })]);
    expect(r.ok && Object.fromEntries(r.value)).to.deep.equal({ node3: 30, node1: 10, node2: 20 });
  });

  it('keeps the ids of the nodes that stay when one leaves from the middle, and never reuses the leaver\'s id', () => {
    const gone = assignNodeIds(nodes('node1', 'node3'), [ids({ node1: 1, node2: 2, node3: 3 })]);
    expect(gone.ok && Object.fromEntries(gone.value)).to.deep.equal({ node1: 1, node3: 3 });
    const joined = assignNodeIds(nodes('node1', 'node3', 'node4'), [ids({ node1: 1, node2: 2, node3: 3 })]);
    expect(joined.ok && joined.value.get('node4')).to.equal(4);
  });

  it('gives a new node the lowest free id, and a pinned nodeid wins', () => {
    const r = assignNodeIds([{ name: 'a' }, { name: 'b', nodeid: 1 }, { name: 'c' }], [ids({ c: 3 })]);
    expect(r.ok && Object.fromEntries(r.value)).to.deep.equal({ a: 2, b: 1, c: 3 });
  });

  it('refuses ids that nodes disagree about, or one id for two names', () => {
    const disagree = assignNodeIds(nodes('a', 'b'), [ids({ a: 1 }), ids({ a: 5 })]);
    expect(!disagree.ok && disagree.error.message).to.equal("nodes disagree about a's corosync nodeid (1 and 5)");
    const clash = assignNodeIds([{ name: 'a', nodeid: 2 }, { name: 'b' }], [ids({ b: 2 })]);
    expect(!clash.ok && clash.error.message).to.equal('corosync nodeid 2 would belong to both a and b');
  });

  it('reads ids from corosync.conf and from corosync-cmapctl output alike', () => {
    const conf = 'nodelist {\n  node {\n    name: n1\n    nodeid: 10\n  }\n  node {\n    nodeid: 20\n    name: n2\n  }\n}\n';
    expect(Object.fromEntries(nodeIdsOf(parseCorosyncConf(conf)))).to.deep.equal({ n1: 10, n2: 20 });
    const cmap = 'nodelist.node.0.name (str) = n1\nnodelist.node.0.nodeid (u32) = 10\nnodelist.node.1.name (str) = n2\nnodelist.node.1.nodeid (u32) = 20\n';
    expect(Object.fromEntries(nodeIdsOf(parseCmap(cmap)))).to.deep.equal({ n1: 10, n2: 20 });
  });

  it('a hand-written file that leaves corosync 3 defaults out needs no restart to become osha\'s', () => {
    const hand = 'totem {\n version: 2\n cluster_name: c\n transport: knet\n crypto_cipher: aes256\n crypto_hash: sha256\n}\nlogging {\n to_syslog: yes\n}\n';
    const osha = 'totem {\n version: 2\n cluster_name: c\n transport: knet\n crypto_cipher: aes256\n crypto_hash: sha256\n interface {\n  linknumber: 0\n  mcastport: 5405\n }\n}\nlogging {\n to_logfile: yes\n}\n';
    expect(corosyncChangeKind(hand, osha)).to.equal('reload');
    expect(corosyncChangeKind(hand, osha.replace('5405', '5409'))).to.equal('full');
  });
});

describe('a running cluster osha did not configure', () => {
  const emptyCib = parseCibCensus('<cib><configuration><crm_config/><nodes/><resources/><constraints/></configuration><status/></cib>');
  const inUse = parseCibCensus(
    '<cib><configuration><resources><primitive id="p_keystone" class="ocf" provider="openstack" type="keystone"/>' +
      '<primitive id="fence1" class="stonith" type="fence_ipmilan"/></resources><constraints><rsc_location id="l1"/></constraints></configuration></cib>',
  );
  const inventory = { name: 'prod', nodes: ['node1', 'node2', 'node3'] };

  it('counts what a CIB holds', () => {
    expect(emptyCib).to.deep.equal({ resources: [], stonith: [], constraints: 0 });
    expect(inUse).to.deep.equal({ resources: ['p_keystone', 'fence1'], stonith: ['fence1'], constraints: 1 });
    expect(parseCibCensus('')).to.equal(undefined);
  });

  it('is the throw-away package default only when that is proven: named debian, one node, an empty CIB', () => {
    expect(judgeRunningCluster({ host: 'node1', name: 'debian', nodes: ['node1'], cib: emptyCib }, inventory).kind).to.equal('package-default');
    expect(judgeRunningCluster({ host: 'node1', name: 'debian', nodes: ['node1'], cib: inUse }, inventory).kind).to.equal('refuse');
    expect(judgeRunningCluster({ host: 'node1', name: 'debian', nodes: ['node1'], cib: undefined }, inventory).kind).to.equal('refuse');
    expect(judgeRunningCluster({ host: 'node1', name: 'debian', nodes: ['node1', 'node2'], cib: emptyCib }, inventory).kind).to.equal('refuse');
  });

  it('is adopted when its name and nodes are the inventory\'s', () => {
    const v = judgeRunningCluster({ host: 'node2', name: 'prod', nodes: ['node1', 'node2', 'node3'], cib: inUse }, inventory);
    expect(v.kind).to.equal('adopt');
  });

  it('is refused with what runs there and what to do, under another name or with other nodes', () => {
    const other = judgeRunningCluster({ host: 'node2', name: 'legacy', nodes: ['node1', 'node2'], cib: inUse }, inventory);
    expect(other).to.deep.equal({
      kind: 'refuse',
      message: 'node2 runs cluster "legacy" (nodes node1, node2; 2 resources (p_keystone, fence1), 1 constraint, 1 stonith device), which osha did not configure, under another name than the inventory\'s ("prod")',
      fix: 'to take it over in place, set cluster.name: legacy and list its nodes under nodes:; otherwise remove node2 from that cluster first (osha never stops or wipes a cluster it did not make)',
    });
    const extra = judgeRunningCluster({ host: 'node1', name: 'prod', nodes: ['node1', 'ctl9'], cib: inUse }, inventory);
    expect(extra.kind === 'refuse' && extra.message).to.match(/its node ctl9 is not in the inventory$/);
  });
});

describe('osha export (pure: cluster facts to inventory text)', () => {
  const cmap = parseCmap(
    [
      'totem.cluster_name (str) = handmade',
      'totem.transport (str) = knet',
      'totem.crypto_cipher (str) = aes256',
      'nodelist.node.0.name (str) = alice',
      'nodelist.node.0.nodeid (u32) = 10',
      'nodelist.node.0.ring0_addr (str) = 198.18.9.11',
      'nodelist.node.1.name (str) = bob',
      'nodelist.node.1.nodeid (u32) = 20',
      'nodelist.node.1.ring0_addr (str) = 198.18.9.12',
    ].join('\n'),
  );
  const cib = `<cib><configuration><crm_config><cluster_property_set id="cib-bootstrap-options">
    <nvpair id="p1" name="stonith-enabled" value="true"/><nvpair id="p2" name="no-quorum-policy" value="ignore"/></cluster_property_set></crm_config>
    <resources>
      <primitive id="p_IP" class="ocf" provider="heartbeat" type="IPaddr2"><instance_attributes id="a"><nvpair id="a1" name="ip" value="198.18.9.100"/><nvpair id="a2" name="cidr_netmask" value="24"/></instance_attributes></primitive>
      <group id="g_keystone"><primitive id="p_keystone" class="ocf" provider="openstack" type="keystone"/></group>
      <primitive id="st-alice" class="stonith" type="fence_ipmilan"><instance_attributes id="s"><nvpair id="s1" name="password" value="secret"/></instance_attributes></primitive>
      <primitive id="p_web" class="ocf" provider="heartbeat" type="apache"/>
    </resources>
    <constraints><rsc_colocation id="co_keystone_ip" rsc="g_keystone" with-rsc="p_IP" score="INFINITY"/></constraints>
  </configuration></cib>`;

  it('writes nodes with their ids, the VIP and services kept as the hand-made resources they are, a fence device kept, the rest in a comment', () => {
    const r = inventoryFromCluster({ cmap, cib, from: '198.18.9.11', ssh: { user: 'root' } });
    if (!r.ok) throw new Error(r.error.message);
    const inv = inventoryFrom(r.value.text);
    expect(inv.cluster.name).to.equal('handmade');
    expect(inv.nodes.map((n) => [n.name, n.address, n.nodeid])).to.deep.equal([['alice', '198.18.9.11', 10], ['bob', '198.18.9.12', 20]]);
    expect(inv.vip).to.deep.equal({ address: '198.18.9.100', cidr_netmask: 24 });
    expect(inv.corosync.crypto).to.equal(true);
    expect(inv.services).to.deep.equal(['keystone']);
    expect(inv.stonith.enabled).to.equal(true);
    expect(inv.quorum.policy).to.equal('ignore');
    expect(inv.resources.existing).to.deep.equal([
      { id: 'p_IP', as: 'vip', action: 'keep' },
      { id: 'p_keystone', as: 'keystone', action: 'keep' },
      { id: 'st-alice', as: 'fencing', action: 'keep' },
    ]);
    expect(r.value.unrecognised).to.deep.equal(['p_web (ocf:heartbeat:apache)', 'g_keystone (group or clone)', 'co_keystone_ip (constraint)']);
    expect(r.value.text).to.not.include('secret');
    expect(r.value.text).to.match(/# Not recognised, left alone by osha/);
  });

  it('refuses a cluster with no VIP to take, saying what to add', () => {
    const r = inventoryFromCluster({ cmap, cib: '<cib><configuration><resources/></configuration></cib>', from: 'x', ssh: { user: 'root' } });
    expect(!r.ok && r.error.message).to.equal('the cluster on x has no IPaddr2 resource to take as the VIP');
  });
});

describe('a corosync.conf as crmsh writes it (crm cluster init, 3 nodes listed by address)', () => {
  // The layout crmsh 4.4's `crm cluster init` writes on Debian 12 (seen in the lab), with its
  // join's node entries: ring0_addr and nodeid, no name.
  const crmsh = `# Please read the corosync.conf.5 manual page
totem {
\tversion: 2
\tcluster_name: crmsh-made
\tclear_node_high_bit: yes
\tinterface {
\t\tringnumber: 0
\t\tmcastport: 5405
\t\tttl: 1
\t}

\ttransport: knet
\tcrypto_hash: sha1
\tcrypto_cipher: aes256
\ttoken: 5000
\tjoin: 60
\tmax_messages: 20
\ttoken_retransmits_before_loss_const: 10
}

logging {
\tto_syslog: yes
\tlogger_subsys {
\t\tsubsys: QUORUM
\t\tdebug: off
\t}
}

nodelist {
\tnode {
\t\tring0_addr: 198.18.59.11
\t\tnodeid: 1
\t}
\tnode {
\t\tring0_addr: 198.18.59.12
\t\tnodeid: 2
\t}
\tnode {
\t\tring0_addr: 198.18.59.13
\t\tnodeid: 3
\t}
}

quorum {
\tprovider: corosync_votequorum
\texpected_votes: 3
\ttwo_node: 0
}

resources {
\twatchdog_device: off
}
`;
  const inv = inventoryFrom(`
cluster: { name: crmsh-made }
nodes: [{ name: node1, address: 198.18.59.11 }, { name: node2, address: 198.18.59.12 }, { name: node3, address: 198.18.59.13 }]
vip: { address: 198.18.59.100, cidr_netmask: 24 }
`);

  it('names its nodes by the inventory\'s addresses and keeps their ids', () => {
    const nameOf = (a: string) => inv.nodes.find((n) => n.address === a)?.name;
    expect(Object.fromEntries(nodeIdsOf(parseCorosyncConf(crmsh), nameOf))).to.deep.equal({ node1: 1, node2: 2, node3: 3 });
  });

  it('becomes osha\'s file by a reload: cipher and hash, the watchdog setting and crmsh\'s extras kept, ringnumber read as linknumber', () => {
    const kept = settingsToKeep(parseCorosyncConf(crmsh), inv);
    expect(Object.fromEntries(kept)).to.deep.equal({
      'totem.clear_node_high_bit': 'yes',
      'totem.interface[0].ttl': '1',
      'resources.watchdog_device': 'off',
      'totem.crypto_cipher': 'aes256',
      'totem.crypto_hash': 'sha1',
    });
    const rendered = renderCorosyncConf({ inv, major: 3, timings: {}, kept });
    if (!rendered.ok) throw new Error(rendered.error.message);
    expect(rendered.value).to.include('crypto_hash: sha1').and.include('watchdog_device: off').and.include('clear_node_high_bit: yes');
    expect(nodelistChange(crmsh, rendered.value)).to.deep.equal({ added: [], removed: [], changed: [] });
    expect(corosyncChangeKind(crmsh, rendered.value)).to.equal('reload');
    // Without keeping, the hash alone would split old from new: every node restarted together.
    const bare = renderCorosyncConf({ inv, major: 3, timings: {} });
    expect(bare.ok && corosyncChangeKind(crmsh, bare.value)).to.equal('full');
  });
});
