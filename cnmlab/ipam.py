"""IPAM with Docker's default behaviour (libnetwork docs/ipam.md, ipamutils).

- The default `bridge` network of every host takes 172.17.0.0/16.
- Other networks without --subnet take the next free pool after a cursor: 172.18/16 ... 172.31/16,
  then 192.168.0.0/16 in /20s. Freed pools are not reused at once; failed creates still advance.
- Addresses: the lowest free one, reused as soon as it is released.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network
from typing import TYPE_CHECKING

from .errors import Conflict, InvalidParameter

if TYPE_CHECKING:
    from .network import IpamConfig

DEFAULT_BRIDGE_POOL = IPv4Network("172.17.0.0/16")


def default_pools() -> list[IPv4Network]:
    pools = [IPv4Network(f"172.{n}.0.0/16") for n in range(18, 32)]
    pools += list(IPv4Network("192.168.0.0/16").subnets(new_prefix=20))
    return pools


def parse_subnet(text: str) -> IPv4Network:
    try:
        net = ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise InvalidParameter(f"Invalid subnet {text} : invalid CIDR address: {text}") from None
    if net.version != 4:
        raise InvalidParameter(f"Invalid subnet {text} : only IPv4 subnets are supported in the lab")
    return net


# Ranges no lab network may take, and why (Docker lets some through; each breaks the lab).
UNUSABLE = (
    (IPv4Network("0.0.0.0/8"), "0.0.0.0/8 means \"this network\" and is never routed"),
    (IPv4Network("127.0.0.0/8"), "it is loopback (127.0.0.0/8): every sandbox has its own lo, and the "
                                 "kernel drops such packets on a real interface"),
    (IPv4Network("169.254.0.0/16"), "it is link-local (169.254.0.0/16), for addresses a host gives itself"),
    (IPv4Network("224.0.0.0/4"), "it is multicast (224.0.0.0/4): a group address, not an interface's"),
    (IPv4Network("240.0.0.0/4"), "it is reserved (240.0.0.0/4) and the broadcast address 255.255.255.255"),
)
SMALLEST = 30  # a /30 holds a gateway and one container


def check_subnet(text: str, what: str = "subnet") -> IPv4Network:
    """A subnet a user asks for: a CIDR string with no host bits set, that a lab network can use.
    The CLI, the TUI and the API all refuse with these words."""
    if not isinstance(text, str):
        raise InvalidParameter(f"Invalid {what} {text!r}: use a CIDR string such as 10.10.0.0/24")
    net = parse_subnet(text)
    if "/" not in text:
        raise InvalidParameter(f"Invalid {what} {text}: give a prefix length, e.g. {text}/24")
    if net.network_address != ipaddress.ip_address(text.split("/")[0]):
        raise InvalidParameter(f"Invalid {what} {text}: host bits are set; use {net}")
    if what != "subnet":
        return net
    for reserved, why in UNUSABLE:
        if net.overlaps(reserved):
            raise InvalidParameter(f"Invalid subnet {text}: {why}")
    if net.prefixlen > SMALLEST:
        raise InvalidParameter(f"Invalid subnet {text}: a /{net.prefixlen} is too small for a gateway and a "
                               f"container; use /{SMALLEST} or larger")
    return net


def parse_address(text: str, what: str = "address") -> IPv4Address:
    try:
        addr = ipaddress.ip_address(text)
    except ValueError:
        raise InvalidParameter(f"Invalid {what} {text}: not an IPv4 address") from None
    if addr.version != 4:
        raise InvalidParameter(f"Invalid {what} {text}: only IPv4 is supported in the lab")
    return addr


@dataclass
class Pool:
    """The addresses of one network's subnet."""

    subnet: IPv4Network
    ip_range: IPv4Network
    gateway: IPv4Address | None
    reserved: set[int] = field(default_factory=set)  # network, broadcast, gateway, aux addresses
    used: set[int] = field(default_factory=set)
    _low: int = 0

    @classmethod
    def of(cls, cfg: IpamConfig) -> Pool:
        """A stored network's pool again (restore): its subnet, range, gateway and aux addresses."""
        return cls(parse_subnet(cfg.subnet), parse_subnet(cfg.ip_range or cfg.subnet),
                   parse_address(cfg.gateway) if cfg.gateway else None,
                   {int(parse_address(a)) for a in cfg.aux_addresses.values()})

    def __post_init__(self) -> None:
        self.reserved |= {int(self.subnet.network_address), int(self.subnet.broadcast_address)}
        if self.gateway is not None:
            self.reserved.add(int(self.gateway))
        self._low = int(self.ip_range.network_address)

    def allocate(self, label: str) -> IPv4Address:
        last = int(self.ip_range.broadcast_address)
        candidate = self._low
        while candidate <= last and (candidate in self.used or candidate in self.reserved):
            candidate += 1
        if candidate > last:
            raise Conflict(f"no available IPv4 addresses on this network's address pools: {label}")
        self.used.add(candidate)
        self._low = candidate + 1
        return IPv4Address(candidate)

    def claim(self, addr: IPv4Address) -> None:
        if addr not in self.subnet:
            raise InvalidParameter(f"Invalid address {addr}: It does not belong to any of this network's subnets")
        value = int(addr)
        if value in self.used or value in self.reserved:
            raise Conflict("Address already in use")
        self.used.add(value)

    def release(self, addr: IPv4Address) -> None:
        value = int(addr)
        self.used.discard(value)
        if int(self.ip_range.network_address) <= value < self._low:
            self._low = value

    def close(self) -> None:
        """The network is gone. A pool of the lab's own IPAM has nothing to give back; a remote
        IPAM plugin's pool (drivers/remote_ipam.RemotePool) releases its addresses and itself."""


