// Runs host commands for the lab: argv arrays only (no shell), output captured, failures as values.
import { spawn } from 'node:child_process';
import { err, ok, oshaError, type Result } from '../util/result.ts';

export interface RunOutput {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  /** Text fed to stdin. */
  input?: string;
  /** Kill the command after this many milliseconds. */
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
  /** Called with each chunk of output, for long builds that show progress. */
  onOutput?: (chunk: string) => void;
}

/** Runs a command and resolves with its exit code and output; never rejects. */
export function run(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunOutput> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], env: opts.env ?? process.env });
    let stdout = '';
    let stderr = '';
    const timer = opts.timeoutMs ? setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs) : undefined;
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
      resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr });
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(opts.input ?? '');
  });
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
