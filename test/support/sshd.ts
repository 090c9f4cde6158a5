// A real OpenSSH sshd on 127.0.0.1 for the executor tests: a free port, a throwaway host key,
// throwaway users (one with passwordless sudo, one whose sudo needs a password). Needs root.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync, rmSync, mkdirSync, chmodSync, existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onTeardown } from './teardown.ts';
import { HostConnection } from '../../src/ssh/connection.ts';

export interface TestSshd {
  port: number;
  dir: string;
  /** OpenSSH public host key line: "ssh-ed25519 AAAA...". */
  hostKeyPub: string;
  /** Private key (no passphrase) authorised for every test user. */
  clientKey: string;
  /** Same authorised key, encrypted with `passphrase`. */
  encryptedClientKey: string;
  passphrase: string;
  users: { nopasswd: string; withPassword: string; password: string };
  /** A known_hosts file that trusts this sshd. */
  knownHosts: string;
  stop(): void;
}

export function isRoot(): boolean {
  return process.getuid?.() === 0;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => resolve(typeof addr === 'object' && addr ? addr.port : 0));
    });
  });
}

/** A connection to the shared sshd as root, without sudo (a failure to connect throws). */
export async function openAsRoot(sshd: TestSshd): Promise<HostConnection> {
  const opened = await HostConnection.open({
    name: 'local', host: '127.0.0.1', port: sshd.port, user: 'root', privateKey: sshd.clientKey, knownHosts: sshd.knownHosts,
    agent: false, sudo: { mode: 'none' }, connectTimeoutMs: 5000, commandTimeoutMs: 30_000,
  });
  if (!opened.ok) throw new Error(opened.error.message);
  return opened.value;
}

let shared: Promise<TestSshd> | undefined;

/** One sshd for the whole run; torn down (by PID) at the end even when tests fail. */
export function sharedSshd(): Promise<TestSshd> {
  shared ??= startSshd();
  return shared;
}

const SSHD = '/usr/sbin/sshd';

async function startSshd(): Promise<TestSshd> {
  if (!existsSync(SSHD)) throw new Error(`${SSHD} not found: apt-get install openssh-server`);
  const dir = mkdtempSync(join(tmpdir(), 'osha-sshd-'));
  chmodSync(dir, 0o755);
  const port = await freePort();
  const suffix = String(process.pid % 100000);
  const users = { nopasswd: `oshanp${suffix}`, withPassword: `oshapw${suffix}`, password: `pw-${Math.random().toString(36).slice(2)}-x` };
  const passphrase = `pp-${Math.random().toString(36).slice(2)}`;
  const keygen = (file: string, pass = '') => execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', pass, '-C', 'osha-test', '-f', file]);
  keygen(join(dir, 'host_ed25519'));
  keygen(join(dir, 'client'));
  execFileSync('cp', [join(dir, 'client'), join(dir, 'client_enc')]);
  execFileSync('ssh-keygen', ['-q', '-p', '-N', passphrase, '-f', join(dir, 'client_enc')]);

  for (const u of [users.nopasswd, users.withPassword]) {
    execFileSync('useradd', ['--create-home', '--shell', '/bin/sh', u]);
  }
  onTeardown(() => {
    for (const u of [users.nopasswd, users.withPassword]) {
      try {
        execFileSync('userdel', ['--remove', '--force', u], { stdio: 'ignore' });
      } catch {
        /* already gone */
      }
    }
    rmSync(`/etc/sudoers.d/osha-test-${suffix}`, { force: true });
  });
  // '*' unlocks key logins for the passwordless user; the other gets a real password for sudo.
  execFileSync('usermod', ['-p', '*', users.nopasswd]);
  execFileSync('chpasswd', { input: `${users.withPassword}:${users.password}\n` });
  writeFileSync(`/etc/sudoers.d/osha-test-${suffix}`, `${users.nopasswd} ALL=(ALL) NOPASSWD: ALL\n${users.withPassword} ALL=(ALL) ALL\n`, { mode: 0o440 });

  const authDir = join(dir, 'authorized_keys');
  mkdirSync(authDir, { mode: 0o755 });
  const clientPub = readFileSync(join(dir, 'client.pub'), 'utf8');
  for (const u of ['root', users.nopasswd, users.withPassword]) writeFileSync(join(authDir, u), clientPub, { mode: 0o644 });
  mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  writeFileSync(
    join(dir, 'sshd_config'),
    [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${join(dir, 'host_ed25519')}`,
      `PidFile ${join(dir, 'sshd.pid')}`,
      `AuthorizedKeysFile ${authDir}/%u`,
      'StrictModes no',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'UsePAM no',
      'PermitRootLogin prohibit-password',
      'MaxSessions 50',
      'MaxStartups 50',
      'LogLevel ERROR',
      '',
    ].join('\n'),
  );
  const child: ChildProcess = spawn(SSHD, ['-D', '-e', '-f', join(dir, 'sshd_config')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const stop = () => {
    if (child.exitCode === null && child.pid) {
      try {
        process.kill(child.pid, 'SIGTERM');
      } catch {
        /* gone */
      }
    }
    rmSync(dir, { recursive: true, force: true });
  };
  onTeardown(stop);
  await waitForPort(port, () => (child.exitCode !== null ? `sshd exited: ${stderr}` : undefined));
  const hostKeyPub = readFileSync(join(dir, 'host_ed25519.pub'), 'utf8').trim().split(' ').slice(0, 2).join(' ');
  const knownHosts = join(dir, 'known_hosts');
  writeFileSync(knownHosts, `[127.0.0.1]:${port} ${hostKeyPub}\n`);
  return {
    port,
    dir,
    hostKeyPub,
    clientKey: join(dir, 'client'),
    encryptedClientKey: join(dir, 'client_enc'),
    passphrase,
    users,
    knownHosts,
    stop,
  };
}

async function waitForPort(port: number, dead: () => string | undefined, timeoutMs = 10_000): Promise<void> {
  const { connect } = await import('node:net');
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const why = dead();
    if (why) throw new Error(why);
    const up = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (up) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`sshd did not listen on ${port} within ${timeoutMs} ms`);
}
