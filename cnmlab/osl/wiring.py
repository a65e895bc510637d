"""Wiring between namespaces: move a link into a sandbox, point-to-point pairs, static routes.

Third-party drivers use these: a remote plugin makes its interface in the host's namespace and
the driver moves it into the sandbox (libnetwork's osl does the same on Join); a p2p driver
links two sandboxes directly. All calls take the pyroute2 handle of the namespace they act in.
"""

from __future__ import annotations

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from . import links

RTN_UNICAST, RT_SCOPE_LINK = 1, 253


def move(ipr: IPRoute, ifname: str, netns: str, new_name: str) -> None:
    """Move `ifname` into the named namespace and rename it there, in one netlink request
    (the kernel names it `new_name` on arrival, so it never clashes with a name over there)."""
    ipr.link("set", index=links.index(ipr, ifname), net_ns_fd=netns, ifname=new_name)


def add_pair(ipr: IPRoute, ifname: str, peer: str, peer_netns: str, mtu: int = 1500) -> None:
    """A veth whose two ends live in two different sandboxes (this one and `peer_netns`)."""
    links.add_veth(ipr, ifname, peer, peer_netns, mtu=mtu)


def add_peer_address(ipr: IPRoute, ifname: str, local: str, peer: str) -> None:
    """`ip addr add LOCAL peer PEER/32 dev IFNAME`: a point-to-point address, with its host route."""
    ipr.addr("add", index=links.index(ipr, ifname), local=local, address=peer, prefixlen=32)


def add_route(ipr: IPRoute, destination: str, gateway: str | None = None, ifname: str | None = None) -> None:
    """A static route: via `gateway` (libnetwork RouteType 0) or straight out of `ifname` (type 1)."""
    dst, _, prefix = destination.partition("/")
    attrs: dict = {"dst": dst, "dst_len": int(prefix or 32)}
    if gateway:
        attrs["gateway"] = gateway
    else:
        attrs["scope"] = RT_SCOPE_LINK
    if ifname:
        attrs["oif"] = links.index(ipr, ifname)
    ipr.route("add", **attrs)


def routes(ipr: IPRoute) -> list[str]:
    """The main table as `ip route` prints its destinations (for tests and explanations)."""
    out = []
    for r in ipr.get_routes(family=2, table=254):
        dst = r.get_attr("RTA_DST")
        out.append(f"{dst}/{r['dst_len']}" if dst else "default")
    return out


def delete_quietly(ipr: IPRoute, ifname: str) -> bool:
    """Delete a link if it is there; say whether it was."""
    try:
        found = ipr.link_lookup(ifname=ifname)
        if found:
            ipr.link("del", index=found[0])
            return True
    except NetlinkError:
        pass
    return False
