// `osha validate` on real files: the example is valid; each file in invalid/ names on its first
// line the located message it must produce (`# expect: LINE:COL field: text`), with exit 2.
import { expect } from 'chai';
import { readdirSync, readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { osha } from '../support/osha.ts';
import { parseInventory } from '../../src/inventory/load.ts';

const here = dirname(fileURLToPath(import.meta.url));
const invalidDir = join(here, 'invalid');
const repo = join(here, '../..');

describe('osha validate', function () {
  this.timeout(120_000);

  it('accepts inventory.example.yaml (exit 0)', async () => {
    const r = await osha(['validate', join(repo, 'inventory.example.yaml')]);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.match(/valid \(cluster openstack-ha, 3 nodes/);
  });

  const files = readdirSync(invalidDir).filter((f) => f.endsWith('.yaml')).sort();

  it('has at least 15 distinct invalid inventories', () => {
    expect(files.length).to.be.at.least(15);
    const expectations = files.map((f) => readFileSync(join(invalidDir, f), 'utf8').split('\n')[0]);
    expect(new Set(expectations).size).to.equal(files.length);
  });

  it('reports each invalid inventory at its line and column, with the field and a fix, and exits 2', async () => {
    // The CLI runs in parallel for all files: each is a real `osha validate FILE`.
    const runs = await Promise.all(files.map(async (f) => ({ f, r: await osha(['validate', join(invalidDir, f)]) })));
    for (const { f, r } of runs) {
      const want = readFileSync(join(invalidDir, f), 'utf8').split('\n')[0]!.replace(/^# expect: /, '');
      expect(r.code, `${f}: ${r.stderr}`).to.equal(2);
      expect(r.stderr, f).to.include(`${join(invalidDir, f)}:${want}`);
      expect(r.stderr, f).to.not.match(/\n\s+at .+:\d+:\d+/); // no stack trace
      expect(r.stdout, f).to.equal('');
    }
  });

  it('reports relations between fields together with wrong fields, in one run', () => {
    const text = [
      'cluster: { name: lab }',
      'nodes:',
      '  - { name: a, address: 198.18.0.11 }',
      '  - { name: a, address: 198.18.0.12 }',
      '  - { name: c, address: 198.18.0.13 }',
      'vip: { address: 198.18.0.100, cidr_netmask: 24 }',
      'corosync: { port: 99999 }',
    ].join('\n');
    const r = parseInventory(text, 'x.yaml');
    expect(r.ok).to.equal(false);
    if (!r.ok) expect(r.error.map((p) => p.field)).to.have.members(['nodes[1].name', 'corosync.port']);
  });

  it('says a missing file is missing, without a position in it', async () => {
    const r = await osha(['validate', join(repo, 'no-such-inventory.yaml')]);
    expect(r.code).to.equal(2);
    expect(r.stderr).to.equal(`${join(repo, 'no-such-inventory.yaml')}: no such file; check the path, or run \`osha init\` to write one\n${join(repo, 'no-such-inventory.yaml')}: 1 problem; nothing was changed on any node\n`);
  });

  it('reports every problem of a file, not only the first', () => {
    const text = [
      'cluster: { name: lab }',
      'nodes:',
      '  - { name: a, address: 198.18.0.11 }',
      '  - { name: a, address: 198.18.0.11 }',
      'vip: { address: 198.18.0.11, cidr_netmask: 24 }',
      'stonith: { unsafe_no_fencing: true }',
    ].join('\n');
    const r = parseInventory(text, 'x.yaml');
    expect(r.ok).to.equal(false);
    if (!r.ok) expect(r.error.map((p) => p.field)).to.have.members(['nodes[1].name', 'nodes[1].address', 'vip.address']);
  });
});
