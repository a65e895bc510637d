"""The live lab as checks and solutions see it: a snapshot read through the client, names turned
into addresses, and test traffic (the engine's probe when it has one, a real ping or connect run
in the sandbox otherwise)."""

from __future__ import annotations

import ipaddress
import re
import subprocess
import sys
from pathlib import Path

from ..api.views import ContainerView, EndpointView, HostView, LabView, NetworkView
from ..client import Client
from ..errors import CnmError
from . import requirements

# One TCP exchange (or N) from inside a sandbox, printed one answer a line. Plain sockets, not
# urllib: urllib would obey the caller's proxy variables, which mean nothing inside the lab.
HTTP_SNIPPET = r"""
import socket, sys
host, port, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for _ in range(count):
    try:
        with socket.create_connection((host, port), timeout=2) as s:
            s.sendall(b"GET / HTTP/1.0\r\nHost: lab\r\n\r\n")
            data = b""
            while chunk := s.recv(4096):
                data += chunk
        print(data.split(b"\r\n\r\n", 1)[-1].decode(errors="replace").strip().splitlines()[0])
    except OSError as exc:
        print(f"ERROR {type(exc).__name__}: {exc}")
"""
CONNECT_SNIPPET = r"""
import socket, sys
try:
    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=1).close()
except ConnectionRefusedError:
    sys.exit(3)
except OSError as exc:
    print(exc)
    sys.exit(4)
"""

# A capture on a LAN machine's eth0: the first ICMP echo request to ADDR, as "SRC_MAC SRC_IP".
# AF_PACKET opened with protocol 0 and then bound (fast, KERNEL-NOTES); "ready" once it listens.
CAPTURE_SNIPPET = r"""
import select, socket, struct, sys, time
want, until = socket.inet_aton(sys.argv[1]), time.monotonic() + float(sys.argv[2])
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
s.bind(("eth0", 0x0003))
print("ready", flush=True)
while (left := until - time.monotonic()) > 0:
    if not select.select([s], [], [], left)[0]:
        break
    frame, (_, _, kind, _, _) = s.recvfrom(65535)
    if kind == socket.PACKET_OUTGOING or frame[12:14] != b"\x08\x00":
        continue
    ihl = (frame[14] & 0x0F) * 4
    if frame[23] == 1 and frame[30:34] == want and frame[14 + ihl] == 8:
        print(frame[6:12].hex(":"), socket.inet_ntoa(frame[26:30]), flush=True)
        break
"""

# A lab's replies take well under a millisecond; a check that expects silence waits this long.
PROBE_TIMEOUT = 0.5
# A first packet can wait on ARP across the underlay and a busy machine: a check that expects an
# answer asks again, this patiently, before it calls a silence a failure.
RETRY_TIMEOUT = 3.0
PLACEHOLDER = re.compile(r"\{(ip|subnet|gateway):([^}]+)\}")
FIXED = {"{python}": sys.executable, "{repo}": str(Path(__file__).resolve().parent.parent.parent)}


class Missing(Exception):
    """Something a check or a solution names is not in the lab; carries the hint, and what is
    missing (("container" | "network" | "host", name)) so a lab can name the command that makes it."""

    def __init__(self, message: str, hint: str = "", missing: tuple[str, str] | None = None):
        super().__init__(message)
        self.message, self.hint, self.missing = message, hint, missing


