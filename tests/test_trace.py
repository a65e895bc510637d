"""Hop-by-hop traces on the real kernel: the hops in order, NAT rewrites, and the rule that drops."""

import json

import pytest
from conftest import in_world

pytestmark = pytest.mark.kernel


def bridge_of(lab, net: str) -> str:
    return "br-" + lab.network_inspect(net)["Id"][:12]


def veth_on(lab, bridge: str) -> set[str]:
    out = in_world(lab, "host1", "ip", "-o", "link", "show", "master", bridge, check=True).stdout
    return {line.split(": ")[1].split("@")[0] for line in out.splitlines()}


@pytest.fixture
def two_nets(lab):
    lab.network_create("net-a", subnet="10.77.1.0/24")
    lab.network_create("net-c", subnet="10.77.3.0/24")
    lab.run("aa", network="net-a")
    lab.run("bb", network="net-a")
    lab.run("cc", network="net-c")
    return lab


def test_delivered_trace_lists_the_hops_in_order(two_nets):
    t = two_nets.trace("aa", "bb")
    br = bridge_of(two_nets, "net-a")
    assert t["verdict"] == "replied" and t["dropped_after"] is None and t["rule"] is None
    assert (t["src_ip"], t["dst_ip"]) == ("10.77.1.2", "10.77.1.3")
    shape = [(h["leg"], h["namespace"], h["kind"], h["direction"]) for h in t["hops"]]
    assert shape == [
        ("request", "aa", "container", "out"), ("request", "host1", "host", "in"),
        ("request", "host1", "host", "fwd"), ("request", "host1", "host", "out"),
        ("request", "bb", "container", "in"),
        ("reply", "bb", "container", "out"), ("reply", "host1", "host", "in"),
        ("reply", "host1", "host", "fwd"), ("reply", "host1", "host", "out"), ("reply", "aa", "container", "in"),
    ]
    names = [h["interface"] for h in t["hops"]]
    assert names[0] == names[4] == "eth0" and names[2] == br
    veths = veth_on(two_nets, br)
    assert names[1] in veths and names[3] in veths and names[1] != names[3]
    assert names[5:] == list(reversed(names[:5]))
    assert [h["index"] for h in t["hops"]] == list(range(1, 11))
    assert all(h["seen"] for h in t["hops"])
    assert t["hops"][0]["summary"].startswith("ICMP 10.77.1.2 > 10.77.1.3 echo request")
    assert t["hops"][5]["summary"].startswith("ICMP 10.77.1.3 > 10.77.1.2 echo reply")
    times = [h["time_ms"] for h in t["hops"]]
    assert all(isinstance(x, float) and x >= 0 for x in times) and times[0] <= times[-1]
    assert all(h["nat"] is None and h["outer"] is None for h in t["hops"])


def test_isolated_pair_trace_names_the_isolation_rule(two_nets):
    t = two_nets.trace("aa", "cc", timeout=0.3)
    br_c = bridge_of(two_nets, "net-c")
    assert t["verdict"] == "dropped"
    assert t["rule"] == {"namespace": "host1", "table": "filter", "chain": "DOCKER-ISOLATION-STAGE-2",
                         "rule": f"-o {br_c} -j DROP"}
    assert t["reason"] == f"dropped in host1 by filter/DOCKER-ISOLATION-STAGE-2: -o {br_c} -j DROP"
    last_seen = t["hops"][t["dropped_after"] - 1]
    assert (last_seen["namespace"], last_seen["interface"], last_seen["seen"]) == (
        "host1", bridge_of(two_nets, "net-a"), True)
    after = [h for h in t["hops"] if h["index"] > t["dropped_after"]]
    assert after and not any(h["seen"] for h in after)
    assert after[0]["interface"] == br_c


def test_published_port_trace_shows_masquerade_and_dnat(two_nets):
    two_nets.run("web", network="net-a", ports=["8080:80"])
    two_nets.host_add("host2")
    two_nets.run("far", host="host2")
    t = two_nets.trace("far", "host1:8080")
    assert t["verdict"] == "replied" and t["proto"] == "tcp"
    where = [(h["leg"], h["namespace"], h["interface"]) for h in t["hops"]]
    assert ("request", "underlay", "lab0") in where and ("request", "host1", "eth0") in where
    nat = {(h["leg"], h["namespace"], h["interface"]): h["nat"] for h in t["hops"] if h["nat"]}
    sport = int(t["hops"][0]["summary"].split(":")[1].split()[0])
    assert nat[("request", "host2", "eth0")] == f"MASQUERADE: source 172.17.0.2:{sport} -> 192.168.100.12:{sport}"
    dnat = nat[("request", "host1", bridge_of(two_nets, "net-a"))]
    assert dnat == "DNAT: destination 192.168.100.11:8080 -> 10.77.1.4:80"
    assert any(v.startswith("reverse DNAT: source 10.77.1.4:80 -> 192.168.100.11:8080") for v in nat.values())
    assert t["hops"][-1]["namespace"] == "far" and t["hops"][-1]["seen"]


