// The python program that talks to keystone, run for real (python3 of this host, the exact
// command and stdin a node gets) against a stub keystone on 127.0.0.1: token, list, changes
// in order, the saved token, and the error paths.
import { expect } from 'chai';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeEndpointOp, parseCatalog, type EndpointOp } from '../../src/openstack/endpoints.ts';
import { endpointCall, KEYSTONE_COMMAND, KEYSTONE_UNREACHABLE, keystoneStdin, type KeystoneAuth, type KeystoneCall, type KeystoneRequest } from '../../src/openstack/keystone-api.ts';
import { run, type RunOutput } from '../../src/lab/exec.ts';

const PASSWORD = 'stub-secret-4711';
const TOKEN_PREFIX = 'stub-token-';

interface Stub {
  server: Server;
  url: string;
  endpoints: Record<string, unknown>[];
  /** Method and path of each request, in order. */
  seen: string[];
  tokenBody?: unknown;
  /** Tokens the stub accepts; each login adds one (stub-token-N), a test may revoke them. */
  valid: Set<string>;
  /** expires_at of the tokens it issues. */
  expiresAt: string;
}

async function body(req: IncomingMessage): Promise<unknown> {
  let text = '';
  for await (const chunk of req) text += String(chunk);
  return text ? JSON.parse(text) : undefined;
}

/** Just enough of keystone's v3 API: password tokens, endpoint CRUD, the service list. */
async function startStub(port = 0): Promise<Stub> {
  const stub: Stub = { server: createServer(), url: '', endpoints: [], seen: [], valid: new Set(), expiresAt: '' };
  let next = 0;
  let issued = 0;
  stub.server.on('request', (req, res) => {
    void (async () => {
      const b = await body(req);
      stub.seen.push(`${req.method} ${req.url}`);
      const send = (status: number, doc?: unknown, headers: Record<string, string> = {}) => {
        res.writeHead(status, { 'Content-Type': 'application/json', ...headers });
        res.end(doc === undefined ? '' : JSON.stringify(doc));
      };
      if (req.method === 'POST' && req.url === '/v3/auth/tokens?nocatalog') {
        stub.tokenBody = b;
        const pw = (b as { auth: { identity: { password: { user: { password: string } } } } }).auth.identity.password.user.password;
        if (pw !== PASSWORD) return send(401, { error: { code: 401, message: 'The request you have made requires authentication.' } });
        const token = `${TOKEN_PREFIX}${issued++}`;
        stub.valid.add(token);
        return send(201, { token: { expires_at: stub.expiresAt } }, { 'X-Subject-Token': token });
      }
      if (!stub.valid.has(String(req.headers['x-auth-token']))) return send(401, { error: { code: 401 } });
      const id = req.url?.match(/^\/v3\/endpoints\/([^/]+)$/)?.[1];
      const found = stub.endpoints.find((e) => e.id === id);
      if (req.method === 'GET' && req.url === '/v3/services') return send(200, { services: [{ id: 'svc-image', type: 'image', name: 'glance', enabled: true }] });
      if (req.method === 'GET' && req.url === '/v3/endpoints') return send(200, { endpoints: stub.endpoints });
      if (req.method === 'POST' && req.url === '/v3/endpoints') {
        const e = { id: `new${next++}`, ...(b as { endpoint: object }).endpoint };
        stub.endpoints.push(e);
        return send(201, { endpoint: e });
      }
      // A long body: the program shows only its start.
      if (!found) return send(404, { error: { code: 404, message: `Could not find endpoint: ${id}. ${'x'.repeat(400)}` } });
      if (req.method === 'PATCH') {
        Object.assign(found, (b as { endpoint: object }).endpoint);
        return send(200, { endpoint: found });
      }
      if (req.method === 'DELETE') {
        stub.endpoints = stub.endpoints.filter((e) => e !== found);
        return send(204);
      }
      send(405, { error: { code: 405 } });
    })();
  });
  await new Promise<void>((resolve) => stub.server.listen(port, '127.0.0.1', resolve));
  stub.url = `http://127.0.0.1:${(stub.server.address() as AddressInfo).port}/v3`;
  return stub;
}

