// Answering `osha init` in a terminal the way a person does: wait for a prompt to be the active
// one, then type or press keys. Shared by the prompt tests and the wizard-to-deploy test.
import { resolve } from 'node:path';
import { Tmux } from './tmux.ts';

export const ROOT = resolve(new URL('../..', import.meta.url).pathname);

/** Starts the real CLI's `osha init` in tmux with HOME set to a scratch folder. */
export function startInit(home: string, args: string[]): Promise<Tmux> {
  return Tmux.start(['node', 'bin/osha.js', 'init', ...args], {
    cwd: ROOT,
    env: { HOME: home, SSH_AUTH_SOCK: '', PATH: process.env.PATH ?? '/usr/bin:/bin' },
  });
}

/** Waits for the prompt `? question` to be the active one, then types the answer. */
export async function answer(s: Tmux, question: string, text: string): Promise<void> {
  await s.waitFor(`? ${question}`);
  await s.type(text);
}

/** Waits for the prompt, presses keys (for lists and checkboxes). */
export async function press(s: Tmux, question: string, ...keys: string[]): Promise<void> {
  await s.waitFor(`? ${question}`);
  await s.key(...keys);
}

/** Types a wrong answer and waits for the prompt to refuse it with `reason`; clears the line. */
export async function refused(s: Tmux, question: string, text: string, reason: string): Promise<void> {
  await s.waitFor(`? ${question}`);
  const before = await s.screen();
  await s.type(text);
  await s.waitForNew(reason, before);
  await s.key('C-u');
}

/**
 * From the VIP questions to the OpenStack password, with the defaults: suggested VIP, no NIC,
 * no public VIP, the services left as preselected unless `serviceKeys` changes them, no fencing
 * (confirmed), keystone defaults. `password: 'env'` stops at the env variable's name prompt.
 */
export async function answerVipToPassword(s: Tmux, opts: { serviceKeys?: string[]; password: 'env' | 'none' }): Promise<void> {
  await answer(s, 'Prefix length', '');
  await answer(s, 'VIP address', ''); // suggested: a free address in the nodes' subnet
  await answer(s, 'Network interface for the VIP', ''); // IPaddr2 finds it by subnet
  await answer(s, 'Add a public VIP', '');
  for (const key of opts.serviceKeys ?? []) await press(s, 'OpenStack services', key);
  await press(s, 'OpenStack services', 'Enter');
  await press(s, 'Fencing', 'Down', 'Enter');
  await answer(s, 'Run WITHOUT fencing?', 'y');
  await answer(s, 'Keystone URL', '');
  await answer(s, 'OpenStack user', '');
  await answer(s, 'Its project', '');
  if (opts.password === 'none') {
    await press(s, 'Its password', 'Down', 'Enter'); // no deep (token) checks
  } else {
    await press(s, 'Its password', 'Enter');
    await press(s, 'Where does osha read the OpenStack password from?', 'Enter'); // environment
  }
}
