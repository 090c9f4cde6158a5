// The lab's apt proxy without a lab (no root): apt's file names, what a request asks for, the
// Packages lookup, and the server itself on 127.0.0.1 against a fake image cache and a fake
// mirror (a local HTTP server) that counts what it is asked for.
import { expect } from 'chai';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { APT_PROXY_PORT, aptConf, aptListName, classifyRequest, createAptProxy, findPackagesEntry, mirrorRoot, poolBasename } from '../../src/lab/apt-proxy.ts';

const MIRRORS = ['deb.debian.org/debian', 'deb.debian.org/debian-security'];

describe('apt proxy: apt file names', () => {
  it('names list files the way apt does (no scheme, "/" as "_", unsafe characters quoted)', () => {
    expect(aptListName('http://deb.debian.org/debian/dists/trixie/InRelease')).to.equal('deb.debian.org_debian_dists_trixie_InRelease');
    expect(aptListName('http://deb.debian.org/debian/dists/trixie/main/binary-amd64/Packages')).to.equal('deb.debian.org_debian_dists_trixie_main_binary-amd64_Packages');
    expect(aptListName('http://deb.debian.org/debian-security/dists/bookworm-security/InRelease')).to.equal('deb.debian.org_debian-security_dists_bookworm-security_InRelease');
    expect(aptListName('http://127.0.0.1:8080/debian/dists/stable/InRelease')).to.equal('127.0.0.1:8080_debian_dists_stable_InRelease');
    // apt quotes "_" and "~" (so "_" in a name is always a "/"); the URL's own escapes are decoded first.
    expect(aptListName('http://mirror.example/my_repo/dists/x~1/InRelease')).to.equal('mirror.example_my%5frepo_dists_x%7e1_InRelease');
    expect(aptListName('http://mirror.example/a%2bb/dists/x/InRelease')).to.equal('mirror.example_a+b_dists_x_InRelease');
    expect(aptListName('https://deb.debian.org/debian/dists/trixie/InRelease')).to.equal(undefined);
  });

  it('finds the mirror a list file comes from', () => {
    expect(mirrorRoot('deb.debian.org_debian_dists_trixie_main_binary-amd64_Packages')).to.equal('deb.debian.org/debian');
    expect(mirrorRoot('deb.debian.org_debian-security_dists_trixie-security_InRelease')).to.equal('deb.debian.org/debian-security');
    expect(mirrorRoot('mirror.example_my%5frepo_dists_x_InRelease')).to.equal('mirror.example/my_repo');
    expect(mirrorRoot('auxfiles')).to.equal(undefined);
  });

  it("maps apt's cached .deb names to pool names: the quoted epoch goes", () => {
    expect(poolBasename('keystone_2%3a27.0.0-3+deb13u6_all.deb')).to.equal('keystone_27.0.0-3+deb13u6_all.deb');
    expect(poolBasename('bsdutils_1%3a2.41.5-0+deb13u1_amd64.deb')).to.equal('bsdutils_2.41.5-0+deb13u1_amd64.deb');
    expect(poolBasename('pacemaker_2.1.5-1+deb12u1_amd64.deb')).to.equal('pacemaker_2.1.5-1+deb12u1_amd64.deb');
  });
});

