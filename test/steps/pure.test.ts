// The pure parts of the deploy steps: decisions made from facts, tested without a network.
import { expect } from 'chai';
import { decideKey, keyFingerprint } from '../../src/steps/authkey.ts';
import { renderHostsBlock, withHostsBlock, HOSTS_BEGIN } from '../../src/render/hosts.ts';
import { aptInstallScript, clusterPackages } from '../../src/steps/packages.ts';
import { desiredProperties } from '../../src/steps/cluster-properties.ts';
import { dcDeadtime, seedCib } from '../../src/steps/cluster-start.ts';
import { clusterOptions } from '../../src/cluster/build.ts';
import { cibTools, disruptionOf } from '../../src/steps/resources.ts';
import { quote, sh, raw } from '../../src/ssh/quote.ts';
import { checkHostKey, parseKnownHosts, hostKeyName, entryMatches } from '../../src/ssh/known-hosts.ts';
import { parseInventory } from '../../src/inventory/load.ts';
import type { Inventory } from '../../src/inventory/schema.ts';
import type { OsFacts, UnitState } from '../../src/facts/host.ts';
import { companionNote, companionUnits, maskActions } from '../../src/steps/init-services.ts';
import { ok, type Result } from '../../src/util/result.ts';
import type { HostConnection } from '../../src/ssh/connection.ts';

function inv(extra = '', nodes = 3): Inventory {
  const list = Array.from({ length: nodes }, (_, i) => `  - { name: n${i + 1}, address: 198.18.0.${11 + i} }`).join('\n');
  const r = parseInventory(`cluster: { name: c1 }\nnodes:\n${list}\nvip: { address: 198.18.0.100, cidr_netmask: 24 }\n${nodes === 2 && !extra.includes('stonith') ? 'stonith: { unsafe_no_fencing: true }\n' : ''}${extra}`, 'x.yaml');
  if (!r.ok) throw new Error(r.error.map((p) => p.message).join('; '));
  return r.value;
}

describe('authkey decisions', () => {
  const f = (sha256?: string, managed = true) => ({ sha256, managed });
  it('generates when no node has a key, keeps when all agree, copies to nodes without one', () => {
    expect(decideKey(new Map([['a', f()], ['b', f()]]), false).kind).to.equal('generate');
    expect(decideKey(new Map([['a', f('k1')], ['b', f('k1')]]), false)).to.deep.equal({ kind: 'keep', sha256: 'k1' });
    expect(decideKey(new Map([['a', f('k1')], ['b', f()]]), false)).to.deep.equal({ kind: 'copy', sha256: 'k1', from: 'a' });
  });
  it('refuses nodes that disagree on an osha cluster unless --regenerate-key', () => {
    const facts = new Map([['a', f('k1')], ['b', f('k2')]]);
    expect(decideKey(facts, false).kind).to.equal('conflict');
    expect(decideKey(facts, true).kind).to.equal('generate');
  });
  it('replaces unrelated package-made keys on nodes osha never configured', () => {
    expect(decideKey(new Map([['a', f('k1', false)], ['b', f('k2', false)]]), false).kind).to.equal('generate');
  });
  it('shows only a short fingerprint', () => {
    expect(keyFingerprint('ab'.repeat(32))).to.equal('sha256:abababababababab');
  });
});

describe('/etc/hosts managed block', () => {
  it('appends once, then replaces in place, never touching other lines', () => {
    const block = renderHostsBlock(inv());
    const original = '127.0.0.1 localhost\n# keep me\n';
    const once = withHostsBlock(original, block);
    expect(once.startsWith(original)).to.equal(true);
    expect(withHostsBlock(once, block)).to.equal(once);
    const changed = renderHostsBlock(inv('', 2));
    const twice = withHostsBlock(`${once}10.9.9.9 other\n`, changed);
    expect(twice).to.equal(`${original}${changed}10.9.9.9 other\n`);
    expect(twice.split(HOSTS_BEGIN).length).to.equal(2);
  });
});

