"""IPAM, as Docker does it: pools, cursor, lowest free address, and every refusal."""

from ipaddress import IPv4Address, IPv4Network

import pytest

from cnmlab.errors import Conflict, InvalidParameter
from cnmlab.ipam import Ipam


def take(ipam: Ipam, net_id: str, **kw):
    pool = ipam.plan(kw.get("subnet"), kw.get("gateway"), kw.get("ip_range"), kw.get("aux"))
    ipam.take(net_id, pool)
    return pool


def test_default_pools_follow_dockers_order():
    ipam = Ipam()
    subnets = [str(take(ipam, f"n{i}").subnet) for i in range(16)]
    assert subnets[:3] == ["172.18.0.0/16", "172.19.0.0/16", "172.20.0.0/16"]
    assert subnets[13] == "172.31.0.0/16"
    assert subnets[14:] == ["192.168.0.0/20", "192.168.16.0/20"]


def test_freed_pool_is_not_reused_at_once_and_cursor_advances():
    ipam = Ipam()
    take(ipam, "a")  # .18
    take(ipam, "b")  # .19
    ipam.release_pool("a")
    assert str(take(ipam, "c").subnet) == "172.20.0.0/16"


def test_pool_skips_reserved_underlay():
    ipam = Ipam(reserved=[IPv4Network("192.168.100.0/24")])
    ipam.cursor = len(ipam.defaults) - 16 + 6  # the /20 that holds 192.168.96.0/20
    assert str(take(ipam, "x").subnet) != "192.168.96.0/20"


def test_lowest_free_address_is_reused_immediately():
    ipam = Ipam()
    pool = take(ipam, "a", subnet="10.77.1.0/24")
    addrs = [pool.allocate("a") for _ in range(5)]
    assert [str(a) for a in addrs] == [f"10.77.1.{i}" for i in range(2, 7)]
    pool.release(IPv4Address("10.77.1.4"))
    assert str(pool.allocate("a")) == "10.77.1.4"
    assert str(pool.allocate("a")) == "10.77.1.7"


def test_ip_range_gateway_and_aux_addresses():
    ipam = Ipam()
    pool = take(ipam, "a", subnet="10.9.0.0/16", gateway="10.9.0.254", ip_range="10.9.5.0/24", aux={"r": "10.9.5.0"})
    assert str(pool.gateway) == "10.9.0.254"
    assert str(pool.allocate("a")) == "10.9.5.1"


@pytest.mark.parametrize("kw, error, text", [
    ({"subnet": "10.77.5.0/33"}, InvalidParameter, "Invalid subnet 10.77.5.0/33 : invalid CIDR address: 10.77.5.0/33"),
    ({"subnet": "10.77.5.0/24", "gateway": "10.77.6.1"}, InvalidParameter, "no matching subnet for gateway 10.77.6.1"),
    ({"subnet": "10.77.5.0/24", "ip_range": "10.78.0.0/24"}, InvalidParameter, "no matching subnet for range"),
    ({"subnet": "10.77.5.0/24", "aux": {"a": "10.1.1.1"}}, InvalidParameter, "no matching subnet for aux-address"),
    ({"subnet": "172.17.5.0/24"}, Conflict, "Pool overlaps with other one on this address space"),
])
def test_refusals(kw, error, text):
    with pytest.raises(error, match=text.replace("(", r"\(")):
        take(Ipam(), "x", **kw)


def test_overlap_super_and_sub_ranges():
    ipam = Ipam()
    take(ipam, "a", subnet="10.77.1.0/24")
    for subnet in ("10.77.1.0/24", "10.77.1.128/25", "10.77.0.0/16"):
        with pytest.raises(Conflict, match="Pool overlaps"):
            take(ipam, "b", subnet=subnet)


def test_address_checks_and_exhaustion():
    ipam = Ipam()
    pool = take(ipam, "a", subnet="10.1.1.0/30")
    with pytest.raises(InvalidParameter, match="It does not belong to any of this network's subnets"):
        pool.claim(IPv4Address("10.1.2.1"))
    with pytest.raises(Conflict, match="Address already in use"):
        pool.claim(IPv4Address("10.1.1.1"))  # the gateway
    assert str(pool.allocate("a (x)")) == "10.1.1.2"
    with pytest.raises(Conflict, match="no available IPv4 addresses on this network's address pools: a"):
        pool.allocate("a (x)")


def test_every_default_pool_exhausted():
    ipam = Ipam()
    for i in range(len(ipam.defaults)):
        take(ipam, f"n{i}")
    with pytest.raises(Conflict, match="could not find an available, non-overlapping IPv4 address pool"):
        take(ipam, "last")


def test_a_given_subnet_may_overlap_the_lan_as_docker_allows():
    """Docker's address space does not hold the hosts' own routes: a pool it picks avoids the LAN,
    a subnet the user gives may overlap it (and its route then shadows part of the LAN)."""
    ipam = Ipam(reserved=[IPv4Network("192.168.100.0/24")])
    assert str(take(ipam, "x", subnet="192.168.100.0/26").subnet) == "192.168.100.0/26"
    with pytest.raises(Conflict, match="overlaps network"):
        take(ipam, "y", subnet="192.168.100.0/24")
