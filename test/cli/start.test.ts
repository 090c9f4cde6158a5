// How bin/osha.js starts osha: the bundle in dist/bundle/ when dist/ is current, else src/ through
// tsx with one line saying so, and a clear error when neither can run. Each case works on a copy of the
// launcher, src/ and a fresh `npm run build` in a temporary folder, so the repository's own
// files and their times are never touched.
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { TSX_NOTE } from '../support/osha.ts';

const ROOT = resolve(import.meta.dirname, '../..');

interface Launch {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `node bin/osha.js ARGS` in DIR, with the launcher saying which entry it chose. */
function launch(dir: string, args: string[]): Launch {
  const r = spawnSync(process.execPath, [join(dir, 'bin/osha.js'), ...args], {
    cwd: dir,
    env: { ...process.env, OSHA_LAUNCH_TRACE: '1', FORCE_COLOR: '0' },
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('osha start: bin/osha.js picks dist/ or src/', function () {
  this.timeout(120_000);
  let dir: string;

  before(function () {
    dir = mkdtempSync(join(tmpdir(), 'osha-start-'));
    for (const f of ['package.json', 'tsconfig.json', 'tsconfig.build.json']) cpSync(join(ROOT, f), join(dir, f));
    for (const d of ['bin', 'src', 'scripts']) cpSync(join(ROOT, d), join(dir, d), { recursive: true });
    // Read only: the files osha reads at run time, and the installed packages.
    for (const d of ['playbooks', 'vagrant', 'node_modules']) symlinkSync(join(ROOT, d), join(dir, d));
    const build = spawnSync('npm', ['run', 'build', '--silent'], { cwd: dir, encoding: 'utf8', timeout: 110_000 });
    expect(build.status, build.stdout + build.stderr).to.equal(0);
  });

  after(function () {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('runs the bundle dist/bundle/osha.js when dist/ is current, without a note', function () {
    const r = launch(dir, ['--version']);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout.trim()).to.equal('0.1.0');
    expect(r.stderr.trim()).to.equal('osha launch: dist/bundle/osha.js');
  });

  it('the bundle finds the repository files its modules read (paths from import.meta.url)', function () {
    // Every path the bundle computes from its own location, read off its text: each must resolve
    // from dist/bundle/ as it does from src/<folder>/.
    const bundleDir = join(dir, 'dist/bundle');
    const text = readdirSync(bundleDir).map((f) => readFileSync(join(bundleDir, f), 'utf8')).join('\n');
    const relative = [...text.matchAll(/new URL\([`"]([^`"$]+)[^`"]*[`"], import\.meta\.url\)/g)].map((m) => m[1]!);
    const joined = [...text.matchAll(/dirname\(fileURLToPath\(import\.meta\.url\)\), "([^"]+)"\)/g)].map((m) => m[1]!);
    const paths = [...relative, ...joined].map((p) => resolve(bundleDir, p).replace(dir, '')).sort();
    expect(paths).to.deep.equal(['/bin/osha.js', '/playbooks', '/playbooks', '/playbooks/agents', '/src/lab/files/fence_nspawn', '/vagrant']);
    expect(paths.filter((p) => !existsSync(join(dir, p)))).to.deep.equal([]);
    // And one that runs: the playbooks listed in `osha run --help` come from playbooks/.
    const r = launch(dir, ['run', '--help']);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.match(/playbook: agents, cluster, deploy, openstack,\s+resources/);
  });

  it('compiled modules find the repository files they read (paths from import.meta.url)', function () {
    const script = [
      "import { existsSync } from 'node:fs';",
      "const { AGENT_FILE, fenceServerArgs } = await import('./dist/lab/fence.js');",
      "const { agentSourceDir } = await import('./dist/agents/files.js');",
      "const { VAGRANT_DIR } = await import('./dist/lab/vagrant.js');",
      "const { PLAYBOOK_DIR } = await import('./dist/playbook/names.js');",
      'const paths = [AGENT_FILE, fenceServerArgs(".")[0], agentSourceDir(), VAGRANT_DIR, PLAYBOOK_DIR];',
      'console.log(JSON.stringify(paths.map((p) => [p, existsSync(p)])));',
    ].join('\n');
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: dir, encoding: 'utf8', timeout: 60_000 });
    expect(r.status, r.stderr).to.equal(0);
    const found = JSON.parse(r.stdout) as [string, boolean][];
    expect(found.map(([p]) => p.replace(dir, ''))).to.deep.equal(['/src/lab/files/fence_nspawn', '/bin/osha.js', '/playbooks/agents/', '/vagrant/', '/playbooks']);
    expect(found.filter(([, exists]) => !exists)).to.deep.equal([]);
  });

  it('runs src/ through tsx with one note when a file under src/ is newer than the build', function () {
    const file = join(dir, 'src/cli/exit.ts');
    const later = new Date(Date.now() + 60_000);
    utimesSync(file, later, later);
    const r = launch(dir, ['--version']);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout.trim()).to.equal('0.1.0');
    const lines = r.stderr.trim().split('\n');
    expect(lines[0]).to.equal('osha launch: src/cli/main.ts (tsx)');
    expect(lines.slice(1), 'one note line').to.have.length(1);
    expect(lines[1]).to.match(TSX_NOTE);
  });

  it('runs src/ through tsx when dist/ is missing', function () {
    rmSync(join(dir, 'dist'), { recursive: true });
    const r = launch(dir, ['validate', join(ROOT, 'inventory.example.yaml')]);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.include('valid');
    expect(r.stderr).to.match(TSX_NOTE);
  });

  it('says what to do when dist/ is missing and tsx is not installed', function () {
    // A node_modules with every package but tsx, as after `npm install --omit=dev`.
    rmSync(join(dir, 'node_modules'));
    mkdirSync(join(dir, 'node_modules'));
    for (const name of readdirSync(join(ROOT, 'node_modules')).filter((n) => n !== 'tsx')) {
      symlinkSync(join(ROOT, 'node_modules', name), join(dir, 'node_modules', name));
    }
    const r = launch(dir, ['--version']);
    expect(r.code).to.equal(1);
    expect(r.stdout).to.equal('');
    expect(r.stderr).to.include('tsx (a development dependency) is not installed').and.include('npm install && npm run build');
    expect(r.stderr).to.not.match(TSX_NOTE);
  });
});
