// Parameters that point each agent at a STAND-IN daemon on this host, by the kind of service.
import { spawn } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { AGENT_NAMES, type AgentName } from '../../src/agents/files.ts';
import { onTeardown } from '../support/teardown.ts';
import { freePort, writeSecretFile, writeStandinConfig, type AgentTree, type Params, type StandinConfig } from './support.ts';

export const UWSGI_AGENTS: AgentName[] = ['keystone', 'placement-api', 'nova-api', 'nova-api-metadata', 'neutron-server', 'cinder-api', 'heat-api', 'heat-api-cfn'];
export const HTTP_DAEMON_AGENTS: AgentName[] = ['glance-api'];
export const LISTEN_AGENTS: AgentName[] = ['glance-registry', 'nova-novncproxy'];
export const WORKER_AGENTS: AgentName[] = AGENT_NAMES.filter(
  (n) => !UWSGI_AGENTS.includes(n) && !HTTP_DAEMON_AGENTS.includes(n) && !LISTEN_AGENTS.includes(n),
);

export const CREDENTIALS = { user: 'admin', project: 'admin', token: 'standin-token-4f1c' };

/** A password made for this run: random, so a leak check cannot pass by accident. */
export function makePassword(): string {
  return `pw-${Math.random().toString(36).slice(2)}-${process.pid}`;
}

/** A stand-in API (keystone tokens + service lists) run by the test itself, for worker agents. */
export async function startStandinApi(
  tree: AgentTree,
  password: string,
  services: Array<Record<string, unknown>>,
  extra: Partial<StandinConfig> = {},
): Promise<string> {
  const port = await freePort();
  const conf = join(tree.dir, `api-${port}.conf`);
  writeStandinConfig(conf, { mode: 'healthy', port, user: CREDENTIALS.user, password, token: CREDENTIALS.token, services, ...extra });
  // A copy under another path, so that sweeps of the agents' stand-ins leave the API alone.
  const program = join(tree.dir, 'api', 'standin-api.py');
  if (!existsSync(program)) {
    mkdirSync(join(tree.dir, 'api'), { recursive: true, mode: 0o755 });
    copyFileSync(tree.standin, program);
    chmodSync(program, 0o755);
  }
  const child = spawn('/usr/bin/python3', [program, `--config-file=${conf}`], { stdio: 'ignore' });
  onTeardown(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  for (let i = 0; i < 100; i++) {
    try {
      const r = await fetch(`http://127.0.0.1:${port}/healthcheck`);
      if (r.status === 200) break;
    } catch {
      // Not listening yet.
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return `http://127.0.0.1:${port}`;
}

export interface StandinSetup {
  params: Params;
  config: string;
  configBody: StandinConfig;
  passwordFile: string;
}

/**
 * Writes a stand-in config for AGENT and returns the agent parameters that run it.
 * brokerPort: the broker stand-in's port (worker agents); apiUrl: the stand-in API (workers).
 */
export async function standinSetup(
  tree: AgentTree,
  agent: AgentName,
  opts: { password: string; brokerPort?: number; apiUrl?: string; mode?: StandinConfig['mode'] },
): Promise<StandinSetup> {
  const port = await freePort();
  // placement reads placement.conf from the directory it is given: one directory per instance.
  let config = join(tree.dir, `${agent}-${port}.conf`);
  if (agent === 'placement-api') {
    const dir = join(tree.dir, `${agent}-${port}`);
    mkdirSync(dir, { recursive: true });
    config = join(dir, 'placement.conf');
  }
  const passwordFile = join(tree.dir, `${agent}-${port}.password`);
  writeSecretFile(passwordFile, opts.password);
  const common: Params = {
    binary: tree.standin,
    config,
    user: 'nobody',
    group: 'nogroup',
    check_timeout: '5',
  };
  const creds: Params = {
    os_username: CREDENTIALS.user,
    os_project_name: CREDENTIALS.project,
    os_password_file: passwordFile,
  };
  let body: StandinConfig;
  let params: Params;
  if (UWSGI_AGENTS.includes(agent)) {
    const ini = join(tree.dir, `${agent}-${port}.ini`);
    writeStandinConfig(ini, { mode: 'healthy' });
    body = { mode: opts.mode ?? 'healthy', user: CREDENTIALS.user, password: opts.password, token: CREDENTIALS.token };
    params = { ...common, ...creds, uwsgi_ini: ini, bind_address: '127.0.0.1', port: String(port) };
    if (agent !== 'keystone') params.os_auth_url = `http://127.0.0.1:${port}/v3`;
    if (agent === 'neutron-server') params.additional_config = '';
  } else if (HTTP_DAEMON_AGENTS.includes(agent) || LISTEN_AGENTS.includes(agent)) {
    body = { mode: opts.mode ?? 'healthy', port, user: CREDENTIALS.user, password: opts.password, token: CREDENTIALS.token };
    params = { ...common, port: String(port), log_file: '' };
    if (agent !== 'nova-novncproxy') Object.assign(params, creds, { os_auth_url: `http://127.0.0.1:${port}/v3` });
  } else {
    if (opts.brokerPort === undefined || opts.apiUrl === undefined) throw new Error(`${agent} needs a broker and an API stand-in`);
    body = { mode: opts.mode ?? 'healthy', listen: false, amqp_port: opts.brokerPort };
    params = {
      ...common,
      ...creds,
      log_file: '',
      amqp_port: String(opts.brokerPort),
      os_auth_url: `${opts.apiUrl}/v3`,
      api_url: opts.apiUrl,
      service_host: 'standin-host',
    };
    if (agent.startsWith('neutron-')) params.additional_config = '';
  }
  writeStandinConfig(config, body);
  return { params, config, configBody: body, passwordFile };
}

/** The service list the stand-in API returns: every worker agent up on standin-host. */
export function standinServices(state: 'up' | 'down' = 'up'): Array<Record<string, unknown>> {
  return WORKER_AGENTS.map((binary) => ({ binary, host: 'standin-host', state, status: state, alive: state === 'up' }));
}
