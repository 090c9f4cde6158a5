// Root hooks for the whole mocha run. Shared fixtures (the lab) register their teardown here,
// so that everything a test started is removed even when tests fail.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runTeardowns } from './teardown.ts';

// The osha runs of the tests keep their planning reads (src/ssh/read-ahead.ts) in a cache of
// this test run's own, removed at its end, not in the user's ~/.cache.
const cache = mkdtempSync(join(tmpdir(), 'osha-test-cache-'));
process.env.XDG_CACHE_HOME = cache;
// Removed on exit: after afterAll, and also when a signal ends the run (teardown.ts exits after
// removing the labs, and no afterAll runs then).
process.once('exit', () => rmSync(cache, { recursive: true, force: true }));

export const mochaHooks = {
  async afterAll(this: Mocha.Context) {
    this.timeout(300_000);
    await runTeardowns();
  },
};
