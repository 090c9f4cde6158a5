// The batch of reads (src/ssh/batch.ts), run by this host's own sh: outputs split back byte for byte.
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { batchScript, splitBatch } from '../../src/ssh/batch.ts';

const runSh = (script: string) => spawnSync('sh', ['-c', script], { maxBuffer: 16 * 1024 * 1024 }).stdout;

describe('batch of commands in one exec', () => {
  it('gives each command its own exit status, stdout and stderr, binary and empty ones included', () => {
    const out = runSh(batchScript(['printf "a\\0b"', 'echo err >&2; exit 7', 'true', 'exit 44; echo never', 'cat; echo "[$?]"']));
    expect(splitBatch(out, 5)).to.deep.equal([
      { code: 0, stdout: Buffer.from('a\0b'), stderr: Buffer.alloc(0) },
      { code: 7, stdout: Buffer.alloc(0), stderr: Buffer.from('err\n') },
      { code: 0, stdout: Buffer.alloc(0), stderr: Buffer.alloc(0) },
      { code: 44, stdout: Buffer.alloc(0), stderr: Buffer.alloc(0) },
      // stdin is /dev/null: a command that reads it ends at once, as in an exec of its own.
      { code: 0, stdout: Buffer.from('[0]\n'), stderr: Buffer.alloc(0) },
    ]);
  });

  it('runs the commands at the same time, as separate execs would', () => {
    const started = Date.now();
    const out = runSh(batchScript(['sleep 1; echo a', 'sleep 1; echo b', 'sleep 1; echo c']));
    // One after the other they would take 3 s.
    expect(Date.now() - started).to.be.below(2500);
    expect(splitBatch(out, 3)?.map((p) => p.stdout.toString())).to.deep.equal(['a\n', 'b\n', 'c\n']);
  });

  it('reads nothing from an output that is cut short, lacks its header, or has another count', () => {
    const out = runSh(batchScript(['echo one', 'echo two']));
    expect(splitBatch(out, 2)).to.not.equal(undefined);
    expect(splitBatch(out.subarray(0, out.length - 1), 2)).to.equal(undefined);
    expect(splitBatch(Buffer.concat([out, Buffer.from('x')]), 2)).to.equal(undefined);
    expect(splitBatch(out, 3)).to.equal(undefined);
    expect(splitBatch(Buffer.from('no batch here\n'), 2)).to.equal(undefined);
  });
});
