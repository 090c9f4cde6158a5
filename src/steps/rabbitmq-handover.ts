// Active-active: RabbitMQ's users, vhosts, permissions and policies carried from the operator's
// broker into the clustered one. ocf:heartbeat:rabbitmq-cluster wipes the mnesia directory when
// it starts a node (rmq_start_first, rmq_try_start: rm -rf of it) and carries users over only
// between its own stop and start, so the operator's `openstack` user would be gone:
//  1. rabbitmq-export, before init-services stops the broker: its definitions to a 0600 file
//     (rabbitmqctl export_definitions needs the broker running);
//  2. rabbitmq-backup, after init-services stopped it and before Pacemaker first starts the clone:
//     a copy of the mnesia directory (a copy of a running broker's files would not be consistent);
//  3. rabbitmq-import, once the clone runs: the definitions imported into the cluster, the file
//     renamed .imported so a re-run imports nothing twice.
// The definitions hold password hashes: they travel on the node only, never through osha's output.
import { createHash } from 'node:crypto';
import type { Action, HostPlan, Step, StepContext } from '../runner/types.ts';
import { commandAction, hostHandle, planEachHost, writeFileActions, type HostHandle } from './common.ts';
import { readFilesAnd } from '../facts/files.ts';
import { mapLimit } from '../util/concurrency.ts';
import { BACKUP_DIR, MNESIA_BACKUP_PREFIX, RABBITMQ_EXPORT_DIR, RABBITMQ_MNESIA, exportFileOf, readRabbitFacts, type RabbitFacts } from '../facts/handover.ts';
import { sh } from '../ssh/quote.ts';
import { err, ok, type Result } from '../util/result.ts';

/** The rabbitmq-cluster primitive of the active-active resource model. */
export const RABBITMQ_PRIMITIVE = 'osha-rabbitmq';
const IMPORTED = '.imported';

/** Plans `fn` on every node, with the node's RabbitMQ facts. */
function planHandover(ctx: StepContext, fn: (h: HostHandle, f: RabbitFacts) => Result<Action[]>) {
  return planEachHost(ctx, async (h) => {
    // Shared by the three steps only while nothing was applied: the steps between them change it
    // (init-services stops the broker, resources starts the clone).
    const f = await ctx.facts.getUntilChange(h.host, 'rabbitmq', () => readRabbitFacts(h.c, h.host, RABBITMQ_PRIMITIVE));
    if (!f.ok) return f;
    return fn(h, f.value);
  });
}

export const rabbitmqExport: Step = {
  name: 'rabbitmq-export',
  topology: 'active-active',
  title: "active-active: the definitions (users, vhosts, permissions, policies) of a broker systemd runs, exported before it stops",
  plan(ctx) {
    return planHandover(ctx, (h, f) => {
      // Exported already and not imported: refreshed only when the broker's definitions changed since.
      const file = exportFileOf(h.host);
      const pending = f.exports.includes(`definitions-${h.host}.json`);
      if (f.inCib || !f.systemd || f.exports.includes(`definitions-${h.host}.json${IMPORTED}`)) return ok([]);
      if (pending && f.exportSha === f.liveSha) return ok([]);
      const partial = `${file}.partial`;
      // To stdout, written by root's shell: rabbitmqctl itself runs as the rabbitmq user.
      const command = sh`mkdir -p -m 0700 ${RABBITMQ_EXPORT_DIR} && (umask 077 && rabbitmqctl export_definitions - --quiet </dev/null > ${partial}) && chmod 0600 ${partial} && mv ${partial} ${file}`;
      return ok([commandAction(h, `${pending ? 'refresh' : 'export'} RabbitMQ's definitions (users with password hashes, vhosts, permissions, policies) to ${file} (0600 root), for the clustered broker to import`, command)]);
    });
  },
};

export const rabbitmqBackup: Step = {
  name: 'rabbitmq-backup',
  topology: 'active-active',
  title: "active-active: a copy of each node's stopped RabbitMQ mnesia directory, before the cluster agent wipes it",
  plan(ctx) {
    return planHandover(ctx, (h, f) => {
      if (f.inCib || !f.mnesia || f.backups.length > 0) return ok([]);
      const name = `${MNESIA_BACKUP_PREFIX}${new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}`;
      const partial = `${BACKUP_DIR}/.${name}.partial`;
      const command =
        sh`if pgrep -u rabbitmq -x beam.smp >/dev/null; then echo "RabbitMQ still runs: its files are copied once it stopped (init-services stops it)" >&2; exit 1; fi; ` +
        sh`mkdir -p -m 0700 ${BACKUP_DIR} && rm -rf ${BACKUP_DIR}/.${MNESIA_BACKUP_PREFIX}*.partial && cp -a ${RABBITMQ_MNESIA} ${partial} && mv ${partial} ${`${BACKUP_DIR}/${name}`}`;
      return ok([commandAction(h, `keep ${RABBITMQ_MNESIA} at ${BACKUP_DIR}/${name} (the rabbitmq-cluster agent wipes it when it first starts here${f.running ? '; copied once init-services stopped the broker' : ''})`, command, 30 * 60_000)]);
    });
  },
};

