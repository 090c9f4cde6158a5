// The services osha knows how to make highly available, and the names the articles used for them:
// views of the service registry (src/services/registry.ts).
import { companionsOf, registryEntries, type ServiceName } from '../services/registry.ts';

export type { ServiceName };

/** Canonical service names an inventory may list under `services`. */
export const SERVICE_NAMES: readonly ServiceName[] = registryEntries().map(([name]) => name);

/** Old names from the Folsom-era articles, mapped to today's service. */
export const SERVICE_ALIASES: Record<string, ServiceName> = Object.fromEntries(
  registryEntries().flatMap(([name, e]) => [...(e.aliases ?? []), ...(e.agentAliases ?? [])].map((alias) => [alias, name])),
);

/** The set article 001 (Listing 2) makes highly available, used as the wizard's default selection. */
export const ARTICLE_SERVICES: ServiceName[] = registryEntries()
  .filter(([, e]) => e.listing2)
  .map(([name]) => name);

/**
 * The wizard's default selection: the articles' set and the services they do not work without
 * (their companions: Debian's neutron-rpc-server, nova's placement-api), in registry order.
 */
export const WIZARD_DEFAULT_SERVICES: ServiceName[] = registryEntries()
  .filter(([name]) => ARTICLE_SERVICES.some((a) => a === name || companionsOf(a).includes(name)))
  .map(([name]) => name);

export function canonicalService(name: string): ServiceName | undefined {
  if ((SERVICE_NAMES as readonly string[]).includes(name)) return name as ServiceName;
  return SERVICE_ALIASES[name];
}
