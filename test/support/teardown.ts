// A registry of cleanup functions that run once at the end of the test run (and on SIGINT/SIGTERM).
type Teardown = () => Promise<void> | void;

const teardowns: Teardown[] = [];

/** Registers a cleanup to run after all tests, in reverse order of registration. */
export function onTeardown(fn: Teardown): void {
  teardowns.push(fn);
}

export async function runTeardowns(): Promise<void> {
  while (teardowns.length > 0) {
    const fn = teardowns.pop()!;
    try {
      await fn();
    } catch (e) {
      console.error('teardown failed:', e);
    }
  }
}

// One teardown for every signal: mocha's bin/mocha.js follows its SIGINT with a SIGTERM, and a
// second handler must neither start a second round that exits while the first still removes a
// lab, nor leave the default action (death) for the next signal.
let stopping: Promise<void> | undefined;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    stopping ??= runTeardowns().finally(() => process.exit(130));
  });
}
