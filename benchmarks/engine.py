"""Measures taken through a real engine (a private one: its own runtime dir, store and world).

Every time is wall-clock as a client sees it, over the Unix socket, so it includes the HTTP
round trip. The same topology as the baselines: N containers on one bridge network.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable

NETWORK, BRIDGE, SUBNET, GATEWAY = "bench", "bench0", "10.10.0.0/16", "10.10.0.1"
PER_NETWORK = 1000  # a Linux bridge takes at most 1023 ports: past 1000, one more network


def network_of(i: int) -> str:
    """bench for the first 1000 containers, bench1 for the next 1000, ..."""
    return NETWORK if i < PER_NETWORK else f"{NETWORK}{i // PER_NETWORK}"


def gateway_of(i: int) -> str:
    return f"10.{10 + i // PER_NETWORK}.0.1"


def private_engine():
    """A Client of a fresh engine that shares nothing with the user's lab."""
    base = tempfile.mkdtemp(prefix="cnmlab-bench-")
    os.environ["CNMLAB_RUNTIME_DIR"] = os.path.join(base, "run")
    os.environ["CNMLAB_STATE_DIR"] = os.path.join(base, "state")
    from cnmlab.client import Client

    client = Client()
    client.status()  # starts it
    return client, base


def names(n: int) -> list[str]:
    return [f"c{i}" for i in range(n)]


RESET_GRACE = 0.5  # seconds for the reset's teardown to finish in the background before a build


