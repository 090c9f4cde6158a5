// Shell quoting: every value that reaches a remote shell goes through here, so that an inventory
// value can never become shell syntax. `sh` is a tagged template that quotes what it interpolates.

/** Quotes one word for POSIX sh: plain words stay readable, everything else is single-quoted. */
export function quote(value: string | number): string {
  const s = String(value);
  if (s !== '' && /^[A-Za-z0-9_@%+=:,./-]+$/.test(s)) return s;
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** A piece of shell text that is already safe and must not be quoted again. */
export class ShellText {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

/** Marks trusted shell syntax (written by osha, never from an inventory) for use inside `sh`. */
export const raw = (text: string): ShellText => new ShellText(text);

type Interpolated = string | number | ShellText | readonly (string | number | ShellText)[];

/**
 * Builds a command line: the template's literal text is trusted shell, interpolated values are
 * quoted (arrays become several quoted words), ShellText is inserted as is.
 *   sh`install -m ${mode} ${src} ${dst}`
 */
export function sh(strings: TemplateStringsArray, ...values: Interpolated[]): string {
  let out = strings[0] ?? '';
  values.forEach((v, i) => {
    out += render(v) + (strings[i + 1] ?? '');
  });
  return out;
}

function render(v: Interpolated): string {
  if (v instanceof ShellText) return v.text;
  if (Array.isArray(v)) return v.map((x) => render(x as Interpolated)).join(' ');
  return quote(v as string | number);
}
