// The rewrite, end to end on the real default config files of the keystone, glance-common,
// nova-common, neutron-common, neutron-metadata-agent, cinder-common, heat-common and
// placement-common packages of Debian bookworm and of Debian trixie (OpenStack 2025.1).
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { changedLines, renderFileDiff, type DiffLine } from '../../src/render/diff.ts';
import { editIni, parseIni, serializeIni, type IniEdit } from '../../src/render/ini.ts';
import { applyStepsInMemory, backupPathFor, planFileWrite, planRestore } from '../../src/openstack/backup.ts';
import { applyRewrites, planRewrites, renderPlanDiff, type OpenStackService } from '../../src/openstack/rewrites.ts';
import { onTeardown } from '../support/teardown.ts';
import { DEBIAN_RELEASES, debianConfigs, type DebianRelease } from './debian-configs.ts';
import { labInventory, VIP } from './fixtures.ts';

const run = promisify(execFile);
const set = (section: string, key: string, value: string): IniEdit => ({ section, key, value });
const RABBIT = 'rabbit://openstack:Rabb1t@198.18.0.11:5672/';
const RABBIT_VIP = `rabbit://openstack:Rabb1t@${VIP}:5672/`;
const KS = 'http://localhost:5000';
const KS_VIP = `http://${VIP}:5000`;

interface Case {
  service: OpenStackService;
  /** What an installer leaves on one node before osha: its own address (or name) everywhere. */
  installed: IniEdit[];
  /** Every line the rewrite may change: [section, old line or null when added, new line]. */
  expected: [string, string | null, string][];
  /** The same for the untouched packaged file (Debian ships keystone URLs on localhost). */
  pristine: [string, string | null, string][];
}

const authtoken: Case['expected'] = [
  ['keystone_authtoken', `auth_url = ${KS}`, `auth_url = ${KS_VIP}`],
  ['keystone_authtoken', `www_authenticate_uri = ${KS}`, `www_authenticate_uri = ${KS_VIP}`],
];

