// Services another one needs, as resources of their own in both topologies: neutron's server as
// Debian ships it (the API, neutron-server under uwsgi, and the RPC workers, neutron-rpc-server),
// nova's placement-api, nova's metadata API, which neutron's metadata agent asks, and heat's
// CloudFormation API. Checked by the real crm_verify and crm_simulate.
import { expect } from 'chai';
import { buildResourceModel, serviceResourceId } from '../../src/cluster/build.ts';
import { prepareClusterPlan } from '../../src/cluster/plan.ts';
import { primitivesOf } from '../../src/model/resources.ts';
import { renderCrmsh } from '../../src/render/crmsh.ts';
import { INIT_UNITS } from '../../src/steps/init-services.ts';
import { havePacemakerTools, inventoryFrom, threeNodeInventory } from './fixtures.ts';
import { crmVerify, simulate } from './tools.ts';

const SERVICES = ['mysql', 'rabbitmq', 'keystone', 'neutron-server', 'neutron-rpc-server', 'neutron-dhcp-agent', 'neutron-metadata-agent', 'placement-api', 'nova-api', 'nova-api-metadata', 'nova-scheduler', 'heat-engine', 'heat-api', 'heat-api-cfn'];
const classic = inventoryFrom(threeNodeInventory(SERVICES, 'stonith: { unsafe_no_fencing: true }'));
const activeActive = inventoryFrom(threeNodeInventory(SERVICES, 'topology: active-active\nstonith: { unsafe_no_fencing: true }'));

describe('neutron-rpc-server beside neutron-server, placement-api beside nova-api, nova-api-metadata for neutron-metadata-agent, heat-api-cfn beside heat-api', function () {
  it('classic: the RPC workers are a member of the neutron group, right after the API, with osha\'s agent and neutron\'s files', function () {
    const crm = renderCrmsh(buildResourceModel(classic));
    expect(crm).to.match(/\ngroup osha-g-neutron osha-neutron-server osha-neutron-rpc-server osha-neutron-dhcp-agent osha-neutron-metadata-agent\n/);
    expect(crm).to.include('primitive osha-neutron-rpc-server ocf:openstack:neutron-rpc-server \\\n    params config="/etc/neutron/neutron.conf"');
    // No port: no address to bind or to check.
    const rpc = primitivesOf(buildResourceModel(classic).resources).find((p) => p.id === 'osha-neutron-rpc-server')!;
    expect(rpc.params.map(([k]) => k)).to.not.include.members(['bind_address', 'monitor_host', 'port']);
  });

  it('classic: placement-api starts first in nova\'s group, with osha\'s agent and placement.conf', function () {
    const crm = renderCrmsh(buildResourceModel(classic));
    expect(crm).to.match(/\ngroup osha-g-nova osha-placement-api osha-nova-api osha-nova-api-metadata osha-nova-scheduler\n/);
    expect(crm).to.include('primitive osha-nova-api-metadata ocf:openstack:nova-api-metadata \\\n    params config="/etc/nova/nova.conf"');
    expect(crm).to.match(/\ngroup osha-g-heat osha-heat-engine osha-heat-api osha-heat-api-cfn\n/);
    expect(crm).to.include('primitive osha-heat-api-cfn ocf:openstack:heat-api-cfn \\\n    params config="/etc/heat/heat.conf"');
    expect(crm).to.include('primitive osha-placement-api ocf:openstack:placement-api \\\n    params config="/etc/placement/placement.conf"');
  });

  it('each masks only its own unit: listing neutron-server no longer masks the RPC workers', function () {
    expect(INIT_UNITS['neutron-server']).to.deep.equal(['neutron-server', 'neutron-api']);
    expect(INIT_UNITS['neutron-rpc-server']).to.deep.equal(['neutron-rpc-server']);
  });

  for (const [name, inv] of [['classic', classic], ['active-active', activeActive]] as const) {
    it(`${name}: crm_verify accepts it and crm_simulate starts the RPC workers, placement, the metadata API and heat's CloudFormation API ${name === 'classic' ? 'with their APIs, on one node' : 'on every node'}`, function () {
      if (!havePacemakerTools()) this.skip(); // needs Debian package pacemaker-cli-utils
      const model = buildResourceModel(inv);
      const plan = prepareClusterPlan(inv, model);
      if (!plan.ok) throw new Error(plan.error.message);
      const verify = crmVerify(plan.value.desired);
      expect(verify.ok, verify.output).to.equal(true);
      const sim = simulate(plan.value.desired);
      const rpc = [...(sim.placement['osha-neutron-rpc-server'] ?? [])].sort();
      const api = [...(sim.placement['osha-neutron-server'] ?? [])].sort();
      const placement = [...(sim.placement['osha-placement-api'] ?? [])].sort();
      const nova = [...(sim.placement['osha-nova-api'] ?? [])].sort();
      const metadata = [...(sim.placement['osha-nova-api-metadata'] ?? [])].sort();
      const metadataAgent = [...(sim.placement['osha-neutron-metadata-agent'] ?? [])].sort();
      const cfn = [...(sim.placement['osha-heat-api-cfn'] ?? [])].sort();
      if (name === 'classic') {
        expect(rpc).to.have.length(1);
        expect(rpc).to.deep.equal(api);
        expect(placement).to.have.length(1);
        expect(placement).to.deep.equal(nova);
        // Two groups, one node: the metadata agent's 127.0.0.1 default reaches it too.
        expect(metadata).to.have.length(1);
        expect(metadata).to.deep.equal(metadataAgent);
        expect(cfn).to.deep.equal(metadata);
      } else {
        expect(serviceResourceId(inv, 'neutron-rpc-server')).to.equal('osha-cl-neutron-rpc-server');
        expect(rpc).to.deep.equal(['node1', 'node2', 'node3']);
        expect(placement).to.deep.equal(['node1', 'node2', 'node3']);
        expect(metadata).to.deep.equal(['node1', 'node2', 'node3']);
        expect(metadataAgent).to.deep.equal(['node1', 'node2', 'node3']);
        expect(cfn).to.deep.equal(['node1', 'node2', 'node3']);
      }
    });
  }
});
