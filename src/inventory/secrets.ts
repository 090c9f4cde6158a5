// Resolves secret references ({env}, {file}, or an opted-in plain string) to their values.
// Values are registered with the redactor so they can never reach a log or --json output.
import { readFile, stat } from 'node:fs/promises';
import type { SecretRef } from './schema.ts';
import { err, ok, type Result, type OshaError } from '../util/result.ts';
import { redactor } from '../util/redact.ts';
import { expandHome } from '../util/paths.ts';

export async function resolveSecret(ref: SecretRef, field: string): Promise<Result<string, OshaError>> {
  let value: string;
  if (typeof ref === 'string') {
    value = ref;
  } else if ('env' in ref) {
    const v = process.env[ref.env];
    if (v === undefined || v === '') {
      return err({ message: `${field}: environment variable ${ref.env} is not set`, fix: `export ${ref.env}=... before running osha` });
    }
    value = v;
  } else {
    const path = expandHome(ref.file);
    try {
      const st = await stat(path);
      if ((st.mode & 0o077) !== 0) {
        return err({ message: `${field}: secret file ${path} is readable by group or others`, fix: `chmod 600 ${path}` });
      }
      value = (await readFile(path, 'utf8')).replace(/\r?\n$/, '');
    } catch (e) {
      return err({ message: `${field}: cannot read secret file ${path} (${(e as NodeJS.ErrnoException).code ?? String(e)})`, fix: 'check the path in the inventory' });
    }
  }
  redactor.add(value);
  return ok(value);
}
