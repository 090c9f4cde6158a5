// Wording shared by every message: counts with the right plural.

/** "1 problem", "2 problems"; `plural` for words that do not just take an s. */
export function count(n: number, singular: string, plural = `${singular}s`): string {
  return `${n} ${n === 1 ? singular : plural}`;
}
