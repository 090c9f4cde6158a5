// The services osha knows how to make highly available, and the names the articles used for them.

/** Canonical service names an inventory may list under `services`. */
export const SERVICE_NAMES = [
  'mysql',
  'rabbitmq',
  'keystone',
  'glance-api',
  'glance-registry',
  'nova-api',
  'nova-scheduler',
  'nova-conductor',
  'nova-consoleauth',
  'nova-novncproxy',
  'neutron-server',
  'neutron-dhcp-agent',
  'neutron-l3-agent',
  'neutron-metadata-agent',
  'neutron-openvswitch-agent',
  'cinder-api',
  'cinder-scheduler',
  'cinder-volume',
  'heat-api',
  'heat-engine',
] as const;

export type ServiceName = (typeof SERVICE_NAMES)[number];

/** Old names from the Folsom-era articles, mapped to today's service. */
export const SERVICE_ALIASES: Record<string, ServiceName> = {
  'quantum-server': 'neutron-server',
  'quantum-agent-dhcp': 'neutron-dhcp-agent',
  'quantum-agent-l3': 'neutron-l3-agent',
  'quantum-agent-plugin-openvswitch': 'neutron-openvswitch-agent',
  'quantum-plugin-openvswitch-agent': 'neutron-openvswitch-agent',
  'nova-novnc': 'nova-novncproxy',
  'cinder-schedule': 'cinder-scheduler',
  mariadb: 'mysql',
};

/** The set article 001 (Listing 2) makes highly available, used as the wizard's default selection. */
export const ARTICLE_SERVICES: ServiceName[] = [
  'mysql',
  'rabbitmq',
  'keystone',
  'glance-api',
  'glance-registry',
  'nova-api',
  'nova-scheduler',
  'nova-consoleauth',
  'nova-novncproxy',
  'neutron-server',
  'neutron-dhcp-agent',
  'neutron-l3-agent',
  'neutron-openvswitch-agent',
  'cinder-api',
  'cinder-scheduler',
  'cinder-volume',
];

export function canonicalService(name: string): ServiceName | undefined {
  if ((SERVICE_NAMES as readonly string[]).includes(name)) return name as ServiceName;
  return SERVICE_ALIASES[name];
}