describe('apt proxy: what a request asks for', () => {
  it('an index file by its list name', () => {
    expect(classifyRequest('GET', 'http://deb.debian.org/debian/dists/trixie/InRelease', MIRRORS)).to.deep.equal({ kind: 'index', listName: 'deb.debian.org_debian_dists_trixie_InRelease' });
    expect(classifyRequest('HEAD', 'http://deb.debian.org/debian/dists/trixie/main/binary-amd64/Packages.xz', MIRRORS)).to.deep.equal({
      kind: 'index',
      listName: 'deb.debian.org_debian_dists_trixie_main_binary-amd64_Packages.xz',
    });
  });

  it('a .deb by its decoded pool name, under the innermost mirror', () => {
    expect(classifyRequest('GET', 'http://deb.debian.org/debian-security/pool/updates/main/k/keystone/keystone_27.0.0-3%2bdeb13u6_all.deb', MIRRORS)).to.deep.equal({
      kind: 'deb',
      basename: 'keystone_27.0.0-3+deb13u6_all.deb',
      root: 'deb.debian.org/debian-security',
      filename: 'pool/updates/main/k/keystone/keystone_27.0.0-3+deb13u6_all.deb',
      origin: 'http://deb.debian.org/debian-security/pool/updates/main/k/keystone/keystone_27.0.0-3%2bdeb13u6_all.deb',
    });
    const nested = classifyRequest('GET', 'http://m.example/debian/sub/pool/a/a_1_all.deb', ['m.example/debian', 'm.example/debian/sub']);
    expect(nested).to.deep.include({ root: 'm.example/debian/sub', filename: 'pool/a/a_1_all.deb' });
  });

  it('refuses other hosts, a .deb outside the mirrors, other methods, tunnels and relative URLs', () => {
    const refused = (method: string, url: string) => {
      const c = classifyRequest(method, url, MIRRORS);
      return c.kind === 'refused' ? c.status : c.kind;
    };
    expect(refused('GET', 'http://example.com/')).to.equal(403);
    expect(refused('GET', 'http://deb.debian.org.evil.example/debian/pool/main/a/a/a_1_all.deb')).to.equal(403);
    expect(refused('GET', 'http://deb.debian.org/other/pool/main/a/a/a_1_all.deb')).to.equal(403);
    expect(refused('POST', 'http://deb.debian.org/debian/dists/trixie/InRelease')).to.equal(405);
    expect(refused('CONNECT', 'deb.debian.org:443')).to.equal(405);
    expect(refused('GET', '/debian/dists/trixie/InRelease')).to.equal(400);
    expect(refused('GET', 'https://deb.debian.org/debian/dists/trixie/InRelease')).to.equal(400);
    expect(refused('GET', 'http://deb.debian.org/debian/pool/a_1_all.deb%0aSize: 1')).to.equal(400);
    // Not a pool name: looked up as an index file (and not found there).
    expect(refused('GET', 'http://deb.debian.org/debian/pool/main/.deb')).to.equal('index');
  });
});

describe('apt proxy: Packages lookup', () => {
  const stanza = (name: string, body: string) => `Package: ${name}\nVersion: 1\nFilename: pool/main/${name[0]}/${name}/${name}_1_all.deb\n${body}`;
  const sha = (c: string) => c.repeat(64);
  const list = Buffer.from(
    [stanza('alpha', `Size: 10\nSHA256: ${sha('a')}\n`), stanza('beta', `SHA256: ${sha('b')}\nSize: 20\nDescription: x\n`), stanza('gamma', `Size: 30\nSHA256: ${sha('c')}`)].join('\n') + '\n',
  );

  it('finds the size and SHA256 of a Filename in any stanza, in any field order', () => {
    expect(findPackagesEntry(list, 'pool/main/a/alpha/alpha_1_all.deb')).to.deep.equal({ size: 10, sha256: sha('a') });
    expect(findPackagesEntry(list, 'pool/main/b/beta/beta_1_all.deb')).to.deep.equal({ size: 20, sha256: sha('b') });
    expect(findPackagesEntry(list, 'pool/main/g/gamma/gamma_1_all.deb')).to.deep.equal({ size: 30, sha256: sha('c') });
  });

  it('matches whole Filename lines only', () => {
    expect(findPackagesEntry(list, 'pool/main/a/alpha/alpha_1_all')).to.equal(undefined);
    expect(findPackagesEntry(list, 'main/a/alpha/alpha_1_all.deb')).to.equal(undefined);
    expect(findPackagesEntry(list, 'pool/main/d/delta/delta_1_all.deb')).to.equal(undefined);
  });
});

describe('apt proxy: the node side', () => {
  it('points apt at the bridge and tells it how to use a frozen snapshot', () => {
    const conf = aptConf('198.18.86.1');
    expect(conf).to.include(`Acquire::http::Proxy "http://198.18.86.1:${APT_PROXY_PORT}/";`);
    for (const line of ['Acquire::Check-Valid-Until "false";', 'Acquire::Languages "none";', 'Acquire::By-Hash "no";', 'Acquire::CompressionTypes::Order:: "uncompressed";']) {
      expect(conf).to.include(line);
    }
  });
});

interface Answer {
  status: number;
  body: Buffer;
}

/** One request through the proxy, as apt sends it: the absolute URL as the path. */
function viaProxy(port: number, url: string, opts: { method?: string; headers?: Record<string, string> } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: url, method: opts.method ?? 'GET', headers: opts.headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Asks the proxy for a tunnel (CONNECT, as https through a proxy does); resolves with its status line. */
function tunnel(port: number, to: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = connect(port, '127.0.0.1', () => sock.write(`CONNECT ${to} HTTP/1.1\r\nHost: ${to}\r\n\r\n`));
    let got = '';
    sock.on('data', (d: Buffer) => (got += d.toString()));
    sock.on('close', () => resolve(got.split('\r\n')[0] ?? ''));
    sock.on('error', reject);
  });
}

