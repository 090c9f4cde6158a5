// Benchmark: 200 small commands on one host, over one reused ssh2 connection (osha's executor)
// versus a fresh `ssh` process per command. Against a throwaway sshd on 127.0.0.1 (needs root),
// or against the first node of an inventory (e.g. a lab's).
// Run: npx tsx bench/ssh-exec.ts [--inventory FILE] [count]
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { HostConnection } from '../src/ssh/connection.ts';
import { sharedSshd } from '../test/support/sshd.ts';
import { loadInventory, formatProblem } from '../src/inventory/load.ts';
import { targetsFor, type SshTarget } from '../src/ssh/target.ts';
import { runTeardowns } from '../test/support/teardown.ts';

const run = promisify(execFile);
const args = process.argv.slice(2);
const invIndex = args.indexOf('--inventory');
const inventoryFile = invIndex >= 0 ? args.splice(invIndex, 2)[1] : undefined;
const count = Number(args[0] ?? 200);

/** The host to measure: the first node of an inventory, or a throwaway local sshd. */
async function benchTarget(): Promise<SshTarget> {
  if (inventoryFile) {
    const inv = await loadInventory(inventoryFile);
    if (!inv.ok) throw new Error(inv.error.map(formatProblem).join('\n'));
    return { ...targetsFor(inv.value, inventoryFile)[0]!, agent: false };
  }
  const sshd = await sharedSshd();
  return {
    name: 'bench',
    host: '127.0.0.1',
    port: sshd.port,
    user: 'root',
    privateKey: sshd.clientKey,
    knownHosts: sshd.knownHosts,
    agent: false,
    sudo: { mode: 'none' as const },
    connectTimeoutMs: 5000,
    commandTimeoutMs: 30_000,
  };
}

async function main(): Promise<void> {
  const target = await benchTarget();
  let t = performance.now();
  const c = await HostConnection.open(target);
  if (!c.ok) throw new Error(c.error.message);
  const connectMs = performance.now() - t;
  t = performance.now();
  for (let i = 0; i < count; i++) {
    const r = await c.value.run(`echo ${i}`);
    if (!r.ok || r.value.stdout.trim() !== String(i)) throw new Error('wrong output');
  }
  const reusedMs = performance.now() - t;
  c.value.close();

  const sshArgs = ['-i', target.privateKey!, '-p', String(target.port), '-o', `UserKnownHostsFile=${target.knownHosts}`, '-o', 'StrictHostKeyChecking=yes', '-o', 'BatchMode=yes', '-F', '/dev/null', `${target.user}@${target.host}`];
  t = performance.now();
  for (let i = 0; i < count; i++) {
    const r = await run('ssh', [...sshArgs, `echo ${i}`]);
    if (r.stdout.trim() !== String(i)) throw new Error('wrong output');
  }
  const freshMs = performance.now() - t;

  const rate = (ms: number) => (count / (ms / 1000)).toFixed(1);
  console.log(`commands: ${count} x "echo N" on ${target.host} (OpenSSH sshd)`);
  console.log(`one reused connection (osha): ${rate(reusedMs)} commands/s (${reusedMs.toFixed(0)} ms total, +${connectMs.toFixed(0)} ms to connect once)`);
  console.log(`fresh ssh process each:       ${rate(freshMs)} commands/s (${freshMs.toFixed(0)} ms total)`);
  console.log(`speed-up: ${(freshMs / (reusedMs + connectMs)).toFixed(1)}x`);
}

main()
  .catch((e) => {
    console.error(e instanceof Error ? e.message : e);
    process.exitCode = 1;
  })
  .finally(() => runTeardowns());
