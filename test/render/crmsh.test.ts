// The crm shell text osha shows in a plan means exactly what it applies: the real crmsh loads the
// text into an offline CIB, and the objects it writes equal the ones osha renders as XML.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { DOMParser, type Element } from '@xmldom/xmldom';
import { expect } from 'chai';
import { buildResourceModel } from '../../src/cluster/build.ts';
import { desiredCib, objectChanges } from '../../src/cluster/merge.ts';
import { renderChange, renderCrmsh } from '../../src/render/crmsh.ts';
import { inventoryFrom, LISTING2_INVENTORY, liveCib, run, writeCib } from '../cluster/fixtures.ts';

const inventory = LISTING2_INVENTORY.replace(
  '  primitives:\n',
  `  primitives:\n    - { id: quoting, agent: "ocf:heartbeat:Dummy", params: { state: '/run/a "quoted" \\\\ path' }, clone: true }\n`,
);
const model = buildResourceModel(inventoryFrom(inventory));

function haveCrmsh(): boolean {
  try {
    execFileSync('crm', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Every osha object under resources and constraints, as sorted-attribute text keyed by id. */
function oshaObjects(cibXml: string): Map<string, string> {
  const doc = new DOMParser().parseFromString(cibXml, 'text/xml');
  const out = new Map<string, string>();
  for (const section of ['resources', 'constraints']) {
    const el = doc.getElementsByTagName(section)[0]!;
    for (let n = el.firstChild; n; n = n.nextSibling) {
      if (n.nodeType !== 1) continue;
      const e = n as Element;
      if (e.getAttribute('id')?.startsWith('osha-')) out.set(e.getAttribute('id')!, canonical(e));
    }
  }
  return out;
}

function canonical(e: Element): string {
  const attrs: string[] = [];
  for (let i = 0; i < e.attributes.length; i++) attrs.push(`${e.attributes[i]!.name}=${JSON.stringify(e.attributes[i]!.value)}`);
  let inner = '';
  for (let n = e.firstChild; n; n = n.nextSibling) if (n.nodeType === 1) inner += canonical(n as Element);
  return `<${e.nodeName} ${attrs.sort().join(' ')}>${inner}</${e.nodeName}>`;
}

describe('crm shell rendering', function () {
  it('writes Listing 2\'s notation: groups, clones and inf: constraints', function () {
    const text = renderCrmsh(model);
    // keystone's group lays out first in a transition (KEYSTONE_PRIORITY).
    expect(text).to.include('group osha-g-keystone osha-keystone \\\n    meta priority="5"\n');
    expect(text).to.include('group osha-g-glance osha-glance-registry osha-glance-api\n');
    expect(text).to.include('clone osha-cl-neutron-openvswitch-agent osha-neutron-openvswitch-agent \\\n    meta interleave="true"\n');
    expect(text).to.include('colocation osha-co-g-keystone-with-vip inf: osha-g-keystone osha-vip\n');
    expect(text).to.include('order osha-o-g-glance-after-g-neutron inf: osha-g-neutron:start osha-g-glance:start\n');
    expect(text).to.include('location osha-lo-host1-prefer-node1 osha-nova-compute-host1 10000: node1\n');
    // osha's agents: one monitor per depth, each with its interval and OCF_CHECK_LEVEL.
    expect(text).to.include(
      [
        'op monitor interval="10s" timeout="20s" OCF_CHECK_LEVEL="0" \\',
        '    op monitor interval="30s" timeout="60s" OCF_CHECK_LEVEL="10" \\',
        '    op monitor interval="300s" timeout="60s" OCF_CHECK_LEVEL="20"\n',
      ].join('\n'),
    );
    expect(text).to.match(/primitive osha-mysql ocf:heartbeat:mysql[^\n]*(\n {4}[^\n]*)*\n {4}op monitor interval="30s" timeout="60s"\n/);
    // One property statement: crmsh makes a property set per statement.
    expect(text).to.include('property stonith-enabled="false" \\\n    no-quorum-policy="stop"\n');
    expect(renderCrmsh(model, 'fencing-enabled')).to.include('property fencing-enabled="false" \\\n');
  });

  it('shows a change as added, changed and removed objects', function () {
    const live = liveCib();
    const added = objectChanges(live, model);
    if (!added.ok) throw new Error(added.error.message);
    const plan = renderChange(model, added.value);
    expect(plan).to.match(/^\+ primitive osha-vip ocf:heartbeat:IPaddr2/m);
    expect(plan).to.match(/to add, 0 to change, 0 to remove\n$/);
    const applied = desiredCib(live, model);
    if (!applied.ok) throw new Error(applied.error.message);
    const smaller = buildResourceModel(inventoryFrom(inventory.replace('  - cinder-api\n', '')));
    const changes = objectChanges(applied.value, smaller);
    if (!changes.ok) throw new Error(changes.error.message);
    const text = renderChange(smaller, changes.value);
    expect(text).to.include('- primitive osha-cinder-api\n');
    expect(text).to.include('~ group osha-g-cinder osha-cinder-volume osha-cinder-scheduler\n');
    expect(text).to.match(/0 to add, 1 to change, 1 to remove\n$/);
    // An override changes one primitive inside a group: the plan names that primitive alone.
    const slower = buildResourceModel(
      inventoryFrom(inventory.replace('resources:\n', 'resources:\n  overrides: { keystone: { ops: { monitor: { timeout: 90s } } } }\n')),
    );
    const tuned = objectChanges(applied.value, slower);
    if (!tuned.ok) throw new Error(tuned.error.message);
    const tunedText = renderChange(slower, tuned.value);
    expect(tunedText).to.match(/^~ primitive osha-keystone ocf:openstack:keystone/);
    for (const [interval, depth] of [['10s', 0], ['30s', 10], ['300s', 20]]) {
      expect(tunedText).to.include(`op monitor interval="${interval}" timeout="90s" OCF_CHECK_LEVEL="${depth}"`);
    }
    expect(tunedText).to.match(/0 to add, 1 to change, 0 to remove\n$/);
    expect(renderChange(model, [])).to.equal('no change to the Pacemaker configuration\n');
  });

  describe('read back by the real crmsh', function () {
    before(function () {
      if (!haveCrmsh()) this.skip(); // needs Debian package crmsh
    });

    it('crm configure load update turns the text into the same CIB objects osha writes', function () {
      const cibFile = writeCib(liveCib(), 'crmsh');
      const textFile = writeCib(renderCrmsh(model), 'crmsh-text');
      // -F: the agents are not installed on this machine, so crmsh cannot read their meta-data.
      const r = run('crm', ['-F', 'configure', 'load', 'update', textFile], { CIB_file: cibFile });
      expect(r.status, r.stdout + r.stderr).to.equal(0);
      const fromCrmsh = oshaObjects(readFileSync(cibFile, 'utf8'));
      const desired = desiredCib(liveCib(), model);
      if (!desired.ok) throw new Error(desired.error.message);
      const fromOsha = oshaObjects(desired.value);
      expect([...fromCrmsh.keys()].sort()).to.deep.equal([...fromOsha.keys()].sort());
      for (const [id, xml] of fromOsha) expect(fromCrmsh.get(id), id).to.equal(xml);
      expect(readFileSync(cibFile, 'utf8')).to.match(/name="stonith-enabled" value="false"/);
    });
  });
});
