#!/usr/bin/env node
// The part of `npm run build` that bin/osha.js runs: src/cli/main.ts and the packages it uses as a
// few ES modules in dist/bundle/ (esbuild). Node spends most of osha's start loading modules: a
// no-op deploy loads about 340 files, 95 of them zod's and 72 yaml's, and each costs a resolve, a
// stat and a compile. The bundle loads the entry, the chunks the command needs (lazy imports stay
// lazy: the wizard's prompts, the lab) and ssh2, which stays outside because of its native parts.
// tsc still compiles src/ to dist/ beside it (type errors stop the build; tests import dist/).
//
// dist/bundle/ is two levels below the repository, as dist/<folder>/ and src/<folder>/ are, so the
// paths modules compute from import.meta.url (playbooks/, vagrant/, bin/osha.js) still hold.
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

await build({
  absWorkingDir: root,
  entryPoints: { osha: 'src/cli/main.ts' },
  outdir: 'dist/bundle',
  chunkNames: 'chunk-[hash]',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20.19',
  // ssh2 loads optional native bindings (cpu-features, its own crypto addon) by require at run time.
  external: ['ssh2', 'cpu-features'],
  // Packages written as CommonJS call require(); in an ES module it has to be made.
  banner: { js: "import { createRequire as oshaCreateRequire } from 'node:module'; const require = oshaCreateRequire(import.meta.url);" },
  logLevel: 'warning',
});
