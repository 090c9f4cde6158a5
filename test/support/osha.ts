// Runs the real osha CLI (bin/osha.js) as a child process, the way an operator does.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { resolve, dirname } from 'node:path';
import type { RunSummary } from '../../src/runner/types.ts';

export const OSHA_BIN = resolve(dirname(fileURLToPath(import.meta.url)), '../../bin/osha.js');

/**
 * The line bin/osha.js prints when dist/ is stale and it runs src/ through tsx. Not the command's
 * output: the runs below leave it out, so that a test sees the same stderr whether or not the
 * developer rebuilt after editing src/ (test/cli/start.test.ts checks the line itself).
 */
export const TSX_NOTE = /^osha: running from source through tsx .*`npm run build` gives the fast start\n?/m;

export interface OshaRun {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunningOsha {
  pid: number;
  /** Resolves when the process exits. */
  done: Promise<OshaRun>;
  /** Resolves when `pattern` appears in stdout or stderr (or rejects when the process ends first). */
  waitForOutput(pattern: RegExp): Promise<void>;
}

export function startOsha(args: string[], env: NodeJS.ProcessEnv = {}): RunningOsha {
  const child = spawn(process.execPath, [OSHA_BIN, ...args], { env: { ...process.env, FORCE_COLOR: '0', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  const waiters: { pattern: RegExp; resolve: () => void; reject: (e: Error) => void }[] = [];
  const check = () => {
    for (const w of [...waiters]) {
      if (w.pattern.test(stdout) || w.pattern.test(stderr)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    }
  };
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
    check();
  });
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
    check();
  });
  const done = new Promise<OshaRun>((res) => {
    child.on('close', (code) => {
      for (const w of waiters.splice(0)) w.reject(new Error(`osha exited before printing ${w.pattern}:\n${stdout}\n${stderr}`));
      res({ code: code ?? -1, stdout, stderr: stderr.replace(TSX_NOTE, '') });
    });
  });
  return {
    pid: child.pid ?? -1,
    done,
    waitForOutput: (pattern) =>
      new Promise<void>((res, rej) => {
        waiters.push({ pattern, resolve: res, reject: rej });
        check();
      }),
  };
}

export function osha(args: string[], env: NodeJS.ProcessEnv = {}): Promise<OshaRun> {
  return startOsha(args, env).done;
}

/** Runs a playbook command with --json and returns the parsed summary. */
export async function oshaJson(args: string[]): Promise<{ run: OshaRun; summary: RunSummary }> {
  const run = await osha([...args, '--json']);
  let summary: RunSummary;
  try {
    summary = JSON.parse(run.stdout) as RunSummary;
  } catch {
    throw new Error(`osha ${args.join(' ')} printed no JSON summary (exit ${run.code}):\n${run.stdout}\n${run.stderr}`);
  }
  return { run, summary };
}
