// Cluster properties read from a CIB that the run already holds (cibadmin --query), in place of
// one crm_attribute per property.
import { expect } from 'chai';
import { propertiesFromCib } from '../../src/facts/cluster.ts';
import { desiredProperties } from '../../src/steps/cluster-properties.ts';
import { liveCib } from '../cluster/fixtures.ts';

/** The test's live CIB (test/cluster/fixtures.ts) with dc-deadtime set and resource defaults, as a deployed lab has them. */
const CIB = liveCib({ props: '        <nvpair id="cib-bootstrap-options-dc-deadtime" name="dc-deadtime" value="2s"/>' }).replace(
  '  </configuration>',
  `    <rsc_defaults>
      <meta_attributes id="rsc_defaults-options">
        <nvpair id="rsc_defaults-options-resource-stickiness" name="resource-stickiness" value="100"/>
      </meta_attributes>
    </rsc_defaults>
  </configuration>`,
);

describe('cluster properties from the CIB', () => {
  const wanted = desiredProperties(3);

  it('gives the value of each property the step owns, keyed as crm_attribute is read', () => {
    expect([...propertiesFromCib(CIB, wanted)!]).to.deep.equal([
      ['rsc_defaults/resource-stickiness', '100'],
      ['crm_config/dc-deadtime', '2s'],
    ]);
  });

  it('gives an unset property as empty, the way crm_attribute --query --quiet prints it', () => {
    const fresh = CIB.replace(/<rsc_defaults>[\s\S]*<\/rsc_defaults>/, '').replace(/ *<nvpair id="cib-bootstrap-options-dc-deadtime"[^>]*>\n/, '');
    expect([...propertiesFromCib(fresh, wanted)!]).to.deep.equal([
      ['rsc_defaults/resource-stickiness', ''],
      ['crm_config/dc-deadtime', ''],
    ]);
  });

  it('leaves a property set twice (two sets, one with a rule) and a text that is no CIB to crm_attribute', () => {
    const twice = CIB.replace('</rsc_defaults>', '<meta_attributes id="night"><rule id="r" score="1"><date_expression id="d" operation="gt" start="2026-01-01"/></rule><nvpair id="night-s" name="resource-stickiness" value="0"/></meta_attributes></rsc_defaults>');
    expect(propertiesFromCib(twice, wanted)).to.equal(undefined);
    expect(propertiesFromCib('Could not connect to the CIB', wanted)).to.equal(undefined);
    expect(propertiesFromCib(CIB.slice(0, 400), wanted)).to.equal(undefined);
  });
});
