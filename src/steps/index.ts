// Every step osha can run, by the name playbooks use.
import type { Step } from '../runner/types.ts';
import { preflight } from './preflight.ts';
import { hostsFile } from './hosts-file.ts';
import { packages } from './packages.ts';
import { initServices } from './init-services.ts';
import { topologyFiles } from './topology-files.ts';
import { galeraCheck } from './galera-check.ts';
import { authkey } from './authkey.ts';
import { corosyncConf } from './corosync-conf.ts';
import { clusterStart } from './cluster-start.ts';
import { clusterProperties } from './cluster-properties.ts';
import { agents } from './agents.ts';
import { secretsFiles, resources } from './resources.ts';
import { openstackConfig, keystoneEndpoints } from './openstack.ts';
import { fencing } from './fencing.ts';
import { galeraSeed } from './galera-seed.ts';
import { rabbitmqBackup, rabbitmqBootDefinitions, rabbitmqExport, rabbitmqImport } from './rabbitmq-handover.ts';

export const STEPS: readonly Step[] = [preflight, hostsFile, packages, rabbitmqExport, initServices, galeraCheck, topologyFiles, galeraSeed, rabbitmqBackup, rabbitmqBootDefinitions, authkey, corosyncConf, clusterStart, clusterProperties, agents, secretsFiles, openstackConfig, resources, rabbitmqImport, fencing, keystoneEndpoints];

export function stepNamed(name: string): Step | undefined {
  return STEPS.find((s) => s.name === name);
}
