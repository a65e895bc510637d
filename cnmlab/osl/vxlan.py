"""VXLAN devices whose UDP socket lives in one namespace and whose device lives in another.

This is how libnetwork's overlay works: the socket on UDP 4789 belongs to the host (it sends
from the host's underlay address), while the device itself sits in the network's own namespace,
enslaved to that network's bridge. Creating the link from the host's netlink handle with
`net_ns_fd=` does both at once: the kernel opens the socket in the namespace that asked.
"""

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from ..errors import KernelUnsupported
from . import links

VXLAN_PORT = 4789  # IANA's port, the one Docker uses


def add_vxlan(host_ipr: IPRoute, ifname: str, target_ns: str, vni: int, local: str, mtu: int,
              port: int = VXLAN_PORT) -> None:
    """Create `ifname` in `target_ns`: learning off (the control plane fills the FDB), ARP proxy on
    (the device answers ARP from its neighbour table, so no broadcast crosses the underlay)."""
    try:
        host_ipr.link("add", ifname=ifname, kind="vxlan", net_ns_fd=target_ns, vxlan_id=vni,
                      vxlan_local=local, vxlan_port=port, vxlan_learning=0, vxlan_proxy=1, mtu=mtu)
    except NetlinkError as exc:
        if exc.code == links.EOPNOTSUPP or "Unknown device type" in str(exc):
            raise KernelUnsupported(f"the kernel lacks VXLAN support (creating {ifname} failed)") from None
        raise


def describe(ipr: IPRoute, ifname: str) -> dict:
    """The VXLAN attributes of a device, as `ip -d link` shows them."""
    link = ipr.get_links(links.index(ipr, ifname))[0]
    data = link.get_attr("IFLA_LINKINFO").get_attr("IFLA_INFO_DATA")
    return {"vni": data.get_attr("IFLA_VXLAN_ID"), "local": data.get_attr("IFLA_VXLAN_LOCAL"),
            "port": data.get_attr("IFLA_VXLAN_PORT"), "learning": bool(data.get_attr("IFLA_VXLAN_LEARNING")),
            "proxy": bool(data.get_attr("IFLA_VXLAN_PROXY"))}
