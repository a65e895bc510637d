"""The two baselines, each building the engine's topology in a private world of its own.

The topology: one "host" namespace with a bridge (10.10.0.1/16), and N sandboxes, each a
network namespace with IPv6 off, lo up, and eth0 (a veth to the bridge) holding an address and
a default route through the bridge. Teardown drops the sandboxes' namespaces.

- `ip`: one `ip` command per step, the way tutorials and Mininet do it.
- `floor`: the least a program can do: unshare + bind-mount per namespace, then one netlink
  datagram in the host and one in the sandbox (hand-packed, cnmlab/osl/rtnl.py's packer).

Run as a child process: `python -m benchmarks.baselines WAY N RUNS` enters its own network and
mount namespaces first (cnmlab.osl.world.enter(), as the engine does) with a private /run, so
nothing reaches the machine's root namespace; it prints one JSON line of timings.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from ipaddress import IPv4Address

from cnmlab.osl import links, syscalls, world
from cnmlab.osl.netns import NETNS_DIR, Namespaces, write_sysctl
from cnmlab.osl.rtnl import Rtnl

HOST, BRIDGE = "bench-host", "br0"
GATEWAY, PREFIX = "10.10.0.1", 16
PEER_INDEX = 2  # the first link made in a fresh namespace (lo is 1)


def address(i: int) -> str:
    return str(IPv4Address(GATEWAY) + 1 + i)


def setup_host(way: str, ns: Namespaces) -> int:
    """The host namespace and its bridge, made the way's own way (not timed); the bridge's index."""
    if way == "ip":
        for argv in (["ip", "netns", "add", HOST],
                     ["ip", "netns", "exec", HOST, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1",
                      "net.ipv6.conf.default.disable_ipv6=1"],
                     ["ip", "-n", HOST, "link", "add", BRIDGE, "type", "bridge"],
                     ["ip", "-n", HOST, "addr", "add", f"{GATEWAY}/{PREFIX}", "dev", BRIDGE],
                     ["ip", "-n", HOST, "link", "set", BRIDGE, "up"]):
            subprocess.run(argv, check=True)
        return links.index(ns.ipr(HOST), BRIDGE)
    ipr = ns.create(HOST)
    links.add_bridge(ipr, BRIDGE)
    links.add_address(ipr, BRIDGE, GATEWAY, PREFIX)
    links.set_up(ipr, BRIDGE)
    return links.index(ipr, BRIDGE)


def drop_host(way: str, ns: Namespaces) -> None:
    ns.close()  # an open handle would keep the namespace alive
    if way == "ip":
        subprocess.run(["ip", "netns", "del", HOST], check=True)
    else:
        ns.delete(HOST)


def settle(ns: Namespaces, timeout: float = 60.0) -> float:
    """Wait until the kernel has really freed the dropped sandboxes: their veth peers vanish
    from the host (namespaces are cleaned up by a kernel worker after the last reference goes).
    Returns the seconds waited; the next run starts on a quiet machine."""
    start = time.perf_counter()
    ipr = ns.ipr(HOST)
    while len(ipr.get_links()) > 2 and time.perf_counter() - start < timeout:  # lo and the bridge
        time.sleep(0.005)
    return time.perf_counter() - start


# -- the floor -----------------------------------------------------------------------
def floor_build(n: int, host: Rtnl, bridge: int) -> list[Rtnl]:
    socks = []
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    for i in range(n):
        name = f"s{i}"
        target = os.path.join(NETNS_DIR, name)
        open(target, "w").close()
        syscalls.unshare(syscalls.CLONE_NEWNET)
        syscalls.mount("/proc/thread-self/ns/net", target, None, syscalls.MS_BIND)
        write_sysctl("net.ipv6.conf.all.disable_ipv6", "1")
        write_sysctl("net.ipv6.conf.default.disable_ipv6", "1")
        box = Rtnl()
        syscalls.setns(home, syscalls.CLONE_NEWNET)
        fd = os.open(target, os.O_RDONLY)
        host.request([Rtnl.veth_message(f"v{i}", "eth0", fd, master=bridge)])
        os.close(fd)
        box.request([Rtnl.up_message(1), Rtnl.up_message(PEER_INDEX),
                     Rtnl.address_message(PEER_INDEX, address(i), PREFIX),
                     Rtnl.default_route_message(GATEWAY, PEER_INDEX)])
        socks.append(box)
    os.close(home)
    return socks


def floor_teardown(socks: list[Rtnl]) -> None:
    for i, box in enumerate(socks):
        box.close()
        target = os.path.join(NETNS_DIR, f"s{i}")
        syscalls.umount(target)
        os.unlink(target)


# -- one ip command per step ------------------------------------------------------------
def ip_steps(i: int) -> list[list[str]]:
    box, veth = f"s{i}", f"v{i}"
    return [
        ["ip", "netns", "add", box],
        ["ip", "netns", "exec", box, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1",
         "net.ipv6.conf.default.disable_ipv6=1"],
        ["ip", "-n", HOST, "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", box],
        ["ip", "-n", HOST, "link", "set", veth, "master", BRIDGE, "up"],
        ["ip", "-n", box, "link", "set", "lo", "up"],
        ["ip", "-n", box, "link", "set", "eth0", "up"],
        ["ip", "-n", box, "addr", "add", f"{address(i)}/{PREFIX}", "dev", "eth0"],
        ["ip", "-n", box, "route", "add", "default", "via", GATEWAY],
    ]


def ip_build(n: int) -> None:
    for i in range(n):
        for argv in ip_steps(i):
            subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)


def ip_teardown(n: int) -> None:
    for i in range(n):
        subprocess.run(["ip", "netns", "del", f"s{i}"], check=True)


# -- one run -------------------------------------------------------------------------------
def check(n: int) -> bool:
    """The build is real: the last sandbox's eth0 is up with its address and default route, and
    (best effort) it pings the gateway. The ARP table is shared by every namespace of the
    machine (gc_thresh3): when other work fills it, the ping fails while the build is fine."""
    box = f"s{n - 1}"
    link = subprocess.run(["ip", "-n", box, "-o", "addr", "show", "eth0"], capture_output=True, text=True).stdout
    route = subprocess.run(["ip", "-n", box, "route", "show", "default"], capture_output=True, text=True).stdout
    if f"{address(n - 1)}/{PREFIX}" not in link or f"via {GATEWAY}" not in route:
        raise SystemExit(f"baseline build is broken: {box}: {link.strip()} / {route.strip()}")
    for _ in range(3):
        if subprocess.run(["ip", "netns", "exec", box, "ping", "-c1", "-W1", GATEWAY], capture_output=True).returncode == 0:
            return True
    return False


def run(way: str, n: int, runs: int) -> dict:
    build, teardown, settled, pinged = [], [], [], None
    for r in range(runs):
        ns = Namespaces()
        bridge = setup_host(way, ns)
        host = ns.rtnl(HOST)
        t0 = time.perf_counter()
        socks = floor_build(n, host, bridge) if way == "floor" else ip_build(n)
        t1 = time.perf_counter()
        if r == 0:
            pinged = check(n)
        t2 = time.perf_counter()
        floor_teardown(socks) if way == "floor" else ip_teardown(n)
        t3 = time.perf_counter()
        settled.append(t3 - t2 + settle(ns))
        drop_host(way, ns)
        build.append(t1 - t0)
        teardown.append(t3 - t2)
    return {"way": way, "n": n, "build_s": build, "teardown_s": teardown, "settled_s": settled, "pinged": pinged}


def main(argv: list[str]) -> int:
    way, n, runs = argv[0], int(argv[1]), int(argv[2])
    if way not in ("floor", "ip"):
        raise SystemExit(f"unknown baseline {way} (floor or ip)")
    world.enter()  # a private world, as the engine's: never the machine's root namespace
    print(json.dumps(run(way, n, runs)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
