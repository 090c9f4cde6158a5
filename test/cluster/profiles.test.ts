// Corosync tuning profiles: totem numbers per profile and node count, and what the plan says.
import { expect } from 'chai';
import { describeProfile, galeraEviction, inventoryProfile, realToken, totemTuning } from '../../src/cluster/profiles.ts';
import { GALERA_EVICTION_DEFAULTS } from '../../src/render/node-files.ts';
import { inventoryFrom } from './fixtures.ts';

describe('corosync tuning profiles', function () {
  it('default keeps corosync 3\'s own timeouts, fast shortens them', function () {
    expect(totemTuning('default', 2)).to.deep.equal({ token: 3000, token_coefficient: 650, consensus: 3600, join: 50, token_retransmits_before_loss_const: 4 });
    expect(totemTuning('fast', 2)).to.deep.include({ token: 1000, consensus: 1200 });
  });

  it('counts token_coefficient from the third node on, and keeps consensus at 1.2 × the real token', function () {
    expect(realToken(3000, 650, 2)).to.equal(3000);
    expect(realToken(3000, 650, 3)).to.equal(3650);
    expect(realToken(3000, 650, 5)).to.equal(4950);
    expect(totemTuning('default', 3).consensus).to.equal(4380);
    expect(totemTuning('fast', 3).consensus).to.equal(1500);
  });

  it('lets corosync.token_timeout replace the profile\'s token', function () {
    expect(totemTuning('fast', 2, 2000)).to.deep.include({ token: 2000, consensus: 2400 });
  });

  it('says in one sentence what each profile gives and costs', function () {
    const d = describeProfile('default', 3);
    expect(d.detectMs).to.equal(3650);
    expect(d.membershipMs).to.equal(3650 + 4380 + 50);
    expect(d.sentence).to.match(/^default: a failed node is detected in ~3\.7 s and the cluster re-forms within ~8\.1 s/);
    expect(d.sentence).to.include('cost: rides out');
    const f = describeProfile('fast', 3);
    expect(f.sentence).to.match(/^fast: a failed node is detected in ~1\.3 s/);
    expect(f.sentence).to.include('more false failovers');
    expect(describeProfile('fast', 2, 1500).sentence).to.match(/^fast \(token 1500 ms from corosync\.token_timeout\): a failed node is detected in ~1\.5 s/);
  });

  it("gives Galera's eviction corosync's pace: defaults with corosync's own timing, the real token rounded up otherwise", function () {
    // The default profile and anything with a real token of 3 s or more: Galera's own 5 s.
    expect(galeraEviction('default', 2)).to.deep.equal(GALERA_EVICTION_DEFAULTS);
    expect(galeraEviction('default', 3)).to.deep.equal(GALERA_EVICTION_DEFAULTS);
    expect(galeraEviction('fast', 3, 3000)).to.deep.equal(GALERA_EVICTION_DEFAULTS);
    // fast: 1.25 s at 3 nodes -> 2 s (the floor); 2.5 s at 8 nodes -> 3 s; 4.5 s at 16 nodes -> defaults.
    expect(galeraEviction('fast', 3)).to.deep.equal({ suspectMs: 2000, keepaliveMs: 500 });
    expect(galeraEviction('fast', 8)).to.deep.equal({ suspectMs: 3000, keepaliveMs: 750 });
    expect(galeraEviction('fast', 16)).to.deep.equal(GALERA_EVICTION_DEFAULTS);
    // A shorter token on the default profile counts too; keepalives always under a third (Galera's rule).
    expect(galeraEviction('default', 3, 500)).to.deep.equal({ suspectMs: 2000, keepaliveMs: 500 });
    for (let n = 2; n <= 16; n++) {
      const e = galeraEviction('fast', n);
      expect(e.keepaliveMs, `${n} nodes`).to.be.below(e.suspectMs / 3);
    }
  });

  it('reads the profile from the inventory', function () {
    const inv = inventoryFrom(`
cluster: { name: lab }
nodes: [{ name: a, address: 198.18.0.11 }, { name: b, address: 198.18.0.12 }]
stonith: { unsafe_no_fencing: true }
vip: { address: 198.18.0.100, cidr_netmask: 24 }
corosync: { profile: fast }
`);
    expect(inventoryProfile(inv).totem.token).to.equal(1000);
  });
});
