#!/usr/bin/env python3
"""A third-party remote network plugin cnmlab has never seen (for tests/test_causes.py), as Weave
or any vendor driver would be: it makes its own bridge `wv-<id6>` with the gateway address, a veth
pair `wvh<id6>`/`wvc<id6>` per Join (the host end on its bridge), and one FORWARD accept rule for
its bridge, with `ip` and `iptables` in the namespace it runs in. Nothing in cnmlab knows these names.

    own_bridge_plugin.py [--name weavish]
"""

import argparse
import json
import os
import socketserver
import subprocess
import sys
from http.server import BaseHTTPRequestHandler


def sh(*argv: str) -> None:
    subprocess.run(argv, capture_output=True, check=True)


class Plugin:
    def __init__(self):
        self.networks: dict[str, dict] = {}

    def call(self, path: str, body: dict) -> dict:
        nid, eid = body.get("NetworkID", ""), body.get("EndpointID", "")
        if path == "/Plugin.Activate":
            return {"Implements": ["NetworkDriver"]}
        if path == "/NetworkDriver.GetCapabilities":
            return {"Scope": "local", "ConnectivityScope": "local"}
        if path == "/NetworkDriver.CreateNetwork":
            bridge, gateway = "wv-" + nid[:6], (body.get("IPv4Data") or [{}])[0].get("Gateway")
            sh("ip", "link", "add", bridge, "type", "bridge")
            if gateway:
                sh("ip", "addr", "add", gateway, "dev", bridge)
            sh("ip", "link", "set", bridge, "up")
            sh("iptables", "-I", "FORWARD", "-i", bridge, "-o", bridge, "-j", "ACCEPT")
            self.networks[nid] = {"bridge": bridge, "gateway": gateway}
            return {}
        if path == "/NetworkDriver.DeleteNetwork":
            bridge = self.networks.pop(nid)["bridge"]
            subprocess.run(["iptables", "-D", "FORWARD", "-i", bridge, "-o", bridge, "-j", "ACCEPT"],
                           capture_output=True, check=False)
            sh("ip", "link", "del", bridge)
            return {}
        if path == "/NetworkDriver.Join":
            net = self.networks[nid]
            sh("ip", "link", "add", "wvh" + eid[:6], "type", "veth", "peer", "name", "wvc" + eid[:6])
            sh("ip", "link", "set", "wvh" + eid[:6], "master", net["bridge"], "up")
            reply = {"InterfaceName": {"SrcName": "wvc" + eid[:6], "DstPrefix": "eth"}}
            if net["gateway"]:
                reply["Gateway"] = net["gateway"].split("/")[0]
            return reply
        if path == "/NetworkDriver.Leave":
            subprocess.run(["ip", "link", "del", "wvh" + eid[:6]], capture_output=True, check=False)
            return {}
        if path in ("/NetworkDriver.CreateEndpoint", "/NetworkDriver.DeleteEndpoint"):
            return {"Interface": {}} if path.endswith("CreateEndpoint") else {}
        return {"Err": f"not implemented: {path}"}


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            reply = self.server.plugin.call(self.path, json.loads(raw) if raw.strip() else {})
        except (subprocess.CalledProcessError, KeyError) as exc:
            reply = {"Err": f"weavish: {exc}"}
        data = json.dumps(reply).encode()
        self.send_response(404 if reply.get("Err", "").startswith("not implemented") else 200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def address_string(self) -> str:
        return "unix"

    def log_message(self, format, *args) -> None:
        pass


class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--name", default="weavish")
    args = parser.parse_args()
    sock = f"/run/docker/plugins/{args.name}.sock"
    os.makedirs(os.path.dirname(sock), exist_ok=True)
    if os.path.exists(sock):
        os.unlink(sock)
    server = Server(sock, Handler)
    server.plugin = Plugin()
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
