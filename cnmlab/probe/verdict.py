"""The outcome of a probe and the one line that explains it: the cause, the namespace where it
happened, and what to look at.

Silence is judged last: when a dropping rule (or a chain's policy) on the path counted the probe's
packet, the probe was `filtered` by it; else the kernel's own answers name the cause: a neighbour
(ARP) entry left FAILED/INCOMPLETE, a namespace on the way without a route or without forwarding,
reverse path filtering; only when none applies is it a bare `timeout`. Each explanation has a
short key (the matrix's legend explains each key once). The CLI, the TUI, the notebook and the
lab checks all show this same line.
"""

from __future__ import annotations

from .rules import Rule

LEGEND = {
    "same-network": "same network: the network's bridge (or switch) forwards between them",
    "routed": "routed by a host: its gateway address, a published port (DNAT) or its own address",
    "isolation": "different networks: Docker's DOCKER-ISOLATION-STAGE-1/2 rules drop traffic between bridges",
    "internal": "internal network: DOCKER-ISOLATION-STAGE-1 drops what leaves or enters its subnet",
    "icc-disabled": "ICC disabled (enable_icc=false): FORWARD drops traffic between the network's containers",
    "forward-policy": ("a chain's policy is DROP and no rule accepted the packet (bridged frames pass iptables "
                       "when br_netfilter is on: a bridge a plugin made needs its own FORWARD accept rule)"),
    "rule": "an iptables rule dropped it",
    "conntrack-invalid": ("conntrack marked the packet INVALID (it belongs to no connection conntrack saw start "
                          "there, e.g. a reply whose request took another way) and a --ctstate INVALID rule "
                          "dropped it"),
    "other-host": "a bridge network is local to its host: nothing routes to another host's bridge subnet",
    "macvlan-host": "macvlan (and ipvlan): the parent's own host cannot talk to its children directly",
    "no-network": "no network: the sandbox has only loopback (network none), or the destination has no address",
    "no-route": "no route: a namespace's route lookup found no route there (or a router answered unreachable)",
    "no-forwarding": "a namespace on the way does not forward (net.ipv4.ip_forward = 0): a container is not a router",
    "rp-filter": "reverse path filtering (rp_filter): the receiver's route back to the source leaves by another interface",
    "neighbour": "no neighbour: the next hop never answered ARP (its entry is FAILED or INCOMPLETE)",
    "ttl-exceeded": "TTL exceeded: the packet went round a routing loop (or too many routers) until its TTL ran out",
    "routing-loop": "a routing loop: the routes send the packet back where it came from, until its TTL runs out",
    "unknown-device": "the path crosses a device of a kind cnmlab cannot follow: see the trace's captures",
    "reply-lost": "the request arrives, but the reply is lost on its own way back (an asymmetric path)",
    "too-big": ("too big for the path MTU with DF set: the packet is larger than a device's MTU on the way (1450 on "
                "an overlay, as VXLAN adds 50 bytes on the underlay's 1500), and DF forbids fragmenting it"),
    "refused": "the packet arrived, but nothing answers on that port (TCP RST or ICMP port unreachable)",
    "timeout": "no answer, and no iptables rule on the path counted a drop",
    "local-discard": ("the source's kernel discarded packets before they left (IpOutDiscards), e.g. because the "
                      "machine's neighbour (ARP) table is full: net.ipv4.neigh.default.gc_thresh3 (1024 by "
                      "default) counts the entries of every namespace on the machine"),
}
SHORT = {
    "isolation": "different networks",
    "internal": "internal network",
    "icc-disabled": "ICC disabled",
    "forward-policy": "FORWARD policy DROP",
    "rule": "iptables rule",
    "conntrack-invalid": "conntrack INVALID",
}
REPLIES = {"icmp": "an ICMP echo reply", "tcp": "a TCP SYN-ACK"}


def _drops_invalid(rule: Rule) -> bool:
    words = rule.rule.split()
    for option in ("--ctstate", "--state"):
        if option in words:
            i = words.index(option)
            return "INVALID" in words[i + 1].split(",") and words[i - 1] != "!"
    return False


