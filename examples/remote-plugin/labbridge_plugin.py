#!/usr/bin/env python3
"""labbridge: a Docker remote network plugin written against the plugin protocol alone.

It knows nothing of cnmlab: it is an HTTP server on a Unix socket (stdlib only) that answers
libnetwork's /NetworkDriver.* calls and runs `ip`/`iptables` in the namespace it was started
in, as a real plugin does on a Docker host. Per network it makes a bridge `lb-<id12>` holding
the gateway; per Join a veth pair, one end on the bridge, the other (`SrcName`) handed to the
engine, which moves it into the container. Start it inside the lab world:

    cnmlab plugin run -- python3 examples/remote-plugin/labbridge_plugin.py
    cnmlab network create -d labbridge --subnet 10.50.0.0/24 lbnet

Options: --name (default labbridge) picks /run/docker/plugins/NAME.sock; --spec makes it listen
on /run/NAME/plugin.sock and announce itself with /etc/docker/plugins/NAME.spec instead.
Network option `labbridge.route=CIDR` asks for a static route to CIDR via the gateway;
`labbridge.pool=CIDR` is the plugin's own pool when the network has `--ipam-driver null`.
DiscoverNew/DiscoverDelete and ProgramExternalConnectivity are left out on purpose: they answer
404, which the engine takes as "not implemented".
"""

import argparse
import json
import os
import signal
import socketserver
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler

PLUGIN_DIR = "/run/docker/plugins"
SPEC_DIR = "/etc/docker/plugins"


class PluginError(Exception):
    """Becomes {"Err": message}: the engine shows it to the user as it is."""


