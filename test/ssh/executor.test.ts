// The SSH executor against a real OpenSSH sshd on 127.0.0.1 (see test/support/sshd.ts).
import { expect } from 'chai';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync, statSync, readdirSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HostConnection, uploadScript } from '../../src/ssh/connection.ts';
import { BATCH_DIR_VAR } from '../../src/ssh/batch.ts';
import { SshSession } from '../../src/ssh/session.ts';
import type { SshTarget } from '../../src/ssh/target.ts';
import { sharedSshd, isRoot, freePort, type TestSshd } from '../support/sshd.ts';
import { readKnownHosts, parseKnownHosts } from '../../src/ssh/known-hosts.ts';

function target(sshd: TestSshd, over: Partial<SshTarget> = {}): SshTarget {
  return {
    name: 'local',
    host: '127.0.0.1',
    port: sshd.port,
    user: 'root',
    privateKey: sshd.clientKey,
    knownHosts: sshd.knownHosts,
    agent: false,
    sudo: { mode: 'none' },
    connectTimeoutMs: 5000,
    commandTimeoutMs: 30_000,
    ...over,
  };
}

async function open(t: SshTarget, opts = {}): Promise<HostConnection> {
  const r = await HostConnection.open(t, opts);
  if (!r.ok) throw new Error(r.error.message);
  return r.value;
}

