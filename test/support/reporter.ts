// The suite's reporter: mocha's spec output, then the time each test file took (slowest first)
// and the whole run's. As root every test can run on this machine, so a test that skipped
// (pending) fails the run: green must mean that every test ran. OSHA_ALLOW_SKIPS=1 lifts that
// for a partial run on purpose.
import Mocha from 'mocha';

const { EVENT_SUITE_BEGIN, EVENT_SUITE_END, EVENT_TEST_PENDING, EVENT_RUN_END } = Mocha.Runner.constants;

interface FileTime {
  file: string;
  ms: number;
  tests: number;
}

class OshaReporter extends Mocha.reporters.Spec {
  constructor(runner: Mocha.Runner, options?: Mocha.MochaOptions) {
    super(runner, options);
    const started = Date.now();
    const open = new Map<string, number>();
    const times = new Map<string, FileTime>();
    const pending: string[] = [];

    runner.on(EVENT_SUITE_BEGIN, (suite: Mocha.Suite) => {
      // A file's top-level suites are the root's children; several may share a file.
      if (suite.file && suite.parent?.root && !open.has(suite.file)) open.set(suite.file, Date.now());
    });
    runner.on(EVENT_SUITE_END, (suite: Mocha.Suite) => {
      if (!suite.file || !suite.parent?.root) return;
      const since = open.get(suite.file);
      if (since === undefined) return;
      open.delete(suite.file);
      const t = times.get(suite.file) ?? { file: suite.file, ms: 0, tests: 0 };
      t.ms += Date.now() - since;
      t.tests += suite.total();
      times.set(suite.file, t);
    });
    runner.on(EVENT_TEST_PENDING, (test: Mocha.Test) => pending.push(test.fullTitle()));
    runner.once(EVENT_RUN_END, () => {
      const rel = (f: string) => f.replace(`${process.cwd()}/`, '');
      const rows = [...times.values()].sort((a, b) => b.ms - a.ms);
      console.log('\n  time per test file (slowest first):');
      for (const r of rows) console.log(`  ${(r.ms / 1000).toFixed(1).padStart(8)} s  ${rel(r.file)} (${r.tests} tests)`);
      console.log(`  ${((Date.now() - started) / 1000).toFixed(1).padStart(8)} s  whole run\n`);
      if (pending.length > 0 && process.getuid?.() === 0 && process.env.OSHA_ALLOW_SKIPS !== '1') {
        console.log(`  ${pending.length} test(s) skipped although this run is root and could run them all:`);
        for (const t of pending) console.log(`    - ${t}`);
        console.log('  a skipped test fails the run here (set OSHA_ALLOW_SKIPS=1 to allow it on purpose)\n');
        // Counted as a failure: mocha exits with the failure count it reads right after this event.
        runner.failures += 1;
      }
    });
  }
}

// mocha require()s its reporter and calls new on what it gets: give it the class itself.
export { OshaReporter as 'module.exports' };
