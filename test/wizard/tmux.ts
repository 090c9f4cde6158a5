// Drives a real terminal program in tmux: a private tmux server (its own socket), a detached
// session of fixed size, keys sent as a person would type them, the screen read back with
// capture-pane. Waits poll the screen until the expected text shows up (bounded), never sleep
// a fixed time.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const exec = promisify(execFile);

export class Tmux {
  private constructor(
    private readonly socket: string,
    private readonly name: string,
  ) {}

  /** Starts `argv` in a new 160x50 session; the pane stays after the program exits. */
  static async start(argv: string[], opts: { cwd: string; env: Record<string, string> }): Promise<Tmux> {
    const socket = `osha-test-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
    const t = new Tmux(socket, 'wizard');
    const env = Object.entries(opts.env).flatMap(([k, v]) => ['-e', `${k}=${v}`]);
    // The exit status is printed by the wrapping shell: tmux's own #{pane_dead_status} can lag
    // behind the pane's death for seconds on a loaded machine.
    const command = `${argv.map(shellQuote).join(' ')}; echo "${EXIT_MARK}$?]"`;
    await t.tmux('-f', '/dev/null', 'new-session', '-d', '-s', t.name, '-x', '160', '-y', '50', '-c', opts.cwd, ...env, command,
      // In the same tmux call: keep the pane after exit, so the last words can still be read.
      ';', 'set-option', '-t', t.name, 'remain-on-exit', 'on');
    return t;
  }

  private tmux(...args: string[]) {
    return exec('tmux', ['-L', this.socket, ...args]);
  }

  /** Types text literally (no key names), then optionally presses Enter. */
  async type(text: string, enter = true): Promise<void> {
    if (text) await this.tmux('send-keys', '-t', this.name, '-l', text);
    if (enter) await this.key('Enter');
  }

  /** Presses named keys: Enter, Down, Space, C-c, C-u, ... */
  async key(...keys: string[]): Promise<void> {
    await this.tmux('send-keys', '-t', this.name, ...keys);
  }

  /** The whole screen including scrollback, lines joined where the terminal wrapped them. */
  async screen(): Promise<string> {
    const { stdout } = await this.tmux('capture-pane', '-p', '-J', '-S', '-', '-t', this.name);
    return stdout;
  }

  /** Waits until `what` appears on screen (after `from` characters); returns the screen. */
  async waitFor(what: string | RegExp, timeoutMs = 15_000, from = 0): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    let last = '';
    while (Date.now() < deadline) {
      last = await this.screen();
      const tail = last.slice(from);
      if (typeof what === 'string' ? tail.includes(what) : what.test(tail)) return last;
      if (await this.exitStatus() !== undefined) {
        last = await this.screen();
        const finalTail = last.slice(from);
        if (typeof what === 'string' ? finalTail.includes(what) : what.test(finalTail)) return last;
        throw new Error(`program exited before showing ${String(what)}; screen:\n${last}`);
      }
      await new Promise((r) => setTimeout(r, 40));
    }
    throw new Error(`timed out after ${timeoutMs} ms waiting for ${String(what)}; screen:\n${last}`);
  }

  /** Waits for `what` at or after the last line of `before` (the prompt being redrawn). */
  async waitForNew(what: string | RegExp, before: string, timeoutMs = 15_000): Promise<string> {
    return this.waitFor(what, timeoutMs, before.trimEnd().lastIndexOf('\n') + 1);
  }

  /** The program's exit status once it has exited, else undefined. */
  async exitStatus(): Promise<number | undefined> {
    const m = (await this.screen()).match(EXIT_RE);
    return m ? Number(m[1]) : undefined;
  }

  async waitExit(timeoutMs = 15_000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const s = await this.exitStatus();
      if (s !== undefined) return s;
      await new Promise((r) => setTimeout(r, 40));
    }
    throw new Error(`program still running after ${timeoutMs} ms; screen:\n${(await this.screen()).trimEnd()}`);
  }

  /** Ends the session and this test's private tmux server (and so the program in it). */
  async kill(): Promise<void> {
    await this.tmux('kill-server').catch(() => {});
  }
}

const EXIT_MARK = '[osha-test exit ';
const EXIT_RE = /\[osha-test exit (\d+)\]/;

function shellQuote(s: string): string {
  return /^[A-Za-z0-9_./=:-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}
