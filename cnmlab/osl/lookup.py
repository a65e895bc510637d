"""What the kernel says about a packet's way, read from netlink: the route a namespace's lookup
picks (RTM_GETROUTE), what kind of device it leaves by and where that device leads (a veth's
peer and its namespace, a bridge master, a macvlan/ipvlan parent, a VXLAN's underlay), the
neighbour entry for the next hop, and a few sysctls (br_netfilter, rp_filter).

Nothing here knows which driver made a device: a third-party plugin's bridge reads the same as
cnmlab's own. `KernelView` reads on the thread that creates it (netlink handles belong to their
thread) and caches per namespace, so a matrix's many paths cost one dump per namespace.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from . import iptables, rtnl
from .netns import entered, path
from .world import NETNS_DIR

NUD = {0x01: "INCOMPLETE", 0x02: "REACHABLE", 0x04: "STALE", 0x08: "DELAY", 0x10: "PROBE", 0x20: "FAILED",
       0x40: "NOARP", 0x80: "PERMANENT"}
RT_TABLES = {253: "default", 254: "main", 255: "local"}
RT_TYPES = {1: "unicast", 2: "local", 3: "broadcast", 6: "blackhole", 7: "unreachable", 8: "prohibit"}


@dataclass(frozen=True)
class Link:
    namespace: str
    index: int
    name: str
    kind: str  # veth, bridge, vxlan, macvlan, ... ("" for a physical-like device without kind)
    master: str | None
    link: int | None  # IFLA_LINK: a veth's peer index, a macvlan's parent index
    link_nsid: int | None  # IFLA_LINK_NETNSID: that index lives in another namespace
    mtu: int
    up: bool
    vxlan_local: str | None = None
    vxlan_id: int | None = None


@dataclass(frozen=True)
class Route:
    oif: str | None
    gateway: str | None
    table: str
    type: str
    prefsrc: str | None = None
    error: str | None = None  # the lookup failed: "Network is unreachable", ...


class KernelView:
    """One reader of every lab namespace, on the calling thread; close it when done."""

    def __init__(self) -> None:
        self._handles: dict[str, IPRoute] = {}
        self._rtnl: dict[str, rtnl.Rtnl] = {}  # route lookups: about 50 us each, pyroute2's cost 10x
        self._links: dict[str, dict[int, Link]] = {}
        self._addresses: dict[str, list[tuple[str, str]]] | None = None
        self._nsids: dict[tuple[str, str], int | None] = {}
        self._sysctls: dict[tuple[str, str], str | None] = {}
        self._nat: dict[str, list[str]] = {}
        self._namespaces: list[str] | None = None
        self.walker = None  # the probe layer's walker over this view (one per view: it caches sides)

    def close(self) -> None:
        for h in self._handles.values():
            h.close()
        self._handles.clear()
        for s in self._rtnl.values():
            s.close()
        self._rtnl.clear()

    def __enter__(self) -> KernelView:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- namespaces ---------------------------------------------------------------
    def namespaces(self) -> list[str]:
        if self._namespaces is None:
            try:
                self._namespaces = sorted(os.listdir(NETNS_DIR))
            except OSError:
                self._namespaces = []
        return self._namespaces

    def ipr(self, ns: str) -> IPRoute:
        h = self._handles.get(ns)
        if h is None:
            with entered(ns):
                h = self._handles[ns] = IPRoute()
        return h

    def nsid(self, seen_from: str, ns: str) -> int | None:
        """The id `seen_from` gives namespace `ns` (what IFLA_LINK_NETNSID refers to)."""
        key = (seen_from, ns)
        if key not in self._nsids:
            fd = os.open(path(ns), os.O_RDONLY)
            try:
                self._nsids[key] = rtnl.nsid_in(self.rtnl(seen_from).request([rtnl.nsid_message(fd)]))
            except NetlinkError:
                self._nsids[key] = None
            finally:
                os.close(fd)
        return self._nsids[key]

    # -- links ----------------------------------------------------------------------
    def rtnl(self, ns: str) -> rtnl.Rtnl:
        """A bare netlink socket in `ns`: dumps and lookups at about 50 us each (pyroute2: 10x)."""
        sock = self._rtnl.get(ns)
        if sock is None:
            with entered(ns):
                sock = self._rtnl[ns] = rtnl.Rtnl()
        return sock

    def links(self, ns: str) -> dict[int, Link]:
        if ns not in self._links:
            raw = [rtnl.parse_link(m) for m in self.rtnl(ns).dump(rtnl.RTM_GETLINK, rtnl.link_dump_body())]
            names = {d["index"]: d["name"] for d in raw}
            self._links[ns] = {d["index"]: Link(namespace=ns, **{**d, "master": names.get(d["master"])}) for d in raw}
        return self._links[ns]

    def link(self, ns: str, name: str) -> Link | None:
        return next((lk for lk in self.links(ns).values() if lk.name == name), None)

    def ports(self, ns: str, bridge: str) -> list[Link]:
        return [lk for lk in self.links(ns).values() if lk.master == bridge]

    def linked(self, lk: Link, candidates: list[str] | None = None) -> Link | None:
        """Where IFLA_LINK leads: a veth's peer, a macvlan's parent (maybe in another namespace)."""
        if not lk.link:
            return None
        if lk.link_nsid is None:
            return self.links(lk.namespace).get(lk.link)
        for ns in candidates or self.namespaces():
            if ns == lk.namespace or not os.path.exists(path(ns)):
                continue
            if self.nsid(lk.namespace, ns) == lk.link_nsid:
                found = self.links(ns).get(lk.link)
                return found
        return None

    # -- addresses, routes, neighbours ---------------------------------------------------
    def addresses(self) -> dict[str, list[tuple[str, str]]]:
        """Every IPv4 address in the world: address -> [(namespace, interface), ...] (one address
        may be in several namespaces: every Docker host's docker0 is 172.17.0.1)."""
        if self._addresses is None:
            out: dict[str, list[tuple[str, str]]] = {}
            for ns in self.namespaces():
                try:
                    names = {i: lk.name for i, lk in self.links(ns).items()}
                    for msg in self.rtnl(ns).dump(rtnl.RTM_GETADDR, rtnl.addr_dump_body()):
                        found = rtnl.parse_address(msg)
                        if found and not found[1].startswith("127."):
                            out.setdefault(found[1], []).append((ns, names.get(found[0], "?")))
                except (OSError, NetlinkError):
                    continue  # a namespace that went away while we read
            self._addresses = out
        return self._addresses

    def route(self, ns: str, dst: str, src: str | None = None, iif: str | None = None) -> Route:
        """The kernel's own lookup (`ip route get DST [from SRC iif IIF]`)."""
        index = None
        if iif is not None and src is not None:
            lk = self.link(ns, iif)
            index = lk.index if lk is not None else None
        sock = self.rtnl(ns)
        try:
            got = rtnl.route_in(sock.request([rtnl.route_get_message(dst, src if index else None, index)]))
        except NetlinkError as exc:
            return Route(None, None, "main", "unreachable", error=os.strerror(exc.code) if exc.code else str(exc))
        if got is None:
            return Route(None, None, "main", "unreachable", error="no answer")
        names = {i: lk.name for i, lk in self.links(ns).items()}
        return Route(oif=names.get(got["oif"]), gateway=got["gateway"], table=RT_TABLES.get(got["table"], str(got["table"])),
                     type=RT_TYPES.get(got["type"], str(got["type"])), prefsrc=got["prefsrc"])

    def neighbour(self, ns: str, ifname: str, ip: str) -> str | None:
        """The state of the neighbour entry for ip on ifname (FAILED, INCOMPLETE, REACHABLE, ...)."""
        lk = self.link(ns, ifname)
        if lk is None:
            return None
        try:
            for msg in self.ipr(ns).get_neighbours(family=2, ifindex=lk.index):
                if msg.get_attr("NDA_DST") == ip:
                    state = msg["state"]
                    return next((name for bit, name in NUD.items() if state & bit), str(state))
        except NetlinkError:
            return None
        return None

    def sysctl(self, ns: str, key: str) -> str | None:
        """A sysctl as namespace `ns` sees it (read from a thread that entered it)."""
        if (ns, key) not in self._sysctls:
            try:
                with entered(ns), open("/proc/sys/" + key.replace(".", "/")) as f:
                    self._sysctls[(ns, key)] = f.read().strip()
            except OSError:
                self._sysctls[(ns, key)] = None
        return self._sysctls[(ns, key)]

    def nat_rules(self, ns: str, chain: str) -> list[str]:
        """A chain of the nat table, each rule as `iptables -S` prints it after "-A CHAIN"."""
        if ns not in self._nat:
            try:
                self._nat[ns] = iptables.save(ns, "nat")
            except (iptables.IptablesError, OSError):
                self._nat[ns] = []
        prefix = f"-A {chain} "
        return [line[len(prefix):] for line in self._nat[ns] if line.startswith(prefix)]



