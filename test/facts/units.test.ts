// Init units read with one `systemctl show` (src/facts/host.ts): what each block means.
import { expect } from 'chai';
import { parseKeyValues, unitStateOf } from '../../src/facts/host.ts';

describe('unit states from systemctl show', () => {
  it('a missing unit does not exist; a masked one does; enablement and activity as systemd says', () => {
    const block = (s: string) => unitStateOf(parseKeyValues(s));
    expect(block('LoadState=not-found\nActiveState=inactive\nUnitFileState=')).to.deep.equal({ exists: false, enabled: '', active: 'inactive' });
    expect(block('LoadState=masked\nActiveState=inactive\nUnitFileState=masked')).to.deep.equal({ exists: true, enabled: 'masked', active: 'inactive' });
    expect(block('LoadState=loaded\nActiveState=active\nUnitFileState=disabled')).to.deep.equal({ exists: true, enabled: 'disabled', active: 'active' });
  });
});