export const rabbitmqImport: Step = {
  name: 'rabbitmq-import',
  topology: 'active-active',
  title: 'active-active: exported RabbitMQ definitions imported into the clustered broker, once each',
  plan(ctx) {
    return planHandover(ctx, (h, f) => {
      const pending = f.exports.filter((e) => e.endsWith('.json'));
      if (pending.length === 0) return ok([]);
      if (!f.inCib || !f.running) {
        return err({ host: h.host, message: `${pending.join(', ')} waits for the clustered broker (${RABBITMQ_PRIMITIVE}) to run on ${h.host}`, fix: 'check it with osha status, then re-run' });
      }
      return ok(
        pending.map((name) => {
          const file = `${RABBITMQ_EXPORT_DIR}/${name}`;
          // The file is root's (0600) and rabbitmqctl runs as the rabbitmq user: it reads a copy
          // only that group may read, removed whether the import worked or not. Not from stdin:
          // RabbitMQ 4.0's import_definitions (Debian 13) waits on stdin forever.
          const copy = `${RABBITMQ_CONF_DIR}/.osha-import-${name}`;
          const command =
            sh`rabbitmqctl await_startup </dev/null >/dev/null && install -m 0640 -o root -g rabbitmq ${file} ${copy} && ` +
            sh`{ rabbitmqctl import_definitions --quiet ${copy} </dev/null >/dev/null; rc=$?; rm -f ${copy}; [ "$rc" -eq 0 ]; } && mv ${file} ${`${file}${IMPORTED}`}`;
          return commandAction(h, `import ${file} into the clustered broker (users, vhosts, permissions, policies), then rename it ${name}${IMPORTED}`, command);
        }),
      );
    });
  },
};

/** RabbitMQ imports this file at every boot (`load_definitions`): readable by the broker, by no one else. */
export const BOOT_DEFINITIONS = '/etc/rabbitmq/osha-definitions.json';
const RABBITMQ_CONF_DIR = '/etc/rabbitmq';
export const RABBITMQ_CONF = '/etc/rabbitmq/rabbitmq.conf';

/**
 * rabbitmq.conf with these keys set (sysctl-style `key = value` lines): a key already there is
 * replaced where it stands, a missing one appended; every other line is kept.
 */
export function withRabbitConfKeys(text: string, keys: readonly (readonly [string, string])[]): string {
  const lines = text === '' ? [] : text.replace(/\n$/, '').split('\n');
  const added: string[] = [];
  for (const [key, value] of keys) {
    const at = lines.findIndex((l) => new RegExp(`^\\s*${key.replace(/\./g, '\\.')}\\s*=`).test(l));
    if (at >= 0) lines[at] = `${key} = ${value}`;
    else added.push(`${key} = ${value}`);
  }
  if (added.length > 0) lines.push(...(lines.length > 0 ? [''] : []), '# Set by osha (active-active topology).', ...added);
  return `${lines.join('\n')}\n`;
}

export interface BootFacts {
  conf: Buffer | undefined;
  /** sha256 of BOOT_DEFINITIONS, and its mode and owner (stat %a %U:%G). */
  boot?: { sha256: string; mode: string; owner: string };
  /** Definitions this node exported (pending or imported), by file name: sha256. */
  exports: Map<string, string>;
}

async function readBootFacts(h: HostHandle): Promise<Result<BootFacts>> {
  const script = [
    sh`b=${BOOT_DEFINITIONS}`,
    // sha256sum prints "HASH  -": the hash is its first word. No subshell, cut or basename per file.
    `if [ -f "$b" ]; then printf boot_sha256=; sha256sum < "$b"; stat -c 'boot_stat=%a %U:%G' -- "$b"; fi`,
    sh`for f in ${RABBITMQ_EXPORT_DIR}/definitions-*.json ${RABBITMQ_EXPORT_DIR}/definitions-*.json${IMPORTED}; do [ -f "$f" ] && printf 'export=%s ' "\${f##*/}" && sha256sum < "$f"; done`,
    'true',
  ].join('\n');
  const r = await readFilesAnd(h.c, [RABBITMQ_CONF], script);
  if (!r.ok) return r;
  return ok(parseBootFacts(r.value.files.get(RABBITMQ_CONF), r.value.output));
}

