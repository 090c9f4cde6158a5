// The python program that talks to keystone, run for real (python3 of this host, the exact
// command and stdin a node gets) against a stub keystone on 127.0.0.1: token, list, changes
// in order, and the error paths.
import { expect } from 'chai';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeEndpointOp, parseCatalog, type EndpointOp } from '../../src/openstack/endpoints.ts';
import { endpointCall, KEYSTONE_COMMAND, KEYSTONE_UNREACHABLE, keystoneStdin, type KeystoneAuth, type KeystoneCall, type KeystoneRequest } from '../../src/openstack/keystone-api.ts';
import { run, type RunOutput } from '../../src/lab/exec.ts';

const PASSWORD = 'stub-secret-4711';
const TOKEN = 'stub-token-0815';

interface Stub {
  server: Server;
  url: string;
  endpoints: Record<string, unknown>[];
  /** Method and path of each request, in order. */
  seen: string[];
  tokenBody?: unknown;
}

async function body(req: IncomingMessage): Promise<unknown> {
  let text = '';
  for await (const chunk of req) text += String(chunk);
  return text ? JSON.parse(text) : undefined;
}

/** Just enough of keystone's v3 API: password tokens, endpoint CRUD, the service list. */
async function startStub(): Promise<Stub> {
  const stub: Stub = { server: createServer(), url: '', endpoints: [], seen: [] };
  let next = 0;
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
        return send(201, { token: {} }, { 'X-Subject-Token': TOKEN });
      }
      if (req.headers['x-auth-token'] !== TOKEN) return send(401, { error: { code: 401 } });
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
  await new Promise<void>((resolve) => stub.server.listen(0, '127.0.0.1', resolve));
  stub.url = `http://127.0.0.1:${(stub.server.address() as AddressInfo).port}/v3`;
  return stub;
}

/** The command a node runs, with the stdin it gets; no proxy between the program and the stub. */
function program(auth: KeystoneAuth, request: KeystoneRequest): Promise<RunOutput> {
  const env = { PATH: '/usr/bin:/bin', LANG: 'C.UTF-8' };
  return run('sh', ['-c', KEYSTONE_COMMAND], { input: keystoneStdin(auth, request), env, timeoutMs: 60_000 });
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

  beforeEach(() => {
    stub.seen = [];
    stub.endpoints = [
      { id: 'a', interface: 'public', region_id: 'RegionOne', url: 'http://198.18.0.11:9292', enabled: true, service_id: 'svc-image' },
      { id: 'b', interface: 'internal', region_id: 'RegionOne', url: 'http://198.18.0.11:9292', enabled: false, service_id: 'svc-image' },
      { id: 'c', interface: 'internal', region_id: 'RegionOne', url: 'http://198.18.0.12:9292', enabled: true, service_id: 'svc-image' },
    ];
  });

  it('gets a project-scoped token with the password from the file, then lists endpoints and services', async () => {
    const r = await program(auth, { action: 'list' });
    expect(r.stderr).to.equal('');
    expect(r.code).to.equal(0);
    expect(stub.seen).to.deep.equal(['POST /v3/auth/tokens?nocatalog', 'GET /v3/endpoints', 'GET /v3/services']);
    expect(stub.tokenBody).to.deep.equal({
      auth: {
        identity: { methods: ['password'], password: { user: { name: 'admin', domain: { name: 'Default' }, password: PASSWORD } } },
        scope: { project: { name: 'admin', domain: { name: 'Default' } } },
      },
    });
    const catalog = parseCatalog(JSON.parse(r.stdout));
    expect(catalog.ok && catalog.value.endpoints.map((e) => `${e.id} ${e.serviceType} ${e.interface} ${e.enabled}`)).to.deep.equal(['a image public true', 'b image internal false', 'c image internal true']);
    // The password travels neither on the command line nor on stdin.
    expect(KEYSTONE_COMMAND + keystoneStdin(auth, { action: 'list' })).not.to.contain(PASSWORD);
  });

  it('makes the changes in order, one line per change done', async () => {
    const ops: EndpointOp[] = [
      { kind: 'update', id: 'b', serviceType: 'image', interface: 'internal', region: 'RegionOne', from: 'http://198.18.0.11:9292', url: 'http://198.18.0.100:9292', enable: true },
      { kind: 'create', serviceType: 'image', interface: 'admin', region: 'RegionOne', url: 'http://198.18.0.100:9292' },
      { kind: 'delete', id: 'c', serviceType: 'image', interface: 'internal', region: 'RegionOne', url: 'http://198.18.0.12:9292' },
    ];
    const r = await program(auth, { action: 'apply', calls: calls(ops) });
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
    const r = await program(auth, { action: 'apply', calls: calls(ops) });
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
    const r = await program({ ...auth, password_file: join(dir, 'wrong') }, { action: 'list' });
    expect(r.code).to.equal(1);
    expect(r.stderr).to.contain(`POST ${stub.url}/auth/tokens?nocatalog: HTTP 401 Unauthorized: {"error":{"code":401`);
    expect(r.stderr).not.to.contain('not-it');
  });

  it('says when the password file cannot be read', async () => {
    const r = await program({ ...auth, password_file: join(dir, 'absent') }, { action: 'list' });
    expect(r.code).to.equal(1);
    expect(r.stderr).to.contain('cannot read the admin password');
    expect(stub.seen).to.deep.equal([]);
  });

  it('says keystone did not answer when nothing listens at the auth URL', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(closed.address() as AddressInfo).port}/v3`;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const r = await program({ ...auth, url }, { action: 'list' });
    expect(r.code).to.equal(KEYSTONE_UNREACHABLE);
    expect(r.stderr).to.contain(`keystone at ${url} did not answer`);
  });
});