class Live:
    def __init__(self, client: Client):
        self.client = client
        self.requirements: dict[str, str | None] = {}  # what requirements.missing found, by name
        self.refresh()

    def refresh(self) -> None:
        self.view = LabView.fetch(self.client)
        self.containers: dict[str, ContainerView] = {c.name: c for c in self.view.containers}
        self.networks: tuple[NetworkView, ...] = self.view.networks
        self.hosts: dict[str, HostView] = {h.name: h for h in self.view.hosts}

    def missing(self, feature: str) -> str | None:
        return requirements.missing(self.client, feature, self.requirements)

    # -- lookups ------------------------------------------------------------------
    def container(self, name: str) -> ContainerView:
        if name not in self.containers:
            raise Missing(f"there is no container {name}", f"create it: `cnmlab run --name {name} --network NET`",
                          ("container", name))
        return self.containers[name]

    def networks_of(self, name: str) -> dict[str, EndpointView]:
        return self.container(name).networks

    def network(self, name: str, host: str | None = None) -> NetworkView:
        for net in self.networks:
            if name in (net.name, net.id) and (host is None or net.host in (host, None, "")):
                return net
        raise Missing(f"there is no network {name}", f"create it: `cnmlab network create {name}`", ("network", name))

    def has_network(self, name: str) -> bool:
        return any(n.name == name for n in self.networks)

    def address(self, ref: str, via: str | None = None) -> tuple[str, str]:
        """(address, how it was found) for a destination: an IP, `container@network`, a container
        (its address on a network shared with `via`, else its first), or a host. Any other name is
        left for the source's resolver (DNS names, aliases, services)."""
        try:
            return str(ipaddress.ip_address(ref)), ref
        except ValueError:
            pass
        name, _, net = ref.partition("@")
        if name in self.containers:
            nets = self.networks_of(name)
            if net:
                if net not in nets:
                    raise Missing(f"{name} has no endpoint on {net}", f"try `cnmlab network connect {net} {name}`",
                                  ("network", net) if not self.has_network(net) else None)
                return nets[net].ip_address, f"{name} on {net}"
            shared = [n for n in nets if via in self.containers and n in self.networks_of(via)]
            pick = shared[0] if shared else next(iter(nets), None)
            if pick is None or not nets[pick].ip_address:
                raise Missing(f"{name} has no address on any network", f"try `cnmlab network connect NET {name}`")
            return nets[pick].ip_address, f"{name} on {pick}"
        if name in self.hosts:
            return self.hosts[name].ip, f"host {name}"
        if net:
            raise Missing(f"there is no container {name}", f"create it: `cnmlab run --name {name} --network {net}`",
                          ("container", name))
        return ref, ref  # a DNS name: the source's resolver decides

    def endpoint_ref(self, ref: str) -> str:
        """A source that exec and probe accept: a container or a host."""
        if ref in self.containers or ref in self.hosts:
            return ref
        raise Missing(f"there is no container {ref}", f"create it: `cnmlab run --name {ref} --network NET`",
                      ("container", ref))

    # -- traffic ------------------------------------------------------------------
    def probe(self, src: str, dst: str, proto: str = "icmp", port: int | None = None,
              timeout: float = PROBE_TIMEOUT, size: int | None = None) -> dict:
        """The engine's probe result shape (outcome, reason, dst_ip), measured one way or another."""
        src = self.endpoint_ref(src)
        dst_ip, _ = self.address(dst, via=src)
        if self.missing("probe") is None:
            if size is not None:
                return self.client.probe(src, dst_ip, proto=proto, port=port, timeout=timeout, size=size)
            return self.client.probe(src, dst_ip, proto=proto, port=port, timeout=timeout)
        return self._probe_by_exec(src, dst_ip, proto, port)

    def _probe_by_exec(self, src: str, dst: str, proto: str, port: int | None) -> dict:
        if proto == "icmp":
            run = self.client.exec(src, ["ping", "-c1", "-W1", dst])
            outcome = "reachable" if run.returncode == 0 else "no route" if "unreachable" in run.stdout + run.stderr \
                else "timeout"
        elif proto == "tcp":
            run = self.client.exec(src, [sys.executable, "-c", CONNECT_SNIPPET, dst, str(port or 80)])
            outcome = {0: "reachable", 3: "refused"}.get(run.returncode)
            if outcome is None:
                outcome = "no route" if "unreachable" in run.stdout else "timeout"
        else:
            raise CnmError(f"a {proto} check needs the engine's probe: {self.missing('probe')}")
        return {"source": src, "destination": dst, "proto": proto, "port": port, "dst_ip": dst,
                "outcome": outcome, "rtt_ms": None, "reason": ""}

    def http(self, src: str, dst: str, port: int = 80, count: int = 1) -> list[str]:
        """Answers (first line of each body) to `count` HTTP GETs from inside `src`."""
        src = self.endpoint_ref(src)
        dst_ip, _ = self.address(dst, via=src)
        run = self.client.exec(src, [sys.executable, "-c", HTTP_SNIPPET, dst_ip, str(port), str(count)])
        return run.stdout.splitlines()

    def seen_by(self, machine: str, src: str) -> tuple[str, str] | None:
        """(source MAC, source IP) of a ping from `src` as a real capture on `machine`'s eth0 shows
        it (None: nothing arrived)."""
        src = self.endpoint_ref(src)
        dst_ip, _ = self.address(machine)
        argv = self.client.enter_argv(machine, [sys.executable, "-c", CAPTURE_SNIPPET, dst_ip, str(RETRY_TIMEOUT)])
        with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as capture:
            if capture.stdout.readline().strip() != "ready":
                raise CnmError(f"could not capture on {machine}: {capture.stderr.read().strip()[:200]}")
            self.probe(src, dst_ip, timeout=RETRY_TIMEOUT)
            seen = capture.stdout.readline().split()
        return (seen[0], seen[1]) if len(seen) == 2 else None

    def mac(self, ref: str) -> str:
        """The MAC a container's first endpoint has, or a host's eth0's."""
        if ref in self.containers:
            nets = self.networks_of(ref)
            return next(iter(nets.values())).mac_address.lower() if nets else ""
        run = self.client.exec(self.endpoint_ref(ref), ["cat", "/sys/class/net/eth0/address"])
        return run.stdout.strip().lower()

    def lookup(self, container: str, name: str) -> list[str]:
        """Addresses a real resolver in the container returns for `name` (getent, as glibc sees it)."""
        self.container(container)
        # One short try: a resolver with no embedded DNS would otherwise wait 5 s per attempt.
        run = self.client.exec(container, ["env", "RES_OPTIONS=timeout:1 attempts:1", "getent", "ahostsv4", name])
        return sorted({line.split()[0] for line in run.stdout.splitlines() if line.strip()})

    def resolv_conf(self, container: str) -> str:
        return self.client.exec(container, ["cat", "/etc/resolv.conf"]).stdout

    def sysctl(self, ref: str, key: str) -> str:
        run = self.client.exec(self.endpoint_ref(ref), ["sysctl", "-n", key])
        return run.stdout.strip() if run.returncode == 0 else f"unreadable ({run.stderr.strip()})"

    # -- placeholders in solutions -------------------------------------------------
    def fill(self, value):
        """Replace {ip:ctr@net}, {subnet:net}, {gateway:net} with the live lab's values, so a
        solution works whatever addresses the student's networks were given."""
        if isinstance(value, str):
            for key, fixed in FIXED.items():
                value = value.replace(key, fixed)
            return PLACEHOLDER.sub(lambda m: self._placeholder(m.group(1), m.group(2)), value)
        if isinstance(value, list):
            return [self.fill(v) for v in value]
        if isinstance(value, dict):
            return {k: self.fill(v) for k, v in value.items()}
        return value

    def _placeholder(self, kind: str, ref: str) -> str:
        self.refresh()
        if kind == "ip":
            return self.address(ref)[0]
        net = self.network(ref)
        value = net.subnet if kind == "subnet" else net.gateway
        if not value:
            raise Missing(f"network {ref} has no {kind}")
        return value
