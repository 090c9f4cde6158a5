// What a running corosync reports about its loaded configuration (`corosync-cmapctl`).

/** `corosync-cmapctl` output (`key (type) = value` lines) in parseCorosyncConf's key form. */
export function parseCmap(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^(\S+) \([a-z0-9]+\) = (.*)$/.exec(line.trim());
    if (m) out.set(m[1]!.replace(/\.(node|interface)\.(\d+)\./g, '.$1[$2].'), m[2]!);
  }
  return out;
}
