// The wizard's optional SSH test, kept apart so the project's SSH executor can replace it.
// Two short connections per node: the first only reads the host key the server presents
// (the handshake is refused right after), so no connection sits open while the operator reads
// the fingerprint; the second logs in, accepting only that exact key.
import { Client, type ConnectConfig } from 'ssh2';
import { fingerprint, keyTypeOf } from '../ssh/known-hosts.ts';
import { err, ok, messageOf, oshaError, type Result } from '../util/result.ts';

export interface ProbeTarget {
  host: string;
  port: number;
  user: string;
  /** The private key's text (never a path on a command line), when one was chosen. */
  privateKey?: string;
  passphrase?: string;
  /** Use ssh-agent at $SSH_AUTH_SOCK too. */
  agent: boolean;
  timeoutMs: number;
}

export interface PresentedKey {
  keyType: string;
  fingerprint: string;
  blob: Buffer;
}

function baseConfig(t: ProbeTarget): ConnectConfig {
  const cfg: ConnectConfig = { host: t.host, port: t.port, username: t.user, readyTimeout: t.timeoutMs };
  if (t.privateKey) cfg.privateKey = t.privateKey;
  if (t.passphrase) cfg.passphrase = t.passphrase;
  if (t.agent && process.env.SSH_AUTH_SOCK) cfg.agent = process.env.SSH_AUTH_SOCK;
  return cfg;
}

/** Connects just far enough to see the server's host key, then drops the connection. */
export function fetchHostKey(t: ProbeTarget): Promise<Result<PresentedKey>> {
  return new Promise((resolve) => {
    const client = new Client();
    let presented: PresentedKey | undefined;
    const finish = (r: Result<PresentedKey>) => {
      client.removeAllListeners();
      client.on('error', () => {});
      client.end();
      resolve(r);
    };
    client.on('error', (e) => {
      if (presented) finish(ok(presented));
      else finish(err(oshaError(`cannot reach ${t.host}:${t.port}: ${messageOf(e)}`, { fix: 'check the address and port, and that sshd runs on the node' })));
    });
    client.on('ready', () => finish(err(oshaError(`${t.host} accepted a login before its host key was checked`))));
    client.connect({
      ...baseConfig(t),
      // Refusing the key ends the handshake here: nothing is authenticated with an unchecked key.
      hostVerifier: (key: Buffer) => {
        presented = { keyType: keyTypeOf(key), fingerprint: fingerprint(key), blob: key };
        return false;
      },
    });
  });
}

/** Logs in, trusting only `expected`; says whether the credentials work. */
export function tryLogin(t: ProbeTarget, expected: Buffer): Promise<Result<{ user: string }>> {
  return new Promise((resolve) => {
    const client = new Client();
    let keyChanged = false;
    const finish = (r: Result<{ user: string }>) => {
      client.removeAllListeners();
      client.on('error', () => {});
      client.end();
      resolve(r);
    };
    client.on('ready', () => finish(ok({ user: t.user })));
    client.on('error', (e: Error & { level?: string }) => {
      if (keyChanged) {
        finish(err(oshaError(`${t.host} presented a different host key on the second connection`, { fix: 'someone may be intercepting the connection; do not trust this node until you know why' })));
      } else if (e.level === 'client-authentication') {
        finish(err(oshaError(`${t.user}@${t.host} refused every key osha offered`, { fix: 'install your public key in the node\'s ~/.ssh/authorized_keys (e.g. ssh-copy-id), or pick another key' })));
      } else {
        finish(err(oshaError(`login to ${t.host}:${t.port} failed: ${messageOf(e)}`)));
      }
    });
    client.connect({
      ...baseConfig(t),
      hostVerifier: (key: Buffer) => {
        keyChanged = !key.equals(expected);
        return !keyChanged;
      },
    });
  });
}