def fresh_network(client, n: int = 1) -> None:
    """A reset lab with the bench network(s). A reset answers before the old lab is gone: the
    reaper unmounts its namespaces and the kernel frees them, holding the rtnl lock, for about
    0.1 s after. A build started at once met that in one of its first 20 containers about every
    other time (one `unshare` or netlink change waiting 15-30 ms: 0.2-0.3 ms per container of
    N=100, session 7), work that is the reset's, not the build's."""
    client.reset()
    time.sleep(RESET_GRACE)
    for k in range((n + PER_NETWORK - 1) // PER_NETWORK):
        client.network_create(network_of(k * PER_NETWORK), subnet=f"10.{10 + k}.0.0/16",
                              options={"com.docker.network.bridge.name": f"{BRIDGE[:-1]}{k}"})


def bridge_ports(client) -> int:
    """Ports left on the bench bridges (bench0, bench1, ...)."""
    argv = client.enter_argv("host1", ["ip", "-o", "link", "show"])
    out = subprocess.run(argv, capture_output=True, text=True).stdout
    return sum(f" master {BRIDGE[:-1]}" in line for line in out.splitlines())


def settle(client, timeout: float = 120.0) -> float:
    """Wait until the kernel has freed the dropped sandboxes (their veths leave the bridge)."""
    start = time.perf_counter()
    while bridge_ports(client) and time.perf_counter() - start < timeout:
        time.sleep(0.01)
    return time.perf_counter() - start


def reaches_gateway(client, n: int) -> bool:
    """The build is real: the last container has its address and default route, and (best
    effort: the machine's ARP table is shared by all namespaces) pings the gateway."""
    name = f"c{n - 1}"
    info = client.inspect(name)["NetworkSettings"]["Networks"][network_of(n - 1)]
    route = client.exec(name, ["ip", "route", "show", "default"]).stdout
    if not info.get("IPAddress") or f"via {gateway_of(n - 1)}" not in route:
        raise RuntimeError(f"engine build is broken: {name}: {info} / {route.strip()}")
    return any(client.exec(name, ["ping", "-c1", "-W1", gateway_of(n - 1)]).returncode == 0 for _ in range(3))


def barrier(client) -> None:
    """Wait for work the engine queued on its kernel thread behind the last request (the DNS
    feature installs sandboxes' nat rules that way): a kernel-thread route answers only after."""
    client.hosts()


def build(client, n: int, runs: int, batch: bool, on_built: Callable[[int], None] | None = None,
          check: bool = True) -> dict:
    """Build N containers (one request each, or one request in all), then remove them."""
    built, torn, settled, pinged = [], [], [], None
    containers = [{"Name": x, "Network": network_of(i)} for i, x in enumerate(names(n))]
    for r in range(runs):
        fresh_network(client, n)
        t0 = time.perf_counter()
        if batch:
            client.apply(containers=containers)
        else:
            for i, x in enumerate(names(n)):
                client.run(x, network=network_of(i))
        barrier(client)  # built means built: the DNS rules queued behind the last request included
        t1 = time.perf_counter()
        if r == 0 and check:
            pinged = reaches_gateway(client, n)
            if on_built:
                on_built(n)
        t2 = time.perf_counter()
        if batch:
            client.unapply(containers=[{"Name": x} for x in names(n)])
        else:
            for x in names(n):
                client.rm(x)
        barrier(client)
        t3 = time.perf_counter()
        settled.append(t3 - t2 + settle(client))
        built.append(t1 - t0)
        torn.append(t3 - t2)
    return {"way": "batch" if batch else "engine", "n": n, "build_s": built, "teardown_s": torn,
            "settled_s": settled, "pinged": pinged}


def rss_mb(client) -> float:
    pid = client.status()["pid"]
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def timed(fn: Callable[[], object], repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def unavailable(exc: Exception) -> str | None:
    """The reason a feature's route is missing (another issue, not landed), or None."""
    from cnmlab.errors import NotFound

    if isinstance(exc, NotFound) and "page not found" in str(exc):
        return f"not available in this engine ({exc})"
    return None


def api_latency(client, repeat: int) -> dict:
    return {
        "ping_ms": median_ms(timed(lambda: client.request("GET", "/_ping"), repeat)),
        "container_inspect_ms": median_ms(timed(lambda: client.inspect("c1"), repeat)),
        "network_inspect_ms": median_ms(timed(lambda: client.network_inspect(NETWORK), repeat)),
        "container_list_ms": median_ms(timed(client.containers, repeat)),
    }


def probes(client, repeat: int) -> dict:
    """Probe, traced probe and the 20x20 matrix (cnmlab.probe, issue 3)."""
    out: dict = {}
    try:
        client.probe("c0", "c1", "icmp")
    except Exception as exc:  # noqa: BLE001 - any failure is reported, not fatal
        return {"error": unavailable(exc) or f"{type(exc).__name__}: {exc}"}
    for key, call in (
        ("icmp_ms", lambda: client.probe("c0", "c1", "icmp")),
        ("tcp_ms", lambda: client.probe("c0", "c1", "tcp", 80)),
        ("trace_ms", lambda: client.trace("c0", "c1", "icmp")),
    ):
        try:
            results = []
            samples = timed(lambda call=call, results=results: results.append(call()), repeat)
            out[key] = median_ms(samples)
            last = results[-1]
            out[key.replace("_ms", "_outcome")] = last.get("outcome") or last.get("verdict")
        except Exception as exc:  # noqa: BLE001
            out[key.replace("_ms", "_error")] = unavailable(exc) or f"{type(exc).__name__}: {exc}"
    try:
        results = []
        samples = timed(lambda results=results: results.append(client.matrix("icmp", network=NETWORK)),
                        max(3, repeat // 5))
        out["matrix_ms"] = median_ms(samples)
        cells = results[-1].get("cells", [])
        out["matrix_cells"] = len(cells)
        out["matrix_reachable"] = sum(1 for c in cells if c.get("outcome") == "reachable")
    except Exception as exc:  # noqa: BLE001
        out["matrix_error"] = unavailable(exc) or f"{type(exc).__name__}: {exc}"
    return out


DNS_PROBE = r"""
import socket, statistics, sys, time
from dnslib import DNSRecord
name, repeat = sys.argv[1], int(sys.argv[2])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(1.0)
s.connect(("127.0.0.11", 53))
samples, answers = [], 0
for _ in range(repeat):
    q = DNSRecord.question(name).pack()
    t0 = time.perf_counter()
    s.send(q)
    reply = DNSRecord.parse(s.recv(4096))
    samples.append(time.perf_counter() - t0)
    answers += bool(reply.rr)
print(statistics.median(samples) * 1000, answers)
"""


def dns_latency(client, repeat: int) -> dict:
    """Embedded DNS (issue 5): queries from inside c0 to 127.0.0.11 for the name c1."""
    try:
        result = client.exec("c0", [sys.executable, "-c", DNS_PROBE, "c1", str(repeat)], timeout=60)
    except Exception as exc:  # noqa: BLE001
        return {"error": f"{type(exc).__name__}: {exc}"}
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["no output"])[-1]
        return {"error": f"no DNS server answers at 127.0.0.11 in c0 ({last})"}
    ms, answers = result.stdout.split()
    return {"query_ms": float(ms), "answered": int(answers), "queries": repeat}
