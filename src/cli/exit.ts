// The exit codes every osha command uses.
export const EXIT = {
  ok: 0,
  /** A step failed on at least one host. */
  failed: 1,
  /** Bad input: an invalid inventory, an unknown option, a missing file. */
  usage: 2,
  /** Interrupted with Ctrl-C (128 + SIGINT). */
  interrupted: 130,
} as const;
