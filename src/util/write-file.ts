// One local file written whole or not at all: a temp file beside it, then rename (or link, when
// an existing file must not be replaced), so a reader never sees half a file.
import { link, rename, unlink, writeFile } from 'node:fs/promises';
import { dirname, basename, join } from 'node:path';

/** Writes `text` to `path` atomically; without `overwrite`, fails with EEXIST if `path` exists. */
export async function writeWhole(path: string, text: string, opts: { overwrite: boolean; mode?: number }): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  try {
    await writeFile(tmp, text, { mode: opts.mode ?? 0o644, flag: 'wx' });
    if (opts.overwrite) {
      await rename(tmp, path);
    } else {
      // link() fails when the target exists, so a file that appeared meanwhile is not replaced.
      await link(tmp, path);
      await unlink(tmp);
    }
  } catch (e) {
    await unlink(tmp).catch(() => {});
    throw e;
  }
}
