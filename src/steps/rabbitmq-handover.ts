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
import type { Action, Step, StepContext } from '../runner/types.ts';
import { commandAction, planEachHost, type HostHandle } from './common.ts';
import { BACKUP_DIR, MNESIA_BACKUP_PREFIX, RABBITMQ_EXPORT_DIR, RABBITMQ_MNESIA, exportFileOf, readRabbitFacts, type RabbitFacts } from '../facts/handover.ts';
import { sh } from '../ssh/quote.ts';
import { err, ok, type Result } from '../util/result.ts';

/** The rabbitmq-cluster primitive of the active-active resource model. */
export const RABBITMQ_PRIMITIVE = 'osha-rabbitmq';
const IMPORTED = '.imported';

/** Plans `fn` on every node of an active-active inventory whose broker Pacemaker does not own yet. */
function planHandover(ctx: StepContext, fn: (h: HostHandle, f: RabbitFacts) => Result<Action[]>) {
  if (ctx.inv.topology !== 'active-active') return Promise.resolve(new Map());
  return planEachHost(ctx, async (h) => {
    // Read afresh by each step: the steps between them change it.
    const f = await readRabbitFacts(h.c, h.host, RABBITMQ_PRIMITIVE);
    if (!f.ok) return f;
    return fn(h, f.value);
  });
}

export const rabbitmqExport: Step = {
  name: 'rabbitmq-export',
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
          // From stdin: the file is root's (0600), rabbitmqctl runs as the rabbitmq user.
          const command = sh`rabbitmqctl await_startup </dev/null >/dev/null && rabbitmqctl import_definitions --quiet < ${file} >/dev/null && mv ${file} ${`${file}${IMPORTED}`}`;
          return commandAction(h, `import ${file} into the clustered broker (users, vhosts, permissions, policies), then rename it ${name}${IMPORTED}`, command);
        }),
      );
    });
  },
};
