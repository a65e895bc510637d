"""The two baselines, each building the engine's topology in a private world of its own.

The topology: one "host" namespace with a bridge (10.10.0.1/16), and N sandboxes, each a
network namespace with IPv6 off, lo up, and eth0 (a veth to the bridge) holding an address and
a default route through the bridge. A Linux bridge takes at most 1023 ports, so every 1000
sandboxes get a bridge of their own (br1 on 10.11.0.0/16, ...), as the engine's runs get a
network each. Teardown drops the sandboxes' namespaces.

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

HOST = "bench-host"
GATEWAY, PREFIX = "10.10.0.1", 16
PER_BRIDGE = 1000  # a Linux bridge takes at most 1023 ports
PEER_INDEX = 2  # the first link made in a fresh namespace (lo is 1)


def bridges(n: int) -> int:
    return (n + PER_BRIDGE - 1) // PER_BRIDGE


def bridge_name(k: int) -> str:
    return f"br{k}"


def gateway(i: int) -> str:
    """The gateway of sandbox i's bridge: 10.10.0.1, then 10.11.0.1 from the 1001st on."""
    return str(IPv4Address(GATEWAY) + (i // PER_BRIDGE) * 65536)


def address(i: int) -> str:
    return str(IPv4Address(gateway(i)) + 1 + i % PER_BRIDGE)


def setup_host(way: str, ns: Namespaces, n: int) -> list[int]:
    """The host namespace and its bridges, made the way's own way (not timed); their indexes."""
    if way == "ip":
        subprocess.run(["ip", "netns", "add", HOST], check=True)
        subprocess.run(["ip", "netns", "exec", HOST, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1",
                        "net.ipv6.conf.default.disable_ipv6=1"], check=True)
        for k in range(bridges(n)):
            for argv in (["ip", "-n", HOST, "link", "add", bridge_name(k), "type", "bridge"],
                         ["ip", "-n", HOST, "addr", "add", f"{gateway(k * PER_BRIDGE)}/{PREFIX}", "dev", bridge_name(k)],
                         ["ip", "-n", HOST, "link", "set", bridge_name(k), "up"]):
                subprocess.run(argv, check=True)
        return [links.index(ns.ipr(HOST), bridge_name(k)) for k in range(bridges(n))]
    ipr = ns.create(HOST)
    for k in range(bridges(n)):
        links.add_bridge(ipr, bridge_name(k))
        links.add_address(ipr, bridge_name(k), gateway(k * PER_BRIDGE), PREFIX)
        links.set_up(ipr, bridge_name(k))
    return [links.index(ipr, bridge_name(k)) for k in range(bridges(n))]


def drop_host(way: str, ns: Namespaces) -> None:
    ns.close()  # an open handle would keep the namespace alive
    if way == "ip":
        subprocess.run(["ip", "netns", "del", HOST], check=True)
    else:
        ns.delete(HOST)


def settle(ns: Namespaces, n_bridges: int = 1, timeout: float = 60.0) -> float:
    """Wait until the kernel has really freed the dropped sandboxes: their veth peers vanish
    from the host (namespaces are cleaned up by a kernel worker after the last reference goes).
    Returns the seconds waited; the next run starts on a quiet machine."""
    start = time.perf_counter()
    ipr = ns.ipr(HOST)
    while len(ipr.get_links()) > 1 + n_bridges and time.perf_counter() - start < timeout:  # lo and the bridges
        time.sleep(0.005)
    return time.perf_counter() - start


# -- the floor -----------------------------------------------------------------------
def floor_build(n: int, host: Rtnl, bridge_indexes: list[int]) -> list[Rtnl]:
    socks = []
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    for i in range(n):
        name = f"s{i}"
        target = os.path.join(NETNS_DIR, name)
        open(target, "w").close()
        syscalls.unshare(syscalls.CLONE_NEWNET)
        syscalls.mount("/proc/thread-self/ns/net", target, None, syscalls.MS_BIND)
        write_sysctl("net.ipv6.conf.all.disable_ipv6", "1")  # sets `default` too
        box = Rtnl()
        syscalls.setns(home, syscalls.CLONE_NEWNET)
        fd = os.open(target, os.O_RDONLY)
        host.request([Rtnl.veth_message(f"v{i}", "eth0", fd, master=bridge_indexes[i // PER_BRIDGE])])
        os.close(fd)
        box.request([Rtnl.up_message(1), Rtnl.up_message(PEER_INDEX),
                     Rtnl.address_message(PEER_INDEX, address(i), PREFIX),
                     Rtnl.default_route_message(gateway(i), PEER_INDEX)])
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
        ["ip", "-n", HOST, "link", "set", veth, "master", bridge_name(i // PER_BRIDGE), "up"],
        ["ip", "-n", box, "link", "set", "lo", "up"],
        ["ip", "-n", box, "link", "set", "eth0", "up"],
        ["ip", "-n", box, "addr", "add", f"{address(i)}/{PREFIX}", "dev", "eth0"],
        ["ip", "-n", box, "route", "add", "default", "via", gateway(i)],
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
    if f"{address(n - 1)}/{PREFIX}" not in link or f"via {gateway(n - 1)}" not in route:
        raise SystemExit(f"baseline build is broken: {box}: {link.strip()} / {route.strip()}")
    for _ in range(3):
        if subprocess.run(["ip", "netns", "exec", box, "ping", "-c1", "-W1", gateway(n - 1)],
                          capture_output=True).returncode == 0:
            return True
    return False


def run(way: str, n: int, runs: int) -> dict:
    build, teardown, settled, pinged = [], [], [], None
    for r in range(runs):
        ns = Namespaces()
        bridge_indexes = setup_host(way, ns, n)
        host = ns.rtnl(HOST)
        t0 = time.perf_counter()
        socks = floor_build(n, host, bridge_indexes) if way == "floor" else ip_build(n)
        t1 = time.perf_counter()
        if r == 0:
            pinged = check(n)
        t2 = time.perf_counter()
        floor_teardown(socks) if way == "floor" else ip_teardown(n)
        t3 = time.perf_counter()
        settled.append(t3 - t2 + settle(ns, len(bridge_indexes)))
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
