import { expect } from 'chai';
import { fetchDeb } from './debian-configs.ts';

describe('Debian package test data', () => {
  it('fails with a message that says what to do when a package cannot be fetched', async () => {
    // A cache directory that does not exist: apt-get cannot run there, as when the network is down.
    const failed = await fetchDeb('/nonexistent/osha-deb-cache', 'keystone').then(
      () => undefined,
      (e: Error) => e,
    );
    expect(failed, 'fetchDeb must not succeed').to.be.instanceOf(Error);
    expect(failed!.message).to.match(/^cannot fetch Debian package keystone with "apt-get download keystone"/);
    expect(failed!.message).to.contain('run "apt-get update" once and check the network');
  });
});
