// Backups of the config files osha rewrites, as pure decisions on file contents. The caller
// (the deploy step and `osha rollback`) reads the files over SSH, asks these functions what to
// do, and carries out the returned steps in order; nothing here does I/O.
//
// The rule: before osha first changes FILE it saves the original as FILE.osha-orig, and never
// overwrites that backup afterwards, so the backup always holds the file as osha found it.
// Rollback puts it back and removes the backup.
import { err, ok, oshaError, type Result } from '../util/result.ts';

export const BACKUP_SUFFIX = '.osha-orig';

export function backupPathFor(file: string): string {
  return file + BACKUP_SUFFIX;
}

export function isBackupPath(path: string): boolean {
  return path.endsWith(BACKUP_SUFFIX);
}

/**
 * One file operation. `write` replaces `path` with `content`; it must keep the owner, group
 * and mode of `modeFrom` (config files hold passwords: e.g. 0640 root:glance) and should be
 * atomic (write a temporary file in the same directory, then rename). `remove` deletes `path`.
 */
export type FileStep =
  | { kind: 'write'; path: string; content: string; modeFrom: string; why: string }
  | { kind: 'remove'; path: string; why: string };

/** A write step whose JSON form leaves the content out: config files hold passwords. */
function write(path: string, content: string, modeFrom: string, why: string): FileStep {
  const step: FileStep = { kind: 'write', path, content, modeFrom, why };
  const shown = { kind: 'write', path, modeFrom, why, bytes: Buffer.byteLength(content, 'utf8') };
  Object.defineProperty(step, 'toJSON', { value: () => shown, enumerable: false });
  return step;
}

/**
 * The steps that change `file` from `current` to `next`: first a backup of `current` unless
 * osha already holds one (`hasBackup`: FILE.osha-orig exists; its content does not matter, it is
 * never overwritten), then the new content. No change, no steps: a re-run writes nothing.
 */
export function planFileWrite(file: string, current: string, next: string, hasBackup: boolean): FileStep[] {
  if (current === next) return [];
  const steps: FileStep[] = [];
  if (!hasBackup) {
    steps.push(write(backupPathFor(file), current, file, `keep the original of ${file} for osha rollback`));
  }
  steps.push(write(file, next, file, `point ${file} at the VIP`));
  return steps;
}

/**
 * The steps that undo osha's changes to `file`: write the backup back, then delete it.
 * `current` is undefined when the file is gone; `backup` is undefined when osha made none.
 */
export function planRestore(file: string, current: string | undefined, backup: string | undefined): Result<FileStep[]> {
  if (isBackupPath(file)) {
    return err(oshaError(`${file} is a backup itself`, { fix: `name the config file: osha rollback ${file.slice(0, -BACKUP_SUFFIX.length)}` }));
  }
  if (backup === undefined) {
    return err(
      oshaError(`osha made no backup of ${file} (${backupPathFor(file)} does not exist), so there is nothing to roll back`, {
        fix: 'check the path; osha only backs up files it changed',
      }),
    );
  }
  const steps: FileStep[] = [];
  if (current !== backup) {
    steps.push(write(file, backup, backupPathFor(file), `restore ${file} as osha found it`));
  }
  steps.push({ kind: 'remove', path: backupPathFor(file), why: 'the backup has been restored' });
  return ok(steps);
}

/** Runs steps against an in-memory file map; the reference semantics for the remote executor, used by tests. */
export function applyStepsInMemory(files: Map<string, string>, steps: readonly FileStep[]): void {
  for (const s of steps) {
    if (s.kind === 'write') files.set(s.path, s.content);
    else files.delete(s.path);
  }
}

/**
 * File bytes as text for the editor. Refuses bytes that would not survive the round trip
 * (invalid UTF-8), because rewriting such a file could change lines osha never meant to touch.
 */
export function decodeConfig(path: string, bytes: Uint8Array): Result<string> {
  const text = Buffer.from(bytes).toString('utf8');
  if (!Buffer.from(text, 'utf8').equals(Buffer.from(bytes))) {
    return err(oshaError(`${path} is not valid UTF-8; osha will not rewrite it`, { fix: 'convert the file to UTF-8 or edit it by hand' }));
  }
  return ok(text);
}