def test_icc_disabled_trace_names_the_forward_rule(lab):
    lab.network_create("quiet", options={"com.docker.network.bridge.enable_icc": "false"})
    lab.run("q1", network="quiet")
    lab.run("q2", network="quiet")
    br = bridge_of(lab, "quiet")
    t = lab.trace("q1", "q2", timeout=0.3)
    assert t["verdict"] == "dropped"
    assert t["rule"] == {"namespace": "host1", "table": "filter", "chain": "FORWARD",
                         "rule": f"-i {br} -o {br} -j DROP"}


def test_trace_errors(two_nets):
    from cnmlab.errors import InvalidParameter, NotFound

    with pytest.raises(InvalidParameter, match="trace follows icmp, tcp and udp"):
        two_nets.trace("aa", "bb", proto="arp")
    with pytest.raises(NotFound):
        two_nets.trace("aa", "nobody")
    two_nets.run("nobox", network="none")
    with pytest.raises(InvalidParameter, match="cannot trace aa -> nobox: nobox has no address"):
        two_nets.trace("aa", "nobox")


def test_cli_trace(two_nets, cli):
    out = cli("trace", "aa", "cc", "--timeout", "0.3")
    br_c = bridge_of(two_nets, "net-c")
    assert out.returncode == 1
    assert f"dropped in host1 by filter/DOCKER-ISOLATION-STAGE-2: -o {br_c} -j DROP" in " ".join(out.stdout.split())
    ok = cli("trace", "aa", "bb", "--proto", "tcp", "--json")
    data = json.loads(ok.stdout)
    assert ok.returncode == 0 and data["verdict"] == "replied" and len(data["hops"]) == 10
    assert "[SA]" in data["hops"][5]["summary"]


def test_overlay_trace_shows_the_underlay_hop_with_vni_and_udp_4789(lab):
    if "overlay" not in {d["Name"] for d in lab.drivers()}:
        pytest.skip("the overlay driver (issue 4) is not installed in this tree")
    lab.host_add("host2")
    lab.network_create("ov", driver="overlay", subnet="10.88.0.0/24", attachable=True)
    lab.run("o1", network="ov", host="host1")
    lab.run("o2", network="ov", host="host2")
    vni = int(lab.network_inspect("ov")["Options"]["com.docker.network.driver.overlay.vxlanid_list"])
    t = lab.trace("o1", "o2")
    assert t["verdict"] == "replied", t
    where = [(h["leg"], h["namespace"], h["interface"]) for h in t["hops"]]
    request = [w[1:] for w in where if w[0] == "request"]
    assert request[0] == ("o1", "eth0") and request[-1] == ("o2", "eth0")
    assert ("host1", "eth0") in request and ("underlay", "lab0") in request and ("host2", "eth0") in request
    assert [i for n, i in request if n.startswith("1-")][:2] != [], "the overlay's own namespace (br0, vxlan0)"
    underlay = [h for h in t["hops"] if h["kind"] == "underlay" or h["interface"] == "eth0" and h["kind"] == "host"]
    assert underlay and all(h["seen"] for h in underlay)
    for h in underlay:
        outer = h["outer"]
        assert outer["udp_port"] == 4789 and outer["vni"] == vni
        expected = ("192.168.100.11", "192.168.100.12") if h["leg"] == "request" else ("192.168.100.12", "192.168.100.11")
        assert (outer["src"], outer["dst"]) == expected
        assert h["summary"].startswith("ICMP 10.88.0.")
    inner = [h for h in t["hops"] if h["namespace"] in ("o1", "o2")]
    assert all(h["outer"] is None for h in inner)


def test_a_packet_that_leaves_for_nowhere_is_dropped_not_delivered(lab):
    """host2 has no route to host1's bridge subnet: the LAN's router gets it and goes no further."""
    lab.network_create("net-a")
    lab.run("aa", network="net-a")
    lab.host_add("host2")
    t = lab.trace("host2", "aa", timeout=0.3)
    assert t["verdict"] == "dropped" and t["rule"] is None
    seen = [(h["namespace"], h["interface"]) for h in t["hops"] if h["seen"]]
    assert seen == [("host2", "eth0"), ("underlay", "u-host2"), ("underlay", "lab0")]
    assert t["dropped_after"] == 3 and "local to its host" in t["reason"]
