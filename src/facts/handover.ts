// What a node holds of the data MariaDB and RabbitMQ had before active-active, read in one round
// trip each: the Galera state (grastate.dat), the databases, osha's backups and exports, and
// whether Pacemaker already owns the service (then the handover is over).
import type { HostConnection } from '../ssh/connection.ts';
import { sh } from '../ssh/quote.ts';
import { parseKeyValues } from './host.ts';
import { ok, type Result } from '../util/result.ts';

export const MYSQL_DATADIR = '/var/lib/mysql';
export const RABBITMQ_MNESIA = '/var/lib/rabbitmq/mnesia';
/** Where osha keeps what it copied aside before a handover (0700 root). */
export const BACKUP_DIR = '/var/lib/osha/backup';
/** RabbitMQ's exported definitions (users with password hashes: 0700 root, files 0600). */
export const RABBITMQ_EXPORT_DIR = '/var/lib/osha/rabbitmq';
export const MYSQL_BACKUP_PREFIX = 'mysql-before-galera-';
export const MNESIA_BACKUP_PREFIX = 'rabbitmq-mnesia-before-cluster-';
const ZERO_UUID = '00000000-0000-0000-0000-000000000000';

/** Databases every MariaDB has: a data directory holding only these has no user data. */
const SYSTEM_SCHEMAS = ['mysql', 'performance_schema', 'sys'];

/**
 * True when a CIB on this node (the live one, else its file) holds a primitive with this id. The
 * live CIB answers an XPath query itself (exit 0 only when it matches), with no grep after it.
 */
const cibHas = (id: string): string =>
  sh`if systemctl is-active -q pacemaker; then cibadmin --query --local --xpath ${`//primitive[@id='${id}']`} >/dev/null 2>&1 && echo cib=1; ` +
  sh`elif [ -r /var/lib/pacemaker/cib/cib.xml ]; then grep -q ${`<primitive [^>]*id="${id}"`} /var/lib/pacemaker/cib/cib.xml && echo cib=1; fi; `;

/**
 * Prints KEY=NAME for each directory (or file, with `-f`) matching a glob, NAME being its last
 * path component: the shell's own parameter expansion, not a basename process per match.
 */
const namesOf = (key: string, test: '-d' | '-f', glob: string): string =>
  `for p in ${glob}; do [ ${test} "$p" ] && p=\${p%/} && echo "${key}=\${p##*/}"; done; `;

/** A node's grastate.dat: uuid, seqno and safe_to_bootstrap (Galera writes it on a clean stop). */
export interface GraState {
  uuid: string;
  seqno: number;
  safeToBootstrap: boolean;
}

export interface GaleraFacts {
  datadir: boolean;
  grastate?: GraState;
  /** Databases in the data directory other than MariaDB's own schemas. */
  databases: string[];
  /** mariadbd or mysqld runs (under whatever started it). */
  running: boolean;
  /** The CIB has the galera primitive: Pacemaker owns Galera, nothing is handed over any more. */
  inCib: boolean;
  /** Copies of the data directory osha kept (names in BACKUP_DIR). */
  backups: string[];
  /** An owed record on the node (interrupted work, see src/steps/owed.ts). */
  owed: boolean;
}

/** Pure: a grastate.dat's fields (undefined when it has no uuid). */
export function parseGrastate(text: string): GraState | undefined {
  const field = (name: string) => new RegExp(`^${name}:\\s*(\\S+)`, 'm').exec(text)?.[1];
  const uuid = field('uuid');
  if (!uuid) return undefined;
  const seqno = Number(field('seqno') ?? '-1');
  return { uuid, seqno: Number.isFinite(seqno) ? seqno : -1, safeToBootstrap: field('safe_to_bootstrap') === '1' };
}

/** A Galera state that names a cluster: a uuid other than zeros. */
export const hasGaleraState = (g: GraState | undefined): boolean => g !== undefined && g.uuid !== ZERO_UUID;

/** Pure: the facts from the reader's output (key=value lines, grastate.dat after a marker). */
export function parseGaleraFacts(out: string): GaleraFacts {
  const [head = '', gra] = out.split('--- grastate ---\n');
  const lines = head.split('\n');
  const kv = parseKeyValues(head);
  const values = (key: string) => lines.filter((l) => l.startsWith(`${key}=`)).map((l) => l.slice(key.length + 1));
  return {
    datadir: kv.get('datadir') === '1',
    grastate: gra === undefined ? undefined : parseGrastate(gra),
    databases: values('db').filter((d) => !SYSTEM_SCHEMAS.includes(d)),
    running: kv.get('running') === '1',
    inCib: kv.get('cib') === '1',
    backups: values('backup'),
    owed: kv.get('owed') === '1',
  };
}

