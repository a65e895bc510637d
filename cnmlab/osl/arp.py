"""Who answers ARP on an interface: nobody (a switch that is no station), or the host for
addresses behind another interface (proxy_arp and proxy neighbours).

Windows' l2bridge shows one MAC (the host's) for the host and its containers. The lab does it at
layer 3: the host answers ARP on its LAN NIC for each container address (a proxy neighbour entry,
`ip neigh add proxy IP dev eth0`), answers its containers' ARP for the rest of the LAN (proxy_arp
on their switch), and routes between the two through a /32 route per container.
"""

from __future__ import annotations

import contextlib

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from . import links, netns

NTF_PROXY = 0x08


def silent(ns: str, ifname: str) -> None:
    """The host answers no ARP on `ifname` (arp_ignore 8): a switch port that is not one of its NICs."""
    with netns.entered(ns):
        netns.write_sysctl(f"net.ipv4.conf.{ifname}.arp_ignore", "8")


def proxy(ns: str, ifname: str) -> None:
    """proxy_arp on `ifname`: the host answers for every address it routes out of another interface."""
    with netns.entered(ns):
        netns.write_sysctl(f"net.ipv4.conf.{ifname}.proxy_arp", "1")
        netns.write_sysctl(f"net.ipv4.neigh.{ifname}.proxy_delay", "0")


def prompt(ns: str, ifname: str) -> None:
    """Proxy answers (proxy_arp or proxy neighbours) on `ifname` at once: the default proxy_delay
    holds an answer to a broadcast request for up to 0.8 s."""
    with netns.entered(ns):
        netns.write_sysctl(f"net.ipv4.neigh.{ifname}.proxy_delay", "0")


def add_station(ipr: IPRoute, ip: str, lan_if: str, switch: str) -> None:
    """Answer ARP for `ip` on the LAN and deliver it to the switch it lives behind."""
    ipr.route("replace", dst=ip, dst_len=32, oif=links.index(ipr, switch), scope=253)
    ipr.neigh("add", dst=ip, ifindex=links.index(ipr, lan_if), flags=NTF_PROXY)


def remove_station(ipr: IPRoute, ip: str, lan_if: str, switch: str) -> None:
    with contextlib.suppress(NetlinkError, LookupError):
        ipr.neigh("del", dst=ip, ifindex=links.index(ipr, lan_if), flags=NTF_PROXY)
    with contextlib.suppress(NetlinkError, LookupError):
        ipr.route("del", dst=ip, dst_len=32, oif=links.index(ipr, switch))


def stations(ipr: IPRoute, lan_if: str) -> list[str]:
    """The addresses the host answers ARP for on `lan_if` (for tests and explanations)."""
    idx = links.index(ipr, lan_if)
    return sorted(m.get_attr("NDA_DST") for m in ipr.get_neighbours(family=2, flags=NTF_PROXY)
                  if m["ifindex"] == idx)
