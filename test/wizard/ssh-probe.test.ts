// The wizard's SSH test against a real OpenSSH sshd on 127.0.0.1.
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fetchHostKey, tryLogin, type ProbeTarget } from '../../src/wizard/ssh-probe.ts';
import { freePort, isRoot, sharedSshd, type TestSshd } from '../support/sshd.ts';

describe('wizard ssh probe (real sshd)', function () {
  this.timeout(30_000);
  let sshd: TestSshd;
  let target: ProbeTarget;

  before(async function () {
    if (!isRoot()) {
      console.log('    skipped: the test sshd needs root to create its users');
      this.skip();
    }
    sshd = await sharedSshd();
    target = { host: '127.0.0.1', port: sshd.port, user: sshd.users.nopasswd, privateKey: readFileSync(sshd.clientKey, 'utf8'), agent: false, timeoutMs: 5000 };
  });

  it('reads the host key and its SHA256 fingerprint as ssh-keygen prints it', async () => {
    const r = await fetchHostKey(target);
    if (!r.ok) throw new Error(r.error.message);
    const expected = execFileSync('ssh-keygen', ['-lf', join(sshd.dir, 'host_ed25519.pub')], { encoding: 'utf8' }).split(' ')[1];
    expect(r.value.fingerprint).to.equal(expected);
    expect(r.value.keyType).to.equal('ssh-ed25519');
    expect(r.value.blob.toString('base64')).to.equal(sshd.hostKeyPub.split(' ')[1]);
  });

  it('logs in with the right key, also an encrypted one with its passphrase', async () => {
    const key = await fetchHostKey(target);
    if (!key.ok) throw new Error(key.error.message);
    expect(await tryLogin(target, key.value.blob)).to.deep.equal({ ok: true, value: { user: sshd.users.nopasswd } });
    const encrypted = { ...target, privateKey: readFileSync(sshd.encryptedClientKey, 'utf8'), passphrase: sshd.passphrase };
    expect((await tryLogin(encrypted, key.value.blob)).ok).to.equal(true);
  });

  it('says when the node refuses the key, and when the host key is not the one accepted', async () => {
    const key = await fetchHostKey(target);
    if (!key.ok) throw new Error(key.error.message);
    const dir = mkdtempSync(join(tmpdir(), 'osha-probe-'));
    try {
      execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'other')]);
      const refused = await tryLogin({ ...target, privateKey: readFileSync(join(dir, 'other'), 'utf8') }, key.value.blob);
      expect(refused.ok).to.equal(false);
      if (!refused.ok) expect(refused.error.message).to.equal(`${sshd.users.nopasswd}@127.0.0.1 refused every key osha offered`);
      const otherBlob = Buffer.from(readFileSync(join(dir, 'other.pub'), 'utf8').split(' ')[1]!, 'base64');
      const swapped = await tryLogin(target, otherBlob);
      expect(swapped.ok).to.equal(false);
      if (!swapped.ok) expect(swapped.error.message).to.include('presented a different host key');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reports a node where nothing listens', async () => {
    const r = await fetchHostKey({ ...target, port: await freePort() });
    expect(r.ok).to.equal(false);
    if (!r.ok) expect(r.error.message).to.match(/^cannot reach 127\.0\.0\.1:\d+: .*ECONNREFUSED/);
  });
});
