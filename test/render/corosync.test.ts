// corosync.conf rendering and change classification, checked without a network.
import { expect } from 'chai';
import { parseInventory } from '../../src/inventory/load.ts';
import { renderCorosyncConf, parseCorosyncConf, corosyncChangeKind, loadedChangeKind, networkAddress, nodelistChange, worstChange } from '../../src/render/corosync.ts';
import { parseCmap } from '../../src/facts/cmap.ts';
import { totemTuning } from '../../src/cluster/profiles.ts';
import type { Inventory } from '../../src/inventory/schema.ts';

function inventory(extra = '', nodes = 3): Inventory {
  const list = Array.from({ length: nodes }, (_, i) => `  - { name: n${i + 1}, address: 198.18.0.${11 + i} }`).join('\n');
  const r = parseInventory(`cluster: { name: c1 }\nnodes:\n${list}\nvip: { address: 198.18.0.100, cidr_netmask: 24 }\n${nodes === 2 && !extra.includes('stonith') ? 'stonith: { unsafe_no_fencing: true }\n' : ''}${extra}`, 'x.yaml');
  if (!r.ok) throw new Error(r.error.map((p) => p.message).join('; '));
  return r.value;
}

const render = (inv: Inventory, major: 2 | 3 = 3) => {
  const r = renderCorosyncConf({ inv, major, timings: { ...totemTuning(inv.corosync.profile, inv.nodes.length, inv.corosync.token_timeout) } });
  if (!r.ok) throw new Error(r.error.message);
  return r.value;
};

