#!/usr/bin/env python3
"""A remote network plugin that misbehaves on purpose (for tests/test_remote_faults.py).

    fault_plugin.py --name NAME --fault FAULT [--once] --log FILE

FAULT: malformed  CreateNetwork answers broken JSON
       missing    Join answers without InterfaceName (a required field)
       hang       Join never answers
       die        the process exits in the middle of Join, without answering
       err        CreateEndpoint answers {"Err": "switch port 7 is broken"}
       notplugin  the socket is no plugin at all: it sends an SSH banner and hangs up
With --once the fault happens on the first Join only; later Joins work (a veth made with `ip`).
Every call's path is appended to --log, so a test can see the rollback calls.
"""

import argparse
import json
import os
import socketserver
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler

ERR = "switch port 7 is broken"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--name", required=True)
    parser.add_argument("--fault", required=True)
    parser.add_argument("--once", action="store_true")
    parser.add_argument("--log", required=True)
    args = parser.parse_args()
    sock = f"/run/docker/plugins/{args.name}.sock"
    joins = []
    lock = threading.Lock()

    def note(path: str) -> None:
        with lock, open(args.log, "a") as f:
            f.write(path + "\n")

    class NotPlugin(socketserver.StreamRequestHandler):
        def handle(self):
            self.rfile.readline()
            self.wfile.write(b"SSH-2.0-OpenSSH_9.2\r\n")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            body = json.loads(raw) if raw.strip() else {}
            note(self.path)
            call = self.path.rsplit(".", 1)[-1]
            reply = {}
            if self.path == "/Plugin.Activate":
                reply = {"Implements": ["NetworkDriver"]}
            elif call == "GetCapabilities":
                reply = {"Scope": "local", "ConnectivityScope": "local"}
            elif call == "CreateNetwork" and args.fault == "malformed":
                return self._raw(b'{"Err": ')
            elif call == "CreateEndpoint" and args.fault == "err":
                reply = {"Err": ERR}
            elif call == "Join":
                joins.append(body["EndpointID"])
                if not args.once or len(joins) == 1:
                    if args.fault == "missing":
                        reply = {"Gateway": ""}
                    elif args.fault == "hang":
                        time.sleep(3600)
                    elif args.fault == "die":
                        os._exit(3)
                if not reply:
                    veth, peer = "fv" + body["EndpointID"][:8], "fp" + body["EndpointID"][:8]
                    subprocess.run(["ip", "link", "add", veth, "type", "veth", "peer", "name", peer], check=True)
                    subprocess.run(["ip", "link", "set", veth, "up"], check=True)
                    reply = {"InterfaceName": {"SrcName": peer, "DstPrefix": "eth"}}
            elif call == "Leave":
                subprocess.run(["ip", "link", "del", "fv" + body["EndpointID"][:8]], capture_output=True, check=False)
            elif call not in ("CreateNetwork", "DeleteNetwork", "CreateEndpoint", "DeleteEndpoint",
                              "EndpointOperInfo"):
                return self._raw(b"404 page not found", 404)
            self._raw(json.dumps(reply).encode())

        def _raw(self, data: bytes, code: int = 200) -> None:
            self.send_response(code)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def address_string(self):
            return "unix"

        def log_message(self, *args):
            pass

    class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
        daemon_threads = True

    os.makedirs(os.path.dirname(sock), exist_ok=True)
    server = Server(sock, NotPlugin if args.fault == "notplugin" else Handler)
    print(f"fault plugin {args.name} ({args.fault}) on {sock}", file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    finally:
        os.unlink(sock)
    return 0


if __name__ == "__main__":
    sys.exit(main())
