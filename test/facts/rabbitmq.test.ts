// RabbitMQ's cluster as osha status reads it: each broker's own `rabbitmqctl cluster_status
// --formatter json` (the shape RabbitMQ 3.10.8 of Debian 12 prints; Debian 13's 4.0 keeps these
// fields), and what the brokers' views say together.
import { expect } from 'chai';
import { parseRabbitStatus, rabbitVerdict, type RabbitNodeState } from '../../src/facts/rabbitmq.ts';

/** Printed by node1's broker in a lab, its feature flags and listeners left out. */
const status = (running: string[], partitions: Record<string, string[]> = {}) =>
  JSON.stringify({
    alarms: [],
    cluster_name: 'rabbit@node1',
    disk_nodes: ['rabbit@node1', 'rabbit@node2', 'rabbit@node3'],
    maintenance_status: { 'rabbit@node1': 'not under maintenance' },
    partitions,
    ram_nodes: [],
    running_nodes: running,
    versions: { 'rabbit@node1': { erlang_version: '25.2.3', rabbitmq_name: 'RabbitMQ', rabbitmq_version: '3.10.8' } },
  });

const up = (node: string, running: string[], partitions: Record<string, string[]> = {}): RabbitNodeState => ({ node, running: true, runningNodes: running, partitions });
const down = (node: string): RabbitNodeState => ({ node, running: false, reason: 'no broker', runningNodes: [], partitions: {} });

describe('rabbitmq cluster status', function () {
  it('reads the running brokers and partitions by node name', function () {
    const s = parseRabbitStatus('node1', 0, status(['rabbit@node3', 'rabbit@node1', 'rabbit@node2'], { 'rabbit@node1': ['rabbit@node3'] }), '');
    expect(s).to.deep.equal({ node: 'node1', running: true, runningNodes: ['node1', 'node2', 'node3'], partitions: { node1: ['node3'] } });
  });

  it('a broker that does not answer is down, with rabbitmqctl\'s first line as the reason', function () {
    const stderr = "\nError: unable to perform an operation on node 'rabbit@node1'. Please see diagnostics information and suggestions below.\n\nMost common reasons for this are:\n";
    expect(parseRabbitStatus('node1', 69, '', stderr)).to.deep.equal({ node: 'node1', running: false, reason: "Error: unable to perform an operation on node 'rabbit@node1'. Please see diagnostics information and suggestions below.", runningNodes: [], partitions: {} });
    expect(parseRabbitStatus('node2', 124, '', '')).to.include({ running: false, reason: 'rabbitmqctl exited 124' });
    expect(parseRabbitStatus('node3', 0, 'Cluster status of node rabbit@node3 ...', '')).to.include({ running: false });
  });

  it('one cluster when every broker sees the same running nodes', function () {
    const all = ['node1', 'node2', 'node3'];
    const v = rabbitVerdict([up('node1', all), up('node2', all), up('node3', all)]);
    expect(v).to.deep.equal({ clusters: [all], down: [], partitions: [], whole: true });
  });

  it('a broker running alone is a cluster apart, though the others still list it as a member', function () {
    const v = rabbitVerdict([up('node1', ['node1', 'node2']), up('node2', ['node1', 'node2']), up('node3', ['node3'])]);
    expect(v.clusters).to.deep.equal([['node1', 'node2'], ['node3']]);
    expect(v.whole).to.equal(false);
  });

  it('three brokers each alone (issue 17\'s trixie clusters): three clusters, none larger', function () {
    const v = rabbitVerdict([up('node1', ['node1']), up('node2', ['node2']), up('node3', ['node3'])]);
    expect(v.clusters).to.deep.equal([['node1'], ['node2'], ['node3']]);
    expect(v.whole).to.equal(false);
  });

  it('names the clusters by the inventory\'s nodes, whatever their hosts\' hostnames (the brokers\' names)', function () {
    const all = ['ctl-a', 'ctl-b', 'ctl-c'];
    expect(rabbitVerdict([up('node1', all), up('node2', all), up('node3', all)])).to.deep.include({ clusters: [['node1', 'node2', 'node3']], whole: true });
    const split = rabbitVerdict([up('node1', ['ctl-a', 'ctl-b']), up('node2', ['ctl-a', 'ctl-b']), up('node3', ['ctl-c'])]);
    expect(split.clusters).to.deep.equal([['node1', 'node2'], ['node3']]);
  });

  it('a broker down, or a partition seen, is not whole either', function () {
    expect(rabbitVerdict([up('node1', ['node1', 'node2']), up('node2', ['node1', 'node2']), down('node3')])).to.deep.include({ clusters: [['node1', 'node2']], down: ['node3'], whole: false });
    const all = ['node1', 'node2', 'node3'];
    const v = rabbitVerdict([up('node1', all, { node1: ['node3'] }), up('node2', all), up('node3', all, { node3: ['node1'] })]);
    expect(v.partitions).to.deep.equal(['node1 from node3', 'node3 from node1']);
    expect(v.whole).to.equal(false);
  });
});
