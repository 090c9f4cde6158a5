// Several files read in one round trip (src/facts/files.ts): the parser alone, then for real
// through OpenSSH's sshd on 127.0.0.1 (test/support/sshd.ts).
import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseFileLines, readFiles } from '../../src/facts/files.ts';
import { sharedSshd, isRoot, openAsRoot } from '../support/sshd.ts';

describe('reading several files at once', function () {
  it('maps each path to its bytes, or undefined when missing, and refuses a short or odd answer', () => {
    const r = parseFileLines(['/a', '/b', '/c'], `F ${Buffer.from('x=1\n').toString('base64')}\nM\nF \n`);
    expect(r.ok && [...r.value.entries()].map(([p, b]) => [p, b?.toString()])).to.deep.equal([
      ['/a', 'x=1\n'],
      ['/b', undefined],
      ['/c', ''],
    ]);
    expect(parseFileLines(['/a', '/b'], 'M\n').ok).to.equal(false);
    expect(parseFileLines(['/a'], 'garbage\n').ok).to.equal(false);
  });

  it('reads real files over ssh in one command: binary, empty, no trailing newline, missing, a directory', async function () {
    if (!isRoot()) {
      console.log('      (skipped: the sshd tests need root)');
      this.skip();
    }
    const sshd = await sharedSshd();
    const dir = mkdtempSync(join(tmpdir(), 'osha-files-'));
    try {
      const binary = Buffer.from([0, 1, 2, 10, 255, 70, 32]);
      writeFileSync(join(dir, 'bin'), binary);
      writeFileSync(join(dir, 'empty'), '');
      writeFileSync(join(dir, 'odd name;$(x)'), 'no newline');
      const c = await openAsRoot(sshd);
      try {
        const paths = ['bin', 'empty', 'odd name;$(x)', 'missing', '.'].map((p) => join(dir, p));
        const r = await readFiles(c, paths);
        if (!r.ok) throw new Error(r.error.message);
        expect(r.value.get(paths[0]!)).to.deep.equal(binary);
        expect(r.value.get(paths[1]!)?.length).to.equal(0);
        expect(r.value.get(paths[2]!)?.toString()).to.equal('no newline');
        expect(r.value.get(paths[3]!)).to.equal(undefined);
        expect(r.value.get(paths[4]!)).to.equal(undefined);
      } finally {
        c.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
