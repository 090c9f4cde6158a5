// Playbooks: the shipped ones load, and a bad one is refused with the file and the fix.
import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { STEPS } from '../../src/steps/index.ts';
import { listPlaybooks } from '../../src/playbook/names.ts';
import { loadPlaybook } from '../../src/playbook/load.ts';

describe('playbooks', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'osha-playbook-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('shipped in playbooks/ all load; deploy includes the others and runs every step once, preflight first', async () => {
    for (const name of listPlaybooks()) expect((await loadPlaybook(name)).ok, name).to.equal(true);
    const deploy = await loadPlaybook('deploy');
    if (!deploy.ok) throw new Error(deploy.error.message);
    const names = deploy.value.steps.map((s) => s.name);
    expect([...names].sort()).to.deep.equal(STEPS.map((s) => s.name).sort());
    expect(names[0]).to.equal('preflight');
  });

  it('with an unknown step are refused, naming the file, the step and the known ones', async () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'name: bad\ndescription: a typo\nsteps:\n  - step: preflight\n  - step: agent\n');
    const r = await loadPlaybook(file);
    if (r.ok) throw new Error('accepted');
    expect(r.error.message).to.equal(`${file}: unknown step "agent"`);
    expect(r.error.fix).to.include('agents').and.include('keystone-endpoints');
  });

  it('that include themselves are refused', async () => {
    const file = join(dir, 'loop.yaml');
    writeFileSync(file, 'name: loop\ndescription: includes itself\nsteps:\n  - include: loop.yaml\n');
    const r = await loadPlaybook(file);
    expect(r.ok).to.equal(false);
    if (!r.ok) expect(r.error.message).to.match(/includes itself \(loop\.yaml -> loop\.yaml\)/);
  });
});