function listen(server: http.Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

describe('apt proxy: the server (fake image cache, fake mirror on 127.0.0.1)', function () {
  this.timeout(20_000);
  let root: string;
  let cacheDir: string;
  let extraDir: string;
  let mirror: http.Server;
  let mirrorHost: string;
  let proxy: http.Server;
  let proxyPort: number;
  const asked: string[] = [];
  const lines: string[] = [];
  /** What the fake mirror serves, by path; a .deb with other bytes than its Packages stanza says stands for a broken download. */
  const files = new Map<string, Buffer>();
  const CACHED = Buffer.from('cached deb');
  const MISSING = Buffer.from('a deb only the mirror has');
  const CORRUPT = Buffer.from('what the Packages list describes');
  const IN_RELEASE = 'Origin: Debian\nSuite: stable\n';
  const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'osha-apt-proxy-'));
    cacheDir = join(root, 'cache');
    extraDir = join(cacheDir, 'apt');
    mirror = http.createServer((req, res) => {
      asked.push(req.url ?? '');
      const body = files.get(decodeURIComponent(req.url ?? ''));
      res.writeHead(body ? 200 : 404);
      res.end(body);
    });
    mirrorHost = `127.0.0.1:${await listen(mirror)}`;
    files.set('/debian/pool/main/m/missing/missing_2.0-1+b1_all.deb', MISSING);
    files.set('/debian/pool/main/c/corrupt/corrupt_1.0_all.deb', Buffer.from('something else'));

    const image = join(cacheDir, '0123456789abcdef');
    const lists = join(image, 'rootfs/var/lib/apt/lists');
    const archives = join(image, 'rootfs/var/cache/apt/archives');
    mkdirSync(join(lists, 'partial'), { recursive: true });
    mkdirSync(join(archives, 'partial'), { recursive: true });
    writeFileSync(join(image, 'recipe.json'), '{}');
    const prefix = `${mirrorHost}_debian_dists_stable`;
    writeFileSync(join(lists, `${prefix}_InRelease`), IN_RELEASE);
    const stanza = (name: string, file: string, b: Buffer) => `Package: ${name}\nFilename: pool/main/${name[0]}/${name}/${file}\nSize: ${b.length}\nSHA256: ${sha256(b)}\n`;
    writeFileSync(
      join(lists, `${prefix}_main_binary-amd64_Packages`),
      [stanza('cached', 'cached_1.0_all.deb', CACHED), stanza('missing', 'missing_2.0-1+b1_all.deb', MISSING), stanza('corrupt', 'corrupt_1.0_all.deb', CORRUPT)].join('\n'),
    );
    writeFileSync(join(lists, 'lock'), '');
    writeFileSync(join(archives, 'cached_1%3a1.0_all.deb'), CACHED);

    proxy = await createAptProxy({ cacheDir, extraDir, allowed: new Set(['127.0.0.1']), log: (l) => lines.push(l) });
    proxyPort = await listen(proxy);
  });

  after(() => {
    proxy?.close();
    mirror?.close();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  const url = (path: string) => `http://${mirrorHost}/debian/${path}`;

  it('makes the directory for fetched .debs, 0755', () => {
    expect(statSync(extraDir).mode & 0o777).to.equal(0o755);
  });

  it('serves index files from the snapshot, 304 when apt has them already, 404 for what it lacks, and never asks the mirror', async () => {
    const got = await viaProxy(proxyPort, url('dists/stable/InRelease'));
    expect(got.status).to.equal(200);
    expect(got.body.toString()).to.equal(IN_RELEASE);
    const again = await viaProxy(proxyPort, url('dists/stable/InRelease'), { headers: { 'if-modified-since': new Date(Date.now() + 1000).toUTCString() } });
    expect(again.status).to.equal(304);
    for (const absent of ['dists/stable/main/binary-amd64/Packages.xz', 'dists/stable/Release', 'dists/stable/main/i18n/Translation-en', 'dists/stable/main/binary-amd64/by-hash/SHA256/00']) {
      expect((await viaProxy(proxyPort, url(absent))).status, absent).to.equal(404);
    }
    expect(asked).to.deep.equal([]);
  });

  it('serves a cached .deb by its pool name (the cache name has the epoch)', async () => {
    const got = await viaProxy(proxyPort, url('pool/main/c/cached/cached_1.0_all.deb'));
    expect(got.status).to.equal(200);
    expect(got.body.equals(CACHED)).to.equal(true);
    expect(asked).to.deep.equal([]);
  });

  it('fetches a .deb the snapshot lacks once (two nodes asking at once), keeps it, and serves it from there after', async () => {
    const path = 'pool/main/m/missing/missing_2.0-1%2bb1_all.deb';
    const [a, b] = await Promise.all([viaProxy(proxyPort, url(path)), viaProxy(proxyPort, url(path))]);
    expect([a.status, b.status]).to.deep.equal([200, 200]);
    expect(a.body.equals(MISSING) && b.body.equals(MISSING)).to.equal(true);
    expect(asked).to.deep.equal(['/debian/pool/main/m/missing/missing_2.0-1%2bb1_all.deb']);
    expect(readdirSync(extraDir)).to.deep.equal(['missing_2.0-1+b1_all.deb']);
    expect(readFileSync(join(extraDir, 'missing_2.0-1+b1_all.deb')).equals(MISSING)).to.equal(true);
    const later = await viaProxy(proxyPort, url(path));
    expect(later.status).to.equal(200);
    expect(asked).to.have.length(1);
  });

  it('keeps no download that differs from the Packages list (502), and fetches nothing no list names (404)', async () => {
    asked.length = 0;
    expect((await viaProxy(proxyPort, url('pool/main/c/corrupt/corrupt_1.0_all.deb'))).status).to.equal(502);
    expect(asked).to.deep.equal(['/debian/pool/main/c/corrupt/corrupt_1.0_all.deb']);
    expect(readdirSync(extraDir)).to.deep.equal(['missing_2.0-1+b1_all.deb']);
    asked.length = 0;
    expect((await viaProxy(proxyPort, url('pool/main/u/unknown/unknown_1.0_all.deb'))).status).to.equal(404);
    expect(asked).to.deep.equal([]);
  });

  it('refuses hosts that are no mirror of a snapshot, other methods and tunnels, and logs every request', async () => {
    const other = await viaProxy(proxyPort, 'http://example.com/debian/pool/main/a/a/a_1_all.deb');
    expect(other.status).to.equal(403);
    expect(other.body.toString()).to.match(/example\.com is not a Debian mirror/);
    expect((await viaProxy(proxyPort, url('dists/stable/InRelease'), { method: 'POST' })).status).to.equal(405);
    expect(await tunnel(proxyPort, 'example.com:443')).to.match(/^HTTP\/1\.1 405 /);
    expect(lines.some((l) => l.startsWith('127.0.0.1 GET http://example.com/') && l.includes('-> 403 refused'))).to.equal(true);
    expect(lines.some((l) => l.includes('CONNECT example.com:443 -> 405'))).to.equal(true);
    expect(lines.some((l) => l.includes('cached_1.0_all.deb -> cache image 0123456789abcdef 200'))).to.equal(true);
    expect(lines.filter((l) => l.includes('missing_2.0-1%2bb1_all.deb -> fetched from the mirror'))).to.have.length(1);
    expect(lines.some((l) => l.includes('Packages.xz -> 404'))).to.equal(true);
  });

  it('finds an image built after it started', async () => {
    const image = join(cacheDir, 'fedcba9876543210');
    const lists = join(image, 'rootfs/var/lib/apt/lists');
    mkdirSync(lists, { recursive: true });
    writeFileSync(join(lists, `${mirrorHost}_debian_dists_next_InRelease`), 'Suite: next\n');
    writeFileSync(join(image, 'recipe.json'), '{}');
    const got = await viaProxy(proxyPort, url('dists/next/InRelease'));
    expect(got.status).to.equal(200);
    expect(got.body.toString()).to.equal('Suite: next\n');
  });

  it('refuses a source address that is not a node of the lab; a new proxy removes the temp files a dead one left', async () => {
    const stale = join(extraDir, '.x_1_all.deb.99999999.0badf00d.part');
    writeFileSync(stale, 'half');
    const strict = await createAptProxy({ cacheDir, extraDir, allowed: new Set(['198.18.0.11']), log: () => undefined });
    expect(readdirSync(extraDir)).to.deep.equal(['missing_2.0-1+b1_all.deb']);
    const port = await listen(strict);
    try {
      const got = await viaProxy(port, url('dists/stable/InRelease'));
      expect(got.status).to.equal(403);
      expect(got.body.toString()).to.match(/not a node of this lab/);
    } finally {
      strict.close();
    }
  });
});