/** The command a node runs, with the stdin it gets; no proxy between the program and the stub. */
function program(auth: KeystoneAuth, request: KeystoneRequest, tokenFile: string): Promise<RunOutput> {
  const env = { PATH: '/usr/bin:/bin', LANG: 'C.UTF-8' };
  return run('sh', ['-c', KEYSTONE_COMMAND], { input: keystoneStdin(auth, request, tokenFile), env, timeoutMs: 60_000 });
}

/** Keystone's own form of an expiry (microseconds, Z), this many seconds from now. */
function expiresIn(seconds: number): string {
  return new Date(Date.now() + seconds * 1000).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

function calls(ops: EndpointOp[]): KeystoneCall[] {
  return ops.map((op) => {
    const c = endpointCall(op, new Map([['image', 'svc-image']]));
    if (!c.ok) throw new Error(c.error.message);
    return c.value;
  });
}

describe('the keystone program against a stub keystone', function () {
  this.timeout(60_000);
  let stub: Stub;
  let dir: string;
  let auth: KeystoneAuth;

  before(async function () {
    if (!existsSync('/usr/bin/python3')) this.skip();
    stub = await startStub();
    dir = mkdtempSync(join(tmpdir(), 'osha-keystone-'));
    // Written the way deploy writes it: with a trailing newline, which is not part of the password.
    writeFileSync(join(dir, 'password'), `${PASSWORD}\n`, { mode: 0o600 });
    auth = { url: stub.url, username: 'admin', project: 'admin', user_domain: 'Default', project_domain: 'Default', password_file: join(dir, 'password') };
  });

  after(() => {
    stub?.server.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  // Each test its own token file: nothing is saved unless a test asks for it.
  let tokenFile: string;
  let tests = 0;
  const list = (a: KeystoneAuth, saveToken = false) => program(a, { action: 'list', saveToken }, tokenFile);
  const apply = (a: KeystoneAuth, c: KeystoneCall[]) => program(a, { action: 'apply', calls: c }, tokenFile);

  beforeEach(() => {
    tokenFile = join(dir, `token-${tests++}`);
    stub.expiresAt = expiresIn(3600);
    stub.seen = [];
    stub.endpoints = [
      { id: 'a', interface: 'public', region_id: 'RegionOne', url: 'http://198.18.0.11:9292', enabled: true, service_id: 'svc-image' },
      { id: 'b', interface: 'internal', region_id: 'RegionOne', url: 'http://198.18.0.11:9292', enabled: false, service_id: 'svc-image' },
      { id: 'c', interface: 'internal', region_id: 'RegionOne', url: 'http://198.18.0.12:9292', enabled: true, service_id: 'svc-image' },
    ];
  });

  it('gets a project-scoped token with the password from the file, then lists endpoints and services', async () => {
    const r = await list(auth);
    expect(r.stderr).to.equal('');
    expect(r.code).to.equal(0);
    expect(stub.seen).to.deep.equal(['POST /v3/auth/tokens?nocatalog', 'GET /v3/endpoints', 'GET /v3/services']);
    expect(existsSync(tokenFile), 'saveToken false: nothing written').to.equal(false);
    expect(stub.tokenBody).to.deep.equal({
      auth: {
        identity: { methods: ['password'], password: { user: { name: 'admin', domain: { name: 'Default' }, password: PASSWORD } } },
        scope: { project: { name: 'admin', domain: { name: 'Default' } } },
      },
    });
    const catalog = parseCatalog(JSON.parse(r.stdout));
    expect(catalog.ok && catalog.value.endpoints.map((e) => `${e.id} ${e.serviceType} ${e.interface} ${e.enabled}`)).to.deep.equal(['a image public true', 'b image internal false', 'c image internal true']);
    // The password travels neither on the command line nor on stdin.
    expect(KEYSTONE_COMMAND + keystoneStdin(auth, { action: 'list', saveToken: true })).not.to.contain(PASSWORD);
  });

  it('makes the changes in order, one line per change done', async () => {
    const ops: EndpointOp[] = [
      { kind: 'update', id: 'b', serviceType: 'image', interface: 'internal', region: 'RegionOne', from: 'http://198.18.0.11:9292', url: 'http://198.18.0.100:9292', enable: true },
      { kind: 'create', serviceType: 'image', interface: 'admin', region: 'RegionOne', url: 'http://198.18.0.100:9292' },
      { kind: 'delete', id: 'c', serviceType: 'image', interface: 'internal', region: 'RegionOne', url: 'http://198.18.0.12:9292' },
    ];
    const r = await apply(auth, calls(ops));
    expect(r.stderr).to.equal('');
    expect(r.code).to.equal(0);
    expect(r.stdout.trim().split('\n')).to.deep.equal(ops.map((op) => `done: ${describeEndpointOp(op)}`));
    expect(stub.seen).to.deep.equal(['POST /v3/auth/tokens?nocatalog', 'PATCH /v3/endpoints/b', 'POST /v3/endpoints', 'DELETE /v3/endpoints/c']);
    expect(stub.endpoints).to.deep.equal([
      { id: 'a', interface: 'public', region_id: 'RegionOne', url: 'http://198.18.0.11:9292', enabled: true, service_id: 'svc-image' },
      { id: 'b', interface: 'internal', region_id: 'RegionOne', url: 'http://198.18.0.100:9292', enabled: true, service_id: 'svc-image' },
      { id: 'new0', interface: 'admin', region_id: 'RegionOne', url: 'http://198.18.0.100:9292', enabled: true, service_id: 'svc-image' },
    ]);
  });

  it('stops at the first failed change, naming it, with the HTTP status and the start of the body', async () => {
    const ops: EndpointOp[] = [
      { kind: 'delete', id: 'c', serviceType: 'image', interface: 'internal', region: 'RegionOne', url: 'http://198.18.0.12:9292' },
      { kind: 'delete', id: 'gone', serviceType: 'image', interface: 'internal', region: 'RegionOne', url: 'http://198.18.0.13:9292' },
      { kind: 'delete', id: 'a', serviceType: 'image', interface: 'public', region: 'RegionOne', url: 'http://198.18.0.11:9292' },
    ];
    const r = await apply(auth, calls(ops));
    expect(r.code).to.equal(1);
    expect(r.stdout.trim().split('\n')).to.deep.equal([`done: ${describeEndpointOp(ops[0]!)}`]);
    const message = r.stderr.trim();
    expect(message).to.match(new RegExp(`^change 2 of 3 failed \\(- endpoint image internal \\(RegionOne\\) gone: .*\\): DELETE ${stub.url}/endpoints/gone: HTTP 404 Not Found: \\{"error"`));
    expect(message).to.contain('Could not find endpoint: gone.');
    expect(message.length).to.be.below(600);
    expect(stub.endpoints.map((e) => e.id)).to.deep.equal(['a', 'b']);
  });

  it('says when the password is refused', async () => {
    writeFileSync(join(dir, 'wrong'), 'not-it\n');
    const r = await list({ ...auth, password_file: join(dir, 'wrong') });
    expect(r.code).to.equal(1);
    expect(r.stderr).to.contain(`POST ${stub.url}/auth/tokens?nocatalog: HTTP 401 Unauthorized: {"error":{"code":401`);
    expect(r.stderr).not.to.contain('not-it');
  });

  it('says when the password file cannot be read', async () => {
    const r = await list({ ...auth, password_file: join(dir, 'absent') });
    expect(r.code).to.equal(1);
    expect(r.stderr).to.contain('cannot read the admin password');
    expect(stub.seen).to.deep.equal([]);
  });

  it('says keystone did not answer when nothing listens at the auth URL', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(closed.address() as AddressInfo).port}/v3`;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const r = await list({ ...auth, url });
    expect(r.code).to.equal(KEYSTONE_UNREACHABLE);
    expect(r.stderr).to.contain(`keystone at ${url} did not answer`);
  });

  /** An address on this host where nothing listens (a port just closed). */
  const closedUrl = async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    return { port, url: `http://127.0.0.1:${port}/v3` };
  };

  it('with a wait, asks again while keystone does not answer, and lists once it does (a keystone still starting)', async () => {
    const { port, url } = await closedUrl();
    const asked = program({ ...auth, url }, { action: 'list', saveToken: false, wait: 30 }, tokenFile);
    await new Promise((resolve) => setTimeout(resolve, 2500));
    const late = await startStub(port);
    late.endpoints = stub.endpoints;
    late.expiresAt = stub.expiresAt;
    try {
      const r = await asked;
      expect(r.stderr).to.equal('');
      expect(r.code).to.equal(0);
      expect(late.seen).to.deep.equal(['POST /v3/auth/tokens?nocatalog', 'GET /v3/endpoints', 'GET /v3/services']);
    } finally {
      late.server.close();
    }
  });

  it('a wait ends: then it says keystone did not answer, how often and how long it asked', async () => {
    const { url } = await closedUrl();
    const t0 = Date.now();
    const r = await program({ ...auth, url }, { action: 'list', saveToken: false, wait: 3 }, tokenFile);
    expect(r.code).to.equal(KEYSTONE_UNREACHABLE);
    expect(r.stderr).to.match(new RegExp(`keystone at ${url.replace(/[./]/g, '\\$&')} did not answer .*\\(asked [2-4] times over [1-3] s\\)`));
    expect(Date.now() - t0).to.be.within(1500, 10_000);
  });

  it('never asks twice for a change: an apply fails at the first unanswered call', async () => {
    const { url } = await closedUrl();
    const r = await program({ ...auth, url }, { action: 'apply', calls: [] }, tokenFile);
    expect(r.code).to.equal(KEYSTONE_UNREACHABLE);
    expect(r.stderr).not.to.include('asked');
  });

  describe('the saved token', function () {
    it('a list saves its token 0600 and the next list uses it, without logging in', async () => {
      const first = await list(auth, true);
      expect(first.code, first.stderr).to.equal(0);
      expect(statSync(tokenFile).mode & 0o777).to.equal(0o600);
      const saved = JSON.parse(readFileSync(tokenFile, 'utf8')) as { token: string; expires: number };
      expect(saved.token, 'the token the login got').to.equal([...stub.valid].at(-1));
      expect(saved.expires * 1000).to.be.closeTo(Date.parse(stub.expiresAt), 1000);
      stub.seen = [];
      const second = await list(auth, true);
      expect(second.code, second.stderr).to.equal(0);
      expect(stub.seen).to.deep.equal(['GET /v3/endpoints', 'GET /v3/services']);
      expect(second.stdout).to.equal(first.stdout);
      // The token is in neither output.
      expect(first.stdout + first.stderr + second.stdout + second.stderr).not.to.contain(TOKEN_PREFIX);
    });

    it('a token keystone refuses (revoked) is replaced by a login, and saved anew', async () => {
      expect((await list(auth, true)).code).to.equal(0);
      const old = (JSON.parse(readFileSync(tokenFile, 'utf8')) as { token: string }).token;
      stub.valid.delete(old);
      stub.seen = [];
      const r = await list(auth, true);
      expect(r.code, r.stderr).to.equal(0);
      expect(stub.seen).to.deep.equal(['GET /v3/endpoints', 'POST /v3/auth/tokens?nocatalog', 'GET /v3/endpoints', 'GET /v3/services']);
      expect((JSON.parse(readFileSync(tokenFile, 'utf8')) as { token: string }).token).not.to.equal(old);
    });

    it('is not used for another user or keystone, nor with under a minute left', async () => {
      stub.expiresAt = expiresIn(50);
      expect((await list(auth, true)).code).to.equal(0);
      stub.seen = [];
      expect((await list(auth, true)).code).to.equal(0);
      expect(stub.seen[0], 'under a minute left').to.equal('POST /v3/auth/tokens?nocatalog');
      stub.expiresAt = expiresIn(3600);
      expect((await list(auth, true)).code).to.equal(0);
      stub.seen = [];
      expect((await list({ ...auth, username: 'other' }, true)).code).to.equal(0);
      expect(stub.seen[0], 'another user').to.equal('POST /v3/auth/tokens?nocatalog');
    });

    it('changes never use a saved token: they log in first', async () => {
      expect((await list(auth, true)).code).to.equal(0);
      stub.seen = [];
      const ops: EndpointOp[] = [{ kind: 'delete', id: 'c', serviceType: 'image', interface: 'internal', region: 'RegionOne', url: 'http://198.18.0.12:9292' }];
      const r = await apply(auth, calls(ops));
      expect(r.code, r.stderr).to.equal(0);
      expect(stub.seen).to.deep.equal(['POST /v3/auth/tokens?nocatalog', 'DELETE /v3/endpoints/c']);
    });

    it('a token file that is not the program\'s own is ignored', async () => {
      writeFileSync(tokenFile, 'not json', { mode: 0o600 });
      const r = await list(auth, true);
      expect(r.code, r.stderr).to.equal(0);
      expect(stub.seen[0]).to.equal('POST /v3/auth/tokens?nocatalog');
      expect(JSON.parse(readFileSync(tokenFile, 'utf8'))).to.have.property('token');
    });
  });
});
