// The fencing step's error for a fencer still without a device when the wait ran out: what it
// says once the other fencers have been asked (pure, no network).
import { expect } from 'chai';
import { missingDeviceError } from '../../src/steps/fencing.ts';

const check = { id: 'osha-fence-node15', target: 'node15', query: false };

describe('fencing: a fencer without a device', () => {
  it('says when every other fencer lists the device, and where to read why this one does not', () => {
    const e = missingDeviceError('node16', check, [], { registeredHere: [], listedOn: ['node1', 'node2'], asked: ['node1', 'node2'] });
    expect(e.host).to.equal('node16');
    expect(e.message).to.equal(
      "the fencer on node16 has no device osha-fence-node15 for node15 (it knows: none); all it has registered: none; every other node's fencer lists it (2), so node16's alone lags",
    );
    expect(e.fix).to.contain('node15 can still be fenced from the nodes whose fencer lists osha-fence-node15');
    expect(e.fix).to.contain('grep pacemaker-fenced /var/log/pacemaker/pacemaker.log | grep osha-fence-node15');
  });

  it('names the fencers that list it and those that do not', () => {
    const e = missingDeviceError('node3', check, ['osha-fence-other'], { registeredHere: ['osha-fence-node1', 'osha-fence-other'], listedOn: ['node1'], asked: ['node1', 'node2'] });
    expect(e.message).to.contain('(it knows: osha-fence-other)');
    expect(e.message).to.contain('all it has registered: osha-fence-node1, osha-fence-other');
    expect(e.message).to.contain('the fencers on node1 list it, not those on node2');
  });

  it('points at the device itself when no fencer lists it', () => {
    const e = missingDeviceError('node2', check, [], { registeredHere: undefined, listedOn: [], asked: ['node1', 'node3'] });
    expect(e.message).to.contain('all it has registered: did not answer');
    expect(e.message).to.contain("no other node's fencer lists it either (asked: node1, node3)");
    expect(e.fix).to.equal('look at the device with: crm_mon -1 --include=all; pcs/crm resource status osha-fence-node15');
  });

  it('has no one else to ask in a two-node cluster', () => {
    const e = missingDeviceError('node2', { ...check, target: 'node1', id: 'osha-fence-node1' }, [], { registeredHere: [], listedOn: [], asked: [] });
    expect(e.message).to.match(/; no other node to ask$/);
  });
});
