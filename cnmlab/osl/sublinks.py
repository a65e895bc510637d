"""Links stacked on a parent interface: macvlan/ipvlan children, 802.1q VLAN sub-interfaces, dummies.

A child is created from the host's netlink handle with `net_ns_fd=`, so it is born inside the
container's sandbox (under 1 ms; moving it afterwards would cost 16-24 ms).
"""

import errno

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from ..errors import KernelUnsupported
from . import links


def _add(ipr: IPRoute, feature: str, ifname: str, **attrs) -> None:
    try:
        ipr.link("add", ifname=ifname, **attrs)
    except NetlinkError as exc:
        if exc.code == links.EOPNOTSUPP or "Unknown device type" in str(exc):
            raise KernelUnsupported(f"the kernel lacks {feature} support (creating {ifname} failed)") from None
        raise


def add_child(host_ipr: IPRoute, kind: str, parent: str, ifname: str, target_ns: str, feature: str,
              mac: str | None = None, **attrs) -> None:
    """A macvlan/ipvlan child of `parent`, born in `target_ns` as `ifname`."""
    if mac:
        attrs["address"] = mac
    try:
        _add(host_ipr, feature, ifname, kind=kind, link=links.index(host_ipr, parent), net_ns_fd=target_ns, **attrs)
    except NetlinkError as exc:
        if exc.code == errno.EEXIST:  # born in the sandbox under its name: the sandbox has one already
            raise links.name_taken(ifname, target_ns) from None
        raise


def add_vlan(ipr: IPRoute, parent: str, vlan_id: int) -> str:
    """The 802.1q sub-interface PARENT.VLAN, up."""
    name = f"{parent}.{vlan_id}"
    _add(ipr, "802.1q VLAN", name, kind="vlan", link=links.index(ipr, parent), vlan_id=vlan_id)
    links.set_up(ipr, name)
    return name


def add_dummy(ipr: IPRoute, name: str) -> str:
    _add(ipr, "dummy link", name, kind="dummy")
    links.set_up(ipr, name)
    return name
