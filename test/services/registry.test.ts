// The service registry (src/services/registry.ts) against everything derived from it and against
// the agents in playbooks/agents/: each service defined once, each derived list in step with it.
import { expect } from 'chai';
import { readdirSync, readFileSync } from 'node:fs';
import { CONFIG_FAMILIES, CONFIG_FILES, FAMILY_FILES, registryEntries, SERVICES, type ServiceName } from '../../src/services/registry.ts';
import { canonicalService, SERVICE_ALIASES, SERVICE_NAMES } from '../../src/inventory/services.ts';
import { AGENT_ALIASES, AGENT_NAMES, agentSourceDir, LIBRARY_NAME, WRAPPER_AGENTS } from '../../src/agents/files.ts';
import { GROUP_KEYS, GROUP_MEMBERS, SERVICE_SPECS } from '../../src/cluster/catalog.ts';
import { INIT_UNITS } from '../../src/steps/init-services.ts';
import { OPENSTACK_SERVICES, SERVICE_CONFIG_FILES } from '../../src/openstack/rewrites.ts';
import { CATALOG } from '../../src/openstack/endpoints.ts';
import { configServiceOf } from '../../src/steps/openstack.ts';

const names = registryEntries().map(([name]) => name);
const sorted = (xs: Iterable<string>) => [...xs].sort();

