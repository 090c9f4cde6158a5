// haproxy.cfg of the active-active topology: its sections, binds and servers, and the real
// haproxy's own check of the file (`haproxy -c`), for IPv4 and IPv6 inventories.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import type { Inventory } from '../../src/inventory/schema.ts';
import { activeActive, V4_NODES, V6_NODES } from './topology-fixtures.ts';
import { haproxyFrontends, hostPort, renderHaproxyCfg } from '../../src/render/haproxy.ts';

/** The lines of one `listen` section, without the leading tab. */
function section(cfg: string, name: string): string[] {
  const block = cfg.split('\n\n').find((b) => b.startsWith(`listen ${name}\n`));
  if (!block) throw new Error(`no listen ${name} in:\n${cfg}`);
  return block.replace(/\n$/, '').split('\n').slice(1).map((l) => l.replace(/^\t/, ''));
}

describe('haproxy.cfg (active-active)', () => {
  it('keeps Debian global settings and lists the frontends in order, stats on loopback last', () => {
    const cfg = renderHaproxyCfg(activeActive());
    expect(cfg).to.match(/^# Written by osha for cluster c1/);
    for (const line of ['log /dev/log\tlocal0', 'chroot /var/lib/haproxy', 'stats socket /run/haproxy/admin.sock mode 660 level admin', 'user haproxy', 'group haproxy', 'daemon']) {
      expect(cfg).to.include(`\n\t${line}\n`);
    }
    expect([...cfg.matchAll(/^listen (\S+)$/gm)].map((m) => m[1])).to.deep.equal(['mysql', 'rabbitmq', 'keystone', 'glance-api', 'stats']);
    expect(section(cfg, 'stats')).to.deep.equal(['bind 127.0.0.1:8404', 'mode http', 'stats enable', 'stats uri /', 'stats refresh 10s']);
    expect(cfg.endsWith('stats refresh 10s\n')).to.equal(true);
  });

  it('a request sent to a dead backend goes to another one within a second: 1 s connects, every retry redispatched', () => {
    const defaults = renderHaproxyCfg(activeActive()).split('\n\n').find((b) => b.startsWith('defaults\n'))!;
    expect(defaults).to.include('\n\ttimeout connect 1s\n');
    expect(defaults).to.include('\n\toption\tredispatch 1\n');
    expect(defaults).to.include('\n\tretries\t3\n');
  });

  it('sends every database session to one writer, the first node that is up and synced (osha\'s Galera check), and keeps it there until it fails (no failback)', () => {
    expect(section(renderHaproxyCfg(activeActive()), 'mysql')).to.deep.equal([
      'bind 198.18.0.100:3306 transparent',
      'mode tcp',
      '# one writer at a time: the first node that is up (n1, n2, n3); it keeps the writes until it fails',
      'option tcplog',
      'option tcpka',
      'timeout client 90m',
      'timeout server 90m',
      'timeout tunnel 90m',
      "# a dead node's sessions end after 1 s idle and 2 unanswered keepalives",
      'srvtcpka-idle 1s',
      'srvtcpka-intvl 1s',
      'srvtcpka-cnt 2',
      'stick-table type integer size 1',
      'stick on int(1)',
      "# a node takes clients only when synced in the primary component: osha's Galera check on port 9200",
      'option httpchk',
      'http-check expect status 200',
      'server n1 198.18.0.11:3306 check inter 2s fastinter 500ms fall 2 rise 2 port 9200 observe layer4 error-limit 2 on-error mark-down backup',
      'server n2 198.18.0.12:3306 check inter 2s fastinter 500ms fall 2 rise 2 port 9200 observe layer4 error-limit 2 on-error mark-down backup',
      'server n3 198.18.0.13:3306 check inter 2s fastinter 500ms fall 2 rise 2 port 9200 observe layer4 error-limit 2 on-error mark-down backup',
    ]);
  });

  it('spreads AMQP over every node by least connections', () => {
    const lines = section(renderHaproxyCfg(activeActive()), 'rabbitmq');
    expect(lines.slice(0, 3)).to.deep.equal(['bind 198.18.0.100:5672 transparent', 'mode tcp', 'option tcplog']);
    expect(lines).to.include.members(['balance leastconn', 'option tcpka', 'timeout client 90m', 'timeout server 90m']);
    expect(lines.filter((l) => l.startsWith('server '))).to.deep.equal(V4_NODES.map((a, i) => `server n${i + 1} ${a}:5672 check inter 2s fastinter 500ms fall 2 rise 2`));
    expect(lines.some((l) => / backup\b/.test(l))).to.equal(false);
    // A dead node's AMQP sessions end by keepalives, as the database's do.
    expect(lines).to.include.members(['srvtcpka-idle 1s', 'srvtcpka-intvl 1s', 'srvtcpka-cnt 2']);
  });

  it('checks each API over HTTP at its registry health path, or over TCP when it has none', () => {
    const cfg = renderHaproxyCfg(activeActive({ services: ['mysql', 'rabbitmq', 'keystone', 'nova-api', 'nova-novncproxy', 'nova-scheduler'] }));
    expect(section(cfg, 'keystone')).to.deep.equal([
      'bind 198.18.0.100:5000 transparent',
      'mode http',
      'option httplog',
      'balance roundrobin',
      'option forwardfor',
      'option httpchk GET /healthcheck',
      'http-check expect status 200',
      '# a request a dead node had is sent again to another node when sending it twice is harmless',
      'option srvtcpka',
      'srvtcpka-idle 1s',
      'srvtcpka-intvl 1s',
      'srvtcpka-cnt 2',
      'retry-on conn-failure empty-response response-timeout',
      'http-request disable-l7-retry unless METH_GET || METH_OPTIONS || METH_POST { path_end /auth/tokens }',
      ...V4_NODES.map((a, i) => `server n${i + 1} ${a}:5000 check inter 2s fastinter 500ms fall 2 rise 2`),
    ]);
    expect(section(cfg, 'nova-api')).to.include('option httpchk GET /');
    const vnc = section(cfg, 'nova-novncproxy');
    expect(vnc.filter((l) => l.includes('httpchk') || l.includes('http-check'))).to.deep.equal([]);
    expect(vnc).to.include('server n1 198.18.0.11:6080 check inter 2s fastinter 500ms fall 2 rise 2');
    // A service without a port (the scheduler talks to the broker only) gets no frontend.
    expect(haproxyFrontends(activeActive({ services: ['mysql', 'rabbitmq', 'nova-scheduler'] })).map((f) => f.name)).to.deep.equal(['mysql', 'rabbitmq']);
  });

  it('retries a request a dead node had on another node only when sending it twice is harmless', () => {
    const cfg = renderHaproxyCfg(activeActive({ services: ['mysql', 'rabbitmq', 'keystone', 'glance-api', 'nova-api'] }));
    const rule = (name: string) => section(cfg, name).filter((l) => l.startsWith('retry-on') || l.startsWith('http-request disable-l7-retry'));
    // keystone's token issue stores nothing: its POST may go twice; nova's POSTs (a server boot) never.
    expect(rule('keystone')[1]).to.equal('http-request disable-l7-retry unless METH_GET || METH_OPTIONS || METH_POST { path_end /auth/tokens }');
    for (const name of ['glance-api', 'nova-api']) {
      expect(rule(name)).to.deep.equal(['retry-on conn-failure empty-response response-timeout', 'http-request disable-l7-retry unless METH_GET || METH_OPTIONS']);
    }
    // Sessions are never cut when a node is marked down: HAProxy 3.0 would leave connections being
    // made to it open forever, and a cut request is never retried.
    expect(cfg).not.to.include('shutdown-sessions');
    for (const name of ['mysql', 'rabbitmq']) expect(section(cfg, name)).not.to.include('retry-on conn-failure empty-response response-timeout');
  });

  it('binds the APIs on the public VIP too, never the database or the broker', () => {
    const cfg = renderHaproxyCfg(activeActive({ publicVip: '203.0.113.10' }));
    expect(section(cfg, 'keystone').slice(0, 2)).to.deep.equal(['bind 198.18.0.100:5000 transparent', 'bind 203.0.113.10:5000 transparent']);
    expect(section(cfg, 'glance-api').filter((l) => l.startsWith('bind '))).to.have.length(2);
    expect(section(cfg, 'mysql').filter((l) => l.startsWith('bind '))).to.deep.equal(['bind 198.18.0.100:3306 transparent']);
    expect(section(cfg, 'rabbitmq').filter((l) => l.startsWith('bind '))).to.deep.equal(['bind 198.18.0.100:5672 transparent']);
  });

  it('serves nova\'s metadata API on the VIP only, not on the public VIP: only neutron\'s metadata agent asks it', () => {
    const cfg = renderHaproxyCfg(activeActive({ publicVip: '203.0.113.10', services: ['mysql', 'rabbitmq', 'keystone', 'nova-api', 'nova-api-metadata'] }));
    expect(section(cfg, 'nova-api-metadata').filter((l) => l.startsWith('bind '))).to.deep.equal(['bind 198.18.0.100:8775 transparent']);
    expect(section(cfg, 'nova-api-metadata')).to.include('option httpchk GET /healthcheck');
    expect(section(cfg, 'nova-api').filter((l) => l.startsWith('bind '))).to.have.length(2);
    // heat's CloudFormation API is asked by instances: the public VIP too (heat_metadata_server_url).
    const heat = renderHaproxyCfg(activeActive({ publicVip: '203.0.113.10', services: ['mysql', 'rabbitmq', 'keystone', 'heat-api', 'heat-api-cfn'] }));
    expect(section(heat, 'heat-api-cfn').filter((l) => l.startsWith('bind '))).to.deep.equal(['bind 198.18.0.100:8000 transparent', 'bind 203.0.113.10:8000 transparent']);
  });

  it('brackets IPv6 addresses in binds and servers', () => {
    expect(hostPort('fd00::1', 80)).to.equal('[fd00::1]:80');
    expect(hostPort('192.0.2.1', 80)).to.equal('192.0.2.1:80');
    const cfg = renderHaproxyCfg(activeActive({ addresses: V6_NODES, publicVip: '2001:db8::10' }));
    expect(section(cfg, 'mysql')[0]).to.equal('bind [fd00:18::100]:3306 transparent');
    expect(section(cfg, 'mysql')).to.include('server n2 [fd00:18::12]:3306 check inter 2s fastinter 500ms fall 2 rise 2 port 9200 observe layer4 error-limit 2 on-error mark-down backup');
    expect(section(cfg, 'keystone').slice(0, 2)).to.deep.equal(['bind [fd00:18::100]:5000 transparent', 'bind [2001:db8::10]:5000 transparent']);
    expect(section(cfg, 'rabbitmq')).to.include('server n3 [fd00:18::13]:5672 check inter 2s fastinter 500ms fall 2 rise 2');
  });

  it('is the same text for the same inventory', () => {
    expect(renderHaproxyCfg(activeActive())).to.equal(renderHaproxyCfg(activeActive()));
  });

  describe('checked by the real haproxy', function () {
    let dir = '';
    before(function () {
      try {
        execFileSync('haproxy', ['-v'], { stdio: 'ignore' });
      } catch {
        this.skip(); // needs Debian package haproxy (.ci/apt-packages)
      }
      dir = mkdtempSync(join(tmpdir(), 'osha-haproxy-'));
    });
    after(() => {
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    const cases: [string, () => Inventory][] = [
      ['IPv4 with a public VIP and every API', () => activeActive({ publicVip: '203.0.113.10', services: ['mysql', 'rabbitmq', 'keystone', 'glance-api', 'glance-registry', 'nova-api', 'nova-novncproxy', 'neutron-server', 'cinder-api', 'heat-api'] })],
      ['IPv6 with a public VIP', () => activeActive({ addresses: V6_NODES, publicVip: '2001:db8::10' })],
    ];
    for (const [name, inv] of cases) {
      it(`accepts the file without a warning: ${name}`, () => {
        const file = join(dir, `${name.replace(/\W+/g, '-')}.cfg`);
        writeFileSync(file, renderHaproxyCfg(inv()));
        const r = spawnSync('haproxy', ['-c', '-f', file], { encoding: 'utf8' });
        expect(r.status, r.stdout + r.stderr).to.equal(0);
        expect(r.stdout + r.stderr).to.include('Configuration file is valid').and.not.match(/WARNING|ALERT/);
      });
    }
  });
});
