"""The reachability matrix: every ordered pair of containers, probed at once.

All probes leave together (one raw socket per source sandbox, one select loop for every
answer), so the whole matrix costs about one short timeout, not N² of them. Silent cells are
judged with the rule counters of every host, read once before and once after.
`run(engine, ...)` is what the route calls and what benchmarks time.
"""

from __future__ import annotations

import time

from ..errors import CnmError, InvalidParameter
from . import rules, sender, single, verdict
from . import target as targets

DEFAULT_TIMEOUT = 0.5
NEIGHBOUR_TABLE = 1024  # net.ipv4.neigh.default.gc_thresh3: one ARP table for every namespace of the machine
# The machine's own namespace shares that table: a matrix must never crowd it out, so a matrix
# that would need more than this many entries is refused before any packet leaves.
NEIGHBOUR_BUDGET = NEIGHBOUR_TABLE // 2


def plan(ctl, proto: str, port, network: str | None) -> tuple[list[str], list]:
    """On the kernel thread: the containers in order, and a Target (or an error) for every pair."""
    proto, _ = targets.check_proto(proto, port)
    net = ctl.network(network) if network else None
    members = [c for c in ctl.containers.values() if c.running
               and (net is None or any(ctl.endpoints[e].network_id == net.id for e in c.endpoints))]
    pairs = []
    for a in members:
        for b in members:
            if a is b:
                continue
            try:
                if proto == "dns":
                    t = single.resolve(ctl, a.name, b.name, proto, port)
                else:
                    t = targets.resolve(ctl, a.name, b.name, proto, port, network=network)
            except CnmError as exc:
                t = exc.message
            pairs.append((a.name, b.name, t))
    return [c.name for c in members], pairs


def neighbours_needed(found: list) -> int:
    """Neighbour entries the probes create: one per on-link destination, one per gateway used."""
    hops = {(t.netns, t.dst_ip if t.shared_networks else "gateway") for t in found}
    return len(hops)


def run(engine, proto: str = "icmp", port=None, network: str | None = None, explain: bool = False,
        timeout=None) -> dict:
    timeout = single.check_timeout(DEFAULT_TIMEOUT if timeout is None else timeout)
    started = time.perf_counter()
    names, pairs = engine.call(plan, engine.controller, proto, port, network)
    planned = time.perf_counter()
    proto, port = targets.check_proto(proto, port)
    hosts = list(dict.fromkeys(h for _, _, t in pairs if not isinstance(t, str) for h in t.path.hosts))
    before = rules.snapshot(hosts)
    work = [(a, b, t, single.make_probe(t)) for a, b, t in pairs if not isinstance(t, str) and not t.error]
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
    results = {}
    for a, b, t, probe in work:
        rule = rules.blame(moved, after, t.path.packets) if verdict.wants_rule(probe) else None
        results[(a, b)] = verdict.result(t, probe, rule, timeout)
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
    return {"proto": proto, "port": port, "network": network, "timeout": timeout, "containers": names,
            "cells": cells, "legend": legend, "warnings": warnings, "timings": {k: round(v * 1000, 1) for k, v in timings.items()}}