describe('packages and properties', () => {
  const os = (family: OsFacts['family']) => ({ family }) as OsFacts;
  it('picks crmsh on Debian and pcs on RHEL', () => {
    expect(clusterPackages(os('debian'), false)).to.include('crmsh');
    // resource-agents' rabbitmq-cluster and galera read crm_mon's XML with xmllint, a recommends only.
    expect(clusterPackages(os('debian'), false)).to.include('libxml2-utils');
    expect(clusterPackages(os('rhel'), true)).to.include.members(['pcs', 'fence-agents-all']);
  });
  it('wraps apt in a policy-rc.d that osha marks and removes', () => {
    const s = aptInstallScript(['pacemaker', "x'y"]);
    expect(s).to.include('policy-rc.d').and.include('exit 101').and.include(`'x'\\''y'`);
    // A node cut off mid-install: dpkg finished, half-installed packages reinstalled.
    expect(s).to.include('dpkg --configure -a').and.include('--reinstall');
  });
  it('resolves quorum policy auto and says why', () => {
    const p = clusterOptions(inv());
    expect(p.find((x) => x.name === 'no-quorum-policy')).to.include({ value: 'stop' }).and.have.property('why').that.match(/auto: stop/);
    expect(p.find((x) => x.name === 'fencing')?.value).to.equal('false');
    expect(clusterOptions(inv('quorum: { policy: freeze }')).find((x) => x.name === 'no-quorum-policy')?.value).to.equal('freeze');
  });
  it('gives small clusters a short DC wait, large ones the long one, and seeds the first CIB with the value the properties step keeps', () => {
    expect([2, 3, 4].map(dcDeadtime)).to.deep.equal(['2s', '2s', '2s']);
    expect([5, 8, 16].map(dcDeadtime)).to.deep.equal(['5s', '5s', '5s']);
    for (const n of [3, 16]) {
      const kept = desiredProperties(n).find((p) => p.name === 'dc-deadtime')?.value;
      expect(seedCib(dcDeadtime(n))).to.include(`name="dc-deadtime" value="${kept}"`);
    }
  });
  it('has one writer per cluster property: the properties step and the resource model share none', () => {
    const model = clusterOptions(inv()).flatMap((o) => (o.name === 'fencing' ? ['stonith-enabled', 'fencing-enabled'] : [o.name]));
    const step = desiredProperties(3).map((p) => p.name);
    expect(step.length).to.be.greaterThan(0);
    expect(step.filter((n) => model.includes(n))).to.deep.equal([]);
  });
});

describe('shell quoting', () => {
  it('leaves plain words readable and single-quotes everything else', () => {
    expect(quote('node1')).to.equal('node1');
    expect(quote('')).to.equal("''");
    expect(quote('a b;rm -rf /')).to.equal("'a b;rm -rf /'");
    expect(quote("it's")).to.equal(`'it'\\''s'`);
    expect(sh`echo ${'$(id)'} ${['a', 'b c']} ${raw('|| true')}`).to.equal("echo '$(id)' a 'b c' || true");
  });
});

describe('known_hosts matching', () => {
  const key = Buffer.from('AAAAC3NzaC1lZDI1NTE5AAAAIB5Lw7m1', 'base64');
  it('matches plain, wildcard and bracketed port entries, and honours negation', () => {
    const entries = parseKnownHosts(`198.18.0.*,!198.18.0.99 ssh-ed25519 ${key.toString('base64')}\n[h]:2222 ssh-ed25519 ${key.toString('base64')}\n`);
    expect(entryMatches(entries[0]!, '198.18.0.11')).to.equal(true);
    expect(entryMatches(entries[0]!, '198.18.0.99')).to.equal(false);
    expect(hostKeyName('h', 2222)).to.equal('[h]:2222');
    expect(checkHostKey(entries, 'h', 2222, key).kind).to.equal('match');
    expect(checkHostKey(entries, 'h', 22, key).kind).to.equal('unknown');
    expect(checkHostKey(entries, '198.18.0.11', 22, Buffer.from('other')).kind).to.equal('mismatch');
  });
});

describe('what interrupts service in a CIB change', () => {
  const sim = (actions: { action: string; resource: string }[]) => ({ actions }) as unknown as Parameters<typeof disruptionOf>[1];
  it('a fence device restarted (its parameters changed) or deleted (its node left) is not disruptive', () => {
    expect(disruptionOf([{ change: 'remove', id: 'osha-fence-node2', tag: 'primitive' }], sim([{ action: 'restart', resource: 'osha-fence-node1' }]))).to.equal(undefined);
  });
  it('a service stopped, moved or deleted is', () => {
    expect(disruptionOf([], sim([{ action: 'move', resource: 'osha-vip' }]))).to.equal('Pacemaker predicts: move osha-vip');
    expect(disruptionOf([{ change: 'remove', id: 'osha-keystone', tag: 'primitive' }], undefined)).to.equal('deletes osha-keystone');
  });
});