/** Pure: readBootFacts' output (key=value lines, each hash as sha256sum prints it). */
export function parseBootFacts(conf: Buffer | undefined, output: string): BootFacts {
  const facts: BootFacts = { conf, exports: new Map() };
  let sha256: string | undefined;
  let stat: string[] | undefined;
  for (const line of output.split('\n')) {
    const at = line.indexOf('=');
    if (at <= 0) continue;
    const [key, words] = [line.slice(0, at), line.slice(at + 1).trim().split(/\s+/)];
    if (key === 'boot_sha256') sha256 = words[0];
    if (key === 'boot_stat') stat = words;
    if (key === 'export' && words[0] && words[1]) facts.exports.set(words[0], words[1]);
  }
  if (sha256) facts.boot = { sha256, mode: stat?.[0] ?? '', owner: stat?.[1] ?? '' };
  return facts;
}

/**
 * After a full outage the rabbitmq-cluster agent starts the first broker from a wiped mnesia
 * directory, and the operator's users would be gone again. RabbitMQ's own remedy: import a
 * definitions file at every boot (`load_definitions`, in the core since 3.8). The export of the
 * operator's broker goes to every node; rabbitmq.conf points at it and sets pause_minority, so a
 * partitioned minority pauses instead of running on as a second cluster.
 */
export const rabbitmqBootDefinitions: Step = {
  name: 'rabbitmq-boot-definitions',
  title: "active-active: every broker imports the operator's exported definitions at boot; a partitioned minority pauses",
  topology: 'active-active',
  async plan(ctx) {
    const plans = new Map<string, HostPlan>();
    const hosts = ctx.inv.nodes.map((n) => n.name).filter((n) => ctx.hosts.includes(n));
    const read = await mapLimit(hosts, ctx.session.concurrency, async (host): Promise<Result<{ h: HostHandle; f: BootFacts }>> => {
      const h = await hostHandle(ctx, host);
      if (!h.ok) return h;
      const f = await readBootFacts(h.value);
      return f.ok ? ok({ h: h.value, f: f.value }) : f;
    });
    // The source: the first node (inventory order) holding its broker's export.
    let source: { h: HostHandle; file: string; sha256: string } | undefined;
    for (const r of read) {
      if (!r.ok || source) continue;
      const own = [`definitions-${r.value.h.host}.json`, `definitions-${r.value.h.host}.json${IMPORTED}`].find((n) => r.value.f.exports.has(n));
      if (own) source = { h: r.value.h, file: `${RABBITMQ_EXPORT_DIR}/${own}`, sha256: r.value.f.exports.get(own)! };
    }
    let bytes: Promise<Result<Buffer>> | undefined;
    const sourceBytes = (): Promise<Result<Buffer>> =>
      (bytes ??= source!.h.c.readFile(source!.file).then((r): Result<Buffer> => {
        if (!r.ok) return r;
        const same = r.value && createHash('sha256').update(r.value).digest('hex') === source!.sha256;
        return same ? ok(r.value!) : err({ host: source!.h.host, message: `${source!.file} changed since it was planned; re-run` });
      }));
    read.forEach((r, i) => {
      const host = hosts[i]!;
      if (!r.ok) {
        plans.set(host, r);
        return;
      }
      const { h, f } = r.value;
      const actions: Action[] = [];
      if (source && f.boot?.sha256 !== source.sha256) {
        actions.push({
          summary: `install ${source.h.host}'s exported RabbitMQ definitions as ${BOOT_DEFINITIONS} (0640 root:rabbitmq; password hashes, never shown), imported at every broker boot`,
          apply: async () => {
            const b = await sourceBytes();
            return b.ok ? h.c.upload(BOOT_DEFINITIONS, b.value, { mode: 0o640, owner: 'root', group: 'rabbitmq' }) : b;
          },
        });
      } else if (f.boot && (f.boot.mode !== '640' || f.boot.owner !== 'root:rabbitmq')) {
        actions.push(commandAction(h, `fix ${BOOT_DEFINITIONS} permissions (${f.boot.mode} ${f.boot.owner} -> 640 root:rabbitmq)`, sh`chown root:rabbitmq ${BOOT_DEFINITIONS} && chmod 0640 ${BOOT_DEFINITIONS}`));
      }
      const keys: [string, string][] = [['cluster_partition_handling', 'pause_minority']];
      if (source || f.boot) keys.push(['load_definitions', BOOT_DEFINITIONS]);
      const current = { exists: f.conf !== undefined, content: f.conf };
      actions.push(...writeFileActions(h, RABBITMQ_CONF, current, withRabbitConfKeys(f.conf?.toString('utf8') ?? '', keys), { mode: 0o644, backup: true }));
      plans.set(host, ok(actions));
    });
    return plans;
  },
};
