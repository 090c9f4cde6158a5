// Runs host commands for the lab: argv arrays only (no shell), output captured, failures as values.
import { spawn } from 'node:child_process';
import { err, ok, oshaError, type Result } from '../util/result.ts';

export interface RunOutput {
  code: number;
  stdout: string;
  stderr: string;
  /** Set when the command was killed for running past timeoutMs (code is then 124, as timeout(1) says). */
  timedOut?: boolean;
}

export interface RunOptions {
  /** Text fed to stdin. */
  input?: string;
  /** Kill the command after this many milliseconds. */
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
  /** Called with each chunk of output, for long builds that show progress. */
  onOutput?: (chunk: string) => void;
  /**
   * Run it in a process group of its own and kill the whole group at the time limit: what it
   * started in the background dies with it (a shell's children, nsenter's command).
   */
  processGroup?: boolean;
}

/** Runs a command and resolves with its exit code and output; never rejects. */
export function run(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunOutput> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], env: opts.env ?? process.env, detached: opts.processGroup === true });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    const timer = opts.timeoutMs
      ? setTimeout(() => {
          timedOut = true;
          if (opts.processGroup) killGroup(child.pid);
          else child.kill('SIGKILL');
        }, opts.timeoutMs)
      : undefined;
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      opts.onOutput?.(d.toString());
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      opts.onOutput?.(d.toString());
    });
    child.on('error', (e) => {
      if (timer) clearTimeout(timer);
      resolve({ code: 127, stdout, stderr: stderr + e.message });
    });
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      if (timedOut) {
        // Never an empty error: say which command hit which limit.
        const limit = `${Math.round(opts.timeoutMs! / 100) / 10} s`;
        const note = `\`${describe(cmd, args)}\` was killed after its time limit of ${limit}`;
        resolve({ code: 124, stdout, stderr: stderr ? `${stderr.trimEnd()}\n${note}` : note, timedOut: true });
        return;
      }
      resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr });
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(opts.input ?? '');
  });
}

function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}

/** A command line for a message: long arguments (scripts, keys) shortened to their first line. */
function describe(cmd: string, args: readonly string[]): string {
  return [cmd, ...args]
    .map((a) => {
      const first = a.split('\n')[0]!;
      return first.length > 80 ? `${first.slice(0, 77)}...` : first !== a ? `${first} ...` : a;
    })
    .join(' ');
}

/** Runs a command that must succeed; the error names the command and its last line of stderr. */
export async function runOk(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<Result<string>> {
  const r = await run(cmd, args, opts);
  if (r.code === 0) return ok(r.stdout);
  const why = lastLine(r.stderr) || lastLine(r.stdout) || `exit code ${r.code}`;
  return err(oshaError(`\`${[cmd, ...args].join(' ')}\` failed: ${why}`));
}

function lastLine(text: string): string {
  const lines = text.trim().split('\n');
  return (lines[lines.length - 1] ?? '').trim();
}

/** The absolute path of a command on $PATH, or undefined. */
export async function which(cmd: string): Promise<string | undefined> {
  const r = await run('sh', ['-c', 'command -v "$1"', 'which', cmd]);
  const path = r.stdout.trim();
  return r.code === 0 && path ? path : undefined;
}
