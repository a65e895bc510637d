"""Each kernel step of a container's build, timed, and how it grows with N.

    python -m benchmarks.steps [N]

Runs `python -m benchmarks.controller N 1` with every netlink request, sysctl write, unshare and
mount timed (`perf_counter_ns` around each), then prints each step's median over the first and the
last tenth of the N containers: a step whose cost grows with N shows it there
(docs/benchmarks.md, "What a container's kernel work costs").
"""

from __future__ import annotations

import collections
import sys
import time

from cnmlab.osl import netns, rtnl, syscalls

from . import controller

# (message type, body length) of the join path's requests (osl/rtnl.py); the veth's varies (MAC, queues)
STEPS = {(16, 16): "lo up", (16, 40): "enslave + up (host side)", (20, 24): "address", (24, 28): "default route"}
VETH = "veth, made inside the sandbox"
_VETH_KIND = rtnl.nla(rtnl.IFLA_INFO_KIND, b"veth")


def step_of(kind: int, body: bytes) -> str:
    if kind == rtnl.RTM_NEWLINK and _VETH_KIND in body:
        return VETH
    return STEPS.get((kind, len(body)), "other netlink")


def main(argv: list[str]) -> int:
    n = int(argv[0]) if argv else 1000
    times: dict[str, list[int]] = collections.defaultdict(list)

    def timed(name: str, fn, *args):
        t0 = time.perf_counter_ns()
        try:
            return fn(*args)
        finally:
            times[name].append(time.perf_counter_ns() - t0)

    request, write, unshare, mount = rtnl.Rtnl.request, netns.write_sysctl, syscalls.unshare, syscalls.mount
    rtnl.Rtnl.request = lambda self, messages: timed(
        step_of(messages[0][0], messages[0][2]), request, self, messages)
    netns.write_sysctl = lambda key, value: timed(f"sysctl {key.split('.')[-2]}.{key.split('.')[-1]}", write, key, value)
    syscalls.unshare = lambda flags: timed("unshare " + ("net" if flags == syscalls.CLONE_NEWNET else "uts"),
                                           unshare, flags)
    syscalls.mount = lambda source, target, *rest: timed(
        "bind mount " + ("net" if target.startswith(netns.NETNS_DIR) else "uts" if target.startswith(netns.UTS_DIR) else
                         "other"), mount, source, target, *rest)
    controller.main([str(n), "1"])
    tenth = max(1, n // 10)
    print(f"{'step':40s} {'first tenth':>12s} {'last tenth':>12s}   median µs, N={n}")
    for name, samples in times.items():
        if len(samples) < n:
            continue  # not a step of every container
        first, last = sorted(samples[-n:][:tenth]), sorted(samples[-tenth:])
        print(f"{name:40s} {first[len(first) // 2] / 1000:12.0f} {last[len(last) // 2] / 1000:12.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
