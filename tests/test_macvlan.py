"""The macvlan driver on the real kernel: containers on the lab's LAN next to plain machines, the
host-child rule, and clear errors for kernel features this kernel lacks (802.1q VLAN, dummy)."""

import pytest
from conftest import in_world, ip_of, ping

from cnmlab.drivers.macvlan import HOST_CHILD_REASON, host_child_reason
from cnmlab.errors import Conflict, InvalidParameter, KernelUnsupported
from cnmlab.network import Network

pytestmark = pytest.mark.kernel

LAN = {"subnet": "192.168.100.0/24", "gateway": "192.168.100.1", "ip_range": "192.168.100.128/25"}


def macvlan(lab, name="lan", **extra):
    return lab.network_create(name, driver="macvlan", **{**LAN, **extra})


def test_container_reaches_a_plain_machine_on_the_lan(lab):
    lab.host_add("legacy", plain=True)
    macvlan(lab, options={"parent": "eth0", "macvlan_mode": "bridge"})
    lab.run("m1", network="lan")
    ip = ip_of(lab, "m1", "lan")
    assert ip == "192.168.100.128"
    legacy = lab.host("legacy")["Address"].split("/")[0]
    assert ping(lab, "m1", legacy), "a container reaches something that is not Docker at all"
    assert ping(lab, "legacy", ip), "and the plain machine reaches the container directly (no NAT)"
    assert "default via 192.168.100.1 dev eth0" in in_world(lab, "m1", "ip", "route").stdout
    assert "macvlan mode bridge" in in_world(lab, "m1", "ip", "-d", "link", "show", "eth0").stdout
    mac = lab.inspect("m1")["NetworkSettings"]["Networks"]["lan"]["MacAddress"]
    assert mac == "02:42:c0:a8:64:80"
    host_ls = {h["Name"]: h for h in lab.hosts()}
    assert host_ls["host1"]["Containers"] == ["m1"] and host_ls["legacy"]["Plain"] is True


def test_the_host_cannot_reach_its_own_child(lab):
    lab.host_add("host2")
    macvlan(lab)
    lab.run("m1", network="lan")
    ip = ip_of(lab, "m1", "lan")
    assert not ping(lab, "host1", ip), "the kernel does not deliver between a macvlan parent and its children"
    assert not ping(lab, "m1", "192.168.100.11")
    assert ping(lab, "host2", ip), "another host on the LAN reaches the child through the switch"
    net = Network(id="x" * 64, name="lan", driver="macvlan", scope="local", created="", host="host1")
    assert host_child_reason(net, "host1") == HOST_CHILD_REASON
    assert "does not deliver between a macvlan parent and its children" in HOST_CHILD_REASON
    assert host_child_reason(net, "host2") is None


def test_each_host_has_its_own_macvlan_on_its_own_eth0(lab):
    lab.host_add("host2")
    macvlan(lab, "lan1", ip_range="192.168.100.128/26")
    lab.network_create("lan2", driver="macvlan", subnet="10.99.0.0/24", host="host2")
    lab.run("m1", network="lan1")
    lab.run("m2", network="lan2", host="host2")
    assert ping(lab, "m1", "192.168.100.1")
    with pytest.raises(Conflict, match="already using parent interface eth0"):
        lab.network_create("lan3", driver="macvlan", subnet="10.98.0.0/24")


def test_bad_options_are_refused_before_anything_is_made(lab):
    with pytest.raises(InvalidParameter, match="macvlan mode 'fast' is not valid"):
        macvlan(lab, options={"macvlan_mode": "fast"})
    with pytest.raises(InvalidParameter, match="parent interface was not found on the host: eth7"):
        macvlan(lab, options={"parent": "eth7"})
    assert "lan" not in [n["Name"] for n in lab.networks()]


def test_an_address_of_a_lab_machine_is_refused(lab):
    lab.network_create("lan", driver="macvlan", subnet="192.168.100.0/24", gateway="192.168.100.1",
                       ip_range="192.168.100.8/29")
    for name in ("m8", "m9", "ma"):
        lab.run(name, network="lan")
    with pytest.raises(Conflict, match="is host1's address on the LAN"):
        lab.run("mb", network="lan")
    assert "mb" not in [c["Names"][0] for c in lab.containers()]


def vlan_network(lab):
    return macvlan(lab, "vlan10", options={"parent": "eth0.10"})


def test_vlan_parent_needs_8021q(lab):
    links_before = in_world(lab, "host1", "ip", "-o", "link").stdout
    try:
        vlan_network(lab)
    except KernelUnsupported as exc:
        assert "the kernel lacks 802.1q VLAN support" in exc.message and "eth0.10" in exc.message
        assert in_world(lab, "host1", "ip", "-o", "link").stdout == links_before, "nothing created"
        assert "vlan10" not in [n["Name"] for n in lab.networks()]
        pytest.skip(exc.message)
    lab.run("v1", network="vlan10")
    assert "eth0.10" in in_world(lab, "host1", "ip", "-o", "link").stdout
    lab.rm("v1")
    lab.network_rm("vlan10")
    assert "eth0.10" not in in_world(lab, "host1", "ip", "-o", "link").stdout, "removed with the network"


def test_no_parent_needs_a_dummy_link(lab, cli):
    result = cli("network", "create", "-d", "macvlan", "--internal", "iso")
    if result.returncode != 0:
        assert "the kernel lacks dummy link support" in result.stderr
        assert "-o parent=eth0" in result.stderr, "the error says what to do"
        assert "iso" not in [n["Name"] for n in lab.networks()]
        pytest.skip(result.stderr.strip().removeprefix("Error: "))
    lab.run("i1", network="iso")
    lab.run("i2", network="iso")
    assert ping(lab, "i1", ip_of(lab, "i2", "iso"))
    assert not ping(lab, "i1", "192.168.100.1")


def test_restart_rebuilds_macvlan(lab, cli):
    lab.host_add("legacy", plain=True)
    macvlan(lab)
    lab.run("m1", network="lan")
    assert cli("engine", "stop").returncode == 0
    assert ip_of(lab, "m1", "lan") == "192.168.100.128"  # a new engine restores the lab from SQLite
    assert ping(lab, "m1", lab.host("legacy")["Address"].split("/")[0])
    with pytest.raises(Conflict, match="already using parent interface eth0"):
        lab.network_create("lan2", driver="macvlan", subnet="10.98.0.0/24")


def test_an_interface_name_the_sandbox_already_has_is_refused_in_one_line(lab):
    """The macvlan child is born in the sandbox as ethN: an ethN made there by hand is the
    user's, said so (not a 500), and the connect leaves nothing behind."""
    macvlan(lab, options={"parent": "eth0"})
    lab.run("handmade")
    in_world(lab, "handmade", "ip", "link", "add", "eth1", "type", "veth", "peer", "name", "x1", check=True)
    with pytest.raises(Conflict, match=r"^cannot add interface eth1 to handmade: an interface of that name "
                                       r"already exists there$"):
        lab.connect("lan", "handmade")
    assert list(lab.inspect("handmade")["NetworkSettings"]["Networks"]) == ["bridge"]
    assert "macvlan" not in in_world(lab, "handmade", "ip", "-d", "link").stdout
    lab.rm("handmade")
    lab.run("again", network="lan")  # the address the failed connect took is free again
    assert ip_of(lab, "again", "lan") == "192.168.100.128"
