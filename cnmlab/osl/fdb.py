"""Static forwarding (FDB) and neighbour entries on a VXLAN device: the overlay's control plane.

For every remote endpoint, a VXLAN device needs two entries:
  - FDB:   the endpoint's MAC lives behind VTEP x.x.x.x (where to send the encapsulated frame);
  - neigh: the endpoint's IP has that MAC (so the device answers ARP itself, with proxy on).
libnetwork writes the same two entries when its gossip announces a peer.
"""

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError
from pyroute2.netlink.rtnl.ndmsg import flags as NTF
from pyroute2.netlink.rtnl.ndmsg import states as NUD

from . import links

AF_BRIDGE = 7
ENOENT = 2


def add_peer(ipr: IPRoute, vxlan: str, mac: str, ip: str, vtep: str) -> None:
    idx = links.index(ipr, vxlan)
    ipr.fdb("replace", ifindex=idx, lladdr=mac, dst=vtep, state=NUD["permanent"] | NUD["noarp"], flags=NTF["self"])
    ipr.neigh("replace", ifindex=idx, dst=ip, lladdr=mac, state=NUD["permanent"])


def remove_peer(ipr: IPRoute, vxlan: str, mac: str, ip: str, vtep: str) -> None:
    """Remove both entries; an entry already gone is fine (the goal is its absence)."""
    idx = links.index(ipr, vxlan)
    for call in (lambda: ipr.fdb("del", ifindex=idx, lladdr=mac, dst=vtep),
                 lambda: ipr.neigh("del", ifindex=idx, dst=ip, lladdr=mac),
                 # and what br0 learned on its vxlan0 port from that endpoint's frames
                 lambda: ipr.fdb("del", ifindex=idx, lladdr=mac, flags=NTF["master"])):
        try:
            call()
        except NetlinkError as exc:
            if exc.code != ENOENT:
                raise


def entries(ipr: IPRoute, vxlan: str) -> dict[str, list]:
    """{'fdb': [(mac, vtep)], 'neigh': [(ip, mac)]} as the kernel holds them on the device."""
    idx = links.index(ipr, vxlan)
    fdb = [(m.get_attr("NDA_LLADDR"), m.get_attr("NDA_DST")) for m in ipr.fdb("dump", ifindex=idx)
           if m.get_attr("NDA_DST")]
    neigh = [(m.get_attr("NDA_DST"), m.get_attr("NDA_LLADDR")) for m in ipr.get_neighbours(ifindex=idx)
             if m["family"] != AF_BRIDGE]
    return {"fdb": fdb, "neigh": neigh}
