// Active-active, before Pacemaker first starts Galera: the node holding the operator's MariaDB
// data becomes the node Galera bootstraps from. The galera agent bootstraps the node marked
// safe_to_bootstrap in grastate.dat, else the highest last commit, and on a tie the LAST node of
// wsrep_cluster_address: with no Galera state anywhere, an empty node would win and its copy
// would replace the real data everywhere. So the data holder is started once as a new cluster
// and shut down cleanly (Galera then marks it safe_to_bootstrap: 1), and every other node's data
// directory, which Galera's state transfer will replace, is proven free of user databases and
// copied aside first. Two nodes with user databases are refused: osha will not choose.
import type { Action, HostPlan, Step } from '../runner/types.ts';
import { gatherEachHost, type HostHandle } from './common.ts';
import { OWED_DIR, clearOwed, oweAction } from './owed.ts';
import { BACKUP_DIR, MYSQL_BACKUP_PREFIX, MYSQL_DATADIR, hasGaleraState, readGaleraFacts, type GaleraFacts } from '../facts/handover.ts';
import { sh } from '../ssh/quote.ts';
import { err, ok, oshaError, type OshaError, type Result } from '../util/result.ts';

/** The galera primitive of the active-active resource model. */
export const GALERA_PRIMITIVE = 'osha-galera';
const SEED_RECORD = 'galera-seed';
const SEED_LOG = '/var/log/mysql/osha-galera-seed.log';
/** How long the seed may take to become ready, and to shut down (crash recovery of a big InnoDB). */
const SEED_WAIT_S = 300;

export type SeedDecision =
  | { kind: 'pacemaker' }
  | { kind: 'conflict'; holders: Map<string, string[]> }
  /** seed: the node to start as a new cluster (none when Galera state exists or no node has data); source: where the others' copy comes from. */
  | { kind: 'handover'; seed?: string; source?: string; backups: string[] };

/** Pure: who seeds Galera and whose data directories are copied aside, from every node's facts (inventory order). */
export function decideSeed(facts: Map<string, GaleraFacts>): SeedDecision {
  const all = [...facts];
  if (all.some(([, f]) => f.inCib)) return { kind: 'pacemaker' };
  // A node with a seed record was cut short while seeding: it is the seed again.
  const interrupted = all.find(([, f]) => f.owed)?.[0];
  const members = all.filter(([n, f]) => n !== interrupted && hasGaleraState(f.grastate)).map(([n]) => n);
  const holders = all.filter(([, f]) => f.databases.length > 0);
  let seed: string | undefined;
  if (interrupted) seed = interrupted;
  else if (members.length === 0) seed = holders[0]?.[0] ?? all.find(([, f]) => f.datadir)?.[0];
  const source = seed ?? members[0];
  // Every node that is not the source and not already Galera's gets Galera's copy: its own data must be disposable.
  const replaced = all.filter(([n]) => n !== source && !members.includes(n));
  const losing = replaced.filter(([, f]) => f.databases.length > 0);
  if (losing.length > 0) {
    const named = all.filter(([n, f]) => (n === source && f.databases.length > 0) || losing.some(([m]) => m === n));
    return { kind: 'conflict', holders: new Map(named.map(([n, f]) => [n, f.databases])) };
  }
  return { kind: 'handover', seed, source, backups: replaced.filter(([, f]) => f.datadir && f.backups.length === 0).map(([n]) => n) };
}

export function conflictError(host: string, holders: Map<string, string[]>): OshaError {
  const list = [...holders].map(([n, dbs]) => `${n} (${dbs.length ? dbs.join(', ') : 'system tables only'})`).join(', ');
  return oshaError(`MariaDB holds user databases on more than one node: ${list}. Galera keeps one copy and copies it over the others; osha will not choose which`, {
    host,
    fix: 'keep the data on one node: dump what the others hold (mysqldump --databases ...), load it there by hand, then drop those databases on the others (or empty their /var/lib/mysql), and re-run',
  });
}

const stamp = (d: Date) => d.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
const dbList = (f: GaleraFacts) => (f.databases.length ? `databases: ${f.databases.join(', ')}` : 'system tables only');
/** Stops a MariaDB that runs (it should not: init-services stopped it) and refuses one systemd does not own. */
const STOP_FIRST = String.raw`if pgrep -x mariadbd >/dev/null || pgrep -x mysqld >/dev/null; then systemctl stop mariadb; fi
if pgrep -x mariadbd >/dev/null || pgrep -x mysqld >/dev/null; then echo "MariaDB still runs outside systemd; stop it first" >&2; exit 1; fi`;

