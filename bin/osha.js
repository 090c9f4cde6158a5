#!/usr/bin/env node
// Launcher. osha runs the JavaScript that `npm run build` bundles into dist/bundle/ (scripts/setup.sh
// builds it): that starts in about a tenth of a second, where compiling src/ through tsx at every
// start costs most of a second. When dist/ is missing or older than a file under src/ (someone
// edited the source and did not rebuild), running it would run old code, so the launcher runs the
// source through tsx instead: correct, only slower, and it says so in one line.
// OSHA_LAUNCH_TRACE=1 prints which entry it chose (test/cli/start.test.ts checks the choice).
import { existsSync, readdirSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const stamp = `${root}dist/.built`; // touched by `npm run build` once tsc and the bundle have succeeded

/** The newest modification time under dir: one stat per file, a few ms for src/. */
function newest(dir) {
  let max = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const path = `${dir}/${e.name}`;
    max = Math.max(max, e.isDirectory() ? newest(path) : statSync(path).mtimeMs);
  }
  return max;
}

function distIsCurrent() {
  if (!existsSync(stamp)) return false;
  if (!existsSync(`${root}src`)) return true; // a package shipped without src/
  try {
    return statSync(stamp).mtimeMs >= newest(`${root}src`);
  } catch {
    return false; // e.g. a dangling link under src/: the sources decide
  }
}

const trace = (entry) => process.env.OSHA_LAUNCH_TRACE === '1' && console.error(`osha launch: ${entry}`);

if (distIsCurrent()) {
  trace('dist/bundle/osha.js');
  await import('../dist/bundle/osha.js');
} else {
  trace('src/cli/main.ts (tsx)');
  let tsx;
  try {
    tsx = await import('tsx/esm/api');
  } catch {
    // An install without the development dependencies has no tsx, and without dist/ nothing to run.
    console.error(`osha: ${root}dist/ is missing or older than src/, and tsx (a development dependency) is not installed to run the source; in ${root} run: npm install && npm run build`);
    process.exit(1);
  }
  console.error('osha: running from source through tsx (slow start): dist/ is missing or older than src/; `npm run build` gives the fast start');
  tsx.register();
  await import('../src/cli/main.ts');
}
