import { expect } from 'chai';
import { changedLines } from '../../src/render/diff.ts';
import { applyRewrites, describeRewrite, planRewrites, renderPlanDiff, settingsToMove, type RewritePlan } from '../../src/openstack/rewrites.ts';
import { labInventory, PUBLIC_VIP, VIP } from './fixtures.ts';

// A Folsom-era glance-api.conf as the articles describe it (old option names, node addresses).
const LEGACY_GLANCE = [
  '[DEFAULT]',
  '# Show more verbose log output (sets INFO log level output)',
  'verbose = True',
  '',
  '# Address to bind the API server',
  'bind_host = 0.0.0.0',
  'bind_port = 9292',
  '',
  '# SQLAlchemy connection string for the reference implementation',
  'sql_connection = mysql://glance:Gl4nce-pw@198.18.0.11/glance',
  '',
  '# Address to find the registry server',
  'registry_host = 198.18.0.11',
  'registry_port = 9191',
  '',
  'notifier_strategy = rabbit',
  'rabbit_host = localhost',
  'rabbit_port = 5672',
  'rabbit_password = R4bbit-pw',
  '',
  '[keystone_authtoken]',
  'auth_host = 127.0.0.1',
  'auth_port = 35357',
  'auth_protocol = http',
  'admin_password = Ks-pw',
  '',
  '[paste_deploy]',
  'flavor = keystone',
  '',
].join('\n');

const GLANCE = '/etc/glance/glance-api.conf';
const NOVA = '/etc/nova/nova.conf';

function plan(files: Record<string, string>, service: 'glance' | 'nova' | 'keystone' = 'glance', inv = labInventory(), release?: 'legacy' | 'current'): RewritePlan {
  const r = planRewrites(inv, service, files, release ? { release } : {});
  if (!r.ok) throw new Error(r.error.message);
  return r.value;
}

function rewritten(p: RewritePlan, files: Record<string, string>): Record<string, string> {
  const r = applyRewrites(p, files);
  if (!r.ok) throw new Error(r.error.message);
  return { ...files, ...Object.fromEntries(r.value.map((c) => [c.file, c.after])) };
}

describe('rewrite plan: article-era option names', () => {
  const files = { [GLANCE]: LEGACY_GLANCE };

  it('points bind_host, sql_connection, registry_host, rabbit_host and auth_host at the VIP', () => {
    const p = plan(files);
    expect(p.entries.map((e) => `[${e.section}] ${e.key} = ${e.value}`)).to.have.members([
      `[DEFAULT] bind_host = ${VIP}`,
      `[DEFAULT] sql_connection = mysql://glance:Gl4nce-pw@${VIP}/glance`,
      `[DEFAULT] registry_host = ${VIP}`,
      `[DEFAULT] rabbit_host = ${VIP}`,
      `[keystone_authtoken] auth_host = ${VIP}`,
    ]);
    const after = rewritten(p, files)[GLANCE]!;
    expect(changedLines(LEGACY_GLANCE, after).map((l) => l.op + l.text.trimEnd())).to.deep.equal([
      '-bind_host = 0.0.0.0',
      `+bind_host = ${VIP}`,
      '-sql_connection = mysql://glance:Gl4nce-pw@198.18.0.11/glance',
      `+sql_connection = mysql://glance:Gl4nce-pw@${VIP}/glance`,
      '-registry_host = 198.18.0.11',
      `+registry_host = ${VIP}`,
      '-rabbit_host = localhost',
      `+rabbit_host = ${VIP}`,
      '-auth_host = 127.0.0.1',
      `+auth_host = ${VIP}`,
    ]);
  });

  it('plans nothing on a second run', () => {
    const once = rewritten(plan(files), files);
    expect(plan(once).entries).to.deep.equal([]);
  });

  it('adds rabbit_host when notifier_strategy = rabbit relies on its localhost default', () => {
    const text = LEGACY_GLANCE.replace('rabbit_host = localhost\n', '');
    const p = plan({ [GLANCE]: text });
    const added = p.entries.find((e) => e.key === 'rabbit_host');
    expect(added).to.include({ section: 'DEFAULT', value: VIP, previous: undefined });
  });

  it('adds registry_host only for a release whose sample knows it', () => {
    const current = '[DEFAULT]\n#bind_host = 0.0.0.0\n';
    expect(plan({ [GLANCE]: current }).entries.map((e) => e.key)).to.deep.equal(['bind_host']);
    const legacySample = '[DEFAULT]\n#bind_host = 0.0.0.0\n#registry_host = 0.0.0.0\n';
    expect(plan({ [GLANCE]: legacySample }).entries.map((e) => e.key)).to.deep.equal(['bind_host', 'registry_host']);
  });

  it('never prints the passwords it keeps', () => {
    const p = plan(files);
    const json = JSON.stringify(p);
    const text = p.entries.map(describeRewrite).join('\n') + renderPlanDiff(applyRewritesOk(p, files));
    for (const out of [json, text]) {
      expect(out).not.to.contain('Gl4nce-pw');
      expect(out).not.to.contain('R4bbit-pw');
      expect(out).not.to.contain('Ks-pw');
    }
    expect(text).to.contain(`mysql://glance:***@${VIP}/glance`);
    // The entry itself still carries the real value, to be written to the file.
    expect(p.entries.find((e) => e.key === 'sql_connection')!.value).to.contain('Gl4nce-pw');
  });
});

