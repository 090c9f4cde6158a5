// The agents' defaults against the real Debian packages of bookworm and of trixie (OpenStack
// 2025.1): each package's own init script (/etc/init.d/NAME, taken from the .deb at test time)
// says how Debian runs the daemon: uwsgi with an ini file and a port, or the console script with
// its configuration files. Both releases still ship these init scripts, and each package's systemd
// unit (in /lib/systemd/system on bookworm, /usr/lib/systemd/system on trixie) runs its script
// (`/etc/init.d/NAME systemd-start`) as the service's user: that unit is what osha masks.
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { DEBIAN_RELEASES, fetchDeb, releaseCacheDir, releaseHasPackage, unpackDebs, type DebianRelease } from '../openstack/debian-configs.ts';
import { onTeardown } from '../support/teardown.ts';
import { hostSkipReason, installAgentTree, type AgentTree } from './support.ts';
import { AGENT_NAMES } from '../../src/agents/files.ts';
import { SERVICES, type OshaAgentService } from '../../src/services/registry.ts';
import { entries, getValue, parseIni, type IniDocument } from '../../src/render/ini.ts';

const exec = promisify(execFile);

/**
 * Agent → [package shipping the init script, init script name]: osha's agents whose service the
 * registry gives a Debian package (glance-registry and nova-consoleauth have none in bookworm or
 * trixie). The init script is named after the service unless the registry says otherwise.
 */
const PACKAGING: Partial<Record<OshaAgentService, [string, string]>> = Object.fromEntries(
  AGENT_NAMES.flatMap((agent) => {
    const { debianPackage, debianInitScript } = SERVICES[agent];
    return debianPackage === undefined ? [] : [[agent, [debianPackage, debianInitScript ?? agent]]];
  }),
);

/** osha's agents whose service Debian no longer packages. */
const UNPACKAGED = AGENT_NAMES.filter((agent) => SERVICES[agent].debianPackage === undefined);

/** The package whose uwsgi commands (/usr/bin/uwsgi_python*) Debian's init scripts choose from. */
const UWSGI_PACKAGE = 'uwsgi-plugin-python3';

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

