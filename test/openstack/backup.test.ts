import { expect } from 'chai';
import { applyStepsInMemory, backupPathFor, decodeConfig, isBackupPath, planFileWrite, planRestore } from '../../src/openstack/backup.ts';

const F = '/etc/glance/glance-api.conf';

describe('config backups', () => {
  it('names the backup next to the file', () => {
    expect(backupPathFor(F)).to.equal('/etc/glance/glance-api.conf.osha-orig');
    expect(isBackupPath(backupPathFor(F))).to.equal(true);
    expect(isBackupPath(F)).to.equal(false);
  });

  it('writes the backup before the first change, keeping the file\'s mode', () => {
    const steps = planFileWrite(F, 'old\n', 'new\n', false);
    expect(steps.map((s) => [s.kind, s.path])).to.deep.equal([
      ['write', backupPathFor(F)],
      ['write', F],
    ]);
    expect(steps[0]).to.include({ content: 'old\n', modeFrom: F });
  });

  it('never overwrites an existing backup, and writes nothing when nothing changes', () => {
    expect(planFileWrite(F, 'mid\n', 'new\n', true).map((s) => s.path)).to.deep.equal([F]);
    expect(planFileWrite(F, 'same\n', 'same\n', false)).to.deep.equal([]);
  });

  it('rollback restores the backup and then removes it', () => {
    const disk = new Map([
      [F, 'changed\n'],
      [backupPathFor(F), 'original\n'],
    ]);
    const r = planRestore(F, disk.get(F), disk.get(backupPathFor(F)));
    expect(r.ok).to.equal(true);
    if (r.ok) applyStepsInMemory(disk, r.value);
    expect([...disk]).to.deep.equal([[F, 'original\n']]);
  });

  it('rollback of an unchanged file only removes the backup', () => {
    const r = planRestore(F, 'x\n', 'x\n');
    expect(r.ok && r.value.map((s) => s.kind)).to.deep.equal(['remove']);
  });

  it('rollback without a backup is an error that says why', () => {
    const r = planRestore(F, 'x\n', undefined);
    expect(r.ok).to.equal(false);
    expect(!r.ok && r.error.message).to.contain('osha made no backup of /etc/glance/glance-api.conf');
    const self = planRestore(backupPathFor(F), 'x', 'x');
    expect(!self.ok && self.error.fix).to.equal(`name the config file: osha rollback ${F}`);
  });

  it('accepts UTF-8 and refuses bytes that would not survive a rewrite', () => {
    const good = decodeConfig(F, Buffer.from('# café\n[DEFAULT]\n', 'utf8'));
    expect(good).to.deep.equal({ ok: true, value: '# café\n[DEFAULT]\n' });
    const latin1 = decodeConfig(F, Buffer.from([0x23, 0x20, 0x63, 0x61, 0x66, 0xe9, 0x0a]));
    expect(latin1.ok).to.equal(false);
    expect(!latin1.ok && latin1.error.message).to.contain('not valid UTF-8');
  });
});

describe('file steps in JSON', () => {
  it('leave the file content (and so its passwords) out', () => {
    const steps = planFileWrite(F, 'connection = mysql://g:Secret1@h/g\n', 'connection = mysql://g:Secret1@v/g\n', false);
    const json = JSON.stringify(steps);
    expect(json).not.to.contain('Secret1');
    expect(JSON.parse(json)[1]).to.deep.equal({ kind: 'write', path: F, modeFrom: F, why: `point ${F} at the VIP`, bytes: 35 });
  });
});