function applyRewritesOk(p: RewritePlan, files: Record<string, string>) {
  const r = applyRewrites(p, files);
  if (!r.ok) throw new Error(r.error.message);
  return r.value;
}

describe('rewrite plan: choosing option names and targets', () => {
  it('adds [glance] api_servers for a current nova, glance_api_servers in [DEFAULT] for an old one', () => {
    const current = '[DEFAULT]\n[glance]\n#api_servers = <None>\n';
    expect(plan({ [NOVA]: current }, 'nova').entries.map((e) => `[${e.section}] ${e.key} = ${e.value}`)).to.deep.equal([
      `[glance] api_servers = http://${VIP}:9292`,
    ]);
    const old = '[DEFAULT]\n#glance_api_servers = $glance_host:$glance_port\n';
    expect(plan({ [NOVA]: old }, 'nova').entries.map((e) => `[${e.section}] ${e.key}`)).to.deep.equal(['[DEFAULT] glance_api_servers']);
    expect(plan({ [NOVA]: '' }, 'nova', labInventory(), 'legacy').entries.map((e) => `[${e.section}] ${e.key}`)).to.deep.equal([
      '[DEFAULT] glance_api_servers',
    ]);
  });

  it('rewrites an option set under both its new and old names', () => {
    const text = '[DEFAULT]\nsql_connection = mysql://k:pw@alice/keystone\n[database]\nconnection = mysql://k:pw@alice/keystone\n';
    const p = plan({ '/etc/keystone/keystone.conf': text }, 'keystone');
    expect(p.entries.map((e) => `[${e.section}] ${e.key}`)).to.deep.equal(['[database] connection', '[DEFAULT] sql_connection']);
  });

  it('collapses api_servers listing every node into the VIP', () => {
    const text = '[glance]\napi_servers = http://198.18.0.11:9292,http://198.18.0.12:9292\n';
    expect(plan({ [NOVA]: text }, 'nova').entries[0]).to.include({ value: `http://${VIP}:9292` });
  });

  it('leaves the database and queue alone when the cluster does not run them', () => {
    const inv = labInventory({ services: ['keystone', 'glance-api'] });
    const text = '[DEFAULT]\ntransport_url = rabbit://o:pw@198.18.0.11:5672/\n[database]\nconnection = mysql+pymysql://g:pw@198.18.0.11/glance\n';
    expect(plan({ [GLANCE]: text }, 'glance', inv).entries.map((e) => e.key)).to.deep.equal(['bind_host']);
  });

  it('sends www_authenticate_uri to the public VIP and auth_url to the internal one', () => {
    const inv = labInventory({ public_vip: { address: PUBLIC_VIP, cidr_netmask: 24 } });
    const text = '[keystone_authtoken]\nwww_authenticate_uri = http://localhost:5000\nauth_url = http://localhost:5000\n';
    const p = plan({ [NOVA]: text }, 'nova', inv);
    expect(p.entries.map((e) => `${e.key} = ${e.value}`)).to.have.members([
      `www_authenticate_uri = http://${PUBLIC_VIP}:5000`,
      `auth_url = http://${VIP}:5000`,
      `api_servers = http://${VIP}:9292`,
    ]);
  });

  it('notes hosts that are not cluster nodes and leaves them', () => {
    const text = '[database]\nconnection = mysql+pymysql://n:pw@db.example/nova\n';
    const p = plan({ [NOVA]: text }, 'nova');
    expect(p.entries.filter((e) => e.key === 'connection')).to.deep.equal([]);
    expect(p.notes.join('\n')).to.contain('db.example is not a cluster node');
  });

  it('treats hosts given in localHosts as the node itself', () => {
    const text = '[database]\nconnection = mysql+pymysql://n:pw@controller/nova\n';
    const r = planRewrites(labInventory(), 'nova', { [NOVA]: text }, { localHosts: ['controller'] });
    expect(r.ok && r.value.entries.find((e) => e.key === 'connection')?.value).to.equal(`mysql+pymysql://n:pw@${VIP}/nova`);
  });

  it("points neutron's metadata agent at nova's metadata API on the VIP (under either name, or added), only when the cluster runs it", () => {
    const METADATA = '/etc/neutron/metadata_agent.ini';
    const names = (text: string, inv = labInventory()) => {
      const r = planRewrites(inv, 'neutron', { [METADATA]: text }, { localHosts: ['controller'] });
      if (!r.ok) throw new Error(r.error.message);
      return r.value.entries.map((e) => `${e.key} = ${e.value}`);
    };
    expect(names('[DEFAULT]\nnova_metadata_host = controller\nmetadata_proxy_shared_secret = S3cret\n')).to.deep.equal([`nova_metadata_host = ${VIP}`]);
    expect(names('[DEFAULT]\nnova_metadata_ip = 198.18.0.12\n')).to.deep.equal([`nova_metadata_ip = ${VIP}`]);
    // Debian's default (127.0.0.1, commented out) misses an active-active API bound to the node's address.
    expect(names('[DEFAULT]\n#nova_metadata_host = 127.0.0.1\n')).to.deep.equal([`nova_metadata_host = ${VIP}`]);
    expect(names('[DEFAULT]\nnova_metadata_host = controller\n', labInventory({ services: ['mysql', 'rabbitmq', 'keystone', 'nova-api', 'neutron-server'] }))).to.deep.equal([]);
  });

  it("moves heat's metadata and wait-condition URLs (its CloudFormation API, port 8000) only when the cluster runs heat-api-cfn", () => {
    const HEAT = '/etc/heat/heat.conf';
    const text = '[DEFAULT]\nheat_metadata_server_url = http://198.18.0.11:8000\nheat_waitcondition_server_url = http://198.18.0.11:8000/v1/waitcondition\n';
    const keys = (services: string[]) => {
      const r = planRewrites(labInventory({ services }), 'heat', { [HEAT]: text });
      if (!r.ok) throw new Error(r.error.message);
      return r.value.entries.map((e) => `${e.key} = ${e.value}`);
    };
    expect(keys(['keystone', 'heat-api', 'heat-api-cfn'])).to.deep.equal([`heat_metadata_server_url = http://${VIP}:8000`, `heat_waitcondition_server_url = http://${VIP}:8000/v1/waitcondition`]);
    expect(keys(['keystone', 'heat-api'])).to.deep.equal([]);
  });

  it('refuses an unknown service with a message', () => {
    const r = planRewrites(labInventory(), 'swift' as never, {});
    expect(r.ok).to.equal(false);
    expect(!r.ok && r.error.message).to.contain('unknown OpenStack service "swift"');
  });
});

