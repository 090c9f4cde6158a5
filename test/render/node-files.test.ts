// The active-active per-node files besides haproxy.cfg: Galera's settings, the node's address,
// the non-local bind sysctl, and RabbitMQ's listening address edited into Debian's env file.
import { expect } from 'chai';
import { GALERA_EVICTION_DEFAULTS, renderGaleraCnf, renderGaleraNodes, renderNodeAddress, renderNonlocalBindConf, withNodeIpAddress } from '../../src/render/node-files.ts';
import { activeActive, V6_NODES } from './topology-fixtures.ts';

/** rabbitmq-env.conf as Debian bookworm's rabbitmq-server 3.10 ships it. */
const DEBIAN_RABBITMQ_ENV = `# Defaults to rabbit. This can be useful if you want to run more than one node
# per machine - RABBITMQ_NODENAME should be unique per erlang-node-and-machine
# combination. See the clustering on a single machine guide for details:
# http://www.rabbitmq.com/clustering.html#single-machine
#NODENAME=rabbit

# By default RabbitMQ will bind to all interfaces, on IPv4 and IPv6 if
# available. Set this if you only want to bind to one network interface or#
# address family.
#NODE_IP_ADDRESS=127.0.0.1

# Defaults to 5672.
#NODE_PORT=5672
`;

describe('active-active node files', () => {
  it('writes Galera settings for the node: its name and address, every node in the cluster address', () => {
    const inv = activeActive();
    const cnf = renderGaleraCnf(inv, inv.nodes[1]!, GALERA_EVICTION_DEFAULTS);
    expect(cnf).to.match(/^# Written by osha for cluster c1/);
    const lines = cnf.split('\n').filter((l) => l !== '' && !l.startsWith('#'));
    expect(lines).to.deep.equal([
      '[mysqld]',
      'bind-address = 198.18.0.12',
      'max_connect_errors = 4294967295',
      '[galera]',
      'wsrep_on = ON',
      'wsrep_provider = /usr/lib/galera/libgalera_smm.so',
      'wsrep_cluster_name = c1',
      'wsrep_cluster_address = gcomm://n1,n2,n3',
      'wsrep_node_name = n2',
      'wsrep_node_address = 198.18.0.12',
      'wsrep_sst_method = rsync',
      'wsrep_provider_options = "gmcast.listen_addr=tcp://198.18.0.12:4567"',
      'binlog_format = ROW',
      'default_storage_engine = InnoDB',
      'innodb_autoinc_lock_mode = 2',
    ]);
    expect(cnf).to.not.match(/read.only/);
  });

  it('brackets an IPv6 address where Galera takes a URL form, not in bind-address', () => {
    const inv = activeActive({ addresses: V6_NODES });
    const cnf = renderGaleraCnf(inv, inv.nodes[0]!, GALERA_EVICTION_DEFAULTS);
    expect(cnf).to.include('\nbind-address = fd00:18::11\n');
    expect(cnf).to.include('\nwsrep_node_address = [fd00:18::11]\n');
    expect(cnf).to.include('\nwsrep_provider_options = "gmcast.listen_addr=tcp://[fd00:18::11]:4567"\n');
  });

  it("leaves Galera's eviction timing at its defaults unless told otherwise, and writes a faster one keepalive first", () => {
    const inv = activeActive();
    expect(renderGaleraCnf(inv, inv.nodes[0]!, GALERA_EVICTION_DEFAULTS)).to.not.include('evs.');
    const cnf = renderGaleraCnf(inv, inv.nodes[0]!, { suspectMs: 2000, keepaliveMs: 500 });
    expect(cnf).to.include('\nwsrep_provider_options = "gmcast.listen_addr=tcp://198.18.0.11:4567;evs.keepalive_period=PT0.5S;evs.suspect_timeout=PT2S"\n');
    expect(cnf).to.match(/# A silent node is dropped after 2 s/);
  });

  it("writes Galera's node list for osha's galera agent: one line, the same on every node, the same list as the cnf's", () => {
    const inv = activeActive();
    expect(renderGaleraNodes(inv)).to.equal('gcomm://n1,n2,n3\n');
    expect(renderGaleraCnf(inv, inv.nodes[2]!, GALERA_EVICTION_DEFAULTS)).to.include('\nwsrep_cluster_address = gcomm://n1,n2,n3\n');
  });

  it('writes the node address as one line', () => {
    expect(renderNodeAddress(activeActive().nodes[2]!)).to.equal('198.18.0.13\n');
  });

  it('allows non-local binds for the VIP families in use', () => {
    expect(renderNonlocalBindConf(activeActive()).split('\n').filter((l) => l && !l.startsWith('#'))).to.deep.equal(['net.ipv4.ip_nonlocal_bind = 1']);
    const v6 = renderNonlocalBindConf(activeActive({ addresses: V6_NODES }));
    expect(v6.split('\n').filter((l) => l && !l.startsWith('#'))).to.deep.equal(['net.ipv4.ip_nonlocal_bind = 1', 'net.ipv6.ip_nonlocal_bind = 1']);
    const publicV6 = renderNonlocalBindConf(activeActive({ publicVip: '2001:db8::10' }));
    expect(publicV6).to.include('net.ipv6.ip_nonlocal_bind = 1');
  });

  describe('NODE_IP_ADDRESS in rabbitmq-env.conf', () => {
    it("goes below Debian's commented example, every other line kept, and stays put on re-runs", () => {
      const once = withNodeIpAddress(DEBIAN_RABBITMQ_ENV, '198.18.0.11');
      expect(once).to.equal(
        DEBIAN_RABBITMQ_ENV.replace(
          '#NODE_IP_ADDRESS=127.0.0.1\n',
          "#NODE_IP_ADDRESS=127.0.0.1\n# osha: AMQP on this node's own address only; HAProxy listens on the VIP.\nNODE_IP_ADDRESS=198.18.0.11\n",
        ),
      );
      expect(withNodeIpAddress(once, '198.18.0.11')).to.equal(once);
      expect(withNodeIpAddress(once, 'fd00::11')).to.equal(once.replace('NODE_IP_ADDRESS=198.18.0.11', 'NODE_IP_ADDRESS=fd00::11'));
    });

    it('changes a setting already there in place and drops repeats of it', () => {
      const current = 'NODENAME=rabbit\nexport NODE_IP_ADDRESS=0.0.0.0\nNODE_PORT=5672\nNODE_IP_ADDRESS=127.0.0.1';
      expect(withNodeIpAddress(current, '198.18.0.12')).to.equal('NODENAME=rabbit\nNODE_IP_ADDRESS=198.18.0.12\nNODE_PORT=5672\n');
    });

    it('appends to a file without the example, or starts an empty one', () => {
      expect(withNodeIpAddress('NODENAME=rabbit\n', '198.18.0.13')).to.equal("NODENAME=rabbit\n# osha: AMQP on this node's own address only; HAProxy listens on the VIP.\nNODE_IP_ADDRESS=198.18.0.13\n");
      expect(withNodeIpAddress('', '198.18.0.13')).to.equal("# osha: AMQP on this node's own address only; HAProxy listens on the VIP.\nNODE_IP_ADDRESS=198.18.0.13\n");
    });
  });
});
