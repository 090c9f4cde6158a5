// What the active-active topology's per-node files depend on, read in one round trip per node:
// the files themselves, the Erlang cookie (its checksum, never its bytes), the running sysctl
// values and whether they can be written, which daemons run, which directories exist.
import type { HostConnection } from '../ssh/connection.ts';
import { sh } from '../ssh/quote.ts';
import { ok, type Result } from '../util/result.ts';
import { readFilesAnd } from './files.ts';
import { splitSections, type FileFact } from './host.ts';

export const ERLANG_COOKIE = '/var/lib/rabbitmq/.erlang.cookie';

export interface ErlangCookieFact {
  sha256: string;
  /** Octal, as stat prints it (400). */
  mode: string;
  /** user:group */
  owner: string;
}

export interface SysctlFact {
  /** The running value ('' when the key does not exist). */
  value: string;
  /** This node may change it (false in containers whose /proc/sys is read-only). */
  writable: boolean;
}

export interface TopologyFacts {
  files: Map<string, FileFact>;
  /** The directories asked about that exist. */
  dirs: Set<string>;
  /** By sysctl key, e.g. net.ipv4.ip_nonlocal_bind. */
  sysctl: Map<string, SysctlFact>;
  cookie?: ErlangCookieFact;
  rabbitmqUser: boolean;
  rabbitmqRunning: boolean;
  /** RabbitMQ runs as the init system's service (not Pacemaker's: its agent starts rabbitmq-server itself). */
  rabbitmqUnitActive: boolean;
  mariadbRunning: boolean;
  /** MariaDB answers that its Galera is in the primary component (wsrep_cluster_status Primary). */
  galeraPrimary: boolean;
  /**
   * A running Galera's eviction timing (ms), as the server reports it; absent without Galera.
   * `variables`: the server has one system variable per provider option (MariaDB 11's
   * wsrep_provider plugin, Debian 13), the only way to change one while it runs.
   */
  galeraEviction?: { suspectMs: number; keepaliveMs: number; variables: boolean };
  haproxyRunning: boolean;
}

