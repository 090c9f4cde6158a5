// Facts about a node's operating system: distribution, init system, package manager, packages.
// Each fact is gathered with as few round trips as possible (one shell script, key=value output).
import type { HostConnection } from '../ssh/connection.ts';
import { sh } from '../ssh/quote.ts';
import { err, ok, type Result } from '../util/result.ts';

export type OsFamily = 'debian' | 'rhel' | 'suse' | 'unknown';
export type InitSystem = 'systemd' | 'upstart' | 'sysvinit' | 'unknown';
export type PackageManager = 'apt' | 'dnf' | 'yum' | 'zypper' | 'none';

export interface OsFacts {
  id: string;
  versionId: string;
  prettyName: string;
  family: OsFamily;
  init: InitSystem;
  packageManager: PackageManager;
  uid: number;
  hostname: string;
  /** Seconds since the epoch on the node, for the clock-skew check. */
  epoch: number;
}

// Processes cost milliseconds each on a busy node: the user id and host name come from /proc
// through the shell's own read, and the clock from bash's EPOCHREALTIME (a process, date, only
// under another shell).
export const OS_SCRIPT = `
. /etc/os-release 2>/dev/null
echo "id=$ID"
echo "id_like=$ID_LIKE"
echo "version_id=$VERSION_ID"
echo "pretty=$PRETTY_NAME"
if [ -d /run/systemd/system ]; then echo init=systemd
elif /sbin/initctl version 2>/dev/null | grep -q upstart; then echo init=upstart
elif [ -d /etc/init.d ]; then echo init=sysvinit
else echo init=unknown; fi
for pm in apt-get dnf yum zypper; do if command -v $pm >/dev/null 2>&1; then echo "pm=$pm"; break; fi; done
while read -r key real effective rest; do if [ "$key" = Uid: ]; then echo "uid=$effective"; fi; done < /proc/self/status
read -r name < /proc/sys/kernel/hostname && echo "hostname=$name"
echo "epoch=\${EPOCHREALTIME:-$(date +%s.%N)}"
`;

/**
 * Pure: a script's output cut at marker lines it printed, in that order: the text before the
 * first marker, then what follows each one ('' for a marker that is missing).
 */
export function splitSections(text: string, marks: readonly string[]): string[] {
  const out: string[] = [];
  let rest = text;
  for (const mark of marks) {
    const at = rest.indexOf(`${mark}\n`);
    out.push(at < 0 ? rest : rest.slice(0, at));
    rest = at < 0 ? '' : rest.slice(at + mark.length + 1);
  }
  return [...out, rest];
}

export function parseKeyValues(text: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of text.split('\n')) {
    const i = line.indexOf('=');
    if (i > 0) m.set(line.slice(0, i), line.slice(i + 1));
  }
  return m;
}

export function osFamily(id: string, idLike: string): OsFamily {
  const all = `${id} ${idLike}`;
  if (/\b(debian|ubuntu)\b/.test(all)) return 'debian';
  if (/\b(rhel|fedora|centos|rocky|almalinux)\b/.test(all)) return 'rhel';
  if (/\b(suse|sles|opensuse)\b/.test(all)) return 'suse';
  return 'unknown';
}

export async function readOsFacts(c: HostConnection): Promise<Result<OsFacts>> {
  const r = await c.run(OS_SCRIPT);
  if (!r.ok) return r;
  return ok(parseOsFacts(r.value.stdout));
}

/** Pure: OS_SCRIPT's output. */
export function parseOsFacts(output: string): OsFacts {
  const kv = parseKeyValues(output);
  const pm = kv.get('pm');
  const id = kv.get('id') ?? '';
  return {
    id,
    versionId: kv.get('version_id') ?? '',
    prettyName: kv.get('pretty') ?? id,
    family: osFamily(id, kv.get('id_like') ?? ''),
    init: (kv.get('init') ?? 'unknown') as InitSystem,
    packageManager: pm === 'apt-get' ? 'apt' : ((pm ?? 'none') as PackageManager),
    uid: Number(kv.get('uid') ?? -1),
    hostname: kv.get('hostname') ?? '',
    // EPOCHREALTIME has the locale's decimal point.
    epoch: Number((kv.get('epoch') ?? '0').replace(',', '.')),
  };
}

/** Installed version per package ('' when not installed). */
export async function readInstalledPackages(c: HostConnection, pm: PackageManager, names: string[]): Promise<Result<Map<string, string>>> {
  if (pm === 'apt') {
    // One dpkg-query for all (it reads the status database once); unknown names print nothing.
    const r = await c.run(`${sh`dpkg-query -W -f='\${Package}=\${db:Status-Abbrev}|\${Version}\n' -- ${names}`} 2>/dev/null; true`);
    if (!r.ok) return r;
    const out = new Map(names.map((n) => [n, '']));
    for (const line of r.value.stdout.split('\n')) {
      const m = /^([^=]+)=ii\S*\s*\|(.*)$/.exec(line);
      if (m && out.has(m[1]!)) out.set(m[1]!, m[2]!);
    }
    return ok(out);
  }
  if (pm !== 'dnf' && pm !== 'yum' && pm !== 'zypper') return err({ host: c.target.name, message: 'no supported package manager (apt-get, dnf, yum or zypper) on this node' });
  const r = await c.run(sh`for p in ${names}; do echo "$p=$(rpm -q --qf '%{VERSION}-%{RELEASE}' "$p" 2>/dev/null | grep -v 'not installed')"; done`);
  if (!r.ok) return r;
  return ok(parseKeyValues(r.value.stdout));
}

