// Root hooks for the whole mocha run. Shared fixtures (the lab) register their teardown here,
// so that everything a test started is removed even when tests fail.
import { runTeardowns } from './teardown.ts';

export const mochaHooks = {
  async afterAll(this: Mocha.Context) {
    this.timeout(300_000);
    await runTeardowns();
  },
};