/** Milliseconds of an ISO 8601 time duration as Galera prints one (PT5S, PT0.5S, PT1M30S). */
export function parseIsoDuration(text: string): number | undefined {
  const m = /^PT(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?$/.exec(text.trim());
  if (!m || text.trim() === 'PT') return undefined;
  const [h, min, sec] = [m[1], m[2], m[3]].map((x) => Number(x ?? 0));
  return Math.round(((h! * 60 + min!) * 60 + sec!) * 1000);
}

const PROCESSES_MARK = '--- processes ---';
const WSREP_MARK = '--- wsrep ---';
const END_MARK = '--- end ---';

/**
 * The shell half of the read: key=value lines (one `dir=` line per existing directory), then the
 * node's processes (ps) and what MariaDB says of its Galera, each between marks. The output is
 * sorted out here rather than by cut, awk, sed or one pgrep per daemon on the node: each process
 * costs milliseconds there, and this read runs on every node at every deploy.
 */
export function topologyScript(dirs: readonly string[], sysctlKeys: readonly string[]): string {
  return [
    sh`c=${ERLANG_COOKIE}`,
    // sha256sum prints "HASH  -": the hash is its first word.
    `if [ -f "$c" ]; then printf cookie_sha256=; sha256sum < "$c"; stat --printf 'cookie_mode=%a\ncookie_owner=%U:%G\n' -- "$c"; fi`,
    'getent passwd rabbitmq >/dev/null 2>&1 && echo rabbitmq_user=1',
    'systemctl is-active --quiet rabbitmq-server.service 2>/dev/null && echo rabbitmq_unit_active=1',
    // Read with the shell's own read, no cat: /proc/sys/KEY with dots as slashes.
    ...sysctlKeys.map((k) => sh`v=; { read -r v < ${`/proc/sys/${k.replaceAll('.', '/')}`}; } 2>/dev/null; echo ${`sysctl:${k}=`}"$v"; [ -w ${`/proc/sys/${k.replaceAll('.', '/')}`} ] && echo ${`writable:${k}=1`}`),
    sh`for d in ${[...dirs]}; do [ -d "$d" ] && echo "dir=$d"; done`,
    `echo '${PROCESSES_MARK}'; ps -e -o user:32=,comm= 2>/dev/null`,
    // One MariaDB client for all of Galera's state (a client start is most of its cost); nothing
    // without a running server or without wsrep.
    `echo '${WSREP_MARK}'; mysql -NBe "SHOW GLOBAL STATUS LIKE 'wsrep_cluster_status'; SHOW GLOBAL VARIABLES WHERE Variable_name IN ('wsrep_provider_options', 'wsrep_provider_evs_suspect_timeout')" 2>/dev/null`,
    `echo '${END_MARK}'`,
    'true',
  ].join('\n');
}

/**
 * Pure: the key=value lines the processes and MariaDB's answer stand for. `pgrep -x` matched a
 * process by its name (comm), as ps prints it; beam.smp counts only as the rabbitmq user's.
 */
function derivedFacts(processList: string, wsrep: string): string[] {
  const out: string[] = [];
  const processes = processList.split('\n').map((l) => l.trim().split(/\s+/));
  const runs = (name: string, user?: string) => processes.some(([u, comm]) => comm === name && (user === undefined || u === user));
  if (runs('beam.smp', 'rabbitmq')) out.push('rabbitmq_running=1');
  if (runs('mariadbd') || runs('mysqld')) out.push('mariadb_running=1');
  if (runs('haproxy')) out.push('haproxy_running=1');
  for (const row of wsrep.split('\n')) {
    const [name, value = ''] = row.split('\t');
    if (name === 'wsrep_cluster_status' && value === 'Primary') out.push('galera_primary=1');
    if (name === 'wsrep_provider_evs_suspect_timeout') out.push('evs_variables=1');
    // A running Galera's own failure detection, among its provider options ("a = b; c = d").
    if (name === 'wsrep_provider_options') {
      for (const option of value.split(';')) {
        const m = /^\s*evs\.(suspect_timeout|keepalive_period)\s*=\s*(\S*)\s*$/.exec(option);
        if (m) out.push(`evs_${m[1]}=${m[2]}`);
      }
    }
  }
  return out;
}

export function parseTopologyOutput(files: Map<string, Buffer | undefined>, output: string): TopologyFacts {
  const kv = new Map<string, string>();
  const dirs = new Set<string>();
  const [head = '', processes = '', wsrep = ''] = splitSections(output, [PROCESSES_MARK, WSREP_MARK, END_MARK]);
  for (const line of [...head.split('\n'), ...derivedFacts(processes, wsrep)]) {
    const i = line.indexOf('=');
    if (i <= 0) continue;
    const [key, value] = [line.slice(0, i), line.slice(i + 1)];
    if (key === 'dir') dirs.add(value);
    else kv.set(key, value);
  }
  const sysctl = new Map<string, SysctlFact>();
  for (const [key, value] of kv) {
    if (key.startsWith('sysctl:')) {
      const name = key.slice('sysctl:'.length);
      sysctl.set(name, { value: value.trim(), writable: kv.get(`writable:${name}`) === '1' });
    }
  }
  const sha256 = kv.get('cookie_sha256')?.trim().split(/\s+/)[0];
  const suspectMs = parseIsoDuration(kv.get('evs_suspect_timeout') ?? '');
  const keepaliveMs = parseIsoDuration(kv.get('evs_keepalive_period') ?? '');
  return {
    files: new Map([...files].map(([p, content]) => [p, content === undefined ? { exists: false } : { exists: true, content }])),
    dirs,
    sysctl,
    cookie: sha256 ? { sha256, mode: kv.get('cookie_mode') ?? '', owner: kv.get('cookie_owner') ?? '' } : undefined,
    rabbitmqUser: kv.get('rabbitmq_user') === '1',
    rabbitmqRunning: kv.get('rabbitmq_running') === '1',
    rabbitmqUnitActive: kv.get('rabbitmq_unit_active') === '1',
    mariadbRunning: kv.get('mariadb_running') === '1',
    galeraPrimary: kv.get('galera_primary') === '1',
    ...(suspectMs !== undefined && keepaliveMs !== undefined ? { galeraEviction: { suspectMs, keepaliveMs, variables: kv.get('evs_variables') === '1' } } : {}),
    haproxyRunning: kv.get('haproxy_running') === '1',
  };
}

export async function readTopologyFacts(c: HostConnection, paths: readonly string[], dirs: readonly string[], sysctlKeys: readonly string[]): Promise<Result<TopologyFacts>> {
  const r = await readFilesAnd(c, paths, topologyScript(dirs, sysctlKeys));
  if (!r.ok) return r;
  return ok(parseTopologyOutput(r.value.files, r.value.output));
}