describe('corosync.conf renderer', () => {
  it('renders corosync 3 knet with aes256/sha256, a named nodelist and votequorum', () => {
    const conf = parseCorosyncConf(render(inventory()));
    expect(conf.get('totem.transport')).to.equal('knet');
    expect(conf.get('totem.crypto_cipher')).to.equal('aes256');
    expect(conf.get('totem.crypto_hash')).to.equal('sha256');
    expect(conf.get('totem.cluster_name')).to.equal('c1');
    expect(conf.get('nodelist.node[2].name')).to.equal('n3');
    expect(conf.get('nodelist.node[2].nodeid')).to.equal('3');
    expect(conf.get('nodelist.node[2].ring0_addr')).to.equal('198.18.0.13');
    expect(conf.get('quorum.provider')).to.equal('corosync_votequorum');
    expect(conf.has('quorum.two_node')).to.equal(false);
  });

  it('sets two_node for two nodes only', () => {
    expect(parseCorosyncConf(render(inventory('', 2))).get('quorum.two_node')).to.equal('1');
  });

  it('takes the token from the profile or the inventory override', () => {
    expect(parseCorosyncConf(render(inventory())).get('totem.token')).to.equal('3000');
    expect(parseCorosyncConf(render(inventory('corosync: { profile: fast }'))).get('totem.token')).to.equal('1000');
    expect(parseCorosyncConf(render(inventory('corosync: { token_timeout: 4200 }'))).get('totem.token')).to.equal('4200');
  });

  it('refuses udpu with crypto on corosync 3 (it would send clear text), allows it without', () => {
    const inv = inventory('corosync: { transport: udpu }');
    const r = renderCorosyncConf({ inv, major: 3, timings: { token: 3000 } });
    expect(r.ok).to.equal(false);
    if (!r.ok) expect(r.error.fix).to.match(/knet/);
    const plain = parseCorosyncConf(render(inventory('corosync: { transport: udpu, crypto: false }')));
    expect(plain.get('totem.transport')).to.equal('udpu');
    expect(plain.has('totem.crypto_cipher')).to.equal(false);
  });

  it('renders corosync 2 as udpu with secauth and a bindnetaddr', () => {
    const conf = parseCorosyncConf(render(inventory(), 2));
    expect(conf.get('totem.transport')).to.equal('udpu');
    expect(conf.get('totem.secauth')).to.equal('on');
    expect(conf.get('totem.interface[0].bindnetaddr')).to.equal('198.18.0.0');
    expect(networkAddress('198.18.5.77', 24)).to.equal('198.18.5.0');
  });

  it('is deterministic: the same inventory gives the same bytes', () => {
    expect(render(inventory())).to.equal(render(inventory()));
  });

  it('classifies changes: timings reload, name/crypto/port need all nodes together, the rest rolls', () => {
    const base = render(inventory());
    expect(corosyncChangeKind(base, base)).to.equal('none');
    expect(corosyncChangeKind(base, render(inventory('corosync: { token_timeout: 5000 }')))).to.equal('reload');
    expect(corosyncChangeKind(base, render(inventory('corosync: { port: 5407 }')))).to.equal('full');
    expect(corosyncChangeKind(base, render(inventory('corosync: { crypto: false }')))).to.equal('full');
    expect(corosyncChangeKind(base, base.replace('ring0_addr: 198.18.0.13', 'ring0_addr: 198.18.0.23'))).to.equal('rolling');
  });

  it('reads what corosync loaded (corosync-cmapctl) and sees a current file that was never applied', () => {
    // corosync-cmapctl prints the file's keys with numbered repeated blocks and a type.
    const cmapOf = (conf: string) =>
      [...parseCorosyncConf(conf)].map(([k, v]) => `${k.replace(/\[(\d+)\]/g, '.$1')} (${/^\d+$/.test(v) ? 'u32' : 'str'}) = ${v}`).join('\n') +
      '\nruntime.config.totem.token (u32) = 3650\n';
    const two = render(inventory('', 2));
    const three = render(inventory());
    const loaded = parseCmap(cmapOf(two));
    expect(loaded.get('nodelist.node[1].ring0_addr')).to.equal('198.18.0.12');
    expect(loaded.get('quorum.two_node')).to.equal('1');
    expect(loadedChangeKind(loaded, two)).to.equal('none');
    expect(loadedChangeKind(parseCmap(cmapOf(three)), three)).to.equal('none');
    // The run wrote the 3-node file and was cut short before `corosync-cfgtool -R`.
    expect(loadedChangeKind(loaded, three)).to.equal('reload');
    expect(loadedChangeKind(parseCmap(cmapOf(three)), render(inventory('corosync: { token_timeout: 5000 }')))).to.equal('reload');
    expect(loadedChangeKind(parseCmap(cmapOf(three)), three.replace('ring0_addr: 198.18.0.13', 'ring0_addr: 198.18.0.23'))).to.equal('rolling');
    expect(worstChange('none', 'reload', 'rolling')).to.equal('rolling');
    expect(worstChange('none', 'none')).to.equal('none');
  });

  it('classifies nodes joining or leaving: a reload on corosync 3 (two_node follows the count), a restart on corosync 2', () => {
    const two = render(inventory('', 2));
    const three = render(inventory());
    expect(parseCorosyncConf(two).get('quorum.two_node')).to.equal('1');
    expect(nodelistChange(two, three)).to.deep.equal({ added: ['n3'], removed: [], changed: [] });
    expect(corosyncChangeKind(two, three, 3)).to.equal('reload');
    expect(corosyncChangeKind(three, two, 3)).to.equal('reload');
    expect(nodelistChange(three, two).removed).to.deep.equal(['n3']);
    expect(corosyncChangeKind(render(inventory('', 2), 2), render(inventory(), 2), 2)).to.equal('rolling');
    // A node joining while another changes its address is not a pure membership change.
    expect(corosyncChangeKind(two, three.replace('ring0_addr: 198.18.0.11', 'ring0_addr: 198.18.0.21'), 3)).to.equal('rolling');
    // Joining together with an incompatible change is still all nodes at once.
    expect(corosyncChangeKind(two, render(inventory('corosync: { port: 5407 }')), 3)).to.equal('full');
  });
});
