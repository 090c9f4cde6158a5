// Host replacement in the URLs and host lists found in OpenStack config files. Parsing is done
// by hand (not with WHATWG URL) because that would re-encode passwords, drop default ports and
// reject the multi-host URLs oslo.messaging uses (rabbit://u:p@h1:5672,u:p@h2:5672/). Only the
// host changes; user, password, port, path and query stay exactly as found.
import { isIP } from 'node:net';

export interface Netloc {
  /** `user:password` as found (not decoded), or undefined when there is no "@". */
  userinfo: string | undefined;
  host: string;
  /** The port text as found, without ":"; undefined when absent. */
  port: string | undefined;
}

export interface ServiceUrl {
  scheme: string;
  netlocs: Netloc[];
  /** Everything after the authority (path, query, fragment), as found. */
  rest: string;
}

export function parseServiceUrl(url: string): ServiceUrl | undefined {
  const m = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([\s\S]*)$/.exec(url);
  if (!m) return undefined;
  const after = m[2]!;
  const end = after.search(/[/?#]/);
  const authority = end < 0 ? after : after.slice(0, end);
  const rest = end < 0 ? '' : after.slice(end);
  const netlocs = authority === '' ? [] : authority.split(',').map(parseNetloc);
  return { scheme: m[1]!, netlocs, rest };
}

export function parseNetloc(text: string): Netloc {
  const at = text.lastIndexOf('@');
  const userinfo = at < 0 ? undefined : text.slice(0, at);
  return { userinfo, ...parseHostPort(text.slice(at + 1)) };
}

/** `host`, `host:port`, `[v6]` or `[v6]:port`; a bare IPv6 address is all host. */
export function parseHostPort(text: string): { host: string; port: string | undefined } {
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close > 0) {
      const tail = text.slice(close + 1);
      return { host: text.slice(1, close), port: tail.startsWith(':') ? tail.slice(1) : undefined };
    }
  }
  const colons = text.split(':').length - 1;
  if (colons === 1) {
    const i = text.indexOf(':');
    return { host: text.slice(0, i), port: text.slice(i + 1) };
  }
  return { host: text, port: undefined };
}

/** A host as it must appear in a URL or host:port: IPv6 in brackets. */
export function hostForUrl(host: string): string {
  return isIP(host) === 6 ? `[${host}]` : host;
}

export function formatNetloc(n: Netloc): string {
  const user = n.userinfo === undefined ? '' : `${n.userinfo}@`;
  const port = n.port === undefined ? '' : `:${n.port}`;
  return `${user}${hostForUrl(n.host)}${port}`;
}

export function formatServiceUrl(u: ServiceUrl): string {
  return `${u.scheme}://${u.netlocs.map(formatNetloc).join(',')}${u.rest}`;
}

export interface HostRewrite {
  value: string;
  /** Hosts that were not ours and were left as found. */
  foreign: string[];
  /** True when there was no host to rewrite (sqlite path, unix socket). */
  hostless: boolean;
}

export type HostTest = (host: string) => boolean;

/** Rewrites our hosts of one netloc list, then drops duplicates (several nodes become one VIP). */
function rewriteNetlocs(netlocs: Netloc[], ours: HostTest, target: string): { netlocs: Netloc[]; foreign: string[] } {
  const foreign: string[] = [];
  const seen = new Set<string>();
  const out: Netloc[] = [];
  for (const n of netlocs) {
    const next = n.host !== '' && ours(n.host) ? { ...n, host: target } : n;
    if (next === n && n.host !== '') foreign.push(n.host);
    const key = formatNetloc(next);
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(next);
  }
  return { netlocs: out, foreign };
}

/** Points every host of a URL that is ours at `target`; keeps everything else as found. */
export function rewriteUrlHosts(url: string, ours: HostTest, target: string): HostRewrite {
  const parsed = parseServiceUrl(url);
  if (!parsed) return { value: url, foreign: [], hostless: true };
  if (!parsed.netlocs.some((n) => n.host !== '')) return { value: url, foreign: [], hostless: true };
  const { netlocs, foreign } = rewriteNetlocs(parsed.netlocs, ours, target);
  if (foreign.length === parsed.netlocs.length) return { value: url, foreign, hostless: false };
  return { value: formatServiceUrl({ ...parsed, netlocs }), foreign, hostless: false };
}

/** A bare host value (bind_host, registry_host, rabbit_host, auth_host). */
export function rewriteBareHost(value: string, ours: HostTest, target: string): HostRewrite {
  if (value === '') return { value, foreign: [], hostless: true };
  return ours(value) ? { value: target, foreign: [], hostless: false } : { value, foreign: [value], hostless: false };
}

/**
 * A comma-separated list whose items are URLs or host[:port] (rabbit_hosts, api_servers,
 * glance_api_servers). Spacing around items is kept; duplicates after the rewrite are dropped.
 */
export function rewriteHostList(value: string, ours: HostTest, target: string): HostRewrite {
  const items = value.split(',');
  const foreign: string[] = [];
  const seen = new Set<string>();
  const out: string[] = [];
  let hostless = true;
  for (const raw of items) {
    const core = raw.trim();
    if (core === '') continue;
    const lead = raw.slice(0, raw.indexOf(core));
    const trail = raw.slice(raw.indexOf(core) + core.length);
    let next: string;
    if (core.includes('://')) {
      const r = rewriteUrlHosts(core, ours, target);
      foreign.push(...r.foreign);
      hostless &&= r.hostless;
      next = r.value;
    } else {
      const hp = parseHostPort(core);
      hostless = false;
      if (ours(hp.host)) next = formatNetloc({ userinfo: undefined, host: target, port: hp.port });
      else {
        foreign.push(hp.host);
        next = core;
      }
    }
    if (seen.has(next)) continue;
    seen.add(next);
    out.push(lead + next + trail);
  }
  const joined = out.join(',');
  return { value: joined === items.filter((i) => i.trim() !== '').join(',') ? value : joined, foreign, hostless };
}
