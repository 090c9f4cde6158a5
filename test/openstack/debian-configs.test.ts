import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { DEBIAN_RELEASES, fetchDeb, releaseCacheDir } from './debian-configs.ts';

const run = promisify(execFile);

describe('Debian package test data', () => {
  for (const release of DEBIAN_RELEASES) {
    it(`${release}: fails with a message that says what to do when a package cannot be fetched`, async () => {
      // A cache under a file: no directory can be made there and apt-get cannot run there (not
      // even as root), as when the network is down.
      const cache = releaseCacheDir(release, '/dev/null/osha-deb-cache');
      const failed = await fetchDeb(cache, 'keystone', release).then(
        () => undefined,
        (e: Error) => e,
      );
      expect(failed, 'fetchDeb must not succeed').to.be.instanceOf(Error);
      expect(failed!.message).to.match(new RegExp(`^cannot fetch Debian ${release} package keystone with "apt-get download keystone"`));
      if (release === 'bookworm') expect(failed!.message).to.contain('run "apt-get update" once and check the network');
      else expect(failed!.message).to.contain(`fetched through the apt state in /dev/null/osha-deb-cache/${release}/apt (the host's apt is not changed)`);
    });
  }

  it("trixie's packages come through an apt state of their own, cached apart; the host's apt still knows only its own release", async function () {
    this.timeout(600_000);
    const bookworm = await fetchDeb(releaseCacheDir('bookworm'), 'keystone', 'bookworm');
    const trixie = await fetchDeb(releaseCacheDir('trixie'), 'keystone', 'trixie');
    expect(dirname(trixie)).not.to.equal(dirname(bookworm));
    const version = async (deb: string) => (await run('dpkg-deb', ['-f', deb, 'Version'])).stdout.trim();
    const [old, cur] = [await version(bookworm), await version(trixie)];
    // OpenStack 2025.1's keystone is newer than bookworm's.
    await run('dpkg', ['--compare-versions', cur, 'gt', old]).catch(() => expect.fail(`trixie's keystone ${cur} is not newer than bookworm's ${old}`));
    const sources = readFileSync(join(dirname(trixie), '..', 'apt', 'sources.list'), 'utf8');
    expect(sources).to.match(/ trixie main\n/);
    expect(sources).to.match(/ trixie-updates main\n/);
    const host = (await run('apt-cache', ['policy', 'keystone'])).stdout;
    expect(host).not.to.match(/\btrixie\b/);
    expect(host).not.to.contain(cur);
  });
});
