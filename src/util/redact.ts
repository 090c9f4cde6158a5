// Redaction: every secret osha reads is registered here, and every line osha prints or logs
// passes through `redactor.scrub` so that a secret never appears in output.

class Redactor {
  private secrets = new Set<string>();

  add(secret: string): void {
    // Very short values would blank out ordinary words; secrets that short are refused elsewhere.
    if (secret.length >= 4) this.secrets.add(secret);
  }

  scrub(text: string): string {
    let out = text;
    for (const s of this.secrets) out = out.split(s).join('***');
    return out;
  }
}

export const redactor = new Redactor();
