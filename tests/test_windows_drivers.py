"""Windows' nat, transparent and l2bridge drivers (emulated) on the real kernel: what a plain
machine on the LAN sees (a real capture on its eth0), who reaches whom, nat's port mappings,
options that do not apply, restore after an engine restart, and a teardown that leaves nothing.

One lab for the module: legacy (a plain LAN machine); web on nat `wnat` with 8080:80 and api on
a second nat `wnat2`; t1 on transparent `wlan`; l1 and l2 on l2bridge `wl2`."""

import time

import pytest
from conftest import in_world, ip_of, ping

from cnmlab.client import Client
from cnmlab.errors import Conflict, InvalidParameter
from cnmlab.labs.live import Live

pytestmark = pytest.mark.kernel

LAN = {"subnet": "192.168.100.0/24", "gateway": "192.168.100.1"}
SHIM = "com.docker.network.windowsshim."


def host_state(lab) -> str:
    """What the lab made in host1 and on the LAN switch: links, routes, proxy entries, rules."""
    script = ("ip -br link | cut -d' ' -f1; ip route; ip neigh show proxy; "
              "for t in filter nat raw; do iptables -t $t -S; done")
    host = in_world(lab, "host1", "sh", "-c", script, check=True).stdout
    switch = in_world(lab, "underlay", "sh", "-c", "ip -br link | cut -d' ' -f1", check=True).stdout
    return host + switch


@pytest.fixture(scope="module")
def win(engine):
    lab = engine
    lab.reset()
    lab.network_create("warm", driver="nat")  # the drivers' per-host chain, so `before` has it
    lab.network_rm("warm")
    before = host_state(lab)
    lab.host_add("legacy", address="192.168.100.50", plain=True)
    lab.network_create("wnat", driver="nat", options={SHIM + "networkname": "winnat"})
    lab.network_create("wnat2", driver="nat")
    lab.network_create("wlan", driver="transparent", **LAN)
    lab.network_create("wl2", driver="l2bridge", **LAN)
    lab.run("web", network="wnat", ports=["8080:80"])
    lab.run("api", network="wnat2")
    lab.run("t1", network="wlan")
    lab.run("l1", network="wl2")
    lab.run("l2", network="wl2")
    lab.before = before
    yield lab
    lab.reset()


def seen(lab, src):
    """(source MAC, source IP) of src's ping as a capture on legacy's eth0 shows it."""
    return Live(lab).seen_by("legacy", src)


def mac_of(lab, target):
    return in_world(lab, target, "cat", "/sys/class/net/eth0/address", check=True).stdout.strip()


def probe(lab, src, dst, **kw):
    return lab.probe(src, dst, **kw)["outcome"]


def test_nat_hides_containers_behind_the_hosts_address(win):
    net = win.network_inspect("wnat")
    assert net["Labels"] == {"cnmlab.emulates": "windows"}
    assert net["IPAM"]["Config"][0]["Subnet"] == "172.16.0.0/20", "the first free 172.x /20"
    assert win.network_inspect("wnat2")["IPAM"]["Config"][0]["Subnet"] == "172.16.16.0/20"
    assert "winnat" in in_world(win, "host1", "ip", "-br", "addr", "show", "winnat").stdout, "networkname names it"
    assert seen(win, "web") == (mac_of(win, "host1"), "192.168.100.11"), "WinNAT: the host's address and MAC"
    assert seen(win, "api") == (mac_of(win, "host1"), "192.168.100.11")
    assert not ping(win, "legacy", ip_of(win, "web", "wnat")), "the internal prefix is not reachable from the LAN"
    assert ping(win, "host1", ip_of(win, "web", "wnat")), "the host reaches it through its vNIC"


def test_nat_networks_do_not_reach_each_other(win):
    res = win.probe("web", ip_of(win, "api", "wnat2"))
    assert res["outcome"] == "filtered" and res["rule"]["chain"] == "HNS-VSWITCH", res
    assert probe(win, "api", ip_of(win, "web", "wnat")) == "filtered"
    rules = in_world(win, "host1", "iptables", "-S", check=True).stdout
    assert "DOCKER-ISOLATION-STAGE-2 -o winnat" not in rules and "-j HNS-VSWITCH" in rules


def test_an_l2bridge_container_into_a_nat_prefix_is_dropped_by_the_vswitch(win):
    """l1 is routed by host1 into wnat's prefix: the vSwitch's rule drops it, and says why."""
    res = win.probe("l1", "web", timeout=0.5)
    assert res["outcome"] == "filtered" and res["rule"]["chain"] == "HNS-VSWITCH", res
    assert res["reason"] == ("iptables rule: dropped by HNS-VSWITCH on host1 "
                             "(WinNAT: nothing enters an internal prefix unasked)"), res
    t = win.trace("l1", "web", timeout=0.3)
    assert t["verdict"] == "dropped" and t["rule"]["chain"] == "HNS-VSWITCH"
    assert t["reason"].startswith("dropped in host1 by filter/HNS-VSWITCH: ") and "unasked" in t["reason"]


def test_nat_port_mapping_is_a_static_mapping_on_the_hosts_address(win):
    live = Live(win)
    assert live.http("legacy", "host1", 8080)[0].startswith("web "), "from the LAN: mapped to web:80"
    assert probe(win, "t1", "192.168.100.11", proto="tcp", port=8080) == "reachable", "a LAN station too"
    # WinNAT does not loop a mapping back: the host itself, and the nat network, use web's own address
    assert probe(win, "host1", "192.168.100.11", proto="tcp", port=8080) == "refused"
    assert probe(win, "api", "192.168.100.11", proto="tcp", port=8080) == "refused"
    assert probe(win, "host1", ip_of(win, "web", "wnat"), proto="tcp", port=80) == "reachable"


