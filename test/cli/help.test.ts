// What a user reads first: --help and the message for a wrong playbook name (real CLI runs).
import { expect } from 'chai';
import { osha } from '../support/osha.ts';

describe('osha help and usage messages', function () {
  this.timeout(60_000);
  const PLAYBOOKS = 'agents, cluster, deploy, openstack, resources';

  it('run --help lists the playbooks; numeric defaults show as numbers', async () => {
    const help = await osha(['run', '--help']);
    expect(help.code).to.equal(0);
    expect(help.stdout.replace(/\s+/g, ' ')).to.include(`playbook: ${PLAYBOOKS}, or the path of a playbook file`);
    expect(help.stdout).to.include('(default: 16)');
    expect(help.stdout.replace(/\s+/g, ' ')).to.include('(default 120; 600 for topology: active-active');
    expect(help.stdout).to.not.match(/default: "\d+"/);
  });

  it('a wrong playbook name is refused before the inventory is read, naming the playbooks', async () => {
    const r = await osha(['run', 'agent', 'no-such-inventory.yaml']);
    expect(r.code).to.equal(2);
    expect(r.stderr).to.include('no playbook agent').and.include(`use one of: ${PLAYBOOKS}`);
    expect(r.stderr).to.not.include('no-such-inventory.yaml');
  });
});