def rule_key(rule: Rule) -> str:
    if _drops_invalid(rule):
        return "conntrack-invalid"
    if rule.chain == "DOCKER-ISOLATION-STAGE-2":
        return "isolation"
    if rule.chain == "DOCKER-ISOLATION-STAGE-1":
        return "internal" if ("! -s" in rule.rule or "! -d" in rule.rule) else "isolation"
    if rule.chain == "FORWARD" and rule.rule.startswith("-P "):
        return "forward-policy"
    words = rule.rule.split()
    if rule.chain == "FORWARD" and "-i" in words and "-o" in words and \
            words[words.index("-i") + 1] == words[words.index("-o") + 1]:
        return "icc-disabled"
    return "rule"


def _parent_isolated(facts: dict) -> bool:
    """One side is a child of a parent interface whose driver declares it cut off from its own
    host (macvlan, ipvlan), the other that host or something the host routes: the kernel never
    delivers between a parent and its children."""
    if facts.get("src_host") != facts.get("dst_host") or facts.get("shared"):
        return False
    child_src = any(n["parent_isolated"] for n in facts.get("src", []))
    child_dst = any(n["parent_isolated"] for n in facts.get("dst", []))
    return child_src != child_dst


def rule_reason(rule: Rule, path=None) -> str:
    """Why this rule (or policy) met the packet, in one line."""
    if _drops_invalid(rule):
        return _invalid_reason(rule, path)
    if not rule.rule.startswith("-P "):
        return f"dropped in {rule.namespace} by {rule.text()}"
    line = f"dropped in {rule.namespace} by the {rule.table}/{rule.chain} policy DROP: no rule accepted it"
    bridged = path is not None and any(p.namespace == rule.namespace and p.iif and p.iif == p.oif
                                       for p in path.packets)
    if bridged:
        line += f"; bridged frames pass iptables: br_netfilter is on in {rule.namespace}"
    return line


def too_big_reason(path, size: int) -> str:
    """The one line for a packet larger than the path MTU with DF set; the path's MTU is the
    smallest room on the way (an overlay's 1450: its VXLAN devices carry 50 bytes more)."""
    ns, dev, mtu, extra = path.too_big(size)
    room = min(m[2] - m[3] for m in path.mtus if m[2])
    where = "on the overlay" if path.encapsulated else "on the way"
    inside = f" inside VXLAN ({size + extra} bytes on the wire)" if extra else ""
    return (f"too big for the path MTU ({room} {where}) with DF set: {size} bytes do not fit {dev} in {ns} "
            f"(MTU {mtu}){inside}")


def _invalid_reason(rule: Rule, path=None) -> str:
    ns = rule.namespace
    if path is not None and ns in path.invalid_in:
        l4 = next((p.proto for p in path.packets if p.namespace == ns), "icmp")
        why = (f"{REPLIES.get(l4, 'a reply')} of a connection {ns} never saw start: the request took another way "
               f"(an asymmetric path), and only the reply crosses {ns}")
    else:
        why = f"the packet fits no connection {ns}'s conntrack tracks"
    return f"conntrack marked the packet INVALID in {ns} ({why}); dropped by {rule.text()}"