describe('SSH executor (real sshd on 127.0.0.1)', function () {
  let sshd: TestSshd;
  let work: string;

  before(async function () {
    if (!isRoot()) {
      console.log('    skipped: the sshd tests need root (they add throwaway users)');
      this.skip();
    }
    sshd = await sharedSshd();
    work = mkdtempSync(join(tmpdir(), 'osha-exec-'));
  });
  after(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('runs commands over one connection and reports exit code, stdout and stderr', async () => {
    const c = await open(target(sshd));
    try {
      const a = await c.exec('echo hello; echo oops >&2; exit 3');
      expect(a.ok && a.value).to.deep.equal({ code: 3, stdout: 'hello\n', stderr: 'oops\n' });
      const b = await c.exec('cat', { stdin: 'from stdin' });
      expect(b.ok && b.value.stdout).to.equal('from stdin');
      // The same sshd child serves every command: one connection, many channels.
      const p1 = await c.exec('echo $PPID');
      const p2 = await c.exec('echo $PPID');
      expect(p1.ok && p2.ok).to.equal(true);
    } finally {
      c.close();
    }
  });

  it('reports a failing command as an error naming the host and the stderr', async () => {
    const c = await open(target(sshd));
    try {
      const r = await c.run('echo "no such thing" >&2; exit 7');
      expect(r.ok).to.equal(false);
      if (!r.ok) {
        expect(r.error.host).to.equal('local');
        expect(r.error.message).to.match(/exit 7/).and.match(/no such thing/);
      }
    } finally {
      c.close();
    }
  });

  it('times out a command that runs too long', async () => {
    const c = await open(target(sshd));
    try {
      const r = await c.exec('sleep 20', { timeoutMs: 300 });
      expect(r.ok).to.equal(false);
      if (!r.ok) expect(r.error.message).to.match(/timed out/);
    } finally {
      c.close();
    }
  });

  it('uploads with mode and owner, replacing the file by rename', async () => {
    const c = await open(target(sshd));
    const dst = join(work, 'uploaded.conf');
    try {
      writeFileSync(dst, 'old\n');
      const inodeBefore = statSync(dst).ino;
      const r = await c.upload(dst, 'new content\n', { mode: 0o640, owner: 'root', group: sshd.users.nopasswd });
      expect(r.ok, r.ok ? '' : r.error.message).to.equal(true);
      expect(readFileSync(dst, 'utf8')).to.equal('new content\n');
      const st = statSync(dst);
      expect(st.mode & 0o7777).to.equal(0o640);
      expect(st.uid).to.equal(0);
      expect(st.gid).to.equal(Number(execFileSync('id', ['-g', sshd.users.nopasswd]).toString().trim()));
      expect(st.ino).to.not.equal(inodeBefore); // a new inode: written aside, then renamed
      const read = await c.readFile(dst);
      expect(read.ok && read.value?.toString()).to.equal('new content\n');
      const missing = await c.readFile(join(work, 'nope'));
      expect(missing.ok && missing.value).to.equal(undefined);
    } finally {
      c.close();
    }
  });

  it('uploads many files in one exec: contents, modes and owners, then the after command', async () => {
    const c = await open(target(sshd));
    const dir = mkdtempSync(join(work, 'many-'));
    const sub = join(dir, 'made', 'by', 'before');
    try {
      writeFileSync(join(dir, 'old'), 'old\n');
      const files = [
        { path: join(sub, 'lib'), content: 'library\n', mode: 0o644 },
        { path: join(dir, 'old'), content: Buffer.from([0, 1, 2, 255, 10]), mode: 0o755, group: sshd.users.nopasswd },
        { path: join(dir, 'empty'), content: '', mode: 0o600 },
      ];
      // The after command sees every file in place; its exit status and output are the result.
      const r = await c.uploadMany(files, { before: `mkdir -p '${sub}'`, after: `cat '${sub}/lib' '${dir}/empty'; exit 3` });
      expect(r.ok, r.ok ? '' : r.error.message).to.equal(true);
      if (r.ok) expect(r.value).to.deep.include({ code: 3, stdout: 'library\n' });
      expect(readFileSync(join(sub, 'lib'), 'utf8')).to.equal('library\n');
      expect([...readFileSync(join(dir, 'old'))]).to.deep.equal([0, 1, 2, 255, 10]);
      expect(readFileSync(join(dir, 'empty'), 'utf8')).to.equal('');
      expect(statSync(join(sub, 'lib')).mode & 0o7777).to.equal(0o644);
      expect(statSync(join(dir, 'old')).mode & 0o7777).to.equal(0o755);
      expect(statSync(join(dir, 'old')).gid).to.equal(Number(execFileSync('id', ['-g', sshd.users.nopasswd]).toString().trim()));
      expect(statSync(join(dir, 'empty')).mode & 0o7777).to.equal(0o600);
      expect(readdirSync(dir).filter((f) => f.startsWith('.osha.'))).to.deep.equal([]);
    } finally {
      c.close();
    }
  });

  for (const [what, tamper] of [
    ['truncated', (b: Buffer) => b.subarray(0, b.length - 3)],
    ['corrupted', (b: Buffer) => Buffer.concat([b.subarray(0, 5), Buffer.from('X'), b.subarray(6)])],
    ['longer than announced', (b: Buffer) => Buffer.concat([b, Buffer.from('extra')])],
  ] as const) {
    it(`changes no target and leaves no temp file when the stream is ${what}`, () => {
      const dir = mkdtempSync(join(work, 'tamper-'));
      const files = ['first', 'second', 'third'].map((n) => ({ path: join(dir, n), content: `${n} new content\n`, mode: 0o644 }));
      for (const f of files) writeFileSync(f.path, 'before\n');
      const script = uploadScript(files.map((f) => ({ ...f, size: f.content.length, sha256: createHash('sha256').update(f.content).digest('hex') })), { after: 'echo after ran' });
      const stream = tamper(Buffer.from(files.map((f) => f.content).join('')));
      const r = spawnSync('sh', ['-c', script], { input: stream });
      expect(r.status).to.equal(90);
      expect(r.stdout.toString()).to.not.include('after ran');
      for (const f of files) expect(readFileSync(f.path, 'utf8')).to.equal('before\n');
      expect(readdirSync(dir).sort()).to.deep.equal(['first', 'second', 'third']);
    });
  }

  it('refuses many files while a step plans, and reports a failed upload as an error', async () => {
    let planning: string | undefined = 'planning step agents';
    const c = await open(target(sshd), { readOnly: () => planning });
    const dir = mkdtempSync(join(work, 'many-fail-'));
    try {
      const refused = await c.uploadMany([{ path: join(dir, 'a'), content: 'a', mode: 0o644 }]);
      expect(!refused.ok && refused.error.message).to.match(/refused to write .* while planning step agents/);
      planning = undefined;
      const odd = await c.uploadMany([{ path: join(dir, 'a\nb'), content: 'a', mode: 0o644 }]);
      expect(!odd.ok && odd.error.message).to.match(/a path with a newline or backslash/);
      const twice = await c.uploadMany([{ path: join(dir, 'a'), content: 'a', mode: 0o644 }, { path: join(dir, 'a'), content: 'b', mode: 0o644 }]);
      expect(!twice.ok && twice.error.message).to.match(/a path twice in one upload/);
      // The second file's directory does not exist: nothing is written, the first target included.
      const failed = await c.uploadMany([
        { path: join(dir, 'a'), content: 'a', mode: 0o644 },
        { path: join(dir, 'missing', 'b'), content: 'b', mode: 0o644 },
      ], { after: 'echo after ran' });
      expect(!failed.ok && failed.error.message).to.match(/^upload of 2 files failed \(exit 1\)/);
      expect(readdirSync(dir)).to.deep.equal([]);
    } finally {
      c.close();
    }
  });

  it('is a read-only view while a step plans: uploads are refused with the reason, reads still work', async () => {
    let planning: string | undefined = 'planning step authkey';
    const c = await open(target(sshd), { readOnly: () => planning });
    const dst = join(work, 'planned.conf');
    try {
      const refused = await c.upload(dst, 'x\n', { mode: 0o600 });
      expect(!refused.ok && refused.error.message).to.equal(`refused to write ${dst} while planning step authkey: planning never changes a node (a bug in osha)`);
      expect(existsSync(dst)).to.equal(false);
      expect((await c.run('echo read')).ok).to.equal(true);
      planning = undefined;
      expect((await c.upload(dst, 'x\n', { mode: 0o600 })).ok).to.equal(true);
    } finally {
      c.close();
    }
  });

  it('while a step plans, sends the reads asked for at once as one exec, each with its own exit status and bytes', async () => {
    let planning: string | undefined = 'planning step preflight';
    const lines: string[] = [];
    const c = await open(target(sshd), { readOnly: () => planning, log: (l: string) => lines.push(l) });
    const bin = join(work, 'batched.bin');
    const blob = Buffer.from(Array.from({ length: 200_000 }, (_, i) => (i * 7) % 256));
    writeFileSync(bin, blob);
    try {
      // $$ is the shell that runs the exec: a subshell keeps it, a separate exec has its own.
      const [a, b, file, missing, big, shellA, shellB, dir] = await Promise.all([
        c.exec('printf "one\\ntwo"; printf "warn" >&2'),
        c.exec('echo before; exit 44; echo after'),
        c.readFile(bin),
        c.readFile(join(work, 'no-such-file')),
        c.exec('head -c 300000 /dev/zero | tr "\\0" x'),
        c.exec('echo $$'),
        c.exec('echo $$'),
        c.exec(`echo "$${BATCH_DIR_VAR}"`),
      ]);
      expect(a.ok && a.value).to.deep.equal({ code: 0, stdout: 'one\ntwo', stderr: 'warn' });
      expect(b.ok && b.value).to.deep.equal({ code: 44, stdout: 'before\n', stderr: '' });
      expect(file.ok && file.value?.equals(blob)).to.equal(true);
      expect(missing.ok && missing.value).to.equal(undefined);
      expect(big.ok && big.value.stdout).to.equal('x'.repeat(300_000));
      expect(shellA.ok && shellB.ok && shellA.value.stdout).to.equal(shellB.ok ? shellB.value.stdout : '');
      expect(lines.filter((l) => l.includes('(one of 8 at once)'))).to.have.length(8);
      // The batch kept the outputs in a temp dir of its own, removed once it was read.
      const kept = dir.ok ? dir.value.stdout.trim() : '';
      expect(kept).to.match(/^\/.+/);
      expect(existsSync(kept)).to.equal(false);
      // Outside planning (applying), each command has an exec of its own.
      planning = undefined;
      const [x, y] = await Promise.all([c.exec('echo $$'), c.exec('echo $$')]);
      expect(x.ok && y.ok && x.value.stdout).to.not.equal(y.ok ? y.value.stdout : '');
    } finally {
      c.close();
    }
  });

  it('leaves the target untouched when the connection dies mid-transfer', async () => {
    const c = await open(target(sshd));
    const dir = mkdtempSync(join(work, 'cut-'));
    const dst = join(dir, 'big.bin');
    writeFileSync(dst, 'original\n');
    const big = Buffer.alloc(256 * 1024 * 1024, 7);
    const upload = c.upload(dst, big, { mode: 0o600 });
    // Wait until the temp file exists and has received some bytes, then cut the TCP connection.
    const deadline = Date.now() + 20_000;
    let cut = false;
    while (Date.now() < deadline) {
      // The temp file is the target's name inside a temp dir beside it.
      const tmp = readdirSync(dir).find((f) => f.startsWith('.osha.'));
      const inside = tmp && join(dir, tmp, 'big.bin');
      if (inside && existsSync(inside) && statSync(inside).size > 0) {
        c.destroy();
        cut = true;
        break;
      }
      await new Promise((r) => setTimeout(r, 5));
    }
    expect(cut, 'the transfer should have started').to.equal(true);
    const r = await upload;
    expect(r.ok).to.equal(false);
    expect(readFileSync(dst, 'utf8')).to.equal('original\n');
    // The remote script removes its temp file once it sees the stream end.
    const cleanDeadline = Date.now() + 10_000;
    while (readdirSync(dir).some((f) => f.startsWith('.osha.')) && Date.now() < cleanDeadline) {
      await new Promise((res) => setTimeout(res, 50));
    }
    expect(readdirSync(dir)).to.deep.equal(['big.bin']);
  });

  it('runs as root through sudo -n for a non-root user', async () => {
    let planning: string | undefined;
    const c = await open(target(sshd, { user: sshd.users.nopasswd, sudo: { mode: 'nopasswd' } }), { readOnly: () => planning });
    try {
      const r = await c.exec('id -u');
      expect(r.ok && r.value.stdout.trim()).to.equal('0');
      const plain = await c.exec('id -u', { noSudo: true });
      expect(plain.ok && plain.value.stdout.trim()).to.not.equal('0');
      // Batched while planning: one exec through sudo, one as the login user.
      planning = 'planning step preflight';
      const [root1, root2, user1, user2] = await Promise.all([c.exec('id -u'), c.exec('id -u'), c.exec('id -u', { noSudo: true }), c.exec('id -u', { noSudo: true })]);
      expect([root1, root2].map((x) => x.ok && x.value.stdout.trim())).to.deep.equal(['0', '0']);
      expect([user1, user2].map((x) => x.ok && x.value.stdout.trim() !== '0')).to.deep.equal([true, true]);
      planning = undefined;
      const up = await c.upload(join(work, 'by-sudo'), 'x', { mode: 0o600 });
      expect(up.ok, up.ok ? '' : up.error.message).to.equal(true);
      expect(statSync(join(work, 'by-sudo')).uid).to.equal(0);
    } finally {
      c.close();
    }
  });

  it('feeds a sudo password on stdin, never on argv, and keeps the command stdin intact', async () => {
    process.env.OSHA_TEST_SUDO_PW = sshd.users.password;
    const c = await open(target(sshd, { user: sshd.users.withPassword, sudo: { mode: 'password', password: { env: 'OSHA_TEST_SUDO_PW' } } }));
    try {
      // While the command runs, it lists every process's argv: the password must not be there.
      const r = await c.exec('id -u; cat; echo; ps -eo args', { stdin: 'payload' });
      expect(r.ok, r.ok ? '' : r.error.message).to.equal(true);
      if (r.ok) {
        const lines = r.value.stdout.split('\n');
        expect(lines[0]).to.equal('0');
        expect(lines[1]).to.equal('payload');
        expect(r.value.stdout).to.include('sudo -k -S');
        expect(r.value.stdout).to.not.include(sshd.users.password);
      }
      const argvs = execFileSync('ps', ['-eo', 'args']).toString();
      expect(argvs).to.not.include(sshd.users.password);
    } finally {
      c.close();
      delete process.env.OSHA_TEST_SUDO_PW;
    }
  });

  it('with a sudo password but a NOPASSWD rule, the password never reaches the command\'s stdin', async () => {
    process.env.OSHA_TEST_SUDO_PW = sshd.users.password;
    const c = await open(target(sshd, { user: sshd.users.nopasswd, sudo: { mode: 'password', password: { env: 'OSHA_TEST_SUDO_PW' } } }));
    try {
      const r = await c.exec('id -u; cat', { stdin: 'payload' });
      expect(r.ok, r.ok ? '' : r.error.message).to.equal(true);
      if (r.ok) expect(r.value.stdout).to.equal('0\npayload');
    } finally {
      c.close();
      delete process.env.OSHA_TEST_SUDO_PW;
    }
  });

  it('refuses a host whose key does not match known_hosts, naming both fingerprints', async () => {
    const other = join(work, 'other_key');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', other]);
    const wrong = join(work, 'known_hosts_wrong');
    writeFileSync(wrong, `[127.0.0.1]:${sshd.port} ${readFileSync(`${other}.pub`, 'utf8').split(' ').slice(0, 2).join(' ')}\n`);
    const r = await HostConnection.open(target(sshd, { knownHosts: wrong }));
    expect(r.ok).to.equal(false);
    if (!r.ok) {
      const expected = execFileSync('ssh-keygen', ['-l', '-f', `${other}.pub`]).toString().split(' ')[1];
      const presented = execFileSync('ssh-keygen', ['-l', '-f', join(sshd.dir, 'host_ed25519.pub')]).toString().split(' ')[1];
      expect(r.error.message).to.include('MISMATCH').and.include('127.0.0.1').and.include(expected!).and.include(presented!);
    }
  });

  it('refuses an unknown host unless told to accept and record new keys', async () => {
    const kh = join(work, 'known_hosts_new');
    const refused = await HostConnection.open(target(sshd, { knownHosts: kh }));
    expect(refused.ok).to.equal(false);
    if (!refused.ok) expect(refused.error.message).to.match(/not in/).and.include('SHA256:');
    expect(existsSync(kh)).to.equal(false);

    const accepted = await open(target(sshd, { knownHosts: kh }), { acceptNewHostKeys: true });
    accepted.close();
    const entries = await readKnownHosts(kh);
    expect(entries).to.have.length(1);
    expect(entries[0]!.patterns.startsWith('|1|')).to.equal(true); // recorded hashed
    // OpenSSH itself finds the recorded entry.
    const found = execFileSync('ssh-keygen', ['-F', `[127.0.0.1]:${sshd.port}`, '-f', kh]).toString();
    expect(found).to.include('ssh-ed25519');
    const again = await open(target(sshd, { knownHosts: kh }));
    again.close();
  });

  it('verifies against entries hashed by ssh-keygen -H', async () => {
    const kh = join(work, 'known_hosts_hashed');
    writeFileSync(kh, readFileSync(sshd.knownHosts));
    execFileSync('ssh-keygen', ['-q', '-H', '-f', kh], { stdio: 'ignore' });
    expect(parseKnownHosts(readFileSync(kh, 'utf8'))[0]!.patterns.startsWith('|1|')).to.equal(true);
    const c = await open(target(sshd, { knownHosts: kh }));
    c.close();
  });

  it('asks once for the passphrase of an encrypted private key', async () => {
    let asked = 0;
    const c = await open(target(sshd, { privateKey: sshd.encryptedClientKey }), {
      askPassphrase: async () => {
        asked++;
        return sshd.passphrase;
      },
    });
    c.close();
    const second = await open(target(sshd, { privateKey: sshd.encryptedClientKey, name: 'other' }), { askPassphrase: async () => `${asked++}` });
    second.close();
    expect(asked).to.equal(1); // one prompt per key file per run
    const copy = join(work, 'enc_copy');
    writeFileSync(copy, readFileSync(sshd.encryptedClientKey), { mode: 0o600 });
    const noPrompt = await HostConnection.open(target(sshd, { privateKey: copy }));
    expect(noPrompt.ok).to.equal(false);
    if (!noPrompt.ok) expect(noPrompt.error.message).to.match(/encrypted/);
  });

  it('reports a refused connection per host while the other hosts complete', async () => {
    const closedPort = await freePort();
    const session = new SshSession([
      target(sshd, { name: 'a' }),
      target(sshd, { name: 'dead', port: closedPort }),
      target(sshd, { name: 'b' }),
    ]);
    try {
      const results = await session.forEachHost(async (t) => {
        const c = await session.connect(t.name);
        if (!c.ok) return c;
        return c.value.run('hostname');
      });
      expect(results.get('a')?.ok).to.equal(true);
      expect(results.get('b')?.ok).to.equal(true);
      const dead = results.get('dead');
      expect(dead?.ok).to.equal(false);
      if (dead && !dead.ok) expect(dead.error.message).to.match(/refused/);
      // One connection per host per run: asking again returns the same connection.
      const c1 = await session.connect('a');
      const c2 = await session.connect('a');
      expect(c1.ok && c2.ok && c1.value === c2.value).to.equal(true);
    } finally {
      await session.close();
    }
  });
});