export interface FileFact {
  exists: boolean;
  content?: Buffer;
}

export async function readFileFact(c: HostConnection, path: string): Promise<Result<FileFact>> {
  const r = await c.readFile(path);
  if (!r.ok) return r;
  return ok(r.value === undefined ? { exists: false } : { exists: true, content: r.value });
}

/** Which of these fence agents (names like fence_ipmilan) are installed, where Pacemaker looks: /usr/sbin. */
export async function readFenceAgents(c: HostConnection, agents: string[]): Promise<Result<Set<string>>> {
  if (agents.length === 0) return ok(new Set());
  const r = await c.run(sh`for a in ${agents}; do [ -x "/usr/sbin/$a" ] && echo "$a"; done; true`);
  if (!r.ok) return r;
  return ok(new Set(r.value.stdout.split('\n').filter((l) => agents.includes(l))));
}

/** Parses sha256sum output into path -> checksum. */
export function parseChecksums(output: string): Map<string, string> {
  const sums = new Map<string, string>();
  for (const line of output.split('\n')) {
    const m = /^([0-9a-f]{64}) [ *](.+)$/.exec(line.trim());
    if (m) sums.set(m[2]!, m[1]!);
  }
  return sums;
}

const RECORD_SEPARATOR = '--osha-record--';

/** SHA-256 of each of these files that exists, and the first line of a record file (absent: undefined); one round trip. */
export async function readChecksumsAndRecord(c: HostConnection, paths: readonly string[], record: string): Promise<Result<{ sums: Map<string, string>; mark?: string }>> {
  // The record's first line with the shell's own read, not head.
  const r = await c.run(`${sh`sha256sum -- ${[...paths]}`} 2>/dev/null; echo ${RECORD_SEPARATOR}; line=; { ${sh`IFS= read -r line < ${record}`}; } 2>/dev/null; [ -n "$line" ] && printf '%s\n' "$line"; true`);
  if (!r.ok) return r;
  const [sums = '', rest] = r.value.stdout.split(`${RECORD_SEPARATOR}\n`);
  const mark = rest?.trim();
  return ok({ sums: parseChecksums(sums), ...(mark ? { mark } : {}) });
}

/** Names of the records (plain file names) in one of osha's record directories on the node. */
export async function readRecordNames(c: HostConnection, dir: string): Promise<Result<Set<string>>> {
  // The shell's glob, not ls: one process less on every node at every run.
  const r = await c.exec(`${sh`for f in ${dir}`}/*; do [ -e "$f" ] && echo "\${f##*/}"; done; true`);
  if (!r.ok) return r;
  return ok(new Set(r.value.stdout.split('\n').map((l) => l.trim()).filter((l) => /^[a-z0-9-]+$/.test(l))));
}

/** An init unit as the node's init system reports it. */
export interface UnitState {
  exists: boolean;
  enabled: string;
  active: string;
}

/** A unit from `systemctl show`: masked units exist (their LoadState is "masked"). */
export function unitStateOf(props: Map<string, string>): UnitState {
  return { exists: (props.get('LoadState') ?? 'not-found') !== 'not-found', enabled: props.get('UnitFileState') ?? '', active: props.get('ActiveState') ?? '' };
}

/** One round trip: for every unit, whether it exists, its enablement and whether it runs. */
export async function readUnitStates(c: HostConnection, init: InitSystem, units: string[]): Promise<Result<Map<string, UnitState>>> {
  if (units.length === 0) return ok(new Map());
  if (init === 'systemd') {
    // One systemctl for every unit: a block per unit, in the order asked (an alias such as
    // mysql.service answers with its target's Id, so blocks are matched by position, not Id).
    const r = await c.run(sh`systemctl show -p LoadState,UnitFileState,ActiveState ${units.map((u) => `${u}.service`)}`);
    if (!r.ok) return r;
    const blocks = r.value.stdout.trim().split(/\n\s*\n/);
    if (blocks.length !== units.length) return err({ host: c.target.name, message: `systemctl show answered ${blocks.length} blocks for ${units.length} units` });
    return ok(new Map(units.map((u, i) => [u, unitStateOf(parseKeyValues(blocks[i]!))])));
  }
  const script =
    init === 'upstart'
        ? sh`for u in ${units}; do if [ -e "/etc/init/$u.conf" ]; then e=1; else e=0; fi; o=$(cat "/etc/init/$u.override" 2>/dev/null | tr -d '\\n'); echo "$u=$e|$o|"; done`
        : sh`for u in ${units}; do if [ -e "/etc/init.d/$u" ]; then e=1; else e=0; fi; if ls /etc/rc[2345].d/S*"$u" >/dev/null 2>&1; then s=enabled; else s=disabled; fi; echo "$u=$e|$s|"; done`;
  const r = await c.run(script);
  if (!r.ok) return r;
  const out = new Map<string, UnitState>();
  for (const [u, v] of parseKeyValues(r.value.stdout)) {
    const [e, enabled = '', active = ''] = v.split('|');
    out.set(u, { exists: e === '1', enabled, active });
  }
  return ok(out);
}