def judge(target, probe, rule: Rule | None, timeout: float) -> tuple[str, str, str]:
    """(outcome, reason key, one-line reason) of a finished probe."""
    facts = target.facts
    path = target.path
    if target.error:
        return "no route", "no-network", target.error
    outcome = probe.outcome
    size = getattr(probe, "size", None)
    tight = path.too_big(size) if size and outcome != "reachable" else None
    if tight is not None and rule is None:
        heard = f"{probe.heard}: " if probe.heard else f"no answer within {timeout:g} s: "
        return outcome or "timeout", "too-big", heard + too_big_reason(path, size)
    if outcome == "reachable":
        key = "same-network" if target.shared_networks else "routed"
        rtt = f" in {probe.rtt_ms:.2f} ms" if probe.rtt_ms is not None else ""
        return outcome, key, f"{probe.heard}{rtt}"
    rejected = f" (rejected by {rule.chain} on {rule.namespace})" if rule is not None else ""
    if outcome == "refused":
        return outcome, "refused", probe.heard + rejected
    if outcome == "no route":
        if "time exceeded" in (probe.heard or ""):
            return outcome, "ttl-exceeded", f"{probe.heard}: its TTL ran out on the way (a routing loop?)"
        if path.stop_key in ("no-route", "no-forwarding", "rp-filter") and rule is None:
            return outcome, path.stop_key, f"{probe.heard}: {path.stop}"
        if path.stop_key == "no-neighbour" and rule is None:  # the sender's own ARP went unanswered
            return outcome, "neighbour", f"{probe.heard}: {path.stop}"
        if _parent_isolated(facts) and rule is None and path.stop_key is None:  # its own ARP for a child failed
            return outcome, "macvlan-host", f"{probe.heard}: {LEGEND['macvlan-host']}"
        key = "other-host" if _other_host(facts) and not probe.heard.startswith(target.netns) else "no-route"
        return outcome, key, probe.heard + rejected
    if outcome == "filtered":
        return outcome, rule_key(rule) if rule else "rule", probe.heard + rejected
    if rule is not None:
        key = rule_key(rule)
        if key == "conntrack-invalid":
            return "filtered", key, rule_reason(rule, path)
        if rule.rule.startswith("-P "):
            return "filtered", key, f"{SHORT[key]}: {rule_reason(rule, path)}"
        why = f" ({rule.comment})" if rule.comment else ""
        return "filtered", key, f"{SHORT[key]}: dropped by {rule.chain} on {rule.namespace}{why}"
    if probe.discarded:
        return "timeout", "local-discard", (f"no answer within {timeout:g} s: {target.netns}'s kernel discarded "
                                             f"{probe.discarded} outgoing packet(s) (is the machine's ARP table full?)")
    if _parent_isolated(facts) and path.stop_key is None:  # the kernel's lookups found a way: the link refuses it
        return "timeout", "macvlan-host", f"no answer within {timeout:g} s: {LEGEND['macvlan-host']}"
    if _other_host(facts):
        seen = f"; {path.stop}" if path.stop_key in ("no-route", "no-forwarding") else ""
        return "timeout", "other-host", f"no answer within {timeout:g} s: {LEGEND['other-host']}{seen}"
    if getattr(probe, "neighbour", None):
        where = f"; {path.misrouted}" if path.misrouted else ""
        return "timeout", "neighbour", f"no answer within {timeout:g} s: {probe.neighbour}{where}"
    if path.stop_key is not None and path.stop_key != "no-neighbour":
        return "timeout", path.stop_key, f"no answer within {timeout:g} s: {path.stop}"
    if path.reply_stop:
        return "timeout", "reply-lost", (f"no answer within {timeout:g} s: the request reaches {path.ends_in}, "
                                         f"but its reply is lost: {path.reply_stop}")
    return "timeout", "timeout", f"no answer within {timeout:g} s, and no iptables rule on the path counted a drop"


def _other_host(facts: dict) -> bool:
    return (facts.get("dst_kind") == "container" and facts.get("dst_host") not in (None, facts.get("src_host"))
            and not facts.get("shared"))


def wants_rule(probe) -> bool:
    """Should the counters name a rule? For silence, and for ICMP errors sent by someone other
    than the destination (a REJECT rule on the way answers in the host's name)."""
    if probe.outcome is None or probe.outcome == "filtered":
        return True
    return probe.outcome in ("refused", "no route") and probe.answer_from not in (None, probe.dst_ip)


def result(target, probe, rule: Rule | None, timeout: float) -> dict:
    """The agreed probe result shape (plus reason_key and rule for fronts that want them)."""
    outcome, key, reason = judge(target, probe, rule, timeout)
    dst_ip = target.dst_ip
    if target.proto == "dns" and probe.answer:
        dst_ip = probe.answer
    return {
        "source": target.source,
        "destination": target.destination,
        "proto": target.proto,
        "port": target.port,
        "src_ip": probe.src_ip if probe else None,
        "dst_ip": dst_ip,
        "outcome": outcome,
        "rtt_ms": probe.rtt_ms if probe and outcome == "reachable" else None,
        "reason": reason,
        "reason_key": key,
        "rule": rule.to_json() if rule and outcome != "reachable" else None,
        "resolved": "; ".join(target.notes) or None,  # how DST became an address, when DNS did it
    }
