"""One probe: resolve SRC and DST, note the rule counters on the path, send, judge."""

from __future__ import annotations

import os

from ..errors import NotFound
from ..osl.lookup import KernelView
from . import apps, rules, sender, verdict
from . import target as targets

LOOKUP = ()  # a look-up holds no object: a change parked on a plugin call does not hold it up

DEFAULT_TIMEOUT = 1.0
MAX_TIMEOUT = 10.0
DEFAULT_RESOLVER = "127.0.0.11"


def check_timeout(timeout) -> float:
    from ..errors import InvalidParameter

    try:
        value = float(DEFAULT_TIMEOUT if timeout is None else timeout)
    except (TypeError, ValueError):
        raise InvalidParameter(f"invalid timeout {timeout}: use seconds, e.g. 0.5") from None
    if not 0 < value <= MAX_TIMEOUT:
        raise InvalidParameter(f"invalid timeout {timeout}: use more than 0 and at most {MAX_TIMEOUT:g} seconds")
    return value


def resolver_of(netns: str) -> str:
    """The name server in the sandbox's resolv.conf (Docker's embedded DNS on user networks)."""
    try:
        with open(f"/etc/netns/{netns}/resolv.conf") as f:
            for line in f:
                words = line.split()
                if len(words) >= 2 and words[0] == "nameserver":
                    return words[1]
    except OSError:
        pass
    return DEFAULT_RESOLVER


def resolve(ctl, src: str, dst: str, proto: str, port, view=None) -> targets.Target:
    """On the kernel thread. A dns probe asks the sandbox's resolver for the name DST."""
    proto, _ = targets.check_proto(proto, port)
    if proto != "dns":
        return targets.resolve(ctl, src, dst, proto, port, view=view)
    source, _ = targets.source_of(ctl, src)
    server = resolver_of(source.netns)
    found = targets.resolve(ctl, src, server, "dns", port, view=view)
    found.destination = dst
    return found


MAX_SIZE = 9000


def check_size(size, proto: str) -> int | None:
    from ..errors import InvalidParameter

    if size is None:
        return None
    try:
        size = int(size)
    except (TypeError, ValueError):
        raise InvalidParameter(f"invalid size {size}: use the IP packet's length in bytes, e.g. 1500") from None
    if proto not in ("icmp", "udp"):
        raise InvalidParameter(f"--size applies to icmp and udp probes, not {proto}")
    if not 64 <= size <= MAX_SIZE:
        raise InvalidParameter(f"invalid size {size}: use 64 to {MAX_SIZE} bytes")
    return size


def make_probe(t: targets.Target, size: int | None = None) -> sender.Probe:
    return sender.Probe(netns=t.netns, proto=t.proto, dst_ip=t.dst_ip or "0.0.0.0", port=t.port,
                        egress=t.egress, query=t.destination if t.proto == "dns" else None, size=size)


def resolve_anywhere(engine, src: str, dst: str, proto: str, port) -> targets.Target:
    """Resolve on the kernel thread; a name the lab does not know (a service, a name only the
    embedded DNS has) is then asked of the source sandbox's own resolver, from this thread."""
    try:
        return engine.call(resolve, engine.controller, src, dst, proto, port, holds=LOOKUP)
    except NotFound as exc:
        if not str(exc.message).startswith("No such container, alias"):
            raise
        netns = engine.call(lambda: targets.source_of(engine.controller, src)[0].netns, holds=LOOKUP)
        server = resolver_of(netns)
        address = apps.lookup(netns, dst, server) if os.path.exists(f"/etc/netns/{netns}/resolv.conf") else None
        if address is None:
            raise
        t = engine.call(resolve, engine.controller, src, address, proto, port, holds=LOOKUP)
        t.destination = dst
        t.notes = [f"{dst} resolved to {address} by {server} in {netns}"]
        return t


def settler(before: rules.Counters, hosts: list[str], targets_by_probe: dict):
    """A `settle` for sender.run: every silent probe is explained when the rule its packet meets
    (walking the chains) counted at least as many drops as there are such probes."""
    if not hosts:
        return None

    def settle(silent) -> bool:
        after = rules.snapshot(hosts)
        moved = rules.moved_drops(before, after)
        need: dict = {}
        for probe in silent:
            rule = rules.blame(moved, after, targets_by_probe[id(probe)].path.packets)
            if rule is None:
                return False
            need[rule] = need.get(rule, 0) + 1
        return all(moved[rule] >= n for rule, n in need.items())

    return settle


def read_neighbours(silent: list[tuple[targets.Target, sender.Probe]]) -> None:
    """For probes nothing answered and no rule explains: the neighbour (ARP) entry of each next hop
    on the path, as the kernel holds it now. FAILED or INCOMPLETE means the next hop never answered."""
    if not silent:
        return
    with KernelView() as view:
        for t, probe in silent:
            for ns, oif, nexthop in t.path.steps:
                state = view.neighbour(ns, oif, nexthop)
                if state in ("FAILED", "INCOMPLETE"):
                    probe.neighbour = (f"{nexthop} never answered ARP on {oif} in {ns} (its neighbour entry is "
                                       f"{state}): nothing on that link has the address, or it is down")
                    break


def run(engine, src: str, dst: str, proto: str = "icmp", port=None, timeout=None, size=None) -> dict:
    """The probe result (see the agreed shape in verdict.result). Safe to call from any thread."""
    timeout = check_timeout(timeout)
    size = check_size(size, (proto or "icmp").lower())
    t = resolve_anywhere(engine, src, dst, proto, port)
    if t.error:
        return verdict.result(t, sender.Probe(t.netns, t.proto, t.dst_ip or ""), None, timeout)
    hosts = t.path.hosts
    before = rules.snapshot(hosts)
    probe = make_probe(t, size)
    sender.run([probe], timeout, settle=settler(before, hosts, {id(probe): t}))
    rule = None
    if verdict.wants_rule(probe):
        after = rules.snapshot(hosts)
        rule = rules.blame(rules.moved_drops(before, after), after, t.path.packets)
    if rule is None and probe.outcome is None:
        read_neighbours([(t, probe)])
    return verdict.result(t, probe, rule, timeout)
