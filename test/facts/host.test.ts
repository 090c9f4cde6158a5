// Parsers of src/facts/host.ts: pure text in, values out.
import { expect } from 'chai';
import { foreignHeads } from '../../src/facts/host.ts';

describe('host facts', () => {
  it('names the agent files whose head (head -v output) carries none of the markers', () => {
    const out = [
      '==> keystone <==',
      '#!/bin/sh',
      '# keystone: written for osha',
      '',
      '==> glance-api <==',
      '#!/bin/sh',
      '# OpenStack Glance API (openstack-resource-agents)',
      '',
      '==> quantum-server <==',
      "# the articles' name for neutron-server",
      '',
      '==> empty <==',
      '',
      '==> not-an-agent <==',
      'whatever',
    ].join('\n');
    const names = ['keystone', 'glance-api', 'quantum-server', 'empty'];
    expect(foreignHeads(out, names, ['written for osha', "the articles' name for"])).to.deep.equal(['glance-api', 'empty']);
    expect(foreignHeads('', names, ['written for osha'])).to.deep.equal([]);
  });
});
