"""The name table of the embedded DNS: which names each sandbox may resolve, on which network.

As in libnetwork, records live per network: a container's name, its --alias names and its short
id resolve to its address on that network, and only for sandboxes on the same network. A name
may carry a network suffix (`bb.net-a`); the name part matches without regard to case, the
network part must match exactly (Docker: `BB.net-a` resolves, `BB.NET-A` does not).

The kernel thread writes the table (join, leave, services); the DNS thread reads it. One lock
keeps the two apart; every operation is a few dict lookups.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field
from ipaddress import IPv4Address


@dataclass
class Lookup:
    """The answer to one query: found (the name exists), the addresses (shuffled) or a PTR name."""

    found: bool
    addresses: list[str] = field(default_factory=list)
    ptr: str | None = None
    network: str = ""


@dataclass
class _NetworkRecords:
    name: str
    # lower-cased name -> owner -> addresses; an owner is an endpoint id or "svc:<id>"
    names: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    ptr: dict[str, str] = field(default_factory=dict)  # address -> "name.network"


class NameTable:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._networks: dict[str, _NetworkRecords] = {}
        self._sandboxes: dict[str, list[str]] = {}  # sandbox (netns) -> network ids, in join order
        self._owned: dict[str, tuple[str, list[str], list[str]]] = {}  # owner -> (network, names, PTR addresses)
        self._by_sandbox: dict[str, set[str]] = {}  # sandbox -> owners of its endpoints' records

    # -- writes (kernel thread) ------------------------------------------------------
    def add(self, network_id: str, network_name: str, owner: str, names: list[str], addresses: list[str],
            ptr_name: str | None = None, sandbox: str | None = None) -> None:
        """Give `names` the `addresses` on a network; a later add by the same owner replaces it.
        Records given a sandbox go with it when it is detached altogether."""
        with self._lock:
            if sandbox is not None:
                self._by_sandbox.setdefault(sandbox, set()).add(owner)
            self._remove(owner)
            recs = self._networks.setdefault(network_id, _NetworkRecords(network_name))
            keys = list(dict.fromkeys(n.lower() for n in names if n))
            for key in keys:
                recs.names.setdefault(key, {})[owner] = list(addresses)
            if ptr_name:
                for address in addresses:
                    recs.ptr[address] = f"{ptr_name}.{network_name}"
            self._owned[owner] = (network_id, keys, list(addresses) if ptr_name else [])

    def remove(self, owner: str) -> None:
        with self._lock:
            self._remove(owner)

    def _remove(self, owner: str) -> None:
        entry = self._owned.pop(owner, None)
        if entry is None:
            return
        network_id, keys, ptr_addresses = entry
        recs = self._networks.get(network_id)
        if recs is None:
            return
        for key in keys:
            owners = recs.names.get(key, {})
            owners.pop(owner, None)
            if not owners:
                recs.names.pop(key, None)
        for address in ptr_addresses:
            recs.ptr.pop(address, None)

    def attach(self, sandbox: str, network_id: str) -> None:
        """The sandbox joined a network: it may now resolve that network's names."""
        with self._lock:
            nets = self._sandboxes.setdefault(sandbox, [])
            if network_id not in nets:
                nets.append(network_id)

    def detach(self, sandbox: str, network_id: str | None = None) -> None:
        with self._lock:
            if network_id is None:
                self._sandboxes.pop(sandbox, None)
                for owner in self._by_sandbox.pop(sandbox, set()):
                    self._remove(owner)
            elif network_id in self._sandboxes.get(sandbox, []):
                self._sandboxes[sandbox].remove(network_id)

    def clear(self) -> None:
        with self._lock:
            self._networks.clear()
            self._sandboxes.clear()
            self._owned.clear()
            self._by_sandbox.clear()

    # -- reads (DNS thread) ----------------------------------------------------------
    def networks_of(self, sandbox: str) -> list[str]:
        with self._lock:
            return list(self._sandboxes.get(sandbox, []))

    def resolve(self, sandbox: str, qname: str) -> Lookup:
        """A name as the sandbox asks it: plain first, then `NAME.NETWORK` (libnetwork's order)."""
        name = qname.rstrip(".")
        with self._lock:
            nets = [self._networks[n] for n in self._sandboxes.get(sandbox, []) if n in self._networks]
            for recs in nets:
                hit = recs.names.get(name.lower())
                if hit:
                    return Lookup(True, _shuffled(hit), network=recs.name)
            for recs in nets:
                suffix = "." + recs.name
                if name.endswith(suffix) and len(name) > len(suffix):
                    hit = recs.names.get(name[: -len(suffix)].lower())
                    if hit:
                        return Lookup(True, _shuffled(hit), network=recs.name)
        return Lookup(False)

    def reverse(self, sandbox: str, qname: str) -> Lookup:
        """A PTR query (d.c.b.a.in-addr.arpa) for an address on one of the sandbox's networks."""
        address = ptr_address(qname)
        if address is None:
            return Lookup(False)
        with self._lock:
            for net_id in self._sandboxes.get(sandbox, []):
                recs = self._networks.get(net_id)
                if recs and address in recs.ptr:
                    return Lookup(True, ptr=recs.ptr[address], network=recs.name)
        return Lookup(False)

    def names_on(self, network_id: str) -> dict[str, list[str]]:
        """Every name of a network and its addresses (for inspect and the fronts)."""
        with self._lock:
            recs = self._networks.get(network_id)
            if recs is None:
                return {}
            return {name: sorted({a for addrs in owners.values() for a in addrs})
                    for name, owners in sorted(recs.names.items())}


def _shuffled(owners: dict[str, list[str]]) -> list[str]:
    addresses = list(dict.fromkeys(a for addrs in owners.values() for a in addrs))
    random.shuffle(addresses)  # Docker shuffles: simple round robin for clients that take the first
    return addresses


def ptr_address(qname: str) -> str | None:
    labels = qname.rstrip(".").lower().split(".")
    if len(labels) != 6 or labels[4:] != ["in-addr", "arpa"]:
        return None
    try:
        return str(IPv4Address(".".join(reversed(labels[:4]))))
    except ValueError:
        return None
