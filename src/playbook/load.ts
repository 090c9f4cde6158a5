// Playbooks: the ordered steps of a deploy as readable YAML (playbooks/*.yaml). A playbook lists
// step names and may include other playbooks, so an operator can run a part (e.g. only agents).
import { readFile } from 'node:fs/promises';
import { dirname, join, resolve, basename } from 'node:path';
import { parse } from 'yaml';
import { z } from 'zod';
import type { Step } from '../runner/types.ts';
import { stepNamed, STEPS } from '../steps/index.ts';
import { err, ok, type Result } from '../util/result.ts';
import { PLAYBOOK_DIR, listPlaybooks } from './names.ts';

const entry = z.union([z.strictObject({ step: z.string(), why: z.string().optional() }), z.strictObject({ include: z.string() })]);
const playbookSchema = z.strictObject({ name: z.string(), description: z.string(), steps: z.array(entry).min(1) });

export interface Playbook {
  name: string;
  description: string;
  file: string;
  steps: Step[];
}

/** A playbook by name ("deploy", "cluster") or by path. */
export function playbookPath(nameOrPath: string): string {
  return /[/.]/.test(nameOrPath) ? resolve(nameOrPath) : join(PLAYBOOK_DIR, `${nameOrPath}.yaml`);
}

export async function loadPlaybook(nameOrPath: string, seen: string[] = []): Promise<Result<Playbook>> {
  const file = playbookPath(nameOrPath);
  if (seen.includes(file)) return err({ message: `${file}: includes itself (${[...seen, file].map((f) => basename(f)).join(' -> ')})` });
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    return err({ message: `no playbook ${nameOrPath} (${file})`, fix: `use one of: ${listPlaybooks().join(', ')} (or the path of a playbook file)` });
  }
  let data: unknown;
  try {
    data = parse(text);
  } catch (e) {
    return err({ message: `${file}: YAML syntax error: ${(e as Error).message.split('\n')[0]}` });
  }
  const parsed = playbookSchema.safeParse(data);
  if (!parsed.success) {
    const i = parsed.error.issues[0]!;
    return err({ message: `${file}: ${i.path.join('.')}: ${i.message}` });
  }
  const steps: Step[] = [];
  for (const e of parsed.data.steps) {
    if ('include' in e) {
      const inc = await loadPlaybook(join(dirname(file), e.include), [...seen, file]);
      if (!inc.ok) return inc;
      steps.push(...inc.value.steps);
    } else {
      const s = stepNamed(e.step);
      if (!s) return err({ message: `${file}: unknown step "${e.step}"`, fix: `known steps: ${STEPS.map((x) => x.name).join(', ')}` });
      steps.push(s);
    }
  }
  return ok({ name: parsed.data.name, description: parsed.data.description, file, steps });
}