/** Starts the data directory once as a new Galera cluster (no network), waits for wsrep_ready, stops it, checks grastate.dat. */
export function seedScript(): string {
  const gra = `${MYSQL_DATADIR}/grastate.dat`;
  return String.raw`set -eu
${STOP_FIRST}
# Cut short before: Galera marked nothing safe; this node is the seed, so it is.
[ ! -f ${gra} ] || sed -i 's/^safe_to_bootstrap: 0/safe_to_bootstrap: 1/' ${gra}
install -d -o mysql -g mysql -m 0755 /run/mysqld
: > ${SEED_LOG} && chown mysql:adm ${SEED_LOG}
/usr/sbin/mariadbd --user=mysql --wsrep-on=ON --wsrep-provider=/usr/lib/galera/libgalera_smm.so --wsrep-cluster-address=gcomm:// --wsrep-new-cluster --binlog-format=ROW --skip-networking --log-error=${SEED_LOG} </dev/null >/dev/null 2>&1 &
pid=$!
fail() { echo "$1; last lines of ${SEED_LOG}:" >&2; tail -n 8 ${SEED_LOG} >&2; exit 1; }
end=$(($(date +%s) + ${SEED_WAIT_S}))
until [ "$(mysql -NBe "SHOW GLOBAL STATUS LIKE 'wsrep_ready'" 2>/dev/null | cut -f2)" = ON ]; do
  kill -0 "$pid" 2>/dev/null || fail "mariadbd stopped before it was ready"
  [ "$(date +%s)" -lt "$end" ] || { kill "$pid"; fail "wsrep_ready was not ON within ${SEED_WAIT_S} s"; }
  sleep 0.2
done
mysqladmin shutdown
end=$(($(date +%s) + ${SEED_WAIT_S}))
while kill -0 "$pid" 2>/dev/null; do [ "$(date +%s)" -lt "$end" ] || fail "mariadbd did not stop within ${SEED_WAIT_S} s"; sleep 0.2; done
uuid=$(sed -n 's/^uuid:[[:space:]]*//p' ${gra}); seqno=$(sed -n 's/^seqno:[[:space:]]*//p' ${gra}); safe=$(sed -n 's/^safe_to_bootstrap:[[:space:]]*//p' ${gra})
case "$uuid" in ''|00000000-0000-0000-0000-000000000000) fail "grastate.dat has no cluster uuid after the seed";; esac
[ "$seqno" -ge 0 ] 2>/dev/null || fail "grastate.dat has seqno $seqno after the seed"
[ "$safe" = 1 ] || fail "grastate.dat is not safe_to_bootstrap after the seed"
echo "uuid=$uuid seqno=$seqno"
`;
}

function seedAction(h: HostHandle, f: GaleraFacts, clear: () => Promise<Result<void>>): Action {
  const script = seedScript();
  return {
    summary: `seed Galera from ${MYSQL_DATADIR} here (${dbList(f)}): mariadbd starts once as a new cluster (--wsrep-new-cluster, no network), waits for wsrep_ready=ON and shuts down cleanly; grastate.dat must then say safe_to_bootstrap: 1 with a cluster uuid and seqno >= 0, so Pacemaker bootstraps Galera here and the other nodes copy this data`,
    commands: ['bash -s  # the seed script: start, wait for wsrep_ready=ON, mysqladmin shutdown, check grastate.dat'],
    ...(f.running ? { disruptive: 'MariaDB runs now and is stopped for the seed' } : {}),
    apply: async () => {
      const r = await h.c.run('bash -s', { stdin: script, timeoutMs: (2 * SEED_WAIT_S + 60) * 1000 });
      if (!r.ok) return r;
      return clear();
    },
  };
}

function backupAction(h: HostHandle, f: GaleraFacts, source: string | undefined, at: Date): Action {
  const name = `${MYSQL_BACKUP_PREFIX}${stamp(at)}`;
  const dest = `${BACKUP_DIR}/${name}`;
  const partial = `${BACKUP_DIR}/.${name}.partial`;
  // A copy, not a move: the node keeps a working data directory until Galera's transfer replaces it.
  const command = sh`mkdir -p -m 0700 ${BACKUP_DIR} && rm -rf ${BACKUP_DIR}/.${MYSQL_BACKUP_PREFIX}*.partial && cp -a ${MYSQL_DATADIR} ${partial} && mv ${partial} ${dest}`;
  const script = `set -eu\n${STOP_FIRST}\n${command}\n`;
  const from = source ? `Galera's copy from ${source}` : "the copy of the first node Galera starts on";
  return {
    summary: `${MYSQL_DATADIR} (${dbList(f)}) kept at ${dest}, then replaced by ${from} (state transfer when osha-galera first starts here)`,
    commands: [command],
    ...(f.running ? { disruptive: 'MariaDB runs here now and is stopped for the copy' } : {}),
    apply: async () => {
      const r = await h.c.run('bash -s', { stdin: script, timeoutMs: 30 * 60_000 });
      return r.ok ? ok(undefined) : r;
    },
  };
}

export const galeraSeed: Step = {
  name: 'galera-seed',
  title: 'active-active: Galera bootstraps from the node holding the MariaDB data; the others keep a copy of theirs',
  topology: 'active-active',
  needsAllHosts: true,
  async plan(ctx) {
    const plans = new Map<string, HostPlan>();
    const gathered = await gatherEachHost(ctx, (h) => readGaleraFacts(h.c, GALERA_PRIMITIVE, `${OWED_DIR}/${SEED_RECORD}`));
    if (!gathered.ok) return gathered.plans;
    const { handles, facts } = gathered;
    const decision = decideSeed(facts);
    if (decision.kind === 'conflict') {
      for (const host of ctx.hosts) plans.set(host, err(conflictError(host, decision.holders)));
      return plans;
    }
    const at = new Date();
    for (const host of ctx.hosts) {
      const h = handles.get(host)!;
      const f = facts.get(host)!;
      const actions: Action[] = [];
      if (decision.kind === 'handover' && decision.seed === host) {
        if (!f.owed) actions.push(oweAction(ctx, h, SEED_RECORD, 'Galera is being seeded from this node'));
        actions.push(seedAction(h, f, () => clearOwed(ctx, h, [SEED_RECORD])));
      }
      if (decision.kind === 'handover' && decision.backups.includes(host)) actions.push(backupAction(h, f, decision.source, at));
      plans.set(host, ok(actions));
    }
    return plans;
  },
};