describe('a directory neutron also reads (server.conf.d): what its files set that osha moves', () => {
  const inv = labInventory();
  it('names the options a file there sets to a node\'s own address, without their values', () => {
    const text = '[DEFAULT]\ntransport_url = rabbit://openstack:S3cret@198.18.0.11:5672/\n\n[database]\nconnection = mysql+pymysql://neutron:S3cret@alice/neutron\n\n[ml2]\ntype_drivers = flat,vlan\n';
    const moved = settingsToMove(inv, 'neutron', '/etc/neutron/neutron.conf', text);
    expect(moved.ok && moved.value).to.deep.equal(['[database] connection', '[DEFAULT] transport_url']);
  });
  it('names nothing for a file that sets nothing osha moves, or already points at the VIP, and adds nothing', () => {
    expect(settingsToMove(inv, 'neutron', '/etc/neutron/neutron.conf', '[ml2]\nmechanism_drivers = openvswitch\n')).to.deep.equal({ ok: true, value: [] });
    expect(settingsToMove(inv, 'neutron', '/etc/neutron/neutron.conf', `[DEFAULT]\ntransport_url = rabbit://openstack:S3cret@${VIP}:5672/\n`)).to.deep.equal({ ok: true, value: [] });
    expect(settingsToMove(inv, 'neutron', '/etc/neutron/neutron.conf', '')).to.deep.equal({ ok: true, value: [] });
  });
});
