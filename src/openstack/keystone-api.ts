// Keystone's REST API, called from a node (the operator's machine may not reach the VIP; the
// nodes do): one python3 process per read or per batch of changes, instead of one OpenStack
// client start (1.5-2 s each) per request. The program is a constant here rather than a file
// under playbooks/ because nothing is installed on the node: it travels on stdin with its input
// for one run and is gone. Secrets never reach a command line: the program reads the admin
// password from the node's 0600 file (OS_PASSWORD_FILE). A list reuses the token of an earlier run
// kept beside osha's other node state (KEYSTONE_TOKEN_FILE, 0600 root): a password login costs
// keystone a bcrypt hash, about 0.35 s of a no-op deploy's 0.8 s here.
import type { Inventory } from '../inventory/schema.ts';
import { sh } from '../ssh/quote.ts';
import { hostForUrl } from './url.ts';
import { describeEndpointOp, type EndpointOp } from './endpoints.ts';
import { err, ok, oshaError, type Result } from '../util/result.ts';

/** What the program needs to get a project-scoped token (no secret: the password stays in its file). */
export interface KeystoneAuth {
  url: string;
  username: string;
  project: string;
  user_domain: string;
  project_domain: string;
  password_file: string;
}

/** One REST call of a batch; label names it in progress lines and errors. */
export interface KeystoneCall {
  method: 'POST' | 'PATCH' | 'DELETE';
  /** Under the auth URL: /endpoints or /endpoints/ID. */
  path: string;
  body?: unknown;
  label: string;
}

/**
 * list: may use a saved token and, unless it is a dry run (which writes nothing on a node), saves
 * the one it gets. apply gets a fresh token and uses nothing saved: a token refused halfway through
 * a batch of changes could not simply be retried. list's wait: seconds to keep asking while
 * keystone does not answer at all (it may still be starting right after a run changed the
 * cluster); 0 or absent: fail at the first such answer.
 */
export type KeystoneRequest = { action: 'list'; saveToken: boolean; wait?: number } | { action: 'apply'; calls: KeystoneCall[] };

/**
 * Where the node keeps the token of the last list, with its expiry and whom it is for. It grants
 * no more than the admin password file beside it (also 0600 root) and lapses by itself (keystone's
 * default: an hour).
 */
export const KEYSTONE_TOKEN_FILE = '/var/lib/osha/keystone-token';

/**
 * The REST call for one operation. A create needs its service's id (by type, from the service
 * list): keystone cannot hold an endpoint of a service it does not know.
 */
export function endpointCall(op: EndpointOp, serviceIds: ReadonlyMap<string, string>): Result<KeystoneCall> {
  const label = describeEndpointOp(op);
  switch (op.kind) {
    case 'create': {
      const service = serviceIds.get(op.serviceType);
      if (!service) {
        return err(oshaError(`no ${op.serviceType} service in the keystone catalog: it must exist before osha can create its endpoints`, { fix: `create it (openstack service create ${op.serviceType}) as the install guide does, then deploy again` }));
      }
      return ok({ method: 'POST', path: '/endpoints', body: { endpoint: { service_id: service, interface: op.interface, region_id: op.region, url: op.url, enabled: true } }, label });
    }
    case 'update':
      return ok({ method: 'PATCH', path: `/endpoints/${encodeURIComponent(op.id)}`, body: { endpoint: { url: op.url, ...(op.enable ? { enabled: true } : {}) } }, label });
    case 'delete':
      return ok({ method: 'DELETE', path: `/endpoints/${encodeURIComponent(op.id)}`, label });
  }
}

/** A call as a dry run shows it: method, URL and body. */
export function showCall(auth: KeystoneAuth, c: KeystoneCall): string {
  return `${c.method} ${auth.url.replace(/\/+$/, '')}${c.path}${c.body === undefined ? '' : ` ${JSON.stringify(c.body)}`}`;
}

/**
 * Keystone at the auth URL itself, never through the catalog: during a first deploy the catalog
 * may still name a node's own address, and moving it is what this step does.
 */
export function keystoneAuth(inv: Inventory, passwordFile: string): KeystoneAuth {
  const os = inv.openstack!;
  return {
    url: os.auth_url ?? `http://${hostForUrl(inv.vip.address)}:5000/v3`,
    username: os.username,
    project: os.project,
    user_domain: os.user_domain,
    project_domain: os.project_domain,
    password_file: passwordFile,
  };
}

/** Exit status of the program when keystone did not answer at all (down, or not started yet). */
export const KEYSTONE_UNREACHABLE = 3;

/**
 * Reads {program, input} from stdin and runs the program: a short fixed command line, so a
 * --verbose log shows one line instead of the whole program.
 */
export const KEYSTONE_COMMAND = sh`python3 -c ${'import json,sys; d = json.load(sys.stdin); exec(compile(d["program"], "osha-keystone", "exec"), {"__name__": "__main__", "INPUT": d["input"]})'}`;

/** The stdin of KEYSTONE_COMMAND for one request. */
export function keystoneStdin(auth: KeystoneAuth, request: KeystoneRequest, tokenFile = KEYSTONE_TOKEN_FILE): string {
  return JSON.stringify({ program: KEYSTONE_PROGRAM, input: { auth, token_file: tokenFile, ...request } });
}

