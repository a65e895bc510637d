"""Links, addresses and routes, on the netlink handle of one namespace."""

import contextlib

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from ..errors import Conflict, KernelUnsupported
from .rtnl import RTPROT_BOOT, RTPROT_STATIC, Rtnl, link_in

IFF_PROMISC = 0x100
EOPNOTSUPP = 95


KernelError = NetlinkError  # a refused netlink request: code outside osl/ catches it by this name


def name_taken(ifname: str, netns: str) -> Conflict:
    """The error for an interface name a sandbox already has (an `ethN` made there by hand)."""
    return Conflict(f"cannot add interface {ifname} to {netns}: an interface of that name already exists there")


def index(ipr: IPRoute, ifname: str) -> int:
    found = ipr.link_lookup(ifname=ifname)
    if not found:
        raise LookupError(f"no link {ifname}")
    return found[0]


def exists(ipr: IPRoute, ifname: str) -> bool:
    return bool(ipr.link_lookup(ifname=ifname))


def add(ipr: IPRoute, ifname: str, kind: str, feature: str | None = None, **attrs) -> int:
    """Create a link; a kernel without the link kind gets a KernelUnsupported naming `feature`."""
    try:
        ipr.link("add", ifname=ifname, kind=kind, **attrs)
    except NetlinkError as exc:
        if exc.code == EOPNOTSUPP or "Unknown device type" in str(exc):
            raise KernelUnsupported(f"the kernel lacks {feature or kind} support (creating {ifname} failed)") from None
        raise
    return index(ipr, ifname)


def add_bridge(ipr: IPRoute, ifname: str, mac: str | None = None, mtu: int = 1500) -> int:
    idx = add(ipr, ifname, "bridge", br_stp_state=0)
    attrs = {"mtu": mtu}
    if mac:
        attrs["address"] = mac
    ipr.link("set", index=idx, **attrs)
    return idx


def add_veth(ipr: IPRoute, ifname: str, peer: str, peer_netns: str, mtu: int = 1500) -> int:
    """Create a veth whose peer is born inside `peer_netns` (moving it later costs 16-24 ms)."""
    return add(ipr, ifname, "veth", mtu=mtu, peer={"ifname": peer, "net_ns_fd": peer_netns, "mtu": mtu})


def set_master(ipr: IPRoute, ifname: str, master: str) -> None:
    ipr.link("set", index=index(ipr, ifname), master=index(ipr, master))


def set_up(ipr: IPRoute, ifname: str, mac: str | None = None, mtu: int | None = None) -> None:
    attrs: dict = {"state": "up"}
    if mac:
        attrs["address"] = mac
    if mtu:
        attrs["mtu"] = mtu
    ipr.link("set", index=index(ipr, ifname), **attrs)


def set_down(ipr: IPRoute, ifname: str) -> None:
    ipr.link("set", index=index(ipr, ifname), state="down")


def set_promisc(ipr: IPRoute, ifname: str) -> None:
    # link('set', promisc=1) is silently ignored by pyroute2 0.9; set the flag bits directly.
    ipr.link("set", index=index(ipr, ifname), flags=IFF_PROMISC, change=IFF_PROMISC)


def add_address(ipr: IPRoute, ifname: str, address: str, prefixlen: int) -> None:
    ipr.addr("add", index=index(ipr, ifname), address=address, prefixlen=prefixlen)


def delete(ipr: IPRoute, ifname: str) -> None:
    found = ipr.link_lookup(ifname=ifname)
    if found:
        ipr.link("del", index=found[0])


def mac_of(ipr: IPRoute, ifname: str) -> str:
    return ipr.get_links(index(ipr, ifname))[0].get_attr("IFLA_ADDRESS")


# -- the hot path: bare rtnetlink (osl/rtnl.py), a few round trips per sandbox join ----------
def plug_veth(host: Rtnl, box: Rtnl, ifname: str, peer: str, peer_netns: str, master: str,
              mtu: int = 1500, peer_mac: str | None = None, address: str | None = None) -> tuple[int, str | None]:
    """Create a veth `ifname` (host side, up on the bridge named `master`) whose peer `peer` lives
    in the sandbox `peer_netns` (whose socket is `box`), up there with its MAC and address.

    The pair is made from inside the sandbox, so the kernel's echo gives the sandbox side's index:
    three round trips and no lookups (lookups wait for the kernel's rtnl lock like any change);
    the bridge's index is looked up once per socket. Returns the sandbox side's (index, MAC)."""
    answers = box.request([Rtnl.veth_inside_message(peer, ifname, host.netns_fd, mtu=mtu, mac=peer_mac)])
    found = link_in(answers) or box.link(peer)  # a kernel older than 6.1 does not echo
    box.indexes[peer] = found[0]
    try:
        _enslave(host, ifname, master)
        if address:
            ip, prefix = address.split("/")
            box.request([Rtnl.address_message(found[0], ip, int(prefix))])
    except BaseException:
        with contextlib.suppress(NetlinkError):
            box.request([Rtnl.delete_message(found[0])])  # one end takes the other with it
        box.indexes.pop(peer, None)
        raise
    return found


def _enslave(host: Rtnl, ifname: str, master: str) -> None:
    """Put `ifname` up on bridge `master`, whose index the socket keeps (`host.indexes`)."""
    cached = host.indexes.get(master)
    try:
        host.request([Rtnl.enslave_message(ifname, cached or _index(host, master))])
    except NetlinkError:
        if not cached:
            raise
        host.indexes.pop(master, None)  # the bridge was made again since: look it up once more
        host.request([Rtnl.enslave_message(ifname, _index(host, master))])


def _index(sock: Rtnl, ifname: str) -> int:
    index = sock.indexes[ifname] = sock.link(ifname)[0]
    return index


def set_default_route(box: Rtnl, gateway: str | None, ifname: str | None = None, static: bool = False) -> None:
    """Replace the default route (gateway None: remove it, if there is one), via `ifname` if given.
    static: a machine's own configuration (`proto static`), not a sandbox's route from Docker."""
    if gateway is None:
        with contextlib.suppress(NetlinkError):
            box.request([Rtnl.default_route_message(None)])
        return
    if not ifname:
        box.request([Rtnl.default_route_message(gateway, protocol=RTPROT_STATIC if static else RTPROT_BOOT)])
        return
    cached = box.indexes.get(ifname)
    try:
        box.request([Rtnl.default_route_message(gateway, cached or box.link(ifname)[0])])
    except NetlinkError:
        if not cached:
            raise
        box.indexes.pop(ifname, None)  # the link was replaced behind our back: look it up
        box.request([Rtnl.default_route_message(gateway, box.link(ifname)[0])])
