// Fixtures for the Pacemaker tests: article 001's inventory and an offline CIB of a 3-node cluster
// as `cibadmin --query` prints it (quorate, every node online), so crm_verify and crm_simulate
// can run on it without a cluster.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseInventory } from '../../src/inventory/load.ts';
import type { Inventory } from '../../src/inventory/schema.ts';
import { onTeardown } from '../support/teardown.ts';

/** Article 001's Listing 2 services, by the articles' own names where they differ from today's. */
export const LISTING2_INVENTORY = `
cluster: { name: listing2 }
nodes:
  - { name: node1, address: 198.18.0.11 }
  - { name: node2, address: 198.18.0.12 }
  - { name: node3, address: 198.18.0.13 }
vip: { address: 198.18.0.100, cidr_netmask: 24, nic: eth0 }
services:
  - mysql
  - rabbitmq
  - keystone
  - glance-registry
  - glance-api
  - nova-api
  - nova-consoleauth
  - nova-novnc
  - nova-scheduler
  - quantum-server
  - quantum-agent-dhcp
  - quantum-agent-l3
  - quantum-agent-plugin-openvswitch
  - cinder-volume
  - cinder-schedule
  - cinder-api
openstack:
  username: admin
  project: admin
  password: { env: OS_PASSWORD }
# The articles ran without fencing (stonith-enabled=false) on shared storage: said out loud here.
stonith: { unsafe_no_fencing: true }
resources:
  storage:
    mysql: { device: "198.18.0.50:/export/mysql", fstype: nfs4, options: noatime }
    rabbitmq: { device: "198.18.0.50:/export/rabbitmq", fstype: nfs4 }
  primitives:
    - { id: nova-compute-host1, agent: "ocf:openstack:nova-compute", params: { additional_config: /etc/nova/nova-compute-host1.conf } }
    - { id: nova-compute-host2, agent: "ocf:openstack:nova-compute", params: { additional_config: /etc/nova/nova-compute-host2.conf } }
    - { id: nova-compute-host3, agent: "ocf:openstack:nova-compute", params: { additional_config: /etc/nova/nova-compute-host3.conf } }
  constraints:
    - { type: location, id: lo-host1-prefer-node1, resource: nova-compute-host1, node: node1, score: 10000 }
    - { type: location, id: lo-host2-prefer-node2, resource: nova-compute-host2, node: node2, score: 10000 }
    - { type: location, id: lo-host3-prefer-node3, resource: nova-compute-host3, node: node3, score: 10000 }
`;

/** A 3-node lab inventory (node1..3 on 198.18.0.0/24, VIP .100) with the given services and extra YAML. */
export function threeNodeInventory(services: string[], extra = ''): string {
  return [
    'cluster: { name: lab }',
    'nodes:',
    '  - { name: node1, address: 198.18.0.11 }',
    '  - { name: node2, address: 198.18.0.12 }',
    '  - { name: node3, address: 198.18.0.13 }',
    'vip: { address: 198.18.0.100, cidr_netmask: 24 }',
    `services: [${services.join(', ')}]`,
    extra,
  ].join('\n');
}

export function inventoryFrom(text: string): Inventory {
  const r = parseInventory(text, 'test.yaml');
  if (!r.ok) throw new Error(r.error.map((p) => `${p.field}: ${p.message}`).join('\n'));
  return r.value;
}

/** A live CIB of a quorate cluster with node1..3 online; `resources`/`constraints`/`props` are raw XML. */
export function liveCib(opts: { resources?: string; constraints?: string; props?: string; epoch?: number; dcVersion?: string } = {}): string {
  const nodes = [1, 2, 3];
  return `<cib crm_feature_set="3.16.1" validate-with="pacemaker-3.9" epoch="${opts.epoch ?? 7}" num_updates="4" admin_epoch="0" cib-last-written="Tue Nov 24 22:00:00 2026" update-origin="node1" update-client="crmd" update-user="hacluster" have-quorum="1" dc-uuid="1">
  <configuration>
    <crm_config>
      <cluster_property_set id="cib-bootstrap-options">
        <nvpair id="cib-bootstrap-options-have-watchdog" name="have-watchdog" value="false"/>
        <nvpair id="cib-bootstrap-options-dc-version" name="dc-version" value="${opts.dcVersion ?? '2.1.5-a3f44794f94'}"/>
        <nvpair id="cib-bootstrap-options-cluster-infrastructure" name="cluster-infrastructure" value="corosync"/>
        <nvpair id="cib-bootstrap-options-cluster-name" name="cluster-name" value="lab"/>
${opts.props ?? ''}
      </cluster_property_set>
    </crm_config>
    <nodes>
${nodes.map((n) => `      <node id="${n}" uname="node${n}"/>`).join('\n')}
    </nodes>
    <resources>${opts.resources ?? ''}</resources>
    <constraints>${opts.constraints ?? ''}</constraints>
  </configuration>
  <status>
${nodes.map((n) => `    <node_state id="${n}" uname="node${n}" in_ccm="true" crmd="online" crm-debug-origin="do_state_transition" join="member" expected="member"/>`).join('\n')}
  </status>
</cib>
`;
}

let workDir: string | undefined;

/** A scratch directory for CIB files, removed at the end of the run. */
export function scratch(): string {
  if (!workDir) {
    const dir = mkdtempSync(join(tmpdir(), 'osha-cib-'));
    workDir = dir;
    onTeardown(() => rmSync(dir, { recursive: true, force: true }));
  }
  return workDir;
}

let counter = 0;
export function writeCib(xml: string, name = 'cib'): string {
  const file = join(scratch(), `${name}-${++counter}.xml`);
  writeFileSync(file, xml);
  return file;
}

export interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

export function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): Run {
  const r = spawnSync(cmd, args, { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Whether Pacemaker's command line tools are installed (Debian package pacemaker-cli-utils). */
export function havePacemakerTools(): boolean {
  try {
    execFileSync('crm_verify', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