const CASES: Record<string, Case> = {
  '/etc/keystone/keystone.conf': {
    service: 'keystone',
    installed: [set('database', 'connection', 'mysql+pymysql://keystone:K3y%2Fst0ne@198.18.0.11/keystone'), set('DEFAULT', 'transport_url', RABBIT)],
    expected: [
      ['DEFAULT', `transport_url = ${RABBIT}`, `transport_url = ${RABBIT_VIP}`],
      ['database', 'connection = mysql+pymysql://keystone:K3y%2Fst0ne@198.18.0.11/keystone', `connection = mysql+pymysql://keystone:K3y%2Fst0ne@${VIP}/keystone`],
    ],
    pristine: [],
  },
  '/etc/glance/glance-api.conf': {
    service: 'glance',
    installed: [
      set('database', 'connection', 'mysql+pymysql://glance:Gl4nce@alice/glance?charset=utf8'),
      set('DEFAULT', 'transport_url', 'rabbit://openstack:Rabb1t@198.18.0.11:5672,openstack:Rabb1t@198.18.0.12:5672/'),
    ],
    expected: [
      ['DEFAULT', null, `bind_host = ${VIP}`],
      ['DEFAULT', 'transport_url = rabbit://openstack:Rabb1t@198.18.0.11:5672,openstack:Rabb1t@198.18.0.12:5672/', `transport_url = ${RABBIT_VIP}`],
      ['database', 'connection = mysql+pymysql://glance:Gl4nce@alice/glance?charset=utf8', `connection = mysql+pymysql://glance:Gl4nce@${VIP}/glance?charset=utf8`],
      ...authtoken,
    ],
    pristine: [['DEFAULT', null, `bind_host = ${VIP}`], ...authtoken],
  },
  '/etc/nova/nova.conf': {
    service: 'nova',
    installed: [
      set('database', 'connection', 'mysql+pymysql://nova:N0va@198.18.0.11/nova'),
      set('api_database', 'connection', 'mysql+pymysql://nova:N0va@198.18.0.11/nova_api'),
      set('DEFAULT', 'transport_url', RABBIT),
      set('glance', 'api_servers', 'http://198.18.0.11:9292'),
      // nova-novncproxy is not a cluster service in this inventory: this line must stay.
      set('vnc', 'novncproxy_base_url', 'http://198.18.0.11:6080/vnc_auto.html'),
    ],
    expected: [
      ['DEFAULT', `transport_url = ${RABBIT}`, `transport_url = ${RABBIT_VIP}`],
      ['api_database', 'connection = mysql+pymysql://nova:N0va@198.18.0.11/nova_api', `connection = mysql+pymysql://nova:N0va@${VIP}/nova_api`],
      ['database', 'connection = mysql+pymysql://nova:N0va@198.18.0.11/nova', `connection = mysql+pymysql://nova:N0va@${VIP}/nova`],
      ['glance', 'api_servers = http://198.18.0.11:9292', `api_servers = http://${VIP}:9292`],
      ...authtoken,
      ['neutron', 'auth_url = http://127.0.0.1:5000', `auth_url = ${KS_VIP}`],
      ['placement', 'auth_url = http://localhost:5000/v3', `auth_url = ${KS_VIP}/v3`],
    ],
    pristine: [
      ['glance', null, `api_servers = http://${VIP}:9292`],
      ...authtoken,
      ['neutron', 'auth_url = http://127.0.0.1:5000', `auth_url = ${KS_VIP}`],
      ['placement', 'auth_url = http://localhost:5000/v3', `auth_url = ${KS_VIP}/v3`],
    ],
  },
  '/etc/neutron/neutron.conf': {
    service: 'neutron',
    installed: [
      set('database', 'connection', 'mysql+pymysql://neutron:Neutr0n@198.18.0.11/neutron'),
      set('DEFAULT', 'transport_url', RABBIT),
      set('nova', 'auth_url', 'http://198.18.0.11:5000'),
    ],
    expected: [
      ['DEFAULT', `transport_url = ${RABBIT}`, `transport_url = ${RABBIT_VIP}`],
      ['database', 'connection = mysql+pymysql://neutron:Neutr0n@198.18.0.11/neutron', `connection = mysql+pymysql://neutron:Neutr0n@${VIP}/neutron`],
      ...authtoken,
      ['nova', 'auth_url = http://198.18.0.11:5000', `auth_url = ${KS_VIP}`],
    ],
    pristine: authtoken,
  },
  '/etc/neutron/metadata_agent.ini': {
    service: 'neutron',
    // The install guide's nova_metadata_host is its controller's name; Debian ships it commented.
    installed: [set('DEFAULT', 'nova_metadata_host', 'alice'), set('DEFAULT', 'metadata_proxy_shared_secret', 'M3tadata')],
    expected: [['DEFAULT', 'nova_metadata_host = alice', `nova_metadata_host = ${VIP}`]],
    pristine: [['DEFAULT', null, `nova_metadata_host = ${VIP}`]],
  },
  '/etc/cinder/cinder.conf': {
    service: 'cinder',
    installed: [
      set('database', 'connection', 'mysql+pymysql://cinder:C1nder@198.18.0.11/cinder'),
      set('DEFAULT', 'transport_url', RABBIT),
      set('DEFAULT', 'glance_api_servers', 'http://198.18.0.12:9292'),
    ],
    expected: [
      ['DEFAULT', 'glance_api_servers = http://198.18.0.12:9292', `glance_api_servers = http://${VIP}:9292`],
      ['DEFAULT', `transport_url = ${RABBIT}`, `transport_url = ${RABBIT_VIP}`],
      ['database', 'connection = mysql+pymysql://cinder:C1nder@198.18.0.11/cinder', `connection = mysql+pymysql://cinder:C1nder@${VIP}/cinder`],
      ...authtoken,
    ],
    pristine: authtoken,
  },
  '/etc/heat/heat.conf': {
    service: 'heat',
    installed: [
      set('database', 'connection', 'mysql+pymysql://heat:H3at@198.18.0.11/heat'),
      set('DEFAULT', 'transport_url', RABBIT),
      set('DEFAULT', 'heat_metadata_server_url', 'http://198.18.0.11:8000'),
    ],
    expected: [
      ['DEFAULT', 'heat_metadata_server_url = http://198.18.0.11:8000', `heat_metadata_server_url = http://${VIP}:8000`],
      ['DEFAULT', `transport_url = ${RABBIT}`, `transport_url = ${RABBIT_VIP}`],
      // heat's sample writes this one without spaces; the rewrite keeps that.
      ['database', 'connection=mysql+pymysql://heat:H3at@198.18.0.11/heat', `connection=mysql+pymysql://heat:H3at@${VIP}/heat`],
      ...authtoken,
    ],
    pristine: authtoken,
  },
  '/etc/placement/placement.conf': {
    service: 'placement',
    installed: [set('placement_database', 'connection', 'mysql+pymysql://placement:Pl4cement@198.18.0.11/placement')],
    expected: [
      ...authtoken,
      ['placement_database', 'connection = mysql+pymysql://placement:Pl4cement@198.18.0.11/placement', `connection = mysql+pymysql://placement:Pl4cement@${VIP}/placement`],
    ],
    pristine: authtoken,
  },
};

const PASSWORDS = ['K3y%2Fst0ne', 'Gl4nce', 'N0va', 'Neutr0n', 'M3tadata', 'C1nder', 'H3at', 'Pl4cement', 'Rabb1t'];

/** The section a changed line sits in, from the side of the diff it belongs to. */
function sectionOf(line: DiffLine, before: string, after: string): string {
  const doc = parseIni(line.op === '-' ? before : after);
  const n = (line.op === '-' ? line.oldLine : line.newLine)! - 1;
  return doc.lines[n]!.section ?? '';
}