def sh(*argv: str) -> None:
    result = subprocess.run(argv, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise PluginError(f"labbridge: {' '.join(argv)}: {result.stderr.strip()}")


class LabBridge:
    """The driver's state: what each network and endpoint made."""

    def __init__(self) -> None:
        self.networks: dict[str, dict] = {}
        self.endpoints: dict[str, dict] = {}
        self.lock = threading.Lock()

    # -- the protocol, one method per call -------------------------------------------
    def activate(self, body):
        return {"Implements": ["NetworkDriver"]}

    def get_capabilities(self, body):
        return {"Scope": "local", "ConnectivityScope": "local"}

    def create_network(self, body):
        nid = body["NetworkID"]
        ipv4 = dict((body.get("IPv4Data") or [{}])[0])
        options = (body.get("Options") or {}).get("com.docker.network.generic") or {}
        if ipv4.get("AddressSpace") == "null":
            # --ipam-driver null: the engine gives no addresses; ours come from -o labbridge.pool=CIDR
            if not options.get("labbridge.pool"):
                raise PluginError("labbridge: with --ipam-driver null, give -o labbridge.pool=CIDR")
            base, prefix = options["labbridge.pool"].split("/")
            ipv4 = {"Pool": options["labbridge.pool"], "Gateway": base.rsplit(".", 1)[0] + ".1/" + prefix}
        bridge = "lb-" + nid[:12]
        sh("ip", "link", "add", bridge, "type", "bridge")
        try:
            if ipv4.get("Gateway"):
                sh("ip", "addr", "add", ipv4["Gateway"], "dev", bridge)
            sh("ip", "link", "set", bridge, "up")
            # The host's FORWARD policy is DROP (Docker's rules): let the bridge forward its own traffic.
            sh("iptables", "-I", "FORWARD", "-i", bridge, "-o", bridge, "-j", "ACCEPT")
        except PluginError:
            subprocess.run(["ip", "link", "del", bridge], capture_output=True, check=False)
            raise
        self.networks[nid] = {"bridge": bridge, "pool": ipv4.get("Pool"), "gateway": ipv4.get("Gateway"),
                              "route": options.get("labbridge.route"), "next": 100}
        return {}

    def delete_network(self, body):
        net = self.networks.pop(body["NetworkID"], None)
        if net is None:
            raise PluginError(f"labbridge: no network {body['NetworkID'][:12]}")
        subprocess.run(["iptables", "-D", "FORWARD", "-i", net["bridge"], "-o", net["bridge"], "-j", "ACCEPT"],
                       capture_output=True, check=False)
        sh("ip", "link", "del", net["bridge"])
        return {}

    def create_endpoint(self, body):
        net = self._network(body)
        given = body.get("Interface") or {}
        eid = body["EndpointID"]
        self.endpoints[eid] = {"veth": "lbv" + eid[:8], "peer": "lbp" + eid[:8], "network": body["NetworkID"]}
        if given.get("Address"):
            return {"Interface": {}}  # the engine's IPAM gave the address: answer an empty Interface
        # No IPAM address (--ipam-driver null): the plugin must supply it, from its own pool.
        base, prefix = net["pool"].split("/")
        octets = base.split(".")
        address = ".".join(octets[:3] + [str(net["next"])]) + "/" + prefix
        net["next"] += 1
        return {"Interface": {"Address": address, "MacAddress": "02:4c:42:00:00:%02x" % (net["next"] % 256)}}

    def delete_endpoint(self, body):
        self.endpoints.pop(body["EndpointID"], None)
        return {}

    def endpoint_oper_info(self, body):
        ep = self.endpoints.get(body["EndpointID"]) or {}
        net = self.networks.get(body["NetworkID"]) or {}
        return {"Value": {"labbridge.veth": ep.get("veth"), "labbridge.bridge": net.get("bridge")}}

    def join(self, body):
        net = self._network(body)
        ep = self.endpoints.get(body["EndpointID"])
        if ep is None:
            raise PluginError(f"labbridge: no endpoint {body['EndpointID'][:12]}")
        sh("ip", "link", "add", ep["veth"], "type", "veth", "peer", "name", ep["peer"])
        try:
            sh("ip", "link", "set", ep["veth"], "master", net["bridge"], "up")
        except PluginError:
            subprocess.run(["ip", "link", "del", ep["veth"]], capture_output=True, check=False)
            raise
        reply = {"InterfaceName": {"SrcName": ep["peer"], "DstPrefix": "eth"}, "StaticRoutes": []}
        if net["gateway"]:
            gateway = net["gateway"].split("/")[0]
            reply["Gateway"] = gateway
            if net["route"]:
                reply["StaticRoutes"].append({"Destination": net["route"], "RouteType": 0, "NextHop": gateway})
        return reply

    def leave(self, body):
        ep = self.endpoints.get(body["EndpointID"])
        if ep is not None:
            # The engine gave our peer back; deleting one end of the pair removes both.
            subprocess.run(["ip", "link", "del", ep["veth"]], capture_output=True, check=False)
        return {}

    def _network(self, body) -> dict:
        net = self.networks.get(body["NetworkID"])
        if net is None:
            raise PluginError(f"labbridge: no network {body['NetworkID'][:12]}")
        return net


CALLS = {
    "/Plugin.Activate": "activate",
    "/NetworkDriver.GetCapabilities": "get_capabilities",
    "/NetworkDriver.CreateNetwork": "create_network",
    "/NetworkDriver.DeleteNetwork": "delete_network",
    "/NetworkDriver.CreateEndpoint": "create_endpoint",
    "/NetworkDriver.DeleteEndpoint": "delete_endpoint",
    "/NetworkDriver.EndpointOperInfo": "endpoint_oper_info",
    "/NetworkDriver.Join": "join",
    "/NetworkDriver.Leave": "leave",
}


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""  # read it all, even to answer 404
        method = CALLS.get(self.path)
        if method is None:
            return self._reply(404, {"Err": "404 page not found"})
        try:
            body = json.loads(raw) if raw.strip() else {}
            with self.server.driver.lock:  # one call at a time, as the state is shared
                reply = getattr(self.server.driver, method)(body or {})
        except PluginError as exc:
            reply = {"Err": str(exc)}
        except (KeyError, TypeError, ValueError) as exc:
            reply = {"Err": f"labbridge: bad request to {self.path}: {exc!r}"}
        print(f"labbridge: {self.path} -> {json.dumps(reply)}", file=sys.stderr, flush=True)
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
    parser.add_argument("--name", default="labbridge")
    parser.add_argument("--spec", action="store_true", help="announce with a .spec file instead of a socket name")
    args = parser.parse_args(argv)
    if args.spec:
        sock = f"/run/{args.name}/plugin.sock"
        announce = os.path.join(SPEC_DIR, args.name + ".spec")
    else:
        sock, announce = os.path.join(PLUGIN_DIR, args.name + ".sock"), None
    os.makedirs(os.path.dirname(sock), exist_ok=True)
    if os.path.exists(sock):
        os.unlink(sock)
    server = Server(sock, Handler)
    server.driver = LabBridge()
    if announce:
        os.makedirs(SPEC_DIR, exist_ok=True)
        with open(announce, "w") as f:
            f.write(f"unix://{sock}\n")

    def stop(*_):
        threading.Thread(target=server.shutdown).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"labbridge: serving on {sock}", file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    finally:
        for path in (sock, announce):
            if path and os.path.exists(path):
                os.unlink(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