def test_transparent_containers_are_stations_with_their_own_mac(win):
    ip = ip_of(win, "t1", "wlan")
    mac = win.inspect("t1")["NetworkSettings"]["Networks"]["wlan"]["MacAddress"]
    assert seen(win, "t1") == (mac, ip), "its own address and MAC on the wire: no NAT"
    assert ping(win, "legacy", ip) and ping(win, "t1", "192.168.100.50")
    assert ping(win, "host1", ip), "unlike macvlan, its own host reaches it (through the LAN switch)"
    assert ping(win, "t1", "192.168.100.1"), "the LAN's router is its gateway"


def test_l2bridge_containers_carry_the_hosts_mac(win):
    host_mac = mac_of(win, "host1")
    ip1, ip2 = ip_of(win, "l1", "wl2"), ip_of(win, "l2", "wl2")
    assert seen(win, "l1") == (host_mac, ip1), "its own address, the host's MAC"
    assert ping(win, "legacy", ip1) and ping(win, "host1", ip1) and ping(win, "l1", ip2)
    neigh = in_world(win, "legacy", "ip", "neigh", "show", ip1).stdout
    assert host_mac in neigh, f"legacy's ARP table holds the host's MAC for l1: {neigh}"
    assert ping(win, "l1", ip_of(win, "t1", "wlan")), "l2bridge and transparent stations share the LAN"
    assert len({ip1, ip2, ip_of(win, "t1", "wlan")}) == 3, "networks on the LAN share its addresses"


def test_the_trace_follows_l2bridge_and_transparent_without_inventing_hops(win):
    for src, uplink in (("l1", "u-host1"), ("t1", "up-" + win.network_inspect("wlan")["Id"][:12])):
        trace = win.trace(src, "192.168.100.50")
        request = [(h["namespace"], h["interface"]) for h in trace["hops"] if h["leg"] == "request"]
        assert trace["verdict"] == "replied" and all(h["seen"] for h in trace["hops"]), trace["hops"]
        assert request[-4:] == [("underlay", uplink), ("underlay", "lab0"), ("underlay", "u-legacy"),
                                ("legacy", "eth0")], request


@pytest.mark.parametrize("driver,kw,error", [
    ("nat", {"options": {SHIM + "interface": "eth0"}}, "does not apply to the nat driver"),
    ("nat", {"options": {SHIM + "enable_outboundnat": "true"}}, "does not apply to the nat driver"),
    ("nat", {"options": {SHIM + "dnsservers": "8.8.8.8"}}, "is not emulated by the lab"),
    ("nat", {"options": {"com.docker.network.bridge.name": "x"}}, "unknown option com.docker.network.bridge.name"),
    ("nat", {"internal": True}, "does not support --internal"),
    ("nat", {"subnet": "10.9.0.0/24", "ip_range": "10.9.0.128/25"}, "does not support --ip-range"),
    ("transparent", {}, "needs the LAN's subnet and router"),
    ("transparent", {"subnet": "10.1.0.0/24"}, "does not match the LAN"),
    ("transparent", {**LAN, "options": {SHIM + "interface": "eth1"}}, "interface eth1 was not found"),
    ("transparent", {**LAN, "options": {SHIM + "vlanid": "10"}}, "carries no 802.1q VLANs"),
    ("transparent", {**LAN, "options": {SHIM + "enable_outboundnat": "true"}}, "does not apply to the transparent"),
    ("l2bridge", {**LAN, "options": {SHIM + "enable_outboundnat": "true"}}, "is not emulated by the lab"),
])
def test_options_that_do_not_apply_are_refused(win, driver, kw, error):
    before = host_state(win)
    with pytest.raises(InvalidParameter, match=error) as exc:
        win.network_create("bad", driver=driver, **kw)
    assert "\n" not in str(exc.value)
    assert "bad" not in [n["Name"] for n in win.networks()]
    assert host_state(win) == before, "nothing half made"


def test_a_lab_machines_address_is_refused(win):
    with pytest.raises(Conflict, match="is legacy's address on the LAN: give the container a free one with --ip"):
        win.run("t9", network="wlan", ip="192.168.100.50")


def test_restore_after_an_engine_restart(win, cli):
    assert cli("engine", "stop").returncode == 0
    assert not Client(autostart=False).running()
    assert seen(win, "l1") == (mac_of(win, "host1"), ip_of(win, "l1", "wl2"))
    assert seen(win, "web")[1] == "192.168.100.11"
    assert Live(win).http("legacy", "host1", 8080)[0].startswith("web ")
    assert ping(win, "legacy", ip_of(win, "t1", "wlan")) and ping(win, "host1", ip_of(win, "t1", "wlan"))
    assert probe(win, "web", ip_of(win, "api", "wnat2")) == "filtered"


def test_teardown_leaves_nothing(win):
    for name in ("web", "api", "t1", "l1", "l2"):
        win.rm(name, force=True)
    for name in ("wnat", "wnat2", "wlan", "wl2"):
        win.network_rm(name)
    win.host_rm("legacy")
    deadline = time.monotonic() + 10  # the kernel drops a namespace's links in the background
    while host_state(win) != win.before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert host_state(win) == win.before
