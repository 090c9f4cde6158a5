// What the active-active topology's per-node files depend on, read in one round trip per node:
// the files themselves, the Erlang cookie (its checksum, never its bytes), the running sysctl
// values and whether they can be written, which daemons run, which directories exist.
import type { HostConnection } from '../ssh/connection.ts';
import { sh } from '../ssh/quote.ts';
import { ok, type Result } from '../util/result.ts';
import { readFilesAnd } from './files.ts';
import type { FileFact } from './host.ts';

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

/** The shell half of the read: key=value lines, one `dir=` line per existing directory. */
export function topologyScript(dirs: readonly string[], sysctlKeys: readonly string[]): string {
  return [
    sh`c=${ERLANG_COOKIE}`,
    `if [ -f "$c" ]; then echo "cookie_sha256=$(sha256sum < "$c" | cut -d' ' -f1)"; echo "cookie_mode=$(stat -c %a "$c")"; echo "cookie_owner=$(stat -c %U:%G "$c")"; fi`,
    'getent passwd rabbitmq >/dev/null 2>&1 && echo rabbitmq_user=1',
    'pgrep -u rabbitmq -x beam.smp >/dev/null 2>&1 && echo rabbitmq_running=1',
    'systemctl is-active --quiet rabbitmq-server.service 2>/dev/null && echo rabbitmq_unit_active=1',
    'pgrep -x mariadbd >/dev/null 2>&1 || pgrep -x mysqld >/dev/null 2>&1 && echo mariadb_running=1',
    // One MariaDB client for all of Galera's state (a client start is most of its cost).
    `w=$(mysql -NBe "SHOW GLOBAL STATUS LIKE 'wsrep_cluster_status'; SHOW GLOBAL VARIABLES WHERE Variable_name IN ('wsrep_provider_options', 'wsrep_provider_evs_suspect_timeout')" 2>/dev/null)`,
    `printf '%s\\n' "$w" | awk -F'\\t' '$1 == "wsrep_cluster_status" && $2 == "Primary" {print "galera_primary=1"}'`,
    // A running Galera's own failure detection (none without wsrep: the variable is then empty).
    `printf '%s\\n' "$w" | grep '^wsrep_provider_options' | tr ';' '\\n' | sed -n 's/^ *evs\\.\\(suspect_timeout\\|keepalive_period\\) = /evs_\\1=/p'`,
    `printf '%s\\n' "$w" | grep -q '^wsrep_provider_evs_suspect_timeout' && echo evs_variables=1`,
    'pgrep -x haproxy >/dev/null 2>&1 && echo haproxy_running=1',
    sh`for k in ${[...sysctlKeys]}; do f=/proc/sys/$(echo "$k" | tr . /); echo "sysctl:$k=$(cat "$f" 2>/dev/null)"; [ -w "$f" ] && echo "writable:$k=1"; done`,
    sh`for d in ${[...dirs]}; do [ -d "$d" ] && echo "dir=$d"; done`,
    'true',
  ].join('\n');
}

export function parseTopologyOutput(files: Map<string, Buffer | undefined>, output: string): TopologyFacts {
  const kv = new Map<string, string>();
  const dirs = new Set<string>();
  for (const line of output.split('\n')) {
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
  const sha256 = kv.get('cookie_sha256');
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