/** What Debian's init script runs: binary (of a console script), config, extra config files, ini, port, user. */
function debianRuns(vars: Record<string, string>): Record<string, string> {
  const project = vars.PROJECT_NAME!;
  const out: Record<string, string> = { user: project, group: project };
  if (vars.UWSGI_INI_PATH) {
    // The uwsgi binary is chosen at run time among those installed: see uwsgiCandidates.
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

/**
 * The directory an init script passes as --config-dir when it exists (`if [ -e DIR ] ; then
 * PYARGV="--config-dir=DIR ${PYARGV}"`, or DAEMON_ARGS), or undefined when it passes none.
 */
function configDir(script: string): string | undefined {
  const passed = [...script.matchAll(/--config-dir=(\S+?)["\s]/g)].map((m) => m[1]!);
  if (passed.length === 0) return undefined;
  const dir = passed[0]!;
  expect(passed.every((d) => d === dir), 'one --config-dir').to.equal(true);
  expect(script, `${dir} passed only when it exists`).to.match(new RegExp(`if \\[ -e ${dir.replace(/[.]/g, '\\.')} \\] ; then\\s+\\w+="--config-dir=`));
  return dir;
}

/** The uwsgi commands an init script tries, in its order; it runs the last one that exists. */
function uwsgiCandidates(script: string): string[] {
  const m = /for i in ([0-9 ]+); do\s+if \[ -x \/usr\/bin\/uwsgi_python\$\{i\} \]/.exec(script);
  if (!m) throw new Error('the init script no longer picks /usr/bin/uwsgi_pythonN: update uwsgiCandidates');
  return m[1]!.trim().split(/\s+/).map((i) => `/usr/bin/uwsgi_python${i}`);
}

/**
 * The /usr/bin/uwsgi_python* commands an installed uwsgi-plugin-python3 provides: the package's
 * own files, and the links its postinst makes with update-alternatives (--install or --slave LINK).
 */
function uwsgiInstalled(unpacked: string, postinst: string): Set<string> {
  const files = readdirSync(join(unpacked, 'usr/bin'))
    .filter((f) => f.startsWith('uwsgi_python'))
    .map((f) => `/usr/bin/${f}`);
  const script = postinst.replace(/\\\n\s*/g, ' ');
  const links = [...script.matchAll(/--(?:install|slave)\s+(\/usr\/bin\/uwsgi_python\w*)\s/g)].map((m) => m[1]!);
  return new Set([...files, ...links]);
}

/** The package's systemd unit NAME.service, wherever the release puts units. */
function systemdUnit(unpacked: string, name: string): { path: string; settings: Record<string, string> } {
  for (const dir of ['lib/systemd/system', 'usr/lib/systemd/system']) {
    const file = join(unpacked, dir, `${name}.service`);
    if (!existsSync(file)) continue;
    const settings: Record<string, string> = {};
    for (const m of readFileSync(file, 'utf8').matchAll(/^([A-Za-z]+)=(.*)$/gm)) settings[m[1]!] ??= m[2]!.trim();
    return { path: `/${dir}/${name}.service`, settings };
  }
  throw new Error(`no ${name}.service in /lib/systemd/system or /usr/lib/systemd/system`);
}

/**
 * The plugin .ini neutron's init scripts add to PYARGV: Debian's own plugin_guess_func (from
 * neutron-common) run on the core_plugin of the packaged neutron.conf, or undefined when the
 * script adds none.
 */
async function neutronPluginIni(script: string, unpacked: string): Promise<string | undefined> {
  if (!script.includes('PYARGV="${PYARGV} --config-file=${NEUTRON_PLUGIN_CONFIG}"')) return undefined;
  const conf = readFileSync(join(unpacked, 'usr/share/neutron-common/neutron.conf'), 'utf8');
  const plugin = /^core_plugin\s*=\s*(\S+)$/m.exec(conf)?.[1];
  if (plugin === undefined) throw new Error('the packaged neutron.conf sets no core_plugin');
  const guess = join(unpacked, 'usr/share/neutron-common/plugin_guess_func');
  const sh = '. "$1"; neutron_core_plugin_to_plugin_name "$2"; neutron_plugin_ini_path "$NEUTRON_PLUGIN_NAME"; printf %s "$NEUTRON_PLUGIN_CONFIG"';
  const { stdout } = await exec('/bin/sh', ['-c', sh, 'sh', guess, plugin]);
  return stdout;
}

/**
 * Agents whose depth 10 is an HTTP path that must answer without a token: [agent, package,
 * api-paste.ini in it, the applications its WSGI script loads from it]. heat-api-cfn loads
 * `heat-api-cfn`, or `heat-api-cfn-standalone` for a heat.conf with that flavour.
 */
const PASTE_HEALTH: [OshaAgentService, string, string, string[]][] = [
  ['nova-api-metadata', 'nova-common', 'usr/share/nova-common/api-paste.ini', ['metadata']],
  ['heat-api-cfn', 'heat-common', 'etc/heat/api-paste.ini', ['heat-api-cfn', 'heat-api-cfn-standalone']],
];

const OSLO_HEALTHCHECK = ['egg:oslo.middleware#healthcheck', 'oslo_middleware:Healthcheck.factory', 'oslo_middleware:Healthcheck.app_factory'];

/**
 * Where oslo.middleware's healthcheck answers in a paste application before any other filter
 * runs: at the head of a pipeline (its own `path`, else /healthcheck: bookworm), or as an
 * application a composite maps a path to (trixie's heat), under the composite's mount point.
 */
function healthcheckPath(paste: IniDocument, name: string, mount = ''): string | undefined {
  const oslo = (section: string) => OSLO_HEALTHCHECK.includes(getValue(paste, section, 'use') ?? getValue(paste, section, 'paste.filter_factory') ?? getValue(paste, section, 'paste.app_factory') ?? '');
  const pipeline = getValue(paste, `pipeline:${name}`, 'pipeline');
  if (pipeline !== undefined) {
    const first = pipeline.split(/\s+/)[0]!;
    return oslo(`filter:${first}`) ? mount + (getValue(paste, `filter:${first}`, 'path') ?? '/healthcheck') : undefined;
  }
  for (const { key, value } of entries(paste).filter((e) => e.section === `composite:${name}` && e.key.startsWith('/'))) {
    const at = mount + (key === '/' ? '' : key);
    const found = oslo(`app:${value}`) ? at : healthcheckPath(paste, value, at);
    if (found !== undefined) return found;
  }
  return undefined;
}

function metaDefaults(xml: string): Record<string, string> {
  const d: Record<string, string> = {};
  for (const m of xml.matchAll(/<parameter name="([a-z_]+)"[\s\S]*?<content type="\w+" default="([^"]*)" \/>/g)) d[m[1]!] = m[2]!;
  return d;
}

for (const release of DEBIAN_RELEASES) describeRelease(release);

function describeRelease(release: DebianRelease): void {
  describe(`agent defaults match how Debian ${release} packages run each daemon (real .debs)`, function () {
    let tree: AgentTree;
    let unpacked: string;
    let uwsgiPostinst: string;

    before(async function () {
      this.timeout(600_000);
      const reason = hostSkipReason();
      if (reason) {
        console.log(`      (skipped: ${reason})`);
        this.skip();
      }
      tree = await installAgentTree();
      // neutron-common: the packaged neutron.conf and plugin_guess_func, which neutron's scripts read;
      // the api-paste.ini files of PASTE_HEALTH.
      const pastes = PASTE_HEALTH.map(([, pkg]) => pkg);
      unpacked = await unpackDebs(release, [...Object.values(PACKAGING).map(([pkg]) => pkg), 'neutron-common', ...pastes, UWSGI_PACKAGE], 'osha-agent-debs-');
      const control = mkdtempSync(join(tmpdir(), `osha-uwsgi-control-${release}-`));
      onTeardown(() => rmSync(control, { recursive: true, force: true }));
      await exec('dpkg-deb', ['-e', await fetchDeb(releaseCacheDir(release), UWSGI_PACKAGE, release), control]);
      uwsgiPostinst = readFileSync(join(control, 'postinst'), 'utf8');
    });

    async function agentDefaults(agent: string): Promise<Record<string, string>> {
      const { stdout } = await exec(tree.agent(agent), ['meta-data'], { env: { OCF_ROOT: '/usr/lib/ocf', OCF_OPENSTACK_LIBDIR: tree.libDir } });
      return metaDefaults(stdout);
    }

    for (const [agent, [pkg, script]] of Object.entries(PACKAGING) as [OshaAgentService, [string, string]][]) {
      it(`${agent} (${release}): binary, configuration, uwsgi ini, port and user as in ${pkg}'s /etc/init.d/${script}`, async function () {
        const text = readFileSync(join(unpacked, 'etc/init.d', script), 'utf8');
        const vars = initVars(text);
        const have = await agentDefaults(agent);
        const want = debianRuns(vars);
        const pluginIni = await neutronPluginIni(text, unpacked);
        if (pluginIni !== undefined) {
          expect(pluginIni, 'the plugin .ini of the packaged core_plugin').to.match(/^\/etc\/neutron\/.+\.ini$/);
          want.additional_config = pluginIni;
        }
        for (const [k, v] of Object.entries(want)) expect(have[k], `${agent} ${k}`).to.equal(v);
        // A directory of configuration files the script passes when it exists (neutron's server.conf.d).
        expect(have.config_dir, `${agent} config_dir`).to.equal(configDir(text));
        if (vars.UWSGI_INI_PATH) {
          // The ini file the agent names is the package's.
          expect(readFileSync(join(unpacked, vars.UWSGI_INI_PATH), 'utf8')).to.contain('[uwsgi]');
          // Debian's script runs the last /usr/bin/uwsgi_pythonN that exists (bookworm: uwsgi_python311,
          // beside the uwsgi_python3 alternative; trixie: uwsgi_python3, the only one). The agent's
          // binary must be one of the commands it tries that this release installs.
          const installed = uwsgiInstalled(unpacked, uwsgiPostinst);
          const tried = uwsgiCandidates(text);
          expect(tried.filter((b) => installed.has(b)), `uwsgi commands ${UWSGI_PACKAGE} installs that Debian's script tries`).to.have.length.greaterThan(0);
          expect(tried, `${agent} binary`).to.include(have.binary);
          expect([...installed], `${agent} binary installed by ${release}'s ${UWSGI_PACKAGE}`).to.include(have.binary);
        }
      });

      it(`${agent} (${release}): ${pkg}'s systemd unit runs /etc/init.d/${script} as the agent's user and group, and osha masks that unit`, async function () {
        const unit = systemdUnit(unpacked, script);
        const have = await agentDefaults(agent);
        expect(unit.settings.ExecStart, `${unit.path} ExecStart`).to.equal(`/etc/init.d/${script} systemd-start`);
        expect(unit.settings.User, `${unit.path} User`).to.equal(have.user);
        expect(unit.settings.Group, `${unit.path} Group`).to.equal(have.group);
        expect(SERVICES[agent].initUnits, `${agent} initUnits`).to.include(script);
      });
    }

    // The two APIs without a token check: their health path must answer before any authentication.
    for (const [agent, pkg, file, apps] of PASTE_HEALTH) {
      it(`${agent} (${release}): ${pkg}'s api-paste.ini answers its health path in ${apps.join(' and ')} before any authentication`, function () {
        const paste = parseIni(readFileSync(join(unpacked, file), 'utf8'));
        const want = SERVICES[agent].health;
        for (const app of apps) expect(want, app).to.deep.equal({ kind: 'http', path: healthcheckPath(paste, app) });
      });
    }

    it(`${release} packages none of ${UNPACKAGED.join(', ')} (the registry gives them no Debian package)`, async function () {
      this.timeout(120_000);
      expect(UNPACKAGED).to.have.length.greaterThan(0);
      for (const agent of UNPACKAGED) expect(await releaseHasPackage(release, agent), `${release} has a package ${agent}`).to.equal(false);
      // The look-up itself works: a package every release has is found.
      expect(await releaseHasPackage(release, 'keystone')).to.equal(true);
    });
  });
}