/** Whether a directory exists on the node. */
export async function isDirectory(c: HostConnection, path: string): Promise<Result<boolean>> {
  const r = await c.exec(sh`test -d ${path}`);
  if (!r.ok) return r;
  return ok(r.value.code === 0);
}

/** What preflight needs to know about a node's network and osha's agent directory, in one round trip. */
export interface PreflightFacts {
  /** The process listening on the corosync UDP port ('' when none). */
  portOwner: string;
  /** This node holds the VIP's address itself. */
  vipLocal: boolean;
  /** Some machine answers on the VIP's address (unknown: no way to ask on this node). */
  vipAnswers: 'yes' | 'no' | 'unknown';
  /** Files under the agent names in the agent directory that carry none of the markers. */
  foreignAgents: string[];
}

/**
 * Whether someone answers on the VIP: ping when the node has it; otherwise a TCP connection
 * attempt makes the kernel resolve the address (ARP or neighbour discovery), and a link-layer
 * address in the neighbour table means someone holds it. One second each: a holder on the LAN
 * answers the first ARP request within milliseconds, and a free address (every first deploy)
 * costs the whole wait (2 s of a 2.2 s cold preflight before).
 */
function vipAnswersProbe(vip: string): string {
  return (
    sh`if command -v ping >/dev/null 2>&1; then if ping -c 1 -W 1 ${vip} >/dev/null 2>&1; then echo vip_answers=yes; else echo vip_answers=no; fi; ` +
    sh`elif command -v ip >/dev/null 2>&1 && command -v bash >/dev/null 2>&1; then timeout 1 bash -c ${`: < /dev/tcp/${vip}/22`} >/dev/null 2>&1; ` +
    sh`if ip neigh show to ${vip} 2>/dev/null | grep -q lladdr; then echo vip_answers=yes; else echo vip_answers=no; fi; ` +
    'else echo vip_answers=unknown; fi; '
  );
}

export async function readPreflightFacts(
  c: HostConnection,
  q: { port: number; vip: string; agentDir: string; agentNames: string[]; ownMarkers: string[] },
): Promise<Result<PreflightFacts>> {
  // The listeners and addresses come back as ss and ip print them and are sorted out here: a
  // sed, head or grep on the node is one more process each, milliseconds on a busy node.
  const r = await c.exec(
    sh`echo ${SOCKETS_MARK}; ss -Hlunp ${`sport = :${q.port}`} 2>/dev/null; echo ${ADDRESSES_MARK}; ip -o addr show 2>/dev/null; echo ${PROBE_MARK}; ` +
      vipAnswersProbe(q.vip) +
      // The heads of the agent files present, in one head process (a head and a grep per file
      // cost more than the rest of the probe); which carry no marker is judged here.
      sh`echo ${HEADS_MARK}; cd ${q.agentDir} 2>/dev/null && { set --; for f in ${q.agentNames}; do [ -f "$f" ] && set -- "$@" "$f"; done; [ $# -eq 0 ] || head -v -n 5 -- "$@"; }; true`,
  );
  if (!r.ok) return r;
  return ok(parsePreflightFacts(r.value.stdout, q));
}

const SOCKETS_MARK = '--- udp listeners ---';
const ADDRESSES_MARK = '--- addresses ---';
const PROBE_MARK = '--- vip probe ---';

/** Pure: readPreflightFacts' output. */
export function parsePreflightFacts(output: string, q: { vip: string; agentNames: string[]; ownMarkers: string[] }): PreflightFacts {
  const [, sockets = '', addresses = '', probe = '', heads = ''] = splitSections(output, [SOCKETS_MARK, ADDRESSES_MARK, PROBE_MARK, HEADS_MARK]);
  const answers = parseKeyValues(probe).get('vip_answers');
  return {
    portOwner: /users:\(\("([^"]*)"/.exec(sockets)?.[1] ?? '',
    vipLocal: addresses.split('\n').some((l) => l.includes(` ${q.vip}/`)),
    vipAnswers: answers === 'yes' || answers === 'no' ? answers : 'unknown',
    foreignAgents: foreignHeads(heads, q.agentNames, q.ownMarkers),
  };
}

const HEADS_MARK = '--- agent heads ---';

/** Pure: the files of `head -v` output (`==> NAME <==` before each) whose head has none of the markers. */
export function foreignHeads(output: string, names: readonly string[], markers: readonly string[]): string[] {
  const parts = output.split(/^==> (.+) <==$/m);
  const out: string[] = [];
  for (let i = 1; i + 1 < parts.length; i += 2) {
    const name = parts[i]!;
    if (names.includes(name) && !markers.some((m) => parts[i + 1]!.includes(m))) out.push(name);
  }
  return out;
}
