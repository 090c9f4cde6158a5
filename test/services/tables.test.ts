// The service tables osha derives from its service registry, compared with their values before
// the registry existed (tables-before.json, dumped from the hand-written tables at f0c34c5): the
// refactor that made them derived must not change a single entry or the order of a list. A
// deliberate change of the registry updates the snapshot in the same commit, so the diff of that
// file shows every table it touched (since then: neutron-rpc-server, placement-api, nova-api-metadata, heat-api-cfn).
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { ARTICLE_SERVICES, SERVICE_ALIASES, SERVICE_NAMES } from '../../src/inventory/services.ts';
import { AGENT_ALIASES, AGENT_NAMES } from '../../src/agents/files.ts';
import { GROUP_MEMBERS, SERVICE_SPECS } from '../../src/cluster/catalog.ts';
import { INIT_UNITS } from '../../src/steps/init-services.ts';
import { DEFAULT_ROLLBACK_FILES, OPENSTACK_SERVICES, SERVICE_CONFIG_FILES } from '../../src/openstack/rewrites.ts';
import { CATALOG } from '../../src/openstack/endpoints.ts';
import { configServiceOf } from '../../src/steps/openstack.ts';

const before = JSON.parse(readFileSync(new URL('./tables-before.json', import.meta.url), 'utf8')) as Record<string, unknown>;

/** JSON round trip: what the dump saw (undefined fields dropped), keys in their order. */
const asDumped = (v: unknown): unknown => JSON.parse(JSON.stringify(v));

describe('service tables: unchanged by the registry', function () {
  const now: Record<string, unknown> = {
    SERVICE_NAMES,
    SERVICE_ALIASES,
    ARTICLE_SERVICES,
    AGENT_NAMES,
    AGENT_ALIASES,
    SERVICE_SPECS,
    GROUP_MEMBERS,
    INIT_UNITS,
    OPENSTACK_SERVICES,
    SERVICE_CONFIG_FILES,
    CATALOG,
    configFamily: Object.fromEntries(SERVICE_NAMES.map((s) => [s, configServiceOf(s) ?? null])),
    DEFAULT_ROLLBACK_FILES,
  };
  for (const [name, value] of Object.entries(now)) {
    it(`${name} holds what it held before`, function () {
      expect(asDumped(value)).to.deep.equal(before[name]);
    });
  }
  it('the snapshot covers every table checked here', function () {
    expect(Object.keys(now).sort()).to.deep.equal(Object.keys(before).sort());
  });
});
