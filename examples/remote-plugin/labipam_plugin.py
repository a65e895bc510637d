#!/usr/bin/env python3
"""labipam: a Docker remote IPAM plugin written against the protocol alone (libnetwork docs/ipam.md).

An HTTP server on /run/docker/plugins/NAME.sock (stdlib only) answering /IpamDriver.* calls.
It chooses differently from Docker's default IPAM, so a student can see who decided:
pools without --subnet come from 10.200.0.0/16 in /24s (lowest free first), and containers
get the HIGHEST free address (.254, .253 ...), the gateway the first (.1). Failures are
{"Error": "..."}, which the engine shows as they are. Start it inside the lab world:

    cnmlab plugin run -- python3 examples/remote-plugin/labipam_plugin.py
    cnmlab network create --ipam-driver labipam ipnet        # any network driver
"""

import argparse
import ipaddress
import json
import os
import signal
import socketserver
import sys
import threading
from http.server import BaseHTTPRequestHandler

PLUGIN_DIR = "/run/docker/plugins"
SPACE = "labipam-local"
DEFAULTS = list(ipaddress.ip_network("10.200.0.0/16").subnets(new_prefix=24))
GATEWAY = "com.docker.network.gateway"


class IpamError(Exception):
    """Becomes {"Error": message}."""


class LabIpam:
    def __init__(self) -> None:
        self.pools: dict[str, dict] = {}  # pool id -> {"net", "range", "used", "refs"}
        self.lock = threading.Lock()

    def activate(self, body):
        return {"Implements": ["IpamDriver"]}

    def get_capabilities(self, body):
        return {"RequiresMACAddress": False}

    def get_default_address_spaces(self, body):
        return {"LocalDefaultAddressSpace": SPACE, "GlobalDefaultAddressSpace": SPACE + "-global"}

    def request_pool(self, body):
        if body.get("V6"):
            raise IpamError("labipam: no IPv6 pools")
        if body.get("SubPool") and not body.get("Pool"):
            raise IpamError("labipam: a SubPool needs a Pool")
        if body.get("Pool"):
            net = ipaddress.ip_network(body["Pool"], strict=False)
        else:
            taken = [p["net"] for p in self.pools.values()]
            free = [n for n in DEFAULTS if not any(n.overlaps(t) for t in taken)]
            if not free:
                raise IpamError("labipam: all default pools are in use")
            net = free[0]
        pool_id = f"{body.get('AddressSpace') or SPACE}/{net}"
        pool = self.pools.setdefault(pool_id, {"net": net, "used": set(), "refs": 0,
                                               "range": ipaddress.ip_network(body.get("SubPool") or net)})
        pool["refs"] += 1  # identical requests get the same pool, counted (docs/ipam.md)
        return {"PoolID": pool_id, "Pool": str(net), "Data": {}}

    def release_pool(self, body):
        pool = self._pool(body)
        pool["refs"] -= 1
        if pool["refs"] <= 0:
            del self.pools[body["PoolID"]]
        return {}

    def request_address(self, body):
        pool = self._pool(body)
        net = pool["net"]
        if body.get("Address"):
            addr = ipaddress.ip_address(body["Address"])
            if addr not in net:
                raise IpamError(f"labipam: {addr} is not in {net}")
            if addr in pool["used"]:
                raise IpamError(f"labipam: address {addr} already in use")
        else:
            hosts = list(pool["range"].hosts())
            gateway = (body.get("Options") or {}).get("RequestAddressType") == GATEWAY
            free = [h for h in (hosts if gateway else reversed(hosts)) if h not in pool["used"]]
            if not free:
                raise IpamError(f"labipam: no free address in {pool['range']}")
            addr = free[0]
        pool["used"].add(addr)
        return {"Address": f"{addr}/{net.prefixlen}", "Data": {}}

    def release_address(self, body):
        self._pool(body)["used"].discard(ipaddress.ip_address(body["Address"]))
        return {}

    def _pool(self, body) -> dict:
        pool = self.pools.get(body.get("PoolID"))
        if pool is None:
            raise IpamError(f"labipam: no pool {body.get('PoolID')!r}")
        return pool


CALLS = {
    "/Plugin.Activate": "activate",
    "/IpamDriver.GetCapabilities": "get_capabilities",
    "/IpamDriver.GetDefaultAddressSpaces": "get_default_address_spaces",
    "/IpamDriver.RequestPool": "request_pool",
    "/IpamDriver.ReleasePool": "release_pool",
    "/IpamDriver.RequestAddress": "request_address",
    "/IpamDriver.ReleaseAddress": "release_address",
}


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""  # read it all, even to answer 404
        method = CALLS.get(self.path)
        if method is None:
            return self._reply(404, {"Error": "404 page not found"})
        try:
            body = json.loads(raw) if raw.strip() else {}
            with self.server.ipam.lock:
                reply = getattr(self.server.ipam, method)(body or {})
        except IpamError as exc:
            reply = {"Error": str(exc)}
        except (KeyError, TypeError, ValueError) as exc:
            reply = {"Error": f"labipam: bad request to {self.path}: {exc}"}
        print(f"labipam: {self.path} {raw.decode(errors='replace')} -> {json.dumps(reply)}", file=sys.stderr, flush=True)
        self._reply(200, reply)

    def _reply(self, code: int, payload: dict) -> None:
        data = json.dumps(payload).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/vnd.docker.plugins.v1.2+json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def address_string(self) -> str:
        return "unix"

    def log_message(self, format, *args) -> None:
        pass


class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", default="labipam")
    args = parser.parse_args(argv)
    sock = os.path.join(PLUGIN_DIR, args.name + ".sock")
    os.makedirs(PLUGIN_DIR, exist_ok=True)
    if os.path.exists(sock):
        os.unlink(sock)
    server = Server(sock, Handler)
    server.ipam = LabIpam()
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    print(f"labipam: serving on {sock}", file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    finally:
        if os.path.exists(sock):
            os.unlink(sock)
    return 0


if __name__ == "__main__":
    sys.exit(main())
