// The lab's host command runner at its time limit, on this host's own sh and sleep. No root needed.
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { run } from '../../src/lab/exec.ts';

/** Alive: the process exists and is not a zombie waiting to be reaped. */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

async function until(check: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (check()) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return check();
}

describe('lab exec: run() at its time limit', function () {
  this.timeout(30_000);
  // The shell prints the PID of the sleep it started in the background, then waits for it.
  const SCRIPT = 'sleep 60 >/dev/null 2>&1 & echo $!; wait';
  const started: number[] = [];

  afterEach(() => {
    for (const pid of started.splice(0)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
  });

  it('kills the command and says which command hit which limit (exit 124)', async () => {
    const r = await run('sh', ['-c', SCRIPT], { timeoutMs: 300 });
    started.push(Number(r.stdout.trim()));
    expect(r.code).to.equal(124);
    expect(r.timedOut).to.equal(true);
    expect(r.stderr).to.equal('`sh -c sleep 60 >/dev/null 2>&1 & echo $!; wait` was killed after its time limit of 0.3 s');
    // Only the shell was killed: what it started in the background runs on.
    expect(alive(started[0]!)).to.equal(true);
  });

  it('with processGroup, kills what the command started in the background as well', async () => {
    const r = await run('sh', ['-c', SCRIPT], { timeoutMs: 300, processGroup: true });
    const pid = Number(r.stdout.trim());
    started.push(pid);
    expect(r.code).to.equal(124);
    expect(pid).to.be.above(1);
    expect(await until(() => !alive(pid), 5000)).to.equal(true);
  });
});
