"""A hop-by-hop trace: one probe, captured on every interface the path says it crosses.

Each hop shows whether the probe (request leg) or its answer (reply leg) was seen there, a
one-line decode, the VXLAN outer headers on an underlay, and the NAT rewrite where the addresses
change from the previous hop. A drop names the rule: the walk of the chains at the host where
the packet was last seen, confirmed by that rule's counter having moved.
"""

from __future__ import annotations

import socket

from ..errors import InvalidParameter
from . import packets, rules, sender, single, verdict
from .capture import Captures

DEFAULT_TIMEOUT = 0.5
TRACE_PROTOS = {"icmp": "icmp", "tcp": "tcp", "udp": "udp", "http": "tcp", "dns": "udp"}


def _leg_of(ip: packets.Ip, probe: sender.Probe) -> str | None:
    """'request' or 'reply' when this packet belongs to the probe (through any NAT), else None."""
    proto = packets.PROTO_NUMBERS[probe.proto]
    if ip.quoted is not None:
        q = ip.quoted
        return "reply" if q.proto == proto and q.sport == probe.ident else None
    if ip.proto != proto:
        return None
    if proto == socket.IPPROTO_ICMP:
        if ip.sport != probe.ident:
            return None
        return {8: "request", 0: "reply"}.get(ip.icmp_type)
    if ip.sport == probe.ident:
        return "request"
    if ip.dport == probe.ident:
        return "reply"
    return None


def _nat(prev: packets.Ip | None, cur: packets.Ip, leg: str) -> str | None:
    """The rewrite between two sightings of the same packet: MASQUERADE/DNAT, or their reversal."""
    if prev is None or prev.quoted is not None or cur.quoted is not None:
        return None
    icmp = cur.proto == socket.IPPROTO_ICMP

    def end(ip: str, port: int) -> str:
        return ip if icmp else f"{ip}:{port}"

    notes = []
    if prev.src != cur.src or (not icmp and prev.sport != cur.sport):
        what = "MASQUERADE" if leg == "request" else "reverse DNAT"
        notes.append(f"{what}: source {end(prev.src, prev.sport)} -> {end(cur.src, cur.sport)}")
    if prev.dst != cur.dst or (not icmp and prev.dport != cur.dport):
        what = "DNAT" if leg == "request" else "reverse MASQUERADE"
        notes.append(f"{what}: destination {end(prev.dst, prev.dport)} -> {end(cur.dst, cur.dport)}")
    return "; ".join(notes) or None


def run(engine, src: str, dst: str, proto: str = "icmp", port=None, timeout=None, size=None) -> dict:
    timeout = single.check_timeout(DEFAULT_TIMEOUT if timeout is None else timeout)
    proto = (proto or "icmp").lower()
    if proto not in TRACE_PROTOS:
        raise InvalidParameter(f"trace follows icmp, tcp and udp packets (http as tcp, dns as udp), not {proto}")
    size = single.check_size(size, proto)
    t = single.resolve_anywhere(engine, src, dst, proto, port)
    if t.error:
        raise InvalidParameter(f"cannot trace {src} -> {dst}: {t.error}")
    legs = t.path.both_legs()
    probe = single.make_probe(t, size)
    probe.proto = TRACE_PROTOS[t.proto]
    if t.proto == "dns":
        from dnslib import DNSRecord

        probe.payload = DNSRecord.question(t.destination, "A").pack()
    hosts = t.path.hosts
    caps = Captures(legs)
    try:
        before = rules.snapshot(hosts)
        sender.run([probe], timeout, settle=single.settler(before, hosts, {id(probe): t}))
        frames = caps.drain()
    finally:
        caps.close()
    rule = None
    if verdict.wants_rule(probe):
        after = rules.snapshot(hosts)
        rule = rules.blame(rules.moved_drops(before, after), after, t.path.packets)
    if rule is None and probe.outcome is None:
        single.read_neighbours([(t, probe)])
    hops = _hops(legs, frames, caps.missing, probe)
    outcome, key, reason = verdict.judge(t, probe, rule, timeout)
    request = [h for h in hops if h["leg"] == "request"]
    seen_request = [h for h in request if h["seen"]]
    if probe.outcome in ("reachable", "refused"):
        result = "replied"
    elif request and request[-1]["seen"] and t.path.ends_in is not None:
        result = "delivered"  # it arrived, and nothing answered
    else:
        result = "dropped"
    dropped_after = seen_request[-1]["index"] if result == "dropped" and seen_request else None
    if result == "dropped" and rule is not None:
        reason = verdict.rule_reason(rule, t.path)
    elif result == "dropped" and t.path.no_route:
        reason = t.path.no_route
    return {
        "source": t.source, "destination": t.destination, "proto": t.proto, "port": t.port,
        "src_ip": probe.src_ip, "dst_ip": t.dst_ip, "verdict": result, "dropped_after": dropped_after,
        "rule": rule.to_json() if rule and result == "dropped" else None, "hops": hops,
        "outcome": outcome, "reason": reason, "reason_key": key, "rtt_ms": probe.rtt_ms,
        "expected_nat": t.path.notes,
    }


def _hops(legs, frames, missing, probe: sender.Probe) -> list[dict]:
    out = []
    sent = packets.parse_ip(probe.sent) if probe.sent else None  # NAT at the first hop shows too
    previous: dict[str, packets.Ip | None] = {"request": sent, "reply": None}
    for index, hop in enumerate(legs, 1):
        found, at, frame = None, None, None
        for cap in frames.get(hop.key, []):
            parsed = packets.parse_frame(cap.data)
            if parsed is None or parsed.ip is None:
                continue
            if _leg_of(parsed.ip, probe) == hop.leg:
                found, at, frame = parsed.ip, cap.at, parsed
                break
        summary = packets.describe_frame(frame) if frame else missing.get(hop.key)
        nat = _nat(previous[hop.leg], found, hop.leg) if found else None
        if found is not None:
            previous[hop.leg] = found
        out.append({
            "index": index, "leg": hop.leg, "namespace": hop.namespace, "kind": hop.kind,
            "interface": hop.interface, "direction": hop.direction, "seen": found is not None,
            "summary": summary, "outer": frame.outer if frame else None, "nat": nat,
            "time_ms": round((at - probe.sent_at) * 1000, 3) if at and probe.sent_at else None,
        })
    return out