class Ipam:
    """One address space for the whole lab, so no two user networks overlap anywhere in it."""

    def __init__(self, cursor: int = 0, reserved: list[IPv4Network] | None = None,
                 name_of: Callable[[str], str] | None = None):
        self.cursor = cursor
        self.name_of = name_of or (lambda network_id: network_id[:12])  # for errors: a network's name
        self.defaults = default_pools()
        # Routes the hosts have that are not Docker's address space (the underlay LAN): pools the
        # IPAM picks avoid them; a subnet the user gives may overlap them, as Docker allows (its
        # route then shadows part of the LAN: lab 17)
        self.reserved = list(reserved or [])
        self.pools: dict[str, Pool] = {}  # network id -> pool

    def plan(self, subnet: str | None, gateway: str | None, ip_range: str | None,
             aux: dict[str, str] | None, predefined_bridge: bool = False,
             overlap_ok: list[IPv4Network] | None = None) -> Pool:
        """Validate and choose a pool without taking it; `take` commits it."""
        aux = aux or {}
        if predefined_bridge:
            net = DEFAULT_BRIDGE_POOL
        elif subnet:
            net = parse_subnet(subnet)
            self._check_free(net, (overlap_ok or []) + self.reserved)
        else:
            net = self._next_default()
        gw = None
        if gateway:
            gw = parse_address(gateway, "gateway")
            if gw not in net:
                raise InvalidParameter(f"no matching subnet for gateway {gateway}")
            if gw in (net.network_address, net.broadcast_address) and net.prefixlen < 31:
                which = "network" if gw == net.network_address else "broadcast"
                raise InvalidParameter(f"Invalid gateway {gateway}: it is the {which} address of {net}; "
                                       f"use an address inside it, e.g. {net.network_address + 1}")
        elif net.num_addresses > 2:
            gw = net.network_address + 1
        rng = net
        if ip_range:
            rng = parse_subnet(ip_range)
            if not rng.subnet_of(net):
                raise InvalidParameter(f"no matching subnet for range {ip_range}")
        reserved = set()
        for key, value in aux.items():
            addr = parse_address(value, f"aux-address {key}")
            if addr not in net:
                raise InvalidParameter(f"no matching subnet for aux-address {value}")
            reserved.add(int(addr))
        return Pool(net, rng, gw, reserved)

    def take(self, network_id: str, pool: Pool) -> None:
        # Networks allowed to share a subnet (several drivers on the lab's LAN) share its
        # addresses too, as stations of one LAN must: no two of them get the same one.
        same = next((p for p in self.pools.values() if p.subnet == pool.subnet), None)
        if same is not None:
            pool.used = same.used
        self.pools[network_id] = pool

    def release_pool(self, network_id: str) -> None:
        self.pools.pop(network_id, None)

    def pool(self, network_id: str) -> Pool:
        return self.pools[network_id]

    def _overlaps(self, net: IPv4Network, overlap_ok: list[IPv4Network]) -> bool:
        taken = [p.subnet for p in self.pools.values()] + self.reserved + [DEFAULT_BRIDGE_POOL]
        return any(net.overlaps(t) for t in taken if t not in overlap_ok)

    def first_free(self, candidates: list[IPv4Network]) -> IPv4Network | None:
        return next((c for c in candidates if not self._overlaps(c, [])), None)

    def _check_free(self, net: IPv4Network, overlap_ok: list[IPv4Network]) -> None:
        if self._overlaps(net, overlap_ok):
            raise Conflict(f"Pool overlaps with other one on this address space: {net} overlaps {self._holder(net)}")

    def _holder(self, net: IPv4Network) -> str:
        """What already holds addresses of `net`, in words (Docker's message names nothing)."""
        for network_id, pool in self.pools.items():
            if net.overlaps(pool.subnet):
                return f"network {self.name_of(network_id)} ({pool.subnet})"
        return f"the default bridge's pool ({DEFAULT_BRIDGE_POOL})"

    def _next_default(self) -> IPv4Network:
        count = len(self.defaults)
        for step in range(count):
            index = (self.cursor + step) % count
            candidate = self.defaults[index]
            if not self._overlaps(candidate, []):
                self.cursor = index + 1
                return candidate
        raise Conflict("could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network")
