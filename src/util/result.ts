// Errors are values: functions that can fail for a reason a human should read return a Result.
// The CLI decides how to print the error; nothing below it calls process.exit or console.error.

export type Result<T, E = OshaError> = { ok: true; value: T } | { ok: false; error: E };

export const ok = <T>(value: T): Result<T, never> => ({ ok: true, value });
export const err = <E>(error: E): Result<never, E> => ({ ok: false, error });

/** A failure meant for a human: what went wrong and, when we know it, how to fix it. */
export interface OshaError {
  message: string;
  /** Which host the error happened on, when there is one. */
  host?: string;
  /** A hint that tells the operator what to do next. */
  fix?: string;
}

export function oshaError(message: string, extra: Omit<OshaError, 'message'> = {}): OshaError {
  return { message, ...extra };
}

/** Human text for an error: the message, then the fix on its own line. */
export function describeError(e: OshaError): string {
  const where = e.host ? `${e.host}: ` : '';
  return e.fix ? `${where}${e.message}\n  fix: ${e.fix}` : `${where}${e.message}`;
}

/** Turns anything thrown (an Error, a string, a library's object) into one line of text. */
export function messageOf(thrown: unknown): string {
  if (thrown instanceof Error) return thrown.message;
  return String(thrown);
}
