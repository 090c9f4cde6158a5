// The deploy step's core on a real Debian nova.conf: plan, apply, converge, roll back.
import { expect } from 'chai';
import { applyStepsInMemory, backupPathFor } from '../../src/openstack/backup.ts';
import { controllerAliases, pathsToRead, planNodeConfig, planNodeRollback, type ConfigFacts } from '../../src/openstack/node-config.ts';
import { editIni } from '../../src/render/ini.ts';
import { debianConfigs } from './debian-configs.ts';
import { labInventory, VIP } from './fixtures.ts';

const NOVA = '/etc/nova/nova.conf';

/** Reads the facts of a simulated node's disk the way the deploy step reads them over SSH. */
function factsOf(disk: Map<string, string>): ConfigFacts {
  const facts: Record<string, { content: string; hasBackup: boolean }> = {};
  for (const { file, backup } of pathsToRead('nova')) {
    const content = disk.get(file);
    if (content !== undefined) facts[file] = { content, hasBackup: disk.has(backup) };
  }
  return facts;
}

describe('node config step (real Debian nova.conf)', function () {
  this.timeout(300_000);
  let installed: string;

  before(async () => {
    const files = await debianConfigs();
    installed = editIni(files[NOVA]!, [
      { section: 'database', key: 'connection', value: 'mysql+pymysql://nova:N0va-secret@198.18.0.11/nova' },
      { section: 'DEFAULT', key: 'transport_url', value: 'rabbit://openstack:Rabb1t-secret@198.18.0.11:5672/' },
    ]).text;
  });

  it('backs up, rewrites, converges and rolls back', () => {
    const disk = new Map([[NOVA, installed]]);
    const first = planNodeConfig(labInventory(), 'nova', factsOf(disk));
    if (!first.ok) throw new Error(first.error.message);
    expect(first.value.steps.map((s) => `${s.kind} ${s.path}`)).to.deep.equal([`write ${backupPathFor(NOVA)}`, `write ${NOVA}`]);
    expect(first.value.changedFiles).to.deep.equal([NOVA]);
    expect(first.value.diff).to.contain(`+connection = mysql+pymysql://nova:***@${VIP}/nova`);
    expect(first.value.diff).not.to.match(/N0va-secret|Rabb1t-secret/);
    expect(JSON.stringify(first.value)).not.to.match(/N0va-secret|Rabb1t-secret/);
    applyStepsInMemory(disk, first.value.steps);

    const again = planNodeConfig(labInventory(), 'nova', factsOf(disk));
    if (!again.ok) throw new Error(again.error.message);
    expect(again.value).to.include({ diff: '' });
    expect(again.value.steps).to.deep.equal([]);
    expect(again.value.changedFiles).to.deep.equal([]);

    const rollback = planNodeRollback(NOVA, disk.get(NOVA), disk.get(backupPathFor(NOVA)));
    if (!rollback.ok) throw new Error(rollback.error.message);
    applyStepsInMemory(disk, rollback.value);
    expect(disk.get(NOVA) === installed).to.equal(true);
    expect(disk.has(backupPathFor(NOVA))).to.equal(false);
  });

  it('refuses a relative path for rollback', () => {
    const r = planNodeRollback('nova.conf', 'x', 'y');
    expect(!r.ok && r.error.message).to.equal('nova.conf is not an absolute path');
  });

  it('points the install guide\'s `controller` at the VIP when /etc/hosts resolves it to a cluster node, and says so', () => {
    const hosts = '127.0.0.1 localhost\n198.18.0.11 controller controller.example  # the install guide\n198.18.0.50 storage\n198.18.0.12 bob\n';
    const aliases = controllerAliases(hosts, labInventory());
    expect([...aliases]).to.deep.equal([['controller', '198.18.0.11'], ['controller.example', '198.18.0.11']]);
    const guide = editIni(installed, [
      { section: 'database', key: 'connection', value: 'mysql+pymysql://nova:N0va-secret@controller/nova' },
      { section: 'DEFAULT', key: 'transport_url', value: 'rabbit://openstack:Rabb1t-secret@storage:5672/' },
    ]).text;
    const without = planNodeConfig(labInventory(), 'nova', factsOf(new Map([[NOVA, guide]])));
    expect(without.ok && without.value.diff).to.not.contain('+connection = ');
    const r = planNodeConfig(labInventory(), 'nova', factsOf(new Map([[NOVA, guide]])), { localHosts: [...aliases.keys()] });
    if (!r.ok) throw new Error(r.error.message);
    expect(r.value.diff).to.contain(`+connection = mysql+pymysql://nova:***@${VIP}/nova`);
    // storage resolves to an address no cluster node has: left alone.
    expect(r.value.diff).to.not.match(/^\+transport_url/m);
  });
});