describe('service registry', function () {
  it('lists each service once, and the inventory names are its names in its order', function () {
    expect(new Set(names).size).to.equal(names.length);
    expect([...SERVICE_NAMES]).to.deep.equal(names);
  });

  it('every osha agent has its file in playbooks/agents/, and every file there is the library, an agent, an alias or a wrapper', function () {
    const files = readdirSync(agentSourceDir());
    const oshaAgents = names.filter((n) => SERVICES[n].agent === 'osha');
    const agentAliases = names.flatMap((n) => SERVICES[n].agentAliases ?? []);
    expect(sorted(files)).to.deep.equal(sorted([LIBRARY_NAME, ...oshaAgents, ...agentAliases, ...WRAPPER_AGENTS]));
    expect([...AGENT_NAMES]).to.deep.equal(oshaAgents);
    expect(sorted(Object.keys(AGENT_ALIASES))).to.deep.equal(sorted(agentAliases));
  });

  it('an alias file runs the agent of the service whose entry names it', function () {
    for (const [name, e] of registryEntries()) {
      for (const alias of e.agentAliases ?? []) {
        expect(e.agent, `${alias} needs an osha agent to exec`).to.equal('osha');
        expect(AGENT_ALIASES[alias]).to.equal(name);
        expect(readFileSync(`${agentSourceDir()}/${alias}`, 'utf8')).to.contain(`exec "$(dirname "$0")/${name}" "$@"`);
      }
    }
  });

  it('every alias resolves to exactly one service and is no service name', function () {
    const owners = new Map<string, ServiceName[]>();
    for (const [name, e] of registryEntries()) {
      for (const alias of [...(e.aliases ?? []), ...(e.agentAliases ?? [])]) owners.set(alias, [...(owners.get(alias) ?? []), name]);
    }
    for (const [alias, services] of owners) {
      expect(services, alias).to.have.length(1);
      expect(names as string[], alias).not.to.include(alias);
      expect(canonicalService(alias), alias).to.equal(services[0]);
      expect(SERVICE_ALIASES[alias], alias).to.equal(services[0]);
    }
    expect(sorted(Object.keys(SERVICE_ALIASES))).to.deep.equal(sorted(owners.keys()));
    for (const n of names) expect(canonicalService(n)).to.equal(n);
  });

  it('init units: one list per registry service, no unit masked on behalf of two services', function () {
    expect(Object.keys(INIT_UNITS)).to.deep.equal(names);
    const all = Object.values(INIT_UNITS).flat();
    expect(new Set(all).size).to.equal(all.length);
    for (const n of names) expect(INIT_UNITS[n], n).to.have.length.above(0);
  });

  it('companions are other registry services, run on the same node, with units of their own', function () {
    const withCompanions = registryEntries().filter(([, e]) => e.companions !== undefined);
    expect(withCompanions.map(([n]) => n)).to.include.members(['neutron-server', 'nova-api']);
    for (const [n, e] of withCompanions) {
      for (const c of e.companions!) {
        expect(names as string[], `${n}'s companion ${c}`).to.include(c);
        expect(c).to.not.equal(n);
        const companion = SERVICES[c as ServiceName];
        // One node runs both: the same group, or groups (every classic group runs where keystone
        // or the VIP runs), or clones (active-active clones every service anyway).
        expect(companion.placement === 'clone', c).to.equal(e.placement === 'clone');
        for (const unit of companion.initUnits) expect(e.initUnits as readonly string[], `${n} masks ${c}'s unit ${unit}`).to.not.include(unit);
      }
    }
  });

  it('config files: each belongs to a registry service, and the families are the files\' families', function () {
    const used = new Set(names.flatMap((n) => [SERVICES[n].config, SERVICES[n].extraConfig]).filter((f) => f !== undefined));
    expect(sorted(Object.keys(CONFIG_FILES))).to.deep.equal(sorted(used));
    expect([...OPENSTACK_SERVICES]).to.deep.equal([...CONFIG_FAMILIES]);
    expect(sorted(Object.values(SERVICE_CONFIG_FILES).flat())).to.deep.equal(sorted(Object.keys(CONFIG_FILES)));
    for (const family of CONFIG_FAMILIES) expect(SERVICE_CONFIG_FILES[family]).to.deep.equal(FAMILY_FILES[family]);
    for (const n of names) {
      const file = SERVICES[n].config;
      expect(configServiceOf(n), n).to.equal(file === undefined ? undefined : CONFIG_FILES[file].family);
    }
  });

  it('every osha agent reads a config file that osha rewrites; the others are not OpenStack daemons', function () {
    for (const [n, e] of registryEntries()) {
      if (e.agent === 'osha') expect(e.config, n).to.be.a('string');
      else expect(e.config, n).to.equal(undefined);
    }
  });

  it('each osha agent\'s port, health check and config are the registry\'s', function () {
    for (const name of AGENT_NAMES) {
      const text = readFileSync(`${agentSourceDir()}/${name}`, 'utf8');
      const vars = Object.fromEntries([...text.matchAll(/^(OSA_[A-Z_]+)=(\S*)$/gm)].map((m) => [m[1]!, m[2]!]));
      const e = SERVICES[name];
      expect(vars.OSA_PORT, name).to.equal(e.port?.toString());
      expect(vars.OSA_STYLE === 'uwsgi', name).to.equal(e.uwsgi === true);
      expect(vars.OSA_HEALTH, name).to.equal(e.health?.kind);
      expect(vars.OSA_HEALTH_PATH, name).to.equal(e.health?.kind === 'http' ? e.health.path : undefined);
      expect(vars.OSA_CONFIG, name).to.equal(e.agentConfig ?? e.config);
      if (e.extraConfig !== undefined) expect(vars.OSA_EXTRA_CONFIG, name).to.equal(e.extraConfig);
      // And the CIB passes the agent that same file: the daemon gets its own file, not the extra one twice.
      expect(SERVICE_SPECS[name].config, name).to.equal(vars.OSA_CONFIG);
    }
  });

  it('catalog entries exist for the registry\'s APIs and nothing else, on the API\'s port', function () {
    for (const n of names) if (SERVICES[n].catalog) expect(CATALOG[n]?.port, n).to.equal(SERVICES[n].port);
    expect(sorted(Object.keys(CATALOG))).to.deep.equal(sorted(names.filter((n) => SERVICES[n].catalog)));
    // Every API with a token check has a catalog entry; heat-api-cfn has one without (EC2-signed requests).
    for (const n of names) if (SERVICES[n].api) expect(SERVICES[n].catalog, n).to.not.equal(undefined);
    expect(names.filter((n) => SERVICES[n].catalog && !SERVICES[n].api)).to.deep.equal(['heat-api-cfn']);
  });

  it('Pacemaker specs: one per service; each grouped service is a member of its group, once', function () {
    expect(Object.keys(SERVICE_SPECS)).to.deep.equal(names);
    const members = GROUP_KEYS.flatMap((g) => GROUP_MEMBERS[g].map((s) => [s, g] as const));
    expect(sorted(members.map(([s]) => s))).to.deep.equal(sorted(names.filter((n) => SERVICES[n].placement !== 'clone')));
    for (const [s, g] of members) expect(SERVICES[s].placement, s).to.equal(g);
  });
});
