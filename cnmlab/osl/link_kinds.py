"""Which link kinds this kernel offers: probed once, in a scratch namespace, and cached.

Kernels differ (CI's lacks ipvlan, dummy and 802.1q VLANs). Rather than letting a driver fail
halfway through a build, a driver asks here first and refuses with a message naming the
missing feature. The probe creates each kind of link in a throwaway namespace inside the lab
world, so nothing outside the world is touched, and the answer is kept for the process.
"""

from __future__ import annotations

import contextlib

from pyroute2.netlink.exceptions import NetlinkError

from ..errors import KernelUnsupported
from .netns import Namespaces

SCRATCH = "features~probe"  # '~' is not allowed in container or host names, so it cannot clash

# feature -> the words a student reads in an error ("the kernel lacks ... support")
DESCRIPTIONS = {
    "dummy": "dummy link",
    "vlan": "802.1q VLAN",
    "macvlan": "macvlan",
    "ipvlan": "ipvlan",
    "vxlan": "VXLAN",
}

_cache: dict[str, bool] = {}


def _try(ipr, feature: str, parent: int) -> None:
    if feature == "dummy":
        ipr.link("add", ifname="f-dummy", kind="dummy")
    elif feature == "vlan":
        ipr.link("add", ifname="f-vlan", kind="vlan", link=parent, vlan_id=10)
    elif feature == "macvlan":
        ipr.link("add", ifname="f-macvlan", kind="macvlan", link=parent, macvlan_mode="bridge")
    elif feature == "ipvlan":
        ipr.link("add", ifname="f-ipvlan", kind="ipvlan", link=parent, ipvlan_mode=0)
    elif feature == "vxlan":
        ipr.link("add", ifname="f-vxlan", kind="vxlan", vxlan_id=4096, vxlan_port=4789, vxlan_learning=0)
    else:
        raise ValueError(f"unknown kernel feature {feature}")


def probe(ns: Namespaces) -> dict[str, bool]:
    """Try every feature once (on the calling thread, which must own `ns`)."""
    if _cache:
        return dict(_cache)
    ns.delete(SCRATCH)  # a leftover from a crash would make create() fail
    ipr = ns.create(SCRATCH)
    try:
        ipr.link("add", ifname="f-parent", kind="veth", peer={"ifname": "f-peer"})
        parent = ipr.link_lookup(ifname="f-parent")[0]
        for feature in DESCRIPTIONS:
            try:
                _try(ipr, feature, parent)
                _cache[feature] = True
            except NetlinkError:
                _cache[feature] = False
    finally:
        with contextlib.suppress(Exception):
            ns.delete(SCRATCH)
    return dict(_cache)


def supported(ns: Namespaces, feature: str) -> bool:
    if feature not in _cache:
        probe(ns)
    return _cache[feature]


def require(ns: Namespaces, feature: str, needed_for: str, advice: str = "") -> None:
    """Raise KernelUnsupported naming the missing feature; nothing has been made yet."""
    if not supported(ns, feature):
        message = f"the kernel lacks {DESCRIPTIONS[feature]} support, which {needed_for} needs"
        raise KernelUnsupported(message + (f": {advice}" if advice else ""))
