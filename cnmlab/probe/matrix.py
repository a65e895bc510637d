"""The reachability matrix: every source container against every destination, probed at once.

By default the unit is the endpoint: one column per endpoint (`container-b@net-b`, with its
address), rows are the containers that send. A container with two networks then shows both of
its addresses, and a failure to reach one of them (the chapter's isolation) is a cell of its own.
`by="container"` gives one column per container (its address on a network shared with the
source, else its first), and `network` keeps the columns on one network (all containers still send).

All probes leave together (one raw socket per source sandbox, one select loop for every
answer), so the whole matrix costs about one short timeout, not N² of them. Silent cells are
judged with the rule counters of every host, read once before and once after.
`run(engine, ...)` is what the route calls and what benchmarks time.
"""

from __future__ import annotations

import time

from ..errors import CnmError, InvalidParameter
from ..osl.lookup import KernelView
from . import rules, sender, single, verdict
from . import target as targets

DEFAULT_TIMEOUT = 0.5
NEIGHBOUR_TABLE = 1024  # net.ipv4.neigh.default.gc_thresh3: one ARP table for every namespace of the machine
# The machine's own namespace shares that table: a matrix must never crowd it out, so a matrix
# that would need more than this many entries is refused before any packet leaves.
NEIGHBOUR_BUDGET = NEIGHBOUR_TABLE // 2


UNITS = ("endpoint", "container")


def columns(ctl, by: str, net) -> list[dict]:
    """The destinations: each endpoint with an address (by endpoint), or each container."""
    out = []
    for c in ctl.containers.values():
        if not c.running:  # a created or exited container has no sandbox to reach
            continue
        eps = [ctl.endpoints[e] for e in c.endpoints]
        if net is not None:
            eps = [e for e in eps if e.network_id == net.id]
            if not eps:
                continue
        if by == "container" or c.network_mode in ("host", "none"):
            out.append({"name": c.name, "container": c.name, "network": None, "network_id": None, "address": None})
            continue
        for ep in eps:
            if ep.ip:
                name = ctl.networks[ep.network_id].name
                out.append({"name": f"{c.name}@{name}", "container": c.name, "network": name,
                            "network_id": ep.network_id, "address": ep.ip})
    return out


def plan(ctl, proto: str, port, network: str | None, by: str = "endpoint") -> tuple[list[str], list[dict], list]:
    """On the kernel thread: the sources in order, the destination columns, and a Target (or an
    error) for every pair."""
    proto, _ = targets.check_proto(proto, port)
    if by not in UNITS:
        raise InvalidParameter(f"unknown matrix unit {by!r}: use endpoint or container")
    net = ctl.network(network) if network else None
    cols = columns(ctl, by, net)
    if by == "container":
        sources = [ctl.container(c["container"]) for c in cols]
    else:
        sources = [c for c in ctl.containers.values() if c.running]
    pairs = []
    with KernelView() as view:  # one read of each namespace for every path of the matrix
        for a in sources:
            for col in cols:
                if a.name == col["container"]:
                    continue
                try:
                    if proto == "dns":
                        t = single.resolve(ctl, a.name, col["container"], proto, port, view=view)
                    else:
                        t = targets.resolve(ctl, a.name, col["container"], proto, port,
                                            network=col["network_id"] or network, view=view)
                except CnmError as exc:
                    t = exc.message
                pairs.append((a.name, col["name"], t))
    return [c.name for c in sources], cols, pairs


def neighbours_needed(found: list) -> int:
    """Neighbour entries the probes create: one per on-link destination, one per gateway used."""
    hops = {(t.netns, t.dst_ip if t.shared_networks else "gateway") for t in found}
    return len(hops)


def run(engine, proto: str = "icmp", port=None, network: str | None = None, explain: bool = False,
        timeout=None, by: str | None = None, size: int | None = None) -> dict:
    timeout = single.check_timeout(DEFAULT_TIMEOUT if timeout is None else timeout)
    size = single.check_size(size, (proto or "icmp").lower())
    started = time.perf_counter()
    by = by or "endpoint"
    names, cols, pairs = engine.call(plan, engine.controller, proto, port, network, by, holds=single.LOOKUP)
    planned = time.perf_counter()
    proto, port = targets.check_proto(proto, port)
    hosts = list(dict.fromkeys(h for _, _, t in pairs if not isinstance(t, str) for h in t.path.hosts))
    before = rules.snapshot(hosts)
    work = [(a, b, t, single.make_probe(t, size)) for a, b, t in pairs if not isinstance(t, str) and not t.error]
    needed = neighbours_needed([t for _, _, t, _ in work])
    if needed > NEIGHBOUR_BUDGET:
        raise InvalidParameter(
            f"this matrix would need about {needed} ARP (neighbour) entries; the machine keeps {NEIGHBOUR_TABLE} for "
            f"all its namespaces together, its own included, and cnmlab uses at most {NEIGHBOUR_BUDGET}: probe "
            "fewer containers at once (--network NET), or single pairs with `cnmlab probe`")
    counted = time.perf_counter()
    sender.run([p for *_, p in work], timeout, settle=single.settler(before, hosts, {id(p): t for _, _, t, p in work}))
    sent = time.perf_counter()
    silent = any(verdict.wants_rule(p) for *_, p in work)
    after = rules.snapshot(hosts) if silent else {}
    moved = rules.moved_drops(before, after)
    blamed = {id(p): rules.blame(moved, after, t.path.packets) if verdict.wants_rule(p) else None
              for _, _, t, p in work}
    single.read_neighbours([(t, p) for _, _, t, p in work if p.outcome is None and blamed[id(p)] is None])
    results = {}
    for a, b, t, probe in work:
        results[(a, b)] = verdict.result(t, probe, blamed[id(probe)], timeout)
    cells, used = [], []
    for a, b, t in pairs:
        r = results.get((a, b))
        if r is None:  # could not be probed: no address, no network
            text = t if isinstance(t, str) else t.error
            r = {"outcome": "no route", "rtt_ms": None, "reason_key": "no-network", "reason": text,
                 "dst_ip": None if isinstance(t, str) else t.dst_ip, "rule": None}
        cells.append({"from": a, "to": b, "outcome": r["outcome"], "rtt_ms": r["rtt_ms"], "reason": r["reason_key"],
                      "dst_ip": r["dst_ip"], "detail": r["reason"], "rule": r["rule"]})
        used.append(r["reason_key"])
    legend = {key: verdict.LEGEND[key] for key in dict.fromkeys(used)} if explain else {}
    warnings = []
    done = time.perf_counter()
    timings = {"plan_ms": planned - started, "counters_before_ms": counted - planned, "probes_ms": sent - counted,
               "judge_ms": done - sent}
    return {"proto": proto, "port": port, "network": network, "timeout": timeout, "by": by, "size": size,
            "containers": names,
            "columns": cols, "cells": cells, "legend": legend, "warnings": warnings, "timings": {k: round(v * 1000, 1) for k, v in timings.items()}}
