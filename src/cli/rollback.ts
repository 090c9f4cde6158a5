// `osha rollback INVENTORY [FILE...]`: on every node, put back the files osha rewrote, from the
// FILE.osha-orig backups it made before its first change (and remove those backups).
import { Command } from 'commander';
import { err, ok, describeError, type Result } from '../util/result.ts';
import { EXIT } from './exit.ts';

export function rollbackCommand(): Command {
  return new Command('rollback')
    .description('restore, on every node, the files osha rewrote from their FILE.osha-orig backups (default: the OpenStack configs)')
    .argument('<inventory>', 'inventory file (YAML)')
    .argument('[files...]', 'absolute paths of files to restore')
    .option('-n, --dry-run', 'say what would be restored, change nothing')
    .action(async (file: string, files: string[], flags: { dryRun?: boolean }) => {
      const [{ commandSession, inventoryOrReport }, { readOsFacts }, { planNodeRollback }, { backupPathFor }, { DEFAULT_ROLLBACK_FILES }, { applyFileSteps }] = await Promise.all([
        import('./common.ts'),
        import('../facts/host.ts'),
        import('../openstack/node-config.ts'),
        import('../openstack/backup.ts'),
        import('../openstack/rewrites.ts'),
        import('../steps/openstack.ts'),
      ]);
      const inv = await inventoryOrReport(file);
      if (!inv) return;
      const explicit = files.length > 0;
      const wanted = explicit ? files : DEFAULT_ROLLBACK_FILES;
      const session = await commandSession(inv, file);
      let failed = 0;
      try {
        const results = await session.forEachHost(async (t): Promise<Result<string[]>> => {
          const c = await session.connect(t.name);
          if (!c.ok) return c;
          const os = await readOsFacts(c.value);
          if (!os.ok) return os;
          const h = { host: t.name, c: c.value, os: os.value };
          const done: string[] = [];
          for (const f of wanted) {
            const backup = await c.value.readFile(backupPathFor(f));
            if (!backup.ok) return backup;
            if (backup.value === undefined && !explicit) continue; // osha never changed it here
            const current = await c.value.readFile(f);
            if (!current.ok) return current;
            const steps = planNodeRollback(f, current.value?.toString('utf8'), backup.value?.toString('utf8'));
            if (!steps.ok) return err({ ...steps.error, host: t.name });
            if (!flags.dryRun) {
              const r = await applyFileSteps(h, steps.value);
              if (!r.ok) return r;
            }
            done.push(f);
          }
          return ok(done);
        });
        for (const [host, r] of results) {
          if (!r.ok) {
            failed++;
            console.error(`${host}: failed - ${describeError(r.error)}`);
          } else {
            const verb = flags.dryRun ? 'would restore' : 'restored';
            console.log(`${host}: ${r.value.length ? `${verb} ${r.value.join(', ')}` : 'nothing to restore (osha changed no such file here)'}`);
          }
        }
      } finally {
        await session.close();
      }
      process.exitCode = failed ? EXIT.failed : EXIT.ok;
    });
}
