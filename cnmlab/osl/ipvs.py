"""Does this kernel offer IPVS (Docker's service load balancer)? Asked once, from the world.

IPVS is a generic-netlink family; when the kernel lacks it (as on CI's kernel) resolving the
family fails with ENOENT, and the lab balances with iptables `statistic --mode nth` instead.
"""

from functools import cache


@cache
def available() -> bool:
    try:
        from pyroute2 import IPVS

        handle = IPVS()
    except Exception:  # noqa: BLE001 - any failure means "not usable here"
        return False
    handle.close()
    return True


MISSING = "this kernel has no IPVS (Docker's balancer): the VIP is balanced with iptables statistic nth DNAT"
