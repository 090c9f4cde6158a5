// osha's OCF agents on this host, each run against a STAND-IN daemon (a python3 program named
// as such in every test title): ocf-shellfuncs, ocf-tester, start-stop-daemon, curl and the
// agents are the real ones. The real keystone and glance run in test/agents/lab.test.ts.
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { AGENT_ALIASES, AGENT_NAMES } from '../../src/agents/files.ts';
import { run } from '../../src/lab/exec.ts';
import { onTeardown } from '../support/teardown.ts';
import {
  allCommandLines,
  forgetInstance,
  hostSkipReason,
  installAgentTree,
  instanceName,
  isAlive,
  killStandins,
  ocfTester,
  pidOf,
  runAgent,
  startBroker,
  writeStandinConfig,
  type AgentTree,
  type Broker,
} from './support.ts';
import { CREDENTIALS, makePassword, standinServices, standinSetup, startStandinApi, WORKER_AGENTS } from './standin-params.ts';

describe('OCF agents on this host, against stand-in daemons', function () {
  let tree: AgentTree;
  let broker: Broker;
  let apiUrl: string;
  const password = makePassword();
  const instances: string[] = [];

  before(async function () {
    const reason = hostSkipReason();
    if (reason) {
      console.log(`      (skipped: ${reason})`);
      this.skip();
    }
    tree = await installAgentTree();
    broker = await startBroker();
    apiUrl = await startStandinApi(tree, password, standinServices());
    onTeardown(() => killStandins(tree));
  });

  afterEach(async function () {
    // Stop whatever a test left running, through the agent, then by PID as a safety net.
    for (const inst of instances.splice(0)) {
      await runAgent(tree, 'glance-api', 'stop', inst, { binary: tree.standin });
      forgetInstance(inst);
    }
    if (tree) killStandins(tree);
  });

  function track(prefix: string): string {
    const inst = instanceName(prefix);
    instances.push(inst);
    return inst;
  }

  describe('ocf-tester (stand-in daemon for every agent)', function () {
    for (const agent of AGENT_NAMES) {
      it(`${agent} passes ocf-tester at depth 20 with a stand-in ${agent}`, async function () {
        this.timeout(120_000);
        const s = await standinSetup(tree, agent, { password, brokerPort: broker.port, apiUrl });
        const inst = track(agent);
        const r = await ocfTester(tree, agent, inst, s.params, 20);
        expect(r.code, r.stdout + r.stderr).to.equal(0);
        expect(r.stdout).to.contain('passed all tests');
      });
    }
    // Depths 0 and 10 have checks of their own in these two agents: the monitor at each, around
    // one start and stop (ocf-tester's whole sequence ran at depth 20 above).
    for (const agent of ['keystone', 'glance-api'] as const) {
      it(`${agent} with a stand-in ${agent}: monitor 0 at depths 0 and 10 while it runs, 7 once stopped`, async function () {
        const s = await standinSetup(tree, agent, { password });
        const inst = track(agent);
        const monitor = (level: string) => runAgent(tree, agent, 'monitor', inst, s.params, { OCF_CHECK_LEVEL: level });
        const start = await runAgent(tree, agent, 'start', inst, s.params);
        expect(start.code, start.stderr).to.equal(0);
        for (const level of ['0', '10']) expect((await monitor(level)).code, `running, depth ${level}`).to.equal(0);
        const stop = await runAgent(tree, agent, 'stop', inst, s.params);
        expect(stop.code, stop.stderr).to.equal(0);
        for (const level of ['0', '10']) expect((await monitor(level)).code, `stopped, depth ${level}`).to.equal(7);
      });
    }
    for (const [alias, target] of Object.entries(AGENT_ALIASES)) {
      it(`alias ${alias} runs ${target} (ocf-tester at depth 10, stand-in ${target})`, async function () {
        const s = await standinSetup(tree, target, { password, brokerPort: broker.port, apiUrl });
        const r = await ocfTester(tree, alias, track(alias), s.params, 10);
        expect(r.code, r.stdout + r.stderr).to.equal(0);
      });
    }
  });

  describe('failure injection (stand-in glance-api / keystone / workers)', function () {
    it('stand-in glance-api killed with SIGKILL: monitor answers 7', async function () {
      const s = await standinSetup(tree, 'glance-api', { password });
      const inst = track('killed');
      expect((await runAgent(tree, 'glance-api', 'start', inst, s.params)).code).to.equal(0);
      const pid = pidOf(inst)!;
      process.kill(pid, 'SIGKILL');
      await waitFor(() => !isAlive(pid));
      for (const level of ['0', '10', '20']) {
        const r = await runAgent(tree, 'glance-api', 'monitor', inst, s.params, { OCF_CHECK_LEVEL: level });
        expect(r.code, `depth ${level}: ${r.stderr}`).to.equal(7);
      }
    });

    it('stand-in keystone health endpoint answers 503 while the process lives: monitor depth 10 answers 1', async function () {
      const s = await standinSetup(tree, 'keystone', { password });
      const inst = track('unhealthy');
      expect((await runAgent(tree, 'keystone', 'start', inst, s.params)).code).to.equal(0);
      writeStandinConfig(s.config, { ...s.configBody, mode: 'unhealthy' });
      const r = await runAgent(tree, 'keystone', 'monitor', inst, s.params, { OCF_CHECK_LEVEL: '10' });
      expect(r.code).to.equal(1);
      expect(r.stderr).to.match(/ocf-exit-reason:.*answered HTTP 503/);
      expect(isAlive(pidOf(inst)!)).to.equal(true);
      const shallow = await runAgent(tree, 'keystone', 'monitor', inst, s.params, { OCF_CHECK_LEVEL: '0' });
      expect(shallow.code).to.equal(0);
    });

    it('stand-in glance-api that exits right after launch: start fails (1) in under 5 s with the reason', async function () {
      const s = await standinSetup(tree, 'glance-api', { password, mode: 'die' });
      const inst = track('dies');
      const t0 = Date.now();
      const r = await runAgent(tree, 'glance-api', 'start', inst, s.params, { OCF_RESKEY_CRM_meta_timeout: '120000' });
      const seconds = (Date.now() - t0) / 1000;
      expect(r.code).to.equal(1);
      expect(seconds).to.be.below(5);
      expect(r.stderr).to.match(/ocf-exit-reason:glance-api exited during start: .*configured to die at launch/);
    });

    it('binary removed (stand-in glance-api): stop answers 0 and ends the process, probe answers 7', async function () {
      const s = await standinSetup(tree, 'glance-api', { password });
      const inst = track('nobinary');
      expect((await runAgent(tree, 'glance-api', 'start', inst, s.params)).code).to.equal(0);
      const pid = pidOf(inst)!;
      const moved = `${tree.standin}.removed`;
      renameSync(tree.standin, moved);
      rmSync(s.config);
      try {
        expect((await runAgent(tree, 'glance-api', 'validate-all', inst, s.params)).code).to.equal(5);
        const stop = await runAgent(tree, 'glance-api', 'stop', inst, s.params);
        expect(stop.code, stop.stderr).to.equal(0);
        expect(isAlive(pid)).to.equal(false);
        const probe = await runAgent(tree, 'glance-api', 'monitor', inst, s.params, { OCF_RESKEY_CRM_meta_interval: '0' });
        expect(probe.code).to.equal(7);
        expect((await runAgent(tree, 'glance-api', 'stop', inst, s.params)).code).to.equal(0);
      } finally {
        renameSync(moved, tree.standin);
      }
    });

    it('probe where the service is not installed at all (no binary, no config): 7; stop: 0', async function () {
      const params = { binary: '/nonexistent/glance-api', config: '/nonexistent/glance-api.conf' };
      const inst = track('absent');
      expect((await runAgent(tree, 'glance-api', 'monitor', inst, params, { OCF_RESKEY_CRM_meta_interval: '0' })).code).to.equal(7);
      expect((await runAgent(tree, 'glance-api', 'stop', inst, params)).code).to.equal(0);
      expect((await runAgent(tree, 'glance-api', 'validate-all', inst, params)).code).to.equal(5);
    });

    it('wrong password at depth 20 (stand-in keystone and stand-in glance-api): a recurring monitor answers 0 and logs a warning', async function () {
      for (const agent of ['keystone', 'glance-api'] as const) {
        const s = await standinSetup(tree, agent, { password });
        const inst = track(`badpw-${agent}`);
        expect((await runAgent(tree, agent, 'start', inst, s.params)).code).to.equal(0);
        const r = await runAgent(tree, agent, 'monitor', inst, { ...s.params, os_password_file: '', os_password: 'not-the-password' }, { OCF_CHECK_LEVEL: '20' });
        expect(r.code, r.stderr).to.equal(0);
        expect(r.stderr).to.match(/WARNING: .*rejected the credentials of admin \(HTTP 401\).*fix the monitoring credentials/);
        expect(r.stderr).to.not.contain('ocf-exit-reason');
        const good = await runAgent(tree, agent, 'monitor', inst, s.params, { OCF_CHECK_LEVEL: '20' });
        expect(good.code, good.stderr).to.equal(0);
        expect(good.stderr).to.not.contain('WARNING');
      }
    });

    it('stand-in keystone refusing the login with 403 (stand-in keystone and glance-api): depth 20 answers 0 with a warning', async function () {
      for (const agent of ['keystone', 'glance-api'] as const) {
        const s = await standinSetup(tree, agent, { password });
        const inst = track(`forbidden-${agent}`);
        expect((await runAgent(tree, agent, 'start', inst, s.params)).code).to.equal(0);
        writeStandinConfig(s.config, { ...s.configBody, token_status: 403 });
        const r = await runAgent(tree, agent, 'monitor', inst, s.params, { OCF_CHECK_LEVEL: '20' });
        expect(r.code, r.stderr).to.equal(0);
        expect(r.stderr).to.match(/WARNING: .*rejected the credentials of admin \(HTTP 403\)/);
      }
    });

    it('stand-in glance-api answering the authenticated GET with 403 or 401: depth 20 answers 0 with a warning; with 500: 1', async function () {
      const s = await standinSetup(tree, 'glance-api', { password });
      const inst = track('api403');
      expect((await runAgent(tree, 'glance-api', 'start', inst, s.params)).code).to.equal(0);
      writeStandinConfig(s.config, { ...s.configBody, api_status: 403 });
      const forbidden = await runAgent(tree, 'glance-api', 'monitor', inst, s.params, { OCF_CHECK_LEVEL: '20' });
      expect(forbidden.code, forbidden.stderr).to.equal(0);
      expect(forbidden.stderr).to.match(/WARNING: .*answered HTTP 403/);
      // 401 to a fresh token: glance cannot validate tokens (its keystone settings, or a catalog
      // still naming a node's own address, as during a first deploy): a warning, not a failover.
      writeStandinConfig(s.config, { ...s.configBody, api_status: 401 });
      const unvalidated = await runAgent(tree, 'glance-api', 'monitor', inst, s.params, { OCF_CHECK_LEVEL: '20' });
      expect(unvalidated.code, unvalidated.stderr).to.equal(0);
      expect(unvalidated.stderr).to.match(/WARNING: .*answered HTTP 401 to a token keystone just issued: glance-api cannot validate tokens/);
      writeStandinConfig(s.config, { ...s.configBody, api_status: 500 });
      const broken = await runAgent(tree, 'glance-api', 'monitor', inst, s.params, { OCF_CHECK_LEVEL: '20' });
      expect(broken.code, broken.stderr).to.equal(1);
      expect(broken.stderr).to.match(/ocf-exit-reason:.*fails the authenticated check: .*answered HTTP 500/);
    });

    it('stand-in API refusing the service list with 403 (stand-in nova-conductor): depth 20 answers 0 with a warning', async function () {
      const api = await startStandinApi(tree, password, standinServices(), { api_status: 403 });
      const s = await standinSetup(tree, 'nova-conductor', { password, brokerPort: broker.port, apiUrl: api });
      const inst = track('list403');
      expect((await runAgent(tree, 'nova-conductor', 'start', inst, s.params)).code).to.equal(0);
      const r = await runAgent(tree, 'nova-conductor', 'monitor', inst, s.params, { OCF_CHECK_LEVEL: '20' });
      expect(r.code, r.stderr).to.equal(0);
      expect(r.stderr).to.match(/WARNING: .*answered HTTP 403: admin may not list services/);
    });

    it('password file unreadable or credentials missing (stand-in glance-api): a recurring depth-20 monitor answers 0 and logs the error; a probe answers 5 or 6', async function () {
      const s = await standinSetup(tree, 'glance-api', { password });
      const inst = track('nocreds');
      expect((await runAgent(tree, 'glance-api', 'start', inst, s.params)).code).to.equal(0);
      const cases = [
        { what: 'password file missing', params: { ...s.params, os_password_file: join(tree.dir, 'no-such.password') }, probe: 5, log: /ERROR: .*password file .*no-such\.password is not readable; the depth-20 check is skipped/ },
        { what: 'no user name', params: { ...s.params, os_username: '' }, probe: 6, log: /ERROR: .*depth 20 needs os_username and os_project_name; the depth-20 check is skipped/ },
        { what: 'no password at all', params: { ...s.params, os_password_file: '' }, probe: 6, log: /ERROR: .*no password: set os_password_file/ },
      ];
      for (const c of cases) {
        const recurring = await runAgent(tree, 'glance-api', 'monitor', inst, c.params, { OCF_CHECK_LEVEL: '20', OCF_RESKEY_CRM_meta_interval: '300000' });
        expect(recurring.code, `${c.what}: ${recurring.stderr}`).to.equal(0);
        expect(recurring.stderr, c.what).to.match(c.log);
        const probe = await runAgent(tree, 'glance-api', 'monitor', inst, c.params, { OCF_CHECK_LEVEL: '20', OCF_RESKEY_CRM_meta_interval: '0' });
        expect(probe.code, `${c.what} (probe): ${probe.stderr}`).to.equal(c.probe);
        expect(probe.stderr, c.what).to.contain('ocf-exit-reason:');
      }
      // validate-all (and so start) still refuses a password file it cannot read.
      const validate = await runAgent(tree, 'glance-api', 'validate-all', inst, cases[0]!.params);
      expect(validate.code, validate.stderr).to.equal(5);
      expect(validate.stderr).to.match(/ocf-exit-reason:password file .* is missing or unreadable/);
    });

    for (const via of ['os_password_file', 'os_password (environment)'] as const) {
      it(`no process argv holds the password during a depth-20 monitor of stand-in glance-api (${via})`, async function () {
        const s = await standinSetup(tree, 'glance-api', { password });
        writeStandinConfig(s.config, { ...s.configBody, token_delay: 1.5 });
        const inst = track('argv');
        expect((await runAgent(tree, 'glance-api', 'start', inst, s.params)).code).to.equal(0);
        const params = via === 'os_password_file' ? s.params : { ...s.params, os_password_file: '', os_password: password };
        const monitor = runAgent(tree, 'glance-api', 'monitor', inst, params, { OCF_CHECK_LEVEL: '20' });
        let sawCurl = false;
        let leaks: string[] = [];
        let done = false;
        void monitor.then(() => (done = true));
        while (!done) {
          const lines = allCommandLines();
          sawCurl ||= lines.some((l) => l.startsWith('curl ') && l.includes('/v3/auth/tokens'));
          leaks = leaks.concat(lines.filter((l) => l.includes(password)));
          await new Promise((r) => setTimeout(r, 20));
        }
        const r = await monitor;
        expect(r.code, r.stderr).to.equal(0);
        expect(sawCurl, 'the scan must have seen the token request in flight').to.equal(true);
        expect(leaks).to.deep.equal([]);
      });
    }

    it('trace_ra (set -x) of a depth-20 monitor of stand-in glance-api holds neither password nor token (os_password_file)', async function () {
      const s = await standinSetup(tree, 'glance-api', { password });
      const inst = track('trace');
      expect((await runAgent(tree, 'glance-api', 'start', inst, s.params)).code).to.equal(0);
      const traceDir = mkdtempSync(join(tmpdir(), 'osha-trace-'));
      onTeardown(() => rmSync(traceDir, { recursive: true, force: true }));
      const r = await runAgent(tree, 'glance-api', 'monitor', inst, { ...s.params, trace_ra: '1', trace_dir: traceDir }, { OCF_CHECK_LEVEL: '20' });
      expect(r.code, r.stderr).to.equal(0);
      const traces = readdirSync(traceDir, { recursive: true, withFileTypes: true }).filter((d) => d.isFile());
      const text = traces.map((d) => readFileSync(join(d.parentPath, d.name), 'utf8')).join('\n') + r.stderr;
      expect(text, 'the trace ran').to.contain('osa_get_token');
      expect(text.includes(password), 'password in the trace').to.equal(false);
      expect(text.includes(CREDENTIALS.token), 'token in the trace').to.equal(false);
    });

    it('stand-in glance-api ignoring TERM, with 2 workers: stop escalates to KILL inside the timeout and leaves no process', async function () {
      const s = await standinSetup(tree, 'glance-api', { password });
      writeStandinConfig(s.config, { ...s.configBody, ignore_term: true, workers: 2 });
      const inst = track('stubborn');
      expect((await runAgent(tree, 'glance-api', 'start', inst, s.params)).code).to.equal(0);
      const group = allStandinPids(tree);
      expect(group.length).to.equal(3);
      const t0 = Date.now();
      const r = await runAgent(tree, 'glance-api', 'stop', inst, s.params, { OCF_RESKEY_CRM_meta_timeout: '9000' });
      const seconds = (Date.now() - t0) / 1000;
      expect(r.code, r.stderr).to.equal(0);
      expect(seconds).to.be.below(9);
      expect(r.stderr).to.contain('sending KILL');
      expect(group.filter(isAlive)).to.deep.equal([]);
    });

    it('a PID file naming an unrelated process (reused PID): monitor 7, stop 0 and the process is untouched', async function () {
      const s = await standinSetup(tree, 'glance-api', { password });
      const inst = track('reused');
      const other = spawn('sleep', ['300'], { stdio: 'ignore', detached: true });
      onTeardown(() => {
        if (other.exitCode === null) other.kill('SIGKILL');
      });
      const pidfile = `/run/resource-agents/openstack-${inst}.pid`;
      await run('sh', ['-c', 'mkdir -p /run/resource-agents && printf "%s\\n" "$1" > "$2"', 'sh', String(other.pid), pidfile]);
      expect((await runAgent(tree, 'glance-api', 'monitor', inst, s.params)).code).to.equal(7);
      expect((await runAgent(tree, 'glance-api', 'stop', inst, s.params)).code).to.equal(0);
      expect(isAlive(other.pid!)).to.equal(true);
      other.kill('SIGKILL');
    });

    it('stand-in neutron-dhcp-agent stop leaves an unrelated dnsmasq running', async function () {
      const s = await standinSetup(tree, 'neutron-dhcp-agent', { password, brokerPort: broker.port, apiUrl });
      const inst = track('dhcp');
      const dnsmasq = spawn('bash', ['-c', 'exec -a dnsmasq sleep 300'], { stdio: 'ignore', detached: true });
      onTeardown(() => {
        if (dnsmasq.exitCode === null) dnsmasq.kill('SIGKILL');
      });
      expect((await runAgent(tree, 'neutron-dhcp-agent', 'start', inst, s.params)).code).to.equal(0);
      expect((await runAgent(tree, 'neutron-dhcp-agent', 'stop', inst, s.params)).code).to.equal(0);
      expect(isAlive(dnsmasq.pid!)).to.equal(true);
      dnsmasq.kill('SIGKILL');
    });

    it('neutron\'s config_dir goes where Debian\'s scripts put it: after a daemon\'s main file, at the head of uwsgi\'s --pyargv; a missing directory is left out', async function () {
      const dir = mkdtempSync(join(tmpdir(), 'osha-server.conf.d-'));
      onTeardown(() => rmSync(dir, { recursive: true, force: true }));
      const argv = async (agent: 'neutron-rpc-server' | 'neutron-server', configDir: string) => {
        const s = await standinSetup(tree, agent, { password, brokerPort: broker.port, apiUrl });
        const inst = track(agent);
        const start = await runAgent(tree, agent, 'start', inst, { ...s.params, config_dir: configDir });
        expect(start.code, start.stderr).to.equal(0);
        const cmdline = readFileSync(`/proc/${pidOf(inst)}/cmdline`, 'utf8').split('\0');
        expect((await runAgent(tree, agent, 'stop', inst, s.params)).code).to.equal(0);
        return { cmdline, config: s.config };
      };
      const rpc = await argv('neutron-rpc-server', dir);
      expect(rpc.cmdline.filter((a) => a.startsWith('--config'))).to.deep.equal([`--config-file=${rpc.config}`, `--config-dir=${dir}`]);
      const api = await argv('neutron-server', dir);
      expect(api.cmdline[api.cmdline.indexOf('--pyargv') + 1]).to.equal(`--config-dir=${dir} --config-file=${api.config}`);
      const missing = await argv('neutron-rpc-server', join(dir, 'absent'));
      expect(missing.cmdline.filter((a) => a.startsWith('--config'))).to.deep.equal([`--config-file=${missing.config}`]);
    });

    it('placement-api: the config\'s directory goes to OS_PLACEMENT_CONFIG_DIR; a file not named placement.conf is refused (6), since placement would read another one', async function () {
      const s = await standinSetup(tree, 'placement-api', { password });
      const inst = track('placement');
      expect((await runAgent(tree, 'placement-api', 'start', inst, s.params)).code).to.equal(0);
      const env = readFileSync(`/proc/${pidOf(inst)}/environ`, 'utf8').split('\0');
      expect(env).to.include(`OS_PLACEMENT_CONFIG_DIR=${dirname(s.config)}`);
      expect((await runAgent(tree, 'placement-api', 'stop', inst, s.params)).code).to.equal(0);
      const other = join(dirname(s.config), 'placement-api.conf');
      renameSync(s.config, other);
      const r = await runAgent(tree, 'placement-api', 'validate-all', inst, { ...s.params, config: other });
      expect(r.code, r.stderr).to.equal(6);
      expect(r.stderr).to.match(/ocf-exit-reason:placement reads placement.conf from the directory it is given/);
    });

    it('stand-in nova-scheduler connected to another port than amqp_port: depth 10 answers 1 (exact port match)', async function () {
      const other = await startBroker();
      const s = await standinSetup(tree, 'nova-scheduler', { password, brokerPort: other.port, apiUrl });
      const inst = track('amqp');
      // Started against the broker it really uses, then monitored with another broker port.
      expect((await runAgent(tree, 'nova-scheduler', 'start', inst, s.params)).code).to.equal(0);
      const r = await runAgent(tree, 'nova-scheduler', 'monitor', inst, { ...s.params, amqp_port: String(broker.port) }, { OCF_CHECK_LEVEL: '10' });
      expect(r.code).to.equal(1);
      expect(r.stderr).to.contain(`message broker port ${broker.port}`);
      await other.close();
    });

    it('stand-in API reports stand-in nova-conductor down: depth 20 answers 1; API unreachable: 0 with a warning', async function () {
      const downApi = await startStandinApi(tree, password, standinServices('down'));
      const s = await standinSetup(tree, 'nova-conductor', { password, brokerPort: broker.port, apiUrl: downApi });
      const inst = track('svcdown');
      expect((await runAgent(tree, 'nova-conductor', 'start', inst, s.params)).code).to.equal(0);
      const down = await runAgent(tree, 'nova-conductor', 'monitor', inst, s.params, { OCF_CHECK_LEVEL: '20' });
      expect(down.code).to.equal(1);
      expect(down.stderr).to.contain('reports nova-conductor on standin-host as down');
      const gone = await runAgent(tree, 'nova-conductor', 'monitor', inst, { ...s.params, api_url: 'http://127.0.0.1:9/v2.1', os_auth_url: 'http://127.0.0.1:9/v3' }, { OCF_CHECK_LEVEL: '20' });
      expect(gone.code).to.equal(0);
      expect(gone.stderr).to.contain('WARNING');
    });

    it('stand-in keystone whose /healthcheck answers but whose login hangs (its database away): depth 20 passes with a warning', async function () {
      const s = await standinSetup(tree, 'keystone', { password });
      const inst = track('slowlogin');
      expect((await runAgent(tree, 'keystone', 'start', inst, s.params)).code).to.equal(0);
      writeStandinConfig(s.config, { ...s.configBody, token_delay: 8 });
      const r = await runAgent(tree, 'keystone', 'monitor', inst, { ...s.params, check_timeout: '2' }, { OCF_CHECK_LEVEL: '20' });
      expect(r.code, r.stderr).to.equal(0);
      expect(r.stderr).to.match(/WARNING: keystone: keystone at \S+ answers \/healthcheck but did not answer a token request within \d+s: its database or another backend is slow or down/);
    });

    it('stand-in keystone whose health check hangs: depth 10 answers 1 before the 6 s operation timeout', async function () {
      const s = await standinSetup(tree, 'keystone', { password });
      const inst = track('hang');
      expect((await runAgent(tree, 'keystone', 'start', inst, s.params)).code).to.equal(0);
      writeStandinConfig(s.config, { ...s.configBody, mode: 'hang' });
      const t0 = Date.now();
      const r = await runAgent(tree, 'keystone', 'monitor', inst, { ...s.params, check_timeout: '30' }, { OCF_CHECK_LEVEL: '10', OCF_RESKEY_CRM_meta_timeout: '6000' });
      const seconds = (Date.now() - t0) / 1000;
      expect(r.code).to.equal(1);
      expect(seconds).to.be.below(6);
      expect(r.stderr).to.match(/did not answer within \ds/);
    });

    it('stand-in nova-conductor whose keystone accepts but never answers: depth 20 passes with a warning before the 6 s timeout', async function () {
      const s = await standinSetup(tree, 'nova-conductor', { password, brokerPort: broker.port, apiUrl });
      const inst = track('mute');
      expect((await runAgent(tree, 'nova-conductor', 'start', inst, s.params)).code).to.equal(0);
      const mute = `http://127.0.0.1:${broker.port}`;
      const t0 = Date.now();
      const r = await runAgent(tree, 'nova-conductor', 'monitor', inst, { ...s.params, os_auth_url: `${mute}/v3`, check_timeout: '30' }, { OCF_CHECK_LEVEL: '20', OCF_RESKEY_CRM_meta_timeout: '6000' });
      const seconds = (Date.now() - t0) / 1000;
      expect(r.code, r.stderr).to.equal(0);
      expect(seconds).to.be.below(6);
      expect(r.stderr).to.match(/WARNING: .*gave no token \(HTTP 000\)/);
    });

    it('a world-readable password file is refused at start (4), before anything runs', async function () {
      const s = await standinSetup(tree, 'glance-api', { password });
      chmodSync(s.passwordFile, 0o644);
      const r = await runAgent(tree, 'glance-api', 'start', track('perm'), s.params);
      expect(r.code).to.equal(4);
    });
  });

  it(`every worker agent is covered by a stand-in (${WORKER_AGENTS.length} workers)`, function () {
    expect(WORKER_AGENTS).to.include.members(['nova-scheduler', 'neutron-dhcp-agent', 'cinder-volume', 'heat-engine']);
  });
});

function allStandinPids(tree: AgentTree): number[] {
  return allCommandLinesWithPid().filter(([, l]) => l.includes(tree.standin)).map(([p]) => p);
}

function allCommandLinesWithPid(): Array<[number, string]> {
  const out: Array<[number, string]> = [];
  for (const pid of listPids()) {
    const l = readCmd(pid);
    if (l !== undefined && isAlive(pid)) out.push([pid, l]);
  }
  return out;
}

function listPids(): number[] {
  return readdirSync('/proc').filter((d) => /^\d+$/.test(d)).map(Number);
}
function readCmd(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  } catch {
    return undefined;
  }
}

async function waitFor(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}