/** Galera facts of a node in one exec; `owed` is the path of the record that marks an interrupted seed. */
export async function readGaleraFacts(c: HostConnection, primitive: string, owed: string): Promise<Result<GaleraFacts>> {
  const d = MYSQL_DATADIR;
  const r = await c.run(
    sh`if [ -d ${d} ]; then echo datadir=1; fi; ` +
      namesOf('db', '-d', `${d}/*/`) +
      namesOf('backup', '-d', `${BACKUP_DIR}/${MYSQL_BACKUP_PREFIX}*`) +
      sh`[ -e ${owed} ] && echo owed=1; ` +
      `{ pgrep -x mariadbd || pgrep -x mysqld; } >/dev/null && echo running=1; ` +
      cibHas(primitive) +
      sh`if [ -f ${`${d}/grastate.dat`} ]; then echo '--- grastate ---'; cat ${`${d}/grastate.dat`}; fi; true`,
  );
  return r.ok ? ok(parseGaleraFacts(r.value.stdout)) : r;
}

export interface RabbitFacts {
  /** rabbitmq-server is active under systemd. */
  systemd: boolean;
  /** A broker (beam.smp of the rabbitmq user) runs, whoever started it. */
  running: boolean;
  /** The CIB has the rabbitmq-cluster primitive. */
  inCib: boolean;
  /** The mnesia directory exists and is not empty. */
  mnesia: boolean;
  /** Copies of the mnesia directory osha kept (names in BACKUP_DIR). */
  backups: string[];
  /** Files in RABBITMQ_EXPORT_DIR: definitions-NODE.json (to import) and .imported ones. */
  exports: string[];
  /** sha256 of the export file of this node, and of what the broker would export now (when it runs under systemd). */
  exportSha?: string;
  liveSha?: string;
}

export function parseRabbitFacts(out: string): RabbitFacts {
  const lines = out.split('\n');
  const kv = parseKeyValues(out);
  const values = (key: string) => lines.filter((l) => l.startsWith(`${key}=`)).map((l) => l.slice(key.length + 1));
  return {
    systemd: kv.get('systemd') === '1',
    running: kv.get('running') === '1',
    inCib: kv.get('cib') === '1',
    mnesia: kv.get('mnesia') === '1',
    backups: values('backup'),
    exports: values('export'),
    exportSha: kv.get('export_sha')?.trim().split(/\s+/)[0] || undefined,
    liveSha: kv.get('live_sha') || undefined,
  };
}

export const exportFileOf = (node: string): string => `${RABBITMQ_EXPORT_DIR}/definitions-${node}.json`;

/**
 * RabbitMQ facts of a node in one exec. While the broker runs under systemd its definitions are
 * exported to stdout and only their checksum comes back (they hold password hashes).
 */
export async function readRabbitFacts(c: HostConnection, node: string, primitive: string): Promise<Result<RabbitFacts>> {
  const file = exportFileOf(node);
  const r = await c.run(
    `unit_active=; systemctl is-active -q rabbitmq-server && unit_active=1 && echo systemd=1; pgrep -u rabbitmq -x beam.smp >/dev/null && echo running=1; ` +
      // Not empty: any entry, hidden ones too (the globs that match nothing stay as they are).
      `for p in ${RABBITMQ_MNESIA}/* ${RABBITMQ_MNESIA}/.[!.]* ${RABBITMQ_MNESIA}/..?*; do [ -e "$p" ] && echo mnesia=1 && break; done; ` +
      namesOf('backup', '-d', `${BACKUP_DIR}/${MNESIA_BACKUP_PREFIX}*`) +
      namesOf('export', '-f', `${RABBITMQ_EXPORT_DIR}/definitions-*`) +
      // sha256sum prints "HASH  -": its first word is the value.
      sh`[ -f ${file} ] && printf export_sha= && sha256sum < ${file}; ` +
      sh`if [ -n "$unit_active" ] && [ -f ${file} ]; then echo "live_sha=$(rabbitmqctl export_definitions - --quiet </dev/null 2>/dev/null | sha256sum | cut -d' ' -f1)"; fi; ` +
      cibHas(primitive) +
      'true',
  );
  return r.ok ? ok(parseRabbitFacts(r.value.stdout)) : r;
}
