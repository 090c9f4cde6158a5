// applyModel with the real cibadmin, crm_verify and crm_diff on a file-backed CIB (CIB_file), the
// way deploy runs them over SSH on the live one. "Settling" runs the transition with crm_simulate,
// the one stand-in here: there is no cluster to carry it out.
import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { applyModel, type CibTools } from '../../src/cluster/apply.ts';
import { buildResourceModel } from '../../src/cluster/build.ts';
import { err, ok, oshaError } from '../../src/util/result.ts';
import { havePacemakerTools, inventoryFrom, liveCib, run, writeCib, threeNodeInventory } from './fixtures.ts';
import { simulate } from './tools.ts';

const INVENTORY = threeNodeInventory(['mysql', 'keystone', 'glance-api', 'cinder-volume', 'cinder-api']);
const full = buildResourceModel(inventoryFrom(INVENTORY));
const smaller = buildResourceModel(inventoryFrom(INVENTORY.replace(', cinder-volume, cinder-api', '')));

/** The real tools on one CIB file; `beforePatch` lets a test play a concurrent administrator. */
function fileTools(cibFile: string, beforePatch?: () => void): CibTools & { patchCalls: number; settles: number } {
  const env = { CIB_file: cibFile };
  const tools = {
    patchCalls: 0,
    settles: 0,
    async query() {
      const r = run('cibadmin', ['--query'], env);
      return r.status === 0 ? ok(r.stdout) : err(oshaError(`cibadmin --query: ${r.stderr}`));
    },
    async verify(xml: string) {
      const r = run('crm_verify', ['--xml-file', writeCib(xml, 'apply-verify')]);
      return r.status === 0 ? ok(undefined) : err(oshaError(r.stdout + r.stderr));
    },
    async diff(a: string, b: string) {
      const r = run('crm_diff', ['--original', writeCib(a, 'apply-a'), '--new', writeCib(b, 'apply-b')]);
      if (r.status === 0) return ok(undefined);
      return r.status === 1 ? ok(r.stdout) : err(oshaError(`crm_diff: ${r.stderr}`));
    },
    async patch(p: string) {
      tools.patchCalls++;
      beforePatch?.();
      const r = run('cibadmin', ['--patch', '--xml-file', writeCib(p, 'apply-patch')], env);
      return ok({ code: r.status ?? -1, stderr: r.stderr });
    },
    async settle() {
      tools.settles++;
      const r = run('crm_simulate', ['--simulate', '--xml-file', cibFile, '--save-output', cibFile]);
      return r.status === 0 ? ok(undefined) : err(oshaError(`crm_simulate: ${r.stderr}`));
    },
  };
  return tools;
}

describe('applyModel: query, verify, diff, patch, retry on 103', function () {
  before(function () {
    if (!havePacemakerTools()) this.skip(); // needs Debian package pacemaker-cli-utils
  });

  it('applies once, then finds nothing to do', async function () {
    const file = writeCib(liveCib(), 'apply');
    const tools = fileTools(file);
    const r = await applyModel(tools, full);
    if (!r.ok) throw new Error(r.error.message);
    expect(r.value).to.deep.equal({ removed: [], patches: 1, retries: 0 });
    const placed = simulate(readFileSync(file, 'utf8')).placement;
    expect(placed['osha-keystone']).to.deep.equal(placed['osha-vip']);
    const again = await applyModel(fileTools(file), full);
    if (!again.ok) throw new Error(again.error.message);
    expect(again.value).to.deep.equal({ removed: [], patches: 0, retries: 0 });
  });

  it('re-reads and retries when someone changes the CIB between query and patch', async function () {
    const file = writeCib(liveCib(), 'apply');
    let meddled = false;
    const tools = fileTools(file, () => {
      if (meddled) return;
      meddled = true;
      // Another administrator adds a resource: the epoch moves on, osha's patch is now stale.
      const r = run('cibadmin', ['--create', '--scope', 'resources', '--xml-text', '<primitive id="theirs" class="ocf" provider="heartbeat" type="Dummy"/>'], { CIB_file: file });
      expect(r.status, r.stderr).to.equal(0);
    });
    const r = await applyModel(tools, full);
    if (!r.ok) throw new Error(r.error.message);
    expect(r.value).to.deep.equal({ removed: [], patches: 1, retries: 1 });
    const cib = readFileSync(file, 'utf8');
    expect(cib).to.include('id="theirs"');
    expect(cib).to.include('id="osha-g-keystone"');
  });

  it('gives up after the given number of tries when the CIB never stops changing', async function () {
    const file = writeCib(liveCib(), 'apply');
    let n = 0;
    const tools = fileTools(file, () => {
      run('cibadmin', ['--create', '--scope', 'resources', '--xml-text', `<primitive id="busy${n++}" class="ocf" provider="heartbeat" type="Dummy"/>`], { CIB_file: file });
    });
    const r = await applyModel(tools, full, 3);
    expect(r.ok).to.equal(false);
    if (!r.ok) expect(r.error.message).to.equal('the CIB kept changing while osha patched it (3 tries, each refused with exit 103)');
    expect(tools.patchCalls).to.equal(3);
  });

  it('removes services: stops them first, lets the cluster settle, then deletes them', async function () {
    const file = writeCib(liveCib(), 'apply');
    const first = await applyModel(fileTools(file), full);
    if (!first.ok) throw new Error(first.error.message);
    const tools = fileTools(file);
    const r = await applyModel(tools, smaller);
    if (!r.ok) throw new Error(r.error.message);
    expect(r.value).to.deep.equal({ removed: ['osha-g-cinder'], patches: 2, retries: 0 });
    expect(tools.settles).to.equal(2);
    const cib = readFileSync(file, 'utf8');
    const conf = cib.slice(cib.indexOf('<configuration>'), cib.indexOf('</configuration>'));
    expect(conf).to.not.include('cinder');
    expect(conf).to.include('osha-g-glance');
  });

  it('refuses a configuration crm_verify rejects, changing nothing', async function () {
    const file = writeCib(liveCib(), 'apply');
    const before = readFileSync(file, 'utf8');
    // A model Pacemaker's schema refuses: an OCF agent without a provider.
    const broken = buildResourceModel(inventoryFrom(INVENTORY));
    const vip = broken.resources[0]!;
    if (vip.kind !== 'primitive') throw new Error('expected the VIP first');
    vip.agent = { class: 'ocf', type: 'IPaddr2' };
    const r = await applyModel(fileTools(file), broken);
    expect(r.ok).to.equal(false);
    if (!r.ok) expect(r.error.message).to.match(/^crm_verify rejects the new configuration, nothing was changed/);
    expect(readFileSync(file, 'utf8')).to.equal(before);
  });
});
