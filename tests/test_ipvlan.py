"""The ipvlan driver. Kernels built without ipvlan (this lab's CI among them) must refuse with a
clear message naming the missing feature and leave nothing behind; the data-path tests then skip."""

import pytest
from conftest import in_world, ip_of, ping

from cnmlab.errors import InvalidParameter, KernelUnsupported

pytestmark = pytest.mark.kernel


def create_or_skip(lab, mode):
    links_before = in_world(lab, "host1", "ip", "-o", "link").stdout
    try:
        lab.network_create(f"ipv-{mode}", driver="ipvlan", subnet="192.168.100.0/24", gateway="192.168.100.1",
                           ip_range="192.168.100.192/27", options={"ipvlan_mode": mode})
    except KernelUnsupported as exc:
        assert exc.message.startswith("the kernel lacks ipvlan support")
        assert in_world(lab, "host1", "ip", "-o", "link").stdout == links_before
        assert f"ipv-{mode}" not in [n["Name"] for n in lab.networks()]
        pytest.skip(exc.message)


def test_bad_mode_is_refused(lab):
    with pytest.raises(InvalidParameter, match="ipvlan mode 'l4' is not valid"):
        lab.network_create("ipv", driver="ipvlan", options={"ipvlan_mode": "l4"})


def test_l2_reaches_a_plain_machine_with_the_parents_mac(lab):
    lab.host_add("legacy", plain=True)
    create_or_skip(lab, "l2")
    lab.run("p1", network="ipv-l2")
    assert ping(lab, "p1", lab.host("legacy")["Address"].split("/")[0])
    mac = lab.inspect("p1")["NetworkSettings"]["Networks"]["ipv-l2"]["MacAddress"]
    assert mac in in_world(lab, "host1", "ip", "-o", "link", "show", "eth0").stdout


def test_l3_children_reach_each_other_without_a_gateway(lab):
    create_or_skip(lab, "l3")
    lab.run("p1", network="ipv-l3")
    lab.run("p2", network="ipv-l3")
    assert lab.inspect("p1")["NetworkSettings"]["Networks"]["ipv-l3"]["Gateway"] == ""
    assert ping(lab, "p1", ip_of(lab, "p2", "ipv-l3"))
