// The wizard's prompt checks (which run the inventory schema) and the YAML it writes.
import { expect } from 'chai';
import { parseInventory } from '../../src/inventory/load.ts';
import { ARTICLE_SERVICES } from '../../src/inventory/services.ts';
import { renderInventory, type WizardAnswers } from '../../src/wizard/render.ts';
import * as v from '../../src/wizard/validators.ts';

const nodes = [
  { name: 'alpha', address: '198.18.0.11' },
  { name: 'bravo', address: '198.18.0.12' },
];

describe('wizard validators', () => {
  it('check single fields with the schema\'s own messages', () => {
    expect(v.checkClusterName('openstack-ha')).to.equal(true);
    expect(v.checkClusterName('my cluster')).to.match(/must be a cluster name/);
    expect(v.checkAddressFormat('198.18.0.256')).to.equal('must be an IPv4 or IPv6 address, such as 198.18.0.11');
    expect(v.checkAddressFormat('2001:db8::5')).to.equal(true);
    expect(v.checkPort(0)).to.equal('must be a TCP port from 1 to 65535');
    expect(v.checkUser('Root')).to.match(/Unix user name/);
    expect(v.checkEnvName('OS_PASSWORD')).to.equal(true);
    expect(v.checkEnvName('1PASS')).to.match(/environment variable name/);
    expect(v.checkFenceAgent('ipmilan')).to.match(/fence agent name/);
    expect(v.checkNic('')).to.equal(true);
  });

  it('refuse a node name or address already taken, naming the other node', () => {
    expect(v.checkNewNodeName([], 'alpha')).to.equal(true);
    expect(v.checkNewNodeName(nodes, 'charlie')).to.equal(true);
    expect(v.checkNewNodeName(nodes, 'bravo')).to.equal('node name "bravo" is also used by node bravo; give every node its own name');
    expect(v.checkNewNodeName(nodes, 'Bad_Name')).to.match(/hostname label/);
    expect(v.checkNewNodeAddress([nodes[0]!], 'bravo', '198.18.0.11')).to.equal('address 198.18.0.11 is also used by node alpha; give every node its own address');
    expect(v.checkNewNodeAddress(nodes, 'charlie', '198.18.0.13')).to.equal(true);
    // The stand-in addresses used to complete the draft never collide with a real answer.
    expect(v.checkNewNodeAddress([], 'alpha', '0.0.0.1')).to.equal(true);
  });

  it('refuse a VIP that a node owns or that lies outside the nodes\' subnet', () => {
    expect(v.checkVip(nodes, '198.18.0.100', 24)).to.equal(true);
    expect(v.checkVip(nodes, '198.18.0.12', 24)).to.equal('198.18.0.12 is the address of node bravo; the VIP must be a free address that no node owns');
    expect(v.checkVip(nodes, '198.19.0.100', 24)).to.match(/is not in the subnet of any node/);
    expect(v.checkVip(nodes, '198.19.0.100', 15)).to.equal(true);
    expect(v.checkVip(nodes, '198.18.0.100', 33)).to.match(/IPv4 prefix length is at most 32/);
    expect(v.checkPublicVip({ nodes, vip: { address: '198.18.0.100', cidr_netmask: 24 } }, '198.18.0.100', 24)).to.match(/public_vip must differ from vip/);
  });

  it('suggest a free VIP and the next node address', () => {
    expect(v.suggestVip(nodes, 24)).to.equal('198.18.0.100');
    const busy = [...nodes, { name: 'c', address: '198.18.0.100' }];
    expect(v.suggestVip(busy, 24)).to.equal('198.18.0.254');
    expect(v.suggestVip([{ name: 'a', address: '198.18.0.1' }, { name: 'b', address: '198.18.0.2' }], 30)).to.equal(undefined);
    expect(v.suggestVip([{ name: 'a', address: '2001:db8::11' }], 64)).to.equal('2001:db8::64');
    expect(v.nextAddress('198.18.0.255')).to.equal('198.18.1.0');
    expect(v.nextAddress('2001:db8::ffff')).to.equal('2001:db8::1:0');
    expect(v.nextAddress('255.255.255.255')).to.equal(undefined);
  });
});

describe('wizard inventory writer', () => {
  const answers: WizardAnswers = {
    clusterName: 'c1',
    nodes,
    ssh: { user: 'ubuntu', port: 2222, privateKey: '~/.ssh/id ed25519', knownHosts: '~/.ssh/known_hosts', agent: true, sudo: { password: { env: 'SUDO_PW' } } },
    vip: { address: '198.18.0.100', cidr_netmask: 24 },
    services: ARTICLE_SERVICES,
    stonith: {
      enabled: true,
      devices: nodes.map((n, i) => ({ name: `fence-${n.name}`, agent: 'fence_ipmilan', node: n.name, params: { ip: `198.18.1.${11 + i}`, username: 'admin', lanplus: 1 }, password: { env: 'IPMI_PASSWORD' } })),
    },
    openstack: { auth_url: 'http://198.18.0.100:5000/v3', username: 'admin', project: 'admin', password: { file: '/etc/osha/os password' } },
  };

  it('writes commented YAML that the inventory loader accepts unchanged', () => {
    const text = renderInventory(answers);
    const r = parseInventory(text, 'x.yaml');
    if (!r.ok) throw new Error(JSON.stringify(r.error));
    expect(r.value.ssh).to.include({ user: 'ubuntu', port: 2222, private_key: '~/.ssh/id ed25519' });
    expect(r.value.stonith.devices.map((d) => d.password)).to.deep.equal([{ env: 'IPMI_PASSWORD' }, { env: 'IPMI_PASSWORD' }]);
    expect(r.value.openstack?.password).to.deep.equal({ file: '/etc/osha/os password' });
    expect(text).to.match(/^# osha inventory written by `osha init`/);
    expect(text).to.include('# Fencing: Pacemaker powers off a node');
    // Shared references are written out each time, not as YAML anchors a person must decode.
    expect(text).to.not.match(/[&*]a\d/);
  });

  it('explains in the file that fencing is off by choice', () => {
    const text = renderInventory({ ...answers, stonith: { enabled: false } });
    expect(text).to.include('# Fencing is OFF by an explicit choice');
    const r = parseInventory(text, 'x.yaml');
    if (!r.ok) throw new Error(JSON.stringify(r.error));
    expect(r.value.stonith).to.deep.equal({ enabled: false, devices: [], unsafe_no_fencing: true });
  });
});
