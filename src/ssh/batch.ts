// Several commands in one exec: each still runs in a shell of its own (a subshell), all at once as
// separate channels would, and each gets back its own exit status, stdout and stderr, byte for byte.
// On a node every exec costs an sshd session and a login shell: where a step reads five facts at
// once, one exec instead of five saves most of that. Pure: the script, and the reading of its output.

/** Printed before the data; the header above it is ASCII, the data after it raw bytes. */
const DATA_MARK = '@osha-batch-data';
const HEADER_MARK = '@osha-batch';
/** The script's own variables: names no command of osha's uses (the commands see them). */
export const BATCH_DIR_VAR = 'osha_batch_dir';
const DIR = BATCH_DIR_VAR;
const CODES = 'osha_batch_codes';
const PID = 'osha_batch_pid';

/**
 * The script running `commands` in parallel, each in a subshell with stdin from /dev/null (an
 * exec's stdin is closed at once), its output kept in a private temp dir. Afterwards it prints a
 * header (each exit status, from `wait`, then each stdout and stderr size, from one stat) and then
 * every output, concatenated. `exit` in a command ends only its own subshell. Processes matter on
 * a busy node (each fork and exec costs milliseconds): one fork per command, four execs in all.
 */
export function batchScript(commands: readonly string[]): string {
  const runs = commands.map((c, i) => `(\n${c}\n) >"$${DIR}/${i}" 2>"$${DIR}/${i}e" </dev/null & ${PID}${i}=$!`);
  const files = commands.flatMap((_, i) => [`"$${DIR}/${i}"`, `"$${DIR}/${i}e"`]).join(' ');
  // `wait PID` gives that job's exit status, also when it ended before the wait.
  const codes = commands.map((_, i) => `wait "$${PID}${i}"; ${CODES}="$${CODES} $?"`);
  return [
    `${DIR}=$(mktemp -d) || exit 97`,
    `trap 'rm -rf "$${DIR}"' EXIT`,
    ...runs,
    `${CODES}=`,
    ...codes,
    `echo ${HEADER_MARK}$${CODES}`,
    `stat -c %s ${files} || exit 97`,
    `echo ${DATA_MARK}`,
    `cat ${files}`,
  ].join('\n');
}

export interface BatchPart {
  code: number;
  stdout: Buffer;
  stderr: Buffer;
}

/** Pure: the parts of batchScript's output, in the order of its commands; undefined when it is not whole. */
export function splitBatch(output: Buffer, n: number): BatchPart[] | undefined {
  const mark = Buffer.from(`\n${DATA_MARK}\n`);
  const at = output.indexOf(mark);
  if (at < 0) return undefined;
  const header = output.subarray(0, at).toString('latin1').split('\n');
  const codesLine = header.findIndex((l) => l.startsWith(`${HEADER_MARK} `));
  if (codesLine < 0) return undefined;
  const codes = header[codesLine]!.slice(HEADER_MARK.length + 1).split(' ').map(Number);
  const sizes = header.slice(codesLine + 1).map(Number);
  if (codes.length !== n || sizes.length !== 2 * n || [...codes, ...sizes].some((x) => !Number.isInteger(x) || x < 0)) return undefined;
  let offset = at + mark.length;
  if (output.length - offset !== sizes.reduce((a, b) => a + b, 0)) return undefined;
  const take = (size: number) => {
    const b = output.subarray(offset, offset + size);
    offset += size;
    return b;
  };
  return codes.map((code) => ({ code, stdout: take(sizes.shift()!), stderr: take(sizes.shift()!) }));
}
