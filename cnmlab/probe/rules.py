"""Which iptables rule dropped a packet: per-rule counters before and after, in each host on the path.

A rule is blamed when its packet counter moved during the probe, its verdict drops (DROP, REJECT,
or a chain policy of DROP), and what it matches fits the probe's packet at that host (in and out
interface, addresses, protocol, port). The last check keeps concurrent probes, and unrelated
traffic, from being blamed on each other.
"""

from __future__ import annotations

import ipaddress
import re
import shlex
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from ..osl import iptables

TABLES = ("filter",)
DROPPING = ("DROP", "REJECT")
_COUNTED = re.compile(r"^\[(\d+):(\d+)\] -A (\S+) ?(.*)$")
_POLICY = re.compile(r"^:(\S+) (ACCEPT|DROP) \[(\d+):(\d+)\]$")


@dataclass(frozen=True)
class Rule:
    namespace: str
    table: str
    chain: str
    rule: str  # as `iptables -S` prints it after "-A CHAIN", or "-P CHAIN DROP" for a policy
    position: int  # index within the chain (0 for policies): tells identical rules apart

    @property
    def target(self) -> str:
        if self.rule.startswith("-P "):
            return self.rule.split()[-1]
        words = self.rule.split()
        return words[words.index("-j") + 1] if "-j" in words else ""

    @property
    def comment(self) -> str | None:
        """The rule's `-m comment --comment`: whoever wrote the rule saying why it is there."""
        try:
            words = shlex.split(self.rule)
        except ValueError:
            return None
        return words[words.index("--comment") + 1] if "--comment" in words[:-1] else None

    def text(self) -> str:
        return f"{self.table}/{self.chain}: {self.rule}"

    def to_json(self) -> dict:
        return {"namespace": self.namespace, "table": self.table, "chain": self.chain, "rule": self.rule}


Counters = dict[Rule, int]


def parse(namespace: str, table: str, text: str) -> Counters:
    out: Counters = {}
    seen: dict[str, int] = {}
    for line in text.splitlines():
        m = _COUNTED.match(line)
        if m:
            packets, _, chain, rule = m.groups()
            seen[chain] = seen.get(chain, 0) + 1
            out[Rule(namespace, table, chain, rule, seen[chain])] = int(packets)
            continue
        m = _POLICY.match(line)
        if m and m.group(2) == "DROP":
            chain, _, packets, _ = m.groups()
            out[Rule(namespace, table, chain, f"-P {chain} DROP", 0)] = int(packets)
    return out


def snapshot(namespaces: list[str]) -> Counters:
    """Counters of every rule in these namespaces (one iptables-save each, run in parallel)."""
    jobs = [(ns, table) for ns in dict.fromkeys(namespaces) for table in TABLES]
    if not jobs:
        return {}
    out: Counters = {}
    with ThreadPoolExecutor(max_workers=min(8, len(jobs))) as pool:
        texts = list(pool.map(lambda job: _save(*job), jobs))
    for (ns, table), text in zip(jobs, texts):
        out.update(parse(ns, table, text))
    return out


def _save(ns: str, table: str) -> str:
    try:
        return iptables.save_with_counters(ns, table)
    except (iptables.IptablesError, OSError):
        return ""  # the namespace went away meanwhile: it dropped nothing we can name


def moved_drops(before: Counters, after: Counters) -> dict[Rule, int]:
    """Dropping rules whose packet counter went up, with how much."""
    return {rule: n - before.get(rule, 0) for rule, n in after.items()
            if rule.target in DROPPING and n > before.get(rule, 0)}


@dataclass
class Packet:
    """The probe's packet as one host's netfilter sees it."""

    namespace: str
    iif: str | None
    oif: str | None
    src: str
    dst: str
    proto: str  # icmp | tcp | udp
    dport: int | None = None
    # what conntrack in this namespace makes of it: NEW for a request (and DNAT once rewritten),
    # ESTABLISHED for a reply where the request passed, INVALID where only the reply passes
    ctstates: tuple[str, ...] = ("NEW",)