/**
 * list: prints {"endpoints": [...], "services": [...]} as keystone returns them; with a wait, asks
 * again every second while keystone does not answer, until the wait is over (reads only: changes
 * are never sent twice).
 * apply: makes the calls in order, printing "done: LABEL" after each; stops at the first failure
 * with a message naming it. Errors go to stderr: HTTP status and the start of the body, or that
 * keystone did not answer (exit KEYSTONE_UNREACHABLE).
 */
export const KEYSTONE_PROGRAM = String.raw`
import datetime, json, os, sys, time, urllib.error, urllib.request

TIMEOUT = 30
auth = INPUT["auth"]
base = auth["url"].rstrip("/")
# A saved token counts only for the same keystone, user and project.
IDENTITY = [base, auth["username"], auth["user_domain"], auth["project"], auth["project_domain"]]


class Failure(Exception):
    def __init__(self, message, code=1, status=None):
        super().__init__(message)
        self.code = code
        self.status = status


def call(method, path, body=None, token=None):
    url = base + path
    headers = {"Accept": "application/json"}
    if token:
        headers["X-Auth-Token"] = token
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    req = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(req, timeout=TIMEOUT) as resp:
            text = resp.read().decode("utf-8", "replace")
            return resp.headers, (json.loads(text) if text.strip() else None)
    except urllib.error.HTTPError as e:
        text = e.read().decode("utf-8", "replace")
        raise Failure("%s %s: HTTP %d %s: %s" % (method, url, e.code, e.reason, text[:300]), status=e.code)
    except (urllib.error.URLError, OSError) as e:
        reason = getattr(e, "reason", e)
        raise Failure("keystone at %s did not answer (%s %s: %s)" % (base, method, url, reason), ${KEYSTONE_UNREACHABLE})
    except ValueError:
        raise Failure("%s %s: the answer is not JSON" % (method, url))


def token():
    with open(auth["password_file"]) as f:
        password = f.read().rstrip("\n")
    body = {"auth": {
        "identity": {"methods": ["password"], "password": {"user": {
            "name": auth["username"], "domain": {"name": auth["user_domain"]}, "password": password}}},
        "scope": {"project": {"name": auth["project"], "domain": {"name": auth["project_domain"]}}},
    }}
    # nocatalog: the catalog is what may be wrong; the token is all this needs.
    headers, doc = call("POST", "/auth/tokens?nocatalog", body)
    value = headers.get("X-Subject-Token")
    if not value:
        raise Failure("POST %s/auth/tokens: no X-Subject-Token in the answer" % base)
    return value, expiry(doc)


def expiry(doc):
    # Seconds since the epoch, from the token's expires_at; 0 (never reused) when it has none.
    try:
        text = doc["token"]["expires_at"].replace("Z", "+00:00")
        return datetime.datetime.fromisoformat(text).timestamp()
    except (TypeError, KeyError, AttributeError, ValueError):
        return 0


def saved_token():
    # The token an earlier list saved, when it is for this identity and has a minute left.
    try:
        with open(INPUT["token_file"]) as f:
            saved = json.load(f)
        if saved["identity"] == IDENTITY and float(saved["expires"]) > time.time() + 60:
            return saved["token"]
    except (OSError, ValueError, TypeError, KeyError):
        pass
    return None


def save_token(value, expires):
    # Written whole (temp file, then rename) and 0600 from the start. Only a cache: a failure to
    # write it costs the next run a login, nothing else.
    path = INPUT["token_file"]
    temp = "%s.%d.tmp" % (path, os.getpid())
    try:
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump({"identity": IDENTITY, "expires": expires, "token": value}, f)
        os.replace(temp, path)
    except OSError:
        try:
            os.unlink(temp)
        except OSError:
            pass


def listing(tok, path, key):
    _, doc = call("GET", path, token=tok)
    if not isinstance(doc, dict) or not isinstance(doc.get(key), list):
        raise Failure("GET %s%s: no %s list in the answer" % (base, path, key))
    return doc[key]


def apply(tok, calls):
    for n, c in enumerate(calls, 1):
        try:
            call(c["method"], c["path"], c.get("body"), tok)
        except Failure as e:
            raise Failure("change %d of %d failed (%s): %s" % (n, len(calls), c["label"], e), e.code)
        print("done: " + c["label"], flush=True)


def catalog(tok):
    return {"endpoints": listing(tok, "/endpoints", "endpoints"),
            "services": listing(tok, "/services", "services")}


def list_catalog():
    tok = saved_token()
    if tok:
        try:
            return catalog(tok)
        except Failure as e:
            if e.status != 401:
                raise
            # Revoked or expired early (a password change, rotated keys): log in again.
    tok, expires = token()
    result = catalog(tok)
    if INPUT["saveToken"]:
        save_token(tok, expires)
    return result


def list_waiting():
    deadline = time.monotonic() + float(INPUT.get("wait") or 0)
    started, asked = time.monotonic(), 0
    while True:
        asked += 1
        try:
            return list_catalog()
        except Failure as e:
            if e.code != ${KEYSTONE_UNREACHABLE} or time.monotonic() + 1 >= deadline:
                if asked == 1:
                    raise
                raise Failure("%s (asked %d times over %d s)" % (e, asked, time.monotonic() - started), e.code, e.status)
        time.sleep(1)


def main():
    try:
        if INPUT["action"] == "list":
            json.dump(list_waiting(), sys.stdout)
        else:
            apply(token()[0], INPUT["calls"])
    except Failure as e:
        print(e, file=sys.stderr)
        sys.exit(e.code)
    except OSError as e:
        print("cannot read the admin password: %s" % e, file=sys.stderr)
        sys.exit(1)


main()
`;
