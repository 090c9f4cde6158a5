import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { changedLines, diffLines, maskSecrets, maskUrlPasswords, renderFileDiff } from '../../src/render/diff.ts';
import { onTeardown } from '../support/teardown.ts';

const run = promisify(execFile);

/** Applies a unified diff with GNU patch, the real consumer of the format, and returns the result. */
async function patched(dir: string, before: string, diff: string): Promise<string> {
  const file = join(dir, 'f.conf');
  writeFileSync(file, before);
  writeFileSync(join(dir, 'd.patch'), diff);
  await run('patch', ['--silent', '--force', file, join(dir, 'd.patch')]);
  return readFileSync(file, 'utf8');
}

/** A small deterministic generator, so a failure can be replayed. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function mutate(lines: string[], rand: () => number): string[] {
  const out = [...lines];
  const edits = 1 + Math.floor(rand() * 6);
  for (let e = 0; e < edits; e++) {
    const at = Math.floor(rand() * (out.length + 1));
    const what = rand();
    if (what < 0.33 && out.length > 0) out.splice(Math.min(at, out.length - 1), 1);
    else if (what < 0.66) out.splice(at, 0, `inserted ${e} ${Math.floor(rand() * 1000)}`);
    else if (out.length > 0) out[Math.min(at, out.length - 1)] = `changed ${e}`;
  }
  return out;
}

describe('unified diff renderer', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'osha-diff-'));
    onTeardown(() => rmSync(dir, { recursive: true, force: true }));
  });

  it('prints nothing for identical files', () => {
    expect(renderFileDiff('/etc/x.conf', 'a\nb\n', 'a\nb\n')).to.equal('');
  });

  it('prints GNU-style headers and hunks', () => {
    const before = ['1', '2', '3', '4', '5', '6', '7', '8', '9', '10', ''].join('\n');
    const after = before.replace('5\n', 'five\n');
    const out = renderFileDiff('/etc/x.conf', before, after, (l) => l);
    expect(out).to.equal(['--- a/etc/x.conf', '+++ b/etc/x.conf', '@@ -2,7 +2,7 @@', ' 2', ' 3', ' 4', '-5', '+five', ' 6', ' 7', ' 8', ''].join('\n'));
  });

  it('agrees with diff -u on a two-hunk change', async () => {
    const a = Array.from({ length: 40 }, (_, i) => `line ${i}`);
    const b = [...a];
    b[3] = 'changed 3';
    b.splice(30, 1);
    b.push('appended');
    const before = a.join('\n') + '\n';
    const after = b.join('\n') + '\n';
    writeFileSync(join(dir, 'a'), before);
    writeFileSync(join(dir, 'b'), after);
    const gnu = await run('diff', ['-u', join(dir, 'a'), join(dir, 'b')]).catch((e: { stdout: string }) => e);
    const gnuBody = gnu.stdout.split('\n').slice(2).join('\n');
    const ours = renderFileDiff('x', before, after, (l) => l).split('\n').slice(2).join('\n');
    expect(ours).to.equal(gnuBody);
  });

  it('marks a last line without newline the way patch expects', async () => {
    const before = 'a\nb\nc';
    const after = 'a\nb\nc\nd\n';
    const out = renderFileDiff('f', before, after, (l) => l);
    expect(out).to.contain('-c\n\\ No newline at end of file\n+c\n+d\n');
    expect(await patched(dir, before, out)).to.equal(after);
  });

  it('produces diffs that GNU patch applies exactly, for random edits', async function () {
    this.timeout(120_000);
    const base = Array.from({ length: 120 }, (_, i) => (i % 7 === 0 ? '' : `# option ${i % 13}`));
    const rand = rng(7);
    for (let round = 0; round < 15; round++) {
      const before = base.join('\n') + '\n';
      const after = mutate(base, rand).join('\n') + '\n';
      const out = renderFileDiff('f', before, after, (l) => l);
      expect(await patched(dir, before, out), `round ${round}`).to.equal(after);
    }
  });

  it('finds a shortest edit script (only the lines that changed)', () => {
    const before = 'a\nb\nc\nd\ne\n';
    const after = 'a\nc\nd\nX\ne\n';
    expect(changedLines(before, after).map((l) => `${l.op}${l.text.trim()}@${l.oldLine ?? l.newLine}`)).to.deep.equal(['-b@2', '+X@4']);
    const all = diffLines(before, after);
    expect(all.filter((l) => l.op === ' ').length).to.equal(4);
  });

  it('masks passwords in context, removed and added lines', () => {
    const before = '[database]\nconnection = mysql+pymysql://glance:S3cr%40t@198.18.0.11/glance\npassword = hunter2\nx = 1\n';
    const after = before.replace('198.18.0.11', '198.18.0.100').replace('x = 1', 'x = 2');
    const out = renderFileDiff('/etc/glance/glance-api.conf', before, after);
    expect(out).not.to.contain('S3cr');
    expect(out).not.to.contain('hunter2');
    expect(out).to.contain('-connection = mysql+pymysql://glance:***@198.18.0.11/glance');
    expect(out).to.contain('+connection = mysql+pymysql://glance:***@198.18.0.100/glance');
    expect(out).to.contain(' password = ***');
  });

  it('masks every userinfo of a multi-host transport URL and leaves URLs without a password alone', () => {
    expect(maskUrlPasswords('transport_url = rabbit://openstack:p1@198.18.0.11:5672,openstack:p2@198.18.0.12:5672/')).to.equal(
      'transport_url = rabbit://openstack:***@198.18.0.11:5672,openstack:***@198.18.0.12:5672/',
    );
    expect(maskUrlPasswords('auth_url = http://198.18.0.100:5000/v3')).to.equal('auth_url = http://198.18.0.100:5000/v3');
    expect(maskSecrets('#memcache_secret_key = <None>')).to.equal('#memcache_secret_key = ***');
    expect(maskSecrets('auth_type = password')).to.equal('auth_type = password');
  });
});

describe('password masking edge cases', () => {
  it('hides passwords holding unencoded "@", "/" or ","', () => {
    expect(maskUrlPasswords('connection = mysql://u:p@ss/w,rd@198.18.0.11/db')).to.equal('connection = mysql://u:***@198.18.0.11/db');
    expect(maskUrlPasswords('x = rabbit://u:a@b@h1:5672,v:c@h2:5672/')).to.equal('x = rabbit://u:***@h1:5672,v:***@h2:5672/');
  });
  it('leaves host:port and user-only URLs readable', () => {
    expect(maskUrlPasswords('api_servers = http://198.18.0.100:9292/v2')).to.equal('api_servers = http://198.18.0.100:9292/v2');
    expect(maskUrlPasswords('url = mysql://root@198.18.0.11/db')).to.equal('url = mysql://root@198.18.0.11/db');
  });
});

describe('diff of very different files', () => {
  it('falls back to one replacement hunk that GNU patch still applies', async function () {
    this.timeout(120_000);
    const dir = mkdtempSync(join(tmpdir(), 'osha-diff-big-'));
    onTeardown(() => rmSync(dir, { recursive: true, force: true }));
    const before = Array.from({ length: 1500 }, (_, i) => `old ${i}`).join('\n') + '\n';
    const after = Array.from({ length: 1500 }, (_, i) => `new ${i}`).join('\n') + '\n';
    const out = renderFileDiff('f', before, after, (l) => l);
    expect(out.split('\n')[2]).to.equal('@@ -1,1500 +1,1500 @@');
    expect(await patched(dir, before, out)).to.equal(after);
  });
});
