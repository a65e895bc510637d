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

from . import iptables
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
        self._links: dict[str, dict[int, Link]] = {}
        self._addresses: dict[str, list[tuple[str, str]]] | None = None
        self._nsids: dict[tuple[str, str], int | None] = {}
        self._sysctls: dict[tuple[str, str], str | None] = {}
        self._nat: dict[str, list[str]] = {}

    def close(self) -> None:
        for h in self._handles.values():
            h.close()
        self._handles.clear()

    def __enter__(self) -> KernelView:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- namespaces ---------------------------------------------------------------
    @staticmethod
    def namespaces() -> list[str]:
        try:
            return sorted(os.listdir(NETNS_DIR))
        except OSError:
            return []

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
                got = self.ipr(seen_from).get_netnsid(fd=fd)
                value = got.get("nsid") if got else None
                self._nsids[key] = None if value is None or value < 0 else value
            except NetlinkError:
                self._nsids[key] = None
            finally:
                os.close(fd)
        return self._nsids[key]

    # -- links ----------------------------------------------------------------------
    def links(self, ns: str) -> dict[int, Link]:
        if ns not in self._links:
            out = {}
            for msg in self.ipr(ns).get_links():
                info = msg.get_attr("IFLA_LINKINFO")
                kind = (info.get_attr("IFLA_INFO_KIND") if info else None) or ""
                data = info.get_attr("IFLA_INFO_DATA") if info and kind == "vxlan" else None
                out[msg["index"]] = Link(
                    namespace=ns, index=msg["index"], name=msg.get_attr("IFLA_IFNAME"), kind=kind,
                    master=None, link=msg.get_attr("IFLA_LINK"), link_nsid=msg.get_attr("IFLA_LINK_NETNSID"),
                    mtu=msg.get_attr("IFLA_MTU") or 0, up=bool(msg["flags"] & 1),
                    vxlan_local=data.get_attr("IFLA_VXLAN_LOCAL") if data else None,
                    vxlan_id=data.get_attr("IFLA_VXLAN_ID") if data else None)
                master = msg.get_attr("IFLA_MASTER")
                if master:
                    out[msg["index"]] = _with_master(out[msg["index"]], master)
            self._links[ns] = {i: _named_master(lk, out) for i, lk in out.items()}
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
                    for msg in self.ipr(ns).get_addr(family=2):
                        ip = msg.get_attr("IFA_ADDRESS")
                        if ip and not ip.startswith("127."):
                            out.setdefault(ip, []).append((ns, names.get(msg["index"], "?")))
                except (OSError, NetlinkError):
                    continue  # a namespace that went away while we read
            self._addresses = out
        return self._addresses

    def route(self, ns: str, dst: str, src: str | None = None, iif: str | None = None) -> Route:
        """The kernel's own lookup (`ip route get DST [from SRC iif IIF]`)."""
        kwargs: dict = {"dst": dst}
        if iif is not None and src is not None:
            lk = self.link(ns, iif)
            if lk is not None:
                kwargs.update(src=src, iif=lk.index)
        try:
            msg = self.ipr(ns).route("get", **kwargs)[0]
        except NetlinkError as exc:
            return Route(None, None, "main", "unreachable", error=os.strerror(exc.code) if exc.code else str(exc))
        oif = msg.get_attr("RTA_OIF")
        names = {i: lk.name for i, lk in self.links(ns).items()}
        table = msg.get_attr("RTA_TABLE") or msg["table"]
        return Route(oif=names.get(oif), gateway=msg.get_attr("RTA_GATEWAY"), table=RT_TABLES.get(table, str(table)),
                     type=RT_TYPES.get(msg["type"], str(msg["type"])), prefsrc=msg.get_attr("RTA_PREFSRC"))

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


def _with_master(lk: Link, master: int) -> Link:
    return Link(**{**lk.__dict__, "master": str(master)})


def _named_master(lk: Link, links: dict[int, Link]) -> Link:
    if lk.master is None:
        return lk
    m = links.get(int(lk.master))
    return Link(**{**lk.__dict__, "master": m.name if m else None})

