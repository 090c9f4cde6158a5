// Where the shipped playbooks are and their names. Apart from load.ts (YAML, zod, every step)
// because `osha run --help` lists the names and must start without loading all that.
import { readdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository's playbooks folder (shipped with osha); dist/playbook/ is as deep as src/playbook/. */
export const PLAYBOOK_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../../playbooks');

/** The names of the playbooks shipped in playbooks/ (for help texts and errors). */
export function listPlaybooks(): string[] {
  return readdirSync(PLAYBOOK_DIR)
    .filter((f) => f.endsWith('.yaml'))
    .map((f) => f.slice(0, -'.yaml'.length))
    .sort();
}