def matches(rule: Rule, pkt: Packet) -> bool:
    """Does this rule's match fit the packet? Only the options Docker's rules use are read."""
    if rule.namespace != pkt.namespace:
        return False
    if rule.rule.startswith("-P "):
        return rule.chain == "FORWARD" and pkt.iif is not None and pkt.oif is not None
    try:
        words = shlex.split(rule.rule)
    except ValueError:
        return False
    i, negate = 0, False
    while i < len(words):
        word = words[i]
        if word == "!":
            negate, i = True, i + 1
            continue
        value = words[i + 1] if i + 1 < len(words) else ""
        if word in ("--ctstate", "--state"):
            if bool(set(value.split(",")) & set(pkt.ctstates)) == negate:
                return False
            i += 2
        elif word in ("-i", "-o", "-s", "-d", "-p", "--dport"):
            ok = _fits(word, value, pkt)
            if ok is not None and ok == negate:
                return False
            i += 2
        elif word == "-j":
            break
        else:
            i += 1  # -m NAME and other words we cannot judge: assume they fit
        negate = False
    return True


def _fits(option: str, value: str, pkt: Packet) -> bool | None:
    if option in ("-i", "-o"):
        have = pkt.iif if option == "-i" else pkt.oif
        if have is None:
            return False
        return have == value or (value.endswith("+") and have.startswith(value[:-1]))
    if option in ("-s", "-d"):
        addr = pkt.src if option == "-s" else pkt.dst
        try:
            return ipaddress.ip_address(addr) in ipaddress.ip_network(value, strict=False)
        except ValueError:
            return None
    if option == "-p":
        return pkt.proto == value
    if option == "--dport":
        return pkt.dport is not None and str(pkt.dport) == value
    return None


def _chains(counters: Counters, namespace: str) -> tuple[dict[str, list[Rule]], dict[str, Rule]]:
    chains: dict[str, list[Rule]] = {}
    policies: dict[str, Rule] = {}
    for rule in counters:
        if rule.namespace != namespace or rule.table != "filter":
            continue
        if rule.rule.startswith("-P "):
            policies[rule.chain] = rule
        else:
            chains.setdefault(rule.chain, []).append(rule)
    for rules in chains.values():
        rules.sort(key=lambda r: r.position)
    return chains, policies


def _walk(chains: dict[str, list[Rule]], chain: str, pkt: Packet, depth: int = 0) -> tuple[str, Rule] | None:
    if depth > 8:
        return None
    for rule in chains.get(chain, []):
        if not matches(rule, pkt):
            continue
        target = rule.target
        if target in chains:
            verdict = _walk(chains, target, pkt, depth + 1)
            if verdict is not None:
                return verdict
        elif target == "RETURN":
            return None
        elif target == "ACCEPT":
            return "ACCEPT", rule
        elif target in DROPPING:
            return "DROP", rule
    return None


def first_drop(counters: Counters, pkt: Packet) -> Rule | None:
    """Walk the host's filter chains as netfilter would for this packet: the rule that drops it."""
    chains, policies = _chains(counters, pkt.namespace)
    hook = "FORWARD" if pkt.iif and pkt.oif else ("INPUT" if pkt.oif is None else "OUTPUT")
    verdict = _walk(chains, hook, pkt)
    if verdict is None:
        return policies.get(hook)
    kind, rule = verdict
    return rule if kind == "DROP" else None


def blame(moved: dict[Rule, int], after: Counters, packets: list[Packet]) -> Rule | None:
    """The rule that dropped this probe: where the walk of the chains ends in a drop, and whose
    counter moved during the probe (see moved_drops). A rule that merely fits the packet is not
    enough: with many probes in flight, other probes move counters too."""
    for pkt in packets:
        rule = first_drop(after, pkt)
        if rule is not None and rule in moved:
            return rule
    return None