/** The diff as [section, old, new] triples: a removed line followed by an added one is one change. */
function changes(before: string, after: string): [string, string | null, string][] {
  const lines = changedLines(before, after);
  const out: [string, string | null, string][] = [];
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i]!;
    const next = lines[i + 1];
    if (l.op === '-' && next?.op === '+') {
      out.push([sectionOf(next, before, after), l.text.trimEnd(), next.text.trimEnd()]);
      i++;
    } else if (l.op === '+') out.push([sectionOf(l, before, after), null, l.text.trimEnd()]);
    else out.push([sectionOf(l, before, after), l.text.trimEnd(), '(removed)']);
  }
  return out;
}

function rewrite(file: string, service: OpenStackService, content: string): { after: string; entries: number; diff: string } {
  const plan = planRewrites(labInventory(), service, { [file]: content });
  if (!plan.ok) throw new Error(plan.error.message);
  const applied = applyRewrites(plan.value, { [file]: content });
  if (!applied.ok) throw new Error(applied.error.message);
  return { after: applied.value[0]?.after ?? content, entries: plan.value.entries.length, diff: renderPlanDiff(applied.value) };
}

for (const release of DEBIAN_RELEASES) describeRelease(release);

function describeRelease(release: DebianRelease): void {
  describe(`rewrite on the real Debian ${release} config files`, function () {
    this.timeout(300_000);
    let pristine: Record<string, string>;
    let dir: string;

    before(async () => {
      pristine = await debianConfigs(release);
      dir = mkdtempSync(join(tmpdir(), 'osha-rewrite-'));
      onTeardown(() => rmSync(dir, { recursive: true, force: true }));
    });

    for (const [file, c] of Object.entries(CASES)) {
      describe(`${file} (${release})`, () => {
        let installed: string;
        before(() => {
          installed = editIni(pristine[file]!, c.installed).text;
        });

        it('parses and serialises the packaged file byte for byte', () => {
          const text = pristine[file]!;
          expect(text.length).to.be.greaterThan(10_000);
          expect(serializeIni(parseIni(text)) === text).to.equal(true);
        });

        it('the installer simulation itself changes only its own lines', () => {
          const touched = changedLines(pristine[file]!, installed).filter((l) => l.op === '-');
          // Each edit either replaces one existing line or adds one; nothing else moves.
          expect(touched.length).to.be.at.most(c.installed.length);
          expect(changedLines(pristine[file]!, installed).filter((l) => l.op === '+').length).to.equal(c.installed.length);
        });

        it('changes exactly the intended lines, in the intended sections', () => {
          const { after } = rewrite(file, c.service, installed);
          expect(changes(installed, after)).to.deep.equal(c.expected);
        });

        it('a second rewrite is a no-op', () => {
          const once = rewrite(file, c.service, installed).after;
          const twice = rewrite(file, c.service, once);
          expect(twice.entries).to.equal(0);
          expect(twice.after === once).to.equal(true);
        });

        it('keeps a backup of the first original and rollback restores it byte for byte', () => {
          const disk = new Map([[file, installed]]);
          const once = rewrite(file, c.service, installed).after;
          applyStepsInMemory(disk, planFileWrite(file, disk.get(file)!, once, disk.has(backupPathFor(file))));
          expect(disk.get(backupPathFor(file)) === installed).to.equal(true);
          // A re-run writes nothing; a later change keeps the first backup.
          expect(planFileWrite(file, once, rewrite(file, c.service, once).after, disk.has(backupPathFor(file)))).to.deep.equal([]);
          const later = once + '# edited later\n';
          applyStepsInMemory(disk, planFileWrite(file, once, later, disk.has(backupPathFor(file))));
          expect(disk.get(backupPathFor(file)) === installed).to.equal(true);
          const restore = planRestore(file, disk.get(file), disk.get(backupPathFor(file)));
          if (!restore.ok) throw new Error(restore.error.message);
          applyStepsInMemory(disk, restore.value);
          expect(disk.get(file) === installed).to.equal(true);
          expect(disk.has(backupPathFor(file))).to.equal(false);
        });

        it('shows a unified diff with every password masked, and the unmasked diff applies with GNU patch', async () => {
          const { after, diff } = rewrite(file, c.service, installed);
          for (const pw of PASSWORDS) expect(diff).not.to.contain(pw);
          expect(diff).to.match(/^--- a\/etc\//);
          const target = join(dir, 'target.conf');
          writeFileSync(target, installed);
          writeFileSync(join(dir, 'p.diff'), renderFileDiff(file, installed, after, (l) => l));
          await run('patch', ['--silent', '--force', target, join(dir, 'p.diff')]);
          expect(readFileSync(target, 'utf8') === after).to.equal(true);
        });

        it('on the untouched packaged file, changes only the lines it must (keystone URLs Debian ships on localhost)', () => {
          const text = pristine[file]!;
          const { after } = rewrite(file, c.service, text);
          expect(changes(text, after)).to.deep.equal(c.pristine);
          expect(rewrite(file, c.service, after).entries).to.equal(0);
        });
      });
    }
  });
}
