#!/usr/bin/env node
// Runs the mocha suite as two processes side by side, each with its own share of the test files.
// Most of a lab test's time is spent waiting (a node booting, Pacemaker's timeouts, a failover),
// not computing, so two labs at once on a 2-core machine take far less than twice as long as one.
// Each process brings up its own shared lab in a slot of its own (test/support/lab.ts), and every
// test file that makes a lab of its own uses a subnet no other file uses.
//
//   node scripts/test.mjs                 the whole suite, two processes
//   node scripts/test.mjs FILE...         those files only, in one process (same as npx mocha FILE...)
//
// Output: every line of both processes as it comes, prefixed with its group (A or B); at the end,
// each group's report (passing, failing, time per file) again in one piece, and the exit code is
// non-zero when either group failed.
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

// The long end-to-end files that make labs of their own, then a few folders of short files that
// need no lab (an entry ending in / is every test file under it); group B takes everything else,
// the shared lab's users among them. Balanced by the time each took in a full run of both groups
// side by side (the reporter prints it), counting the image builds of a machine with none cached:
// group A builds trixie's image first (its file leads), group B bookworm's (its first lab test) at
// the same time. The HA demo's lab (group B) and the trixie demo's (group A, first) should not
// overlap much: two OpenStack labs under Pacemaker saturate a 2-core machine whose fork and exec
// are slow, and then every timeout in both is at risk.
const GROUP_A = [
  'test/ha/trixie.test.ts',
  'test/deploy/cluster.test.ts',
  'test/deploy/adopt.test.ts',
  'test/agents/host.test.ts',
  'test/wizard/init-deploy.test.ts',
  'test/lab/lab.test.ts',
  'test/lab/fence.test.ts',
  'test/wizard/init.pty.test.ts',
  'test/cli/',
  'test/ssh/',
  'test/inventory/',
  'test/agents/debian-packaging.test.ts',
  'test/agents/lint.test.ts',
];

const mochaBin = join('node_modules', 'mocha', 'bin', 'mocha.js');
const args = process.argv.slice(2);

/**
 * Ctrl-C or a CI timeout (SIGTERM): each mocha must run its teardown (labs, processes). mocha's own
 * bin/mocha.js, which starts the real runner as a child process of its own (for --import=tsx),
 * passes on SIGINT only and dies of SIGTERM, leaving the runner going; so whatever arrives here,
 * the mochas get SIGINT.
 */
function relaySignals(children) {
  for (const sig of ['SIGINT', 'SIGTERM']) {
    process.on(sig, () => {
      for (const c of children) c.kill('SIGINT');
    });
  }
}

if (args.length > 0) {
  const child = spawn(process.execPath, [mochaBin, ...args], { stdio: 'inherit' });
  relaySignals([child]);
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
} else {
  const all = readdirSync('test', { recursive: true })
    .map((f) => join('test', String(f)))
    .filter((f) => f.endsWith('.test.ts'))
    .sort();
  const groupA = GROUP_A.flatMap((entry) => {
    const files = entry.endsWith('/') ? all.filter((f) => f.startsWith(entry)) : all.filter((f) => f === entry);
    if (files.length === 0) throw new Error(`scripts/test.mjs: ${entry} is listed in GROUP_A but holds no test file`);
    return files;
  });
  const groups = [
    { name: 'A', files: groupA },
    { name: 'B', files: all.filter((f) => !groupA.includes(f)) },
  ];
  const started = Date.now();
  const children = [];
  relaySignals(children);
  const results = await Promise.all(
    groups.map(
      (g) =>
        new Promise((resolve) => {
          const out = [];
          const child = spawn(process.execPath, [mochaBin, ...g.files], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, OSHA_TEST_GROUP: g.name } });
          children.push(child);
          const relay = (stream, sink) => {
            let rest = '';
            stream.setEncoding('utf8');
            stream.on('data', (chunk) => {
              const lines = (rest + chunk).split('\n');
              rest = lines.pop();
              for (const line of lines) {
                out.push(line);
                sink.write(`${g.name}│${line}\n`);
              }
            });
            stream.on('end', () => {
              if (rest) {
                out.push(rest);
                sink.write(`${g.name}│${rest}\n`);
              }
            });
          };
          relay(child.stdout, process.stdout);
          relay(child.stderr, process.stderr);
          child.on('close', (code, signal) => resolve({ ...g, code: code ?? 1, signal, out }));
        }),
    ),
  );
  // Each group's own report, from its "N passing" line on, unprefixed, so that the end of the
  // output holds every failure and every file's time.
  for (const r of results) {
    const at = r.out.findIndex((l) => /^\s+\d+ passing/.test(l));
    console.log(`\n===== group ${r.name}: ${r.files.length} files, exit ${r.signal ?? r.code} =====`);
    console.log(at >= 0 ? r.out.slice(at).join('\n') : r.out.slice(-40).join('\n'));
  }
  const failed = results.filter((r) => r.code !== 0);
  console.log(`whole suite: ${((Date.now() - started) / 1000).toFixed(1)} s wall, two groups side by side; ${failed.length === 0 ? 'both passed' : `group ${failed.map((r) => r.name).join(' and ')} failed`}`);
  process.exitCode = failed.length === 0 ? 0 : 1;
}
