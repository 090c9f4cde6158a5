// Parsers of src/facts/host.ts: pure text in, values out.
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { OS_SCRIPT, foreignHeads, parseOsFacts } from '../../src/facts/host.ts';

describe('host facts', () => {
  it("reads this machine's OS, user id, host name and clock with sh and bash alike", () => {
    const osId = /^ID=(.*)$/m.exec(readFileSync('/etc/os-release', 'utf8'))?.[1]?.replace(/"/g, '');
    for (const shell of ['sh', 'bash']) {
      const before = Date.now() / 1000;
      const f = parseOsFacts(spawnSync(shell, ['-c', OS_SCRIPT]).stdout.toString());
      expect(f).to.include({ id: osId, uid: process.getuid!(), hostname: hostname() });
      expect(f.epoch).to.be.within(before - 1, Date.now() / 1000 + 1);
    }
  });

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