describe('init-services: the units Pacemaker will own', () => {
  /** A host whose connection records each command and answers with `answer` (a stand-in: no node). */
  const host = (answer: Result<unknown>) => {
    const ran: string[] = [];
    const c = { run: async (command: string) => (ran.push(command), answer) } as unknown as HostConnection;
    return { ran, h: { host: 'n1', c, os: { init: 'systemd' } as OsFacts } };
  };
  const state = (active: string): UnitState => ({ exists: true, enabled: 'enabled', active });
  const units = [
    { unit: 'mariadb', state: state('active') },
    { unit: 'rabbitmq-server', state: state('inactive') },
    { unit: 'keystone', state: state('active') },
  ];

  it('one action per unit, running ones marked disruptive, one command for them all', async () => {
    const { ran, h } = host(ok({ code: 0, stdout: '', stderr: '' }));
    const actions = maskActions(h, units);
    expect(actions.map((a) => a.summary)).to.deep.equal(['mariadb', 'rabbitmq-server', 'keystone'].map((u) => `stop, disable and mask ${u} (Pacemaker owns it)`));
    expect(actions.map((a) => Boolean(a.disruptive))).to.deep.equal([true, false, true]);
    for (const a of actions) expect((await a.apply()).ok).to.equal(true);
    expect(ran).to.deep.equal(['systemctl disable --now mariadb.service rabbitmq-server.service keystone.service && systemctl mask mariadb.service rabbitmq-server.service keystone.service']);
  });

  it('names the units of services a listed one needs (neutron\'s RPC server, nova\'s placement and metadata API, heat\'s CloudFormation API) when the inventory leaves them out, and says what to do', () => {
    expect(companionUnits(['keystone', 'neutron-server'])).to.deep.equal([{ service: 'neutron-rpc-server', of: 'neutron-server', unit: 'neutron-rpc-server' }]);
    expect(companionUnits(['neutron-server', 'neutron-rpc-server'])).to.deep.equal([]);
    expect(companionUnits(['keystone', 'glance-api'])).to.deep.equal([]);
    expect(companionUnits(['nova-api', 'neutron-server', 'neutron-rpc-server'])).to.deep.equal([{ service: 'placement-api', of: 'nova-api', unit: 'placement-api' }]);
    // In another group, still on the same node: neutron's metadata agent asks nova's metadata API.
    expect(companionUnits(['nova-api', 'placement-api', 'neutron-metadata-agent'])).to.deep.equal([{ service: 'nova-api-metadata', of: 'neutron-metadata-agent', unit: 'nova-api-metadata' }]);
    expect(companionUnits(['heat-api', 'heat-engine'])).to.deep.equal([{ service: 'heat-api-cfn', of: 'heat-api', unit: 'heat-api-cfn' }]);
    const [c] = companionUnits(['neutron-server']);
    // Not installed: nothing to say. Running under systemd: it stays there. Masked (an older osha
    // masked it with neutron-server): nothing runs it.
    expect(companionNote(c!, { exists: false, enabled: '', active: '' }, 'systemd')).to.equal(undefined);
    expect(companionNote(c!, state('active'), 'systemd')).to.equal(
      "neutron-rpc-server, which neutron-server needs, stays with systemd here, outside Pacemaker: list neutron-rpc-server under services and Pacemaker runs it beside neutron-server",
    );
    expect(companionNote(c!, { exists: true, enabled: 'masked', active: 'inactive' }, 'systemd')).to.equal(
      "neutron-rpc-server, which neutron-server needs, is masked and runs nowhere: list neutron-rpc-server under services and Pacemaker runs it beside neutron-server",
    );
  });

  it('a failed command fails every unit of it', async () => {
    const { ran, h } = host({ ok: false, error: { message: 'exit 1' } });
    const results = await Promise.all(maskActions(h, units).map((a) => a.apply()));
    expect(results.map((r) => r.ok)).to.deep.equal([false, false, false]);
    expect(ran).to.have.length(1);
  });
});

describe("resources: the settle wait (crm_resource --wait) on a stand-in connection, no node", () => {
  /** A host whose connection answers each `crm_resource --wait` with the next scripted exit code. */
  const host = (codes: number[]) => {
    const ran: string[] = [];
    const c = {
      target: { name: 'n1' },
      exec: async (command: string) => {
        ran.push(command);
        const code = codes.shift() ?? 0;
        return ok({ code, stdout: '', stderr: code === 71 ? 'Could not obtain the current CIB: Communication error on send (70)' : code === 124 ? 'Timed out' : '' });
      },
    } as unknown as HostConnection;
    return { ran, h: { host: 'n1', c, os: { init: 'systemd' } as OsFacts } };
  };

  it('waits again for the time left when it lost its connection to the CIB manager', async () => {
    const { ran, h } = host([71, 0]);
    expect((await cibTools(h, 60).settle()).ok).to.equal(true);
    expect(ran).to.have.length(2);
    expect(ran[0]).to.equal('crm_resource --wait --timeout=60s');
    expect(Number(/--timeout=(\d+)s/.exec(ran[1]!)![1])).to.be.within(57, 59);
  });

  it('ends at once on a timeout or any other failure, naming it', async () => {
    for (const code of [124, 1]) {
      const { ran, h } = host([code, 0]);
      const r = await cibTools(h, 60).settle();
      expect(r.ok).to.equal(false);
      expect(ran).to.have.length(1);
    }
  });

  it('ends during its pause between tries when the run is interrupted', async () => {
    const { ran, h } = host([71, 0]);
    const stop = new AbortController();
    const started = Date.now();
    setTimeout(() => stop.abort(), 50);
    const r = await cibTools(h, 60, stop.signal).settle();
    expect(r.ok).to.equal(false);
    expect(ran).to.have.length(1);
    expect(Date.now() - started).to.be.below(900);
  });

  it('gives up once its time is spent, with crm_resource\'s own message', async () => {
    const { ran, h } = host([71, 71, 71, 71, 71]);
    const r = await cibTools(h, 2).settle();
    if (r.ok) throw new Error('settled');
    expect(r.error.message).to.equal('the cluster did not settle within 2 s: Could not obtain the current CIB: Communication error on send (70)');
    expect(ran.length).to.be.within(1, 2);
  });
});
