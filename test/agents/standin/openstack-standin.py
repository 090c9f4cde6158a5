#!/usr/bin/python3
"""STAND-IN for an OpenStack daemon, used only by osha's agent tests (never deployed).

It accepts the command lines the agents build (daemon style: --config-file=F --log-file=L;
uwsgi style: --http-socket ADDR:PORT --ini F [--pyargv "--config-file=F"]) and behaves as the
JSON "config file" says, re-read on every request so a test can change it while it runs:

  mode        "healthy" | "unhealthy" (/healthcheck answers 503) | "die" (exit at launch) |
              "hang" (/healthcheck answers after 60 s)
  port        port to serve HTTP on (daemon style; uwsgi style takes it from --http-socket)
  listen      false: serve no HTTP at all (RPC workers)
  amqp_port   when set, hold a TCP connection to 127.0.0.1:amqp_port (a broker stand-in)
  user, password, project_id, token
              what POST /v3/auth/tokens accepts and returns (201 + X-Subject-Token)
  token_delay seconds to wait before answering a token request
  ignore_term true: ignore SIGTERM, so that only SIGKILL ends it
  workers     number of forked worker processes (same process group)
  services    list returned by the service-list endpoints
  token_status  when set, every token request is answered with this HTTP status (401, 403...)
  api_status    when set, every authenticated GET is answered with this HTTP status (403, 500...)
"""
import json
import os
import signal
import socket
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def parse_args(argv):
    opts = {"configs": [], "http_socket": None}
    i = 0
    while i < len(argv):
        a = argv[i]
        if a.startswith("--config-file="):
            opts["configs"].append(a.split("=", 1)[1])
        elif a == "--http-socket":
            i += 1
            opts["http_socket"] = argv[i]
        elif a == "--pyargv":
            i += 1
            opts["configs"] += [w.split("=", 1)[1] for w in argv[i].split() if w.startswith("--config-file=")]
        elif a == "--ini":
            i += 1
        i += 1
    env_files = os.environ.get("OS_KEYSTONE_CONFIG_FILES")
    if env_files:
        opts["configs"] += [f for f in env_files.split(";") if f]
    nova_dir = os.environ.get("OS_NOVA_CONFIG_DIR")
    if nova_dir:
        names = os.environ.get("OS_NOVA_CONFIG_FILES", "nova.conf").split(";")
        opts["configs"] += [os.path.join(nova_dir, n) for n in names if n.endswith(".conf")]
    # placement's WSGI script reads placement.conf from this directory.
    placement_dir = os.environ.get("OS_PLACEMENT_CONFIG_DIR")
    if placement_dir:
        opts["configs"].append(os.path.join(placement_dir, "placement.conf"))
    return opts


OPTS = parse_args(sys.argv[1:])
if not OPTS["configs"]:
    sys.stderr.write("stand-in: no configuration file given\n")
    sys.exit(2)
CONFIG = OPTS["configs"][0]


def cfg():
    with open(CONFIG) as f:
        return json.load(f)


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def reply(self, code, body=b"", headers=None):
        self.send_response(code)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        c = cfg()
        if self.path == "/healthcheck":
            if c.get("mode") == "hang":
                time.sleep(60)
            if c.get("mode") == "unhealthy":
                return self.reply(503, b"DISABLED BY STAND-IN")
            return self.reply(200, b"OK")
        if self.path == "/":
            return self.reply(200, b'{"versions": []}')
        if self.headers.get("X-Auth-Token") != c.get("token"):
            return self.reply(401, b"{}")
        if c.get("api_status"):
            return self.reply(int(c["api_status"]), b"{}")
        body = {"images": [], "services": c.get("services", []), "agents": c.get("services", [])}
        return self.reply(200, json.dumps(body).encode())

    def do_POST(self):
        c = cfg()
        length = int(self.headers.get("Content-Length", "0"))
        raw = self.rfile.read(length)
        if not self.path.startswith("/v3/auth/tokens"):
            return self.reply(404)
        time.sleep(float(c.get("token_delay", 0)))
        if c.get("token_status"):
            return self.reply(int(c["token_status"]), b'{"error": {}}')
        try:
            user = json.loads(raw)["auth"]["identity"]["password"]["user"]
        except (ValueError, KeyError):
            return self.reply(400)
        if user.get("name") != c.get("user") or user.get("password") != c.get("password"):
            return self.reply(401, b'{"error": {"code": 401}}')
        body = {"token": {"project": {"id": c.get("project_id", "p1"), "name": "admin"}}}
        return self.reply(201, json.dumps(body).encode(), {"X-Subject-Token": c.get("token", "t")})


def main():
    c = cfg()
    sys.stderr.write("stand-in: started with %s\n" % CONFIG)
    sys.stderr.flush()
    if c.get("mode") == "die":
        sys.stderr.write("stand-in: configured to die at launch\n")
        sys.exit(1)
    if c.get("ignore_term"):
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    for _ in range(int(c.get("workers", 0))):
        if os.fork() == 0:
            while True:
                time.sleep(3600)
    broker = None
    if c.get("amqp_port"):
        broker = socket.create_connection(("127.0.0.1", int(c["amqp_port"])), timeout=5)
    if c.get("listen", True) is False:
        while True:
            time.sleep(3600)
    if OPTS["http_socket"]:
        host, _, port = OPTS["http_socket"].rpartition(":")
        addr = (host or "0.0.0.0", int(port))
    else:
        addr = ("127.0.0.1", int(c["port"]))
    ThreadingHTTPServer(addr, Handler).serve_forever()
    del broker


main()
