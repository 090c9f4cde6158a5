// SSH defaults that `--help` shows, apart from session.ts so that printing help loads no ssh2.
/** Hosts worked on at once. */
export const DEFAULT_CONCURRENCY = 16;
