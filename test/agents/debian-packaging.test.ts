// The agents' defaults against the real Debian bookworm packages: each package's own init
// script (/etc/init.d/NAME, taken from the .deb at test time) says how Debian runs the daemon:
// uwsgi with an ini file and a port, or the console script with its configuration files.
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { debCacheDir, fetchDeb } from '../openstack/debian-configs.ts';
import { onTeardown } from '../support/teardown.ts';
import { hostSkipReason, installAgentTree, type AgentTree } from './support.ts';
import { AGENT_NAMES } from '../../src/agents/files.ts';
import { SERVICES } from '../../src/services/registry.ts';

const exec = promisify(execFile);

/**
 * Agent → [package shipping the init script, init script name]: osha's agents whose service the
 * registry gives a Debian package (glance-registry and nova-consoleauth have none in bookworm).
 * The init script is named after the service unless the registry says otherwise.
 */
const PACKAGING: Record<string, [string, string]> = Object.fromEntries(
  AGENT_NAMES.flatMap((agent) => {
    const { debianPackage, debianInitScript } = SERVICES[agent];
    return debianPackage === undefined ? [] : [[agent, [debianPackage, debianInitScript ?? agent]]];
  }),
);

/** Shell-style NAME=value assignments at the top of an init script (before the shared part). */
function initVars(text: string): Record<string, string> {
  const head = text.split('# The content after this line comes from openstack-pkg-tools')[0]!;
  const vars: Record<string, string> = {};
  for (const m of head.matchAll(/^([A-Z_]+)=(?:"([^"]*)"|(\S*))$/gm)) {
    let v = m[2] ?? m[3] ?? '';
    v = v.replace(/\$\{([A-Z_]+)\}/g, (_, k: string) => vars[k] ?? '');
    vars[m[1]!] = v;
  }
  return vars;
}

/** What Debian's init script runs: binary, config, extra config files, ini, port, user. */
function debianRuns(vars: Record<string, string>): Record<string, string> {
  const project = vars.PROJECT_NAME!;
  const out: Record<string, string> = { user: project, group: project };
  if (vars.UWSGI_INI_PATH) {
    out.binary = '/usr/bin/uwsgi_python3';
    out.uwsgi_ini = vars.UWSGI_INI_PATH;
    out.port = vars.UWSGI_PORT!;
  } else {
    out.binary = `/usr/bin/${vars.NAME}`;
    out.config = vars.CONFIG_FILE || `/etc/${project}/${project}.conf`;
    const extra = [...(vars.DAEMON_ARGS ?? '').matchAll(/--config-file=(\S+)/g)].map((m) => m[1]!);
    if (extra.length > 0) out.additional_config = extra.join(' ');
  }
  if (vars.PYARGV) out.config = /--config-file=(\S+)/.exec(vars.PYARGV)![1]!;
  return out;
}

function metaDefaults(xml: string): Record<string, string> {
  const d: Record<string, string> = {};
  for (const m of xml.matchAll(/<parameter name="([a-z_]+)"[\s\S]*?<content type="\w+" default="([^"]*)" \/>/g)) d[m[1]!] = m[2]!;
  return d;
}

describe('agent defaults match how Debian bookworm packages run each daemon (real .debs)', function () {
  let tree: AgentTree;
  let unpacked: string;

  before(async function () {
    this.timeout(600_000);
    const reason = hostSkipReason();
    if (reason) {
      console.log(`      (skipped: ${reason})`);
      this.skip();
    }
    tree = await installAgentTree();
    unpacked = mkdtempSync(join(tmpdir(), 'osha-agent-debs-'));
    onTeardown(() => rmSync(unpacked, { recursive: true, force: true }));
    const cache = debCacheDir();
    for (const [pkg] of Object.values(PACKAGING)) {
      const deb = await fetchDeb(cache, pkg);
      await exec('dpkg-deb', ['-x', deb, unpacked]);
    }
  });

  for (const [agent, [pkg, script]] of Object.entries(PACKAGING)) {
    it(`${agent}: binary, configuration, uwsgi ini, port and user as in ${pkg}'s /etc/init.d/${script}`, async function () {
      const vars = initVars(readFileSync(join(unpacked, 'etc/init.d', script), 'utf8'));
      const want = debianRuns(vars);
      const { stdout } = await exec(tree.agent(agent), ['meta-data'], { env: { OCF_ROOT: '/usr/lib/ocf', OCF_OPENSTACK_LIBDIR: tree.libDir } });
      const have = metaDefaults(stdout);
      for (const [k, v] of Object.entries(want)) expect(have[k], `${agent} ${k}`).to.equal(v);
      if (vars.UWSGI_INI_PATH) {
        // The ini file the agent names is the package's.
        expect(readFileSync(join(unpacked, vars.UWSGI_INI_PATH), 'utf8')).to.contain('[uwsgi]');
      }
    });
  }
});
