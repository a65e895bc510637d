"""Every check kind, run against a deliberately wrong topology, fails with the message that says
what is wrong and the hint that would fix it (and passes where the topology is right).

The topology: aa on net-a; bb on net-b only; cc on net-a and net-b; dd on the default bridge."""

import pytest

from cnmlab.labs import checks
from cnmlab.labs.live import Live

pytestmark = pytest.mark.kernel


@pytest.fixture(scope="module")
def live(engine):
    engine.reset()
    engine.network_create("net-a")
    engine.network_create("net-b", internal=True)
    engine.run("aa", network="net-a")
    engine.run("bb", network="net-b")
    engine.run("cc", network="net-a")
    engine.connect("net-b", "cc")
    engine.run("dd")
    yield Live(engine)
    engine.reset()


def fails(live, kind, **args):
    result = checks.evaluate(live, kind, args)
    if result.ok is None:
        pytest.skip(result.message)
    assert result.ok is False, result.message
    return result


def passes(live, kind, **args):
    result = checks.evaluate(live, kind, args)
    if result.ok is None:
        pytest.skip(result.message)
    assert result.ok is True, f"{result.message} ({result.hint})"
    return result


# kind -> test; test_every_kind_has_a_wrong_topology_case keeps this complete.
CASES = {}


def case(kind):
    def register(fn):
        CASES[kind] = fn
        return fn
    return register


@case("exists")
def exists_(live):
    r = fails(live, "exists", container="zz")
    assert (r.message, r.hint) == ("there is no container zz", "create it: `cnmlab run --name zz --network NET`")
    assert fails(live, "exists", network="net-z").message == "there is no network net-z"
    assert fails(live, "exists", host="host9").hint == "add it: `cnmlab host add host9`"
    passes(live, "exists", container="aa", network="net-a", host="host1")


@case("absent")
def absent_(live):
    r = fails(live, "absent", container="aa")
    assert (r.message, r.hint) == ("container aa is still there", "remove it: `cnmlab rm -f aa`")
    assert fails(live, "absent", network="net-b").hint == "remove it: `cnmlab network rm net-b`"
    passes(live, "absent", container="zz")


@case("on_network")
def on_network_(live):
    r = fails(live, "on_network", container="bb", network="net-a")
    assert r.message == "bb has no endpoint on net-a"
    assert r.hint == "try `cnmlab network connect net-a bb`"
    assert fails(live, "on_network", container="bb", network="net-q").message == "there is no network net-q"
    passes(live, "on_network", container="cc", network="net-b")


@case("not_on_network")
def not_on_network_(live):
    r = fails(live, "not_on_network", container="cc", network="net-b")
    assert r.message == "cc has an endpoint on net-b, and should not"
    assert r.hint == "try `cnmlab network disconnect net-b cc`"


@case("endpoints")
def endpoints_(live):
    r = fails(live, "endpoints", container="aa", count=2)
    assert r.message == "aa has 1 endpoint(s) (net-a), not 2"
    assert "cnmlab network connect NET aa" in r.hint
    assert "eth0 on net-a, eth1 on net-b" in passes(live, "endpoints", container="cc", count=2).message


@case("driver_is")
def driver_is_(live):
    r = fails(live, "driver_is", network="net-a", driver="overlay")
    assert r.message == "net-a uses the bridge driver, not overlay"
    assert r.hint == "remove it and create it again: `cnmlab network create -d overlay net-a`"


@case("network_is")
def network_is_(live):
    r = fails(live, "network_is", network="net-a", internal=True)
    assert (r.message, r.hint) == ("net-a is not internal",
                                   "remove it and create it with --internal: `cnmlab network create --internal net-a`")
    r = fails(live, "network_is", network="net-a", options={"com.docker.network.bridge.enable_icc": "false"})
    assert r.message == "net-a has com.docker.network.bridge.enable_icc=None, not false"
    passes(live, "network_is", network="net-b", internal=True)


@case("bridge_exists")
def bridge_exists_(live):
    r = fails(live, "bridge_exists", network="none")
    assert r.message.startswith("host1 has no bridge br-") and r.message.endswith(" for none")
    assert "br-" in passes(live, "bridge_exists", network="net-a").message


@case("veth_on_bridge")
def veth_on_bridge_(live):
    r = fails(live, "veth_on_bridge", container="dd", network="net-a")
    assert (r.message, r.hint) == ("dd has no endpoint on net-a", "try `cnmlab network connect net-a dd`")
    ok = passes(live, "veth_on_bridge", container="cc", network="net-b").message
    assert ok.startswith("cc's eth1 is a veth pair; its peer veth") and " in host1" in ok
    peer, bridge = ok.split("its peer ")[1].split()[0], ok.split("a port of ")[1].split()[0]
    live.client.exec("host1", ["ip", "link", "set", peer, "nomaster"])  # unplug the host end
    try:
        r = fails(live, "veth_on_bridge", container="cc", network="net-b")
        assert r.message == f"cc's eth1 is a veth pair, but its peer {peer} in host1 is on no bridge, not {bridge}"
        assert r.hint == f"put it back: `cnmlab shell host1`, then `ip link set {peer} master {bridge}`"
    finally:
        live.client.exec("host1", ["ip", "link", "set", peer, "master", bridge])
    passes(live, "veth_on_bridge", container="cc", network="net-b")


@case("sysctl_is")
def sysctl_is_(live):
    r = fails(live, "sysctl_is", target="aa", key="net.ipv4.ip_forward", value="1")
    assert r.message == "net.ipv4.ip_forward is 0 in aa, not 1"
    assert r.hint == "try `cnmlab exec aa -- sysctl -w net.ipv4.ip_forward=1`"


@case("command_succeeds")
def command_succeeds_(live):
    assert fails(live, "command_succeeds", target="aa", argv=["ip", "link", "show", "eth7"]).message.startswith(
        "`ip link show eth7` in aa failed: Device \"eth7\" does not exist")
    r = fails(live, "command_succeeds", target="aa", argv=["ip", "-o", "link"], contains="eth1@")
    assert r.message == "`ip -o link` in aa does not show 'eth1@'"


@case("reachable")
def reachable_(live):
    r = fails(live, "reachable", src="aa", dst="bb")
    assert r.message.startswith("aa → bb (")
    assert r.hint == "aa and bb share no network: try `cnmlab network connect net-b aa`"
    r = fails(live, "reachable", src="aa", dst="cc@net-b")
    assert r.hint == "look at the path: `cnmlab trace aa cc@net-b`"
    fails(live, "reachable", src="aa", dst="cc@net-a", proto="tcp", port=81)  # nothing listens: refused
    r = fails(live, "reachable", src="bb", dst="aa@net-a")
    assert r.message.startswith("bb → aa@net-a (") and r.hint == "bb and aa share no network: try `cnmlab network connect net-a bb`"
    r = fails(live, "reachable", src="aa", dst="bb@net-a")
    assert (r.message, r.hint) == ("bb has no endpoint on net-a", "try `cnmlab network connect net-a bb`")
    passes(live, "reachable", src="aa", dst="cc", proto="tcp", port=80)


@case("not_reachable")
def not_reachable_(live):
    r = fails(live, "not_reachable", src="aa", dst="cc")
    assert r.message == f"aa → cc ({live.address('cc@net-a')[0]}) by icmp is reachable, and should not be"
    assert "cnmlab inspect aa" in r.hint
    passes(live, "not_reachable", src="bb", dst="192.168.100.1")  # net-b is internal
    # The lesson's cause must be the kernel's: the outcome and the chain that counted the drop.
    passes(live, "not_reachable", src="aa", dst="cc@net-b", outcome="filtered", dropped_by="DOCKER-ISOLATION-STAGE-1")
    r = fails(live, "not_reachable", src="aa", dst="cc@net-b", outcome="filtered", dropped_by="DOCKER-ISOLATION-STAGE-2")
    assert "dropped by filter/DOCKER-ISOLATION-STAGE-1 on host1, not by DOCKER-ISOLATION-STAGE-2" in r.message
    r = fails(live, "not_reachable", src="aa", dst="cc@net-b", outcome="no route")
    assert r.message.endswith("not no route") and "filtered" in r.message
    r = fails(live, "not_reachable", src="aa", dst="cc@net-b", reason="no-route")
    assert "for reason internal" in r.message


@case("talk_by_name")
def talk_by_name_(live):
    passes(live, "talk_by_name", a="aa", b="cc")
    r = fails(live, "talk_by_name", a="aa", b="bb")
    assert r.message == "bb does not resolve in aa", r.message
    r = fails(live, "talk_by_name", a="dd", b="aa")
    assert r.message == "dd is only on the default bridge, which has no embedded DNS"


@case("full_size_reaches")
def full_size_reaches_(live):
    passes(live, "full_size_reaches", src="aa", dst="cc@net-a")  # one bridge: 1500 bytes fit all the way
    r = fails(live, "full_size_reaches", src="aa", dst="dd")
    assert "1500 bytes (the MTU of its eth0) with DF set: filtered" in r.message and "--size 1500" in r.hint


@case("forwarded_by")
def forwarded_by_(live):
    """cc is on both networks but not a router: aa reaches cc@net-a on the bridge, and cc forwards nothing."""
    r = fails(live, "forwarded_by", src="aa", dst="cc@net-a", router="cc")
    assert r.message.endswith("is reachable, but cc forwarded 0 packet(s): the path does not cross cc"), r.message
    r = fails(live, "forwarded_by", src="aa", dst="bb", router="cc")
    assert ": filtered: " in r.message and "ip route" in r.hint


@case("resolves")
def resolves_(live):
    r = fails(live, "resolves", container="dd", name="aa")
    assert r.message == "dd is only on the default bridge, which has no embedded DNS"
    assert r.hint == "put it on a user-defined network: `cnmlab network connect NET dd`"
    r = fails(live, "resolves", container="aa", name="bb")
    assert r.message == "bb does not resolve in aa"
    assert r.hint == "names resolve only on a network both share: `cnmlab network connect NET aa`"
    r = fails(live, "resolves", container="aa", name="cc", to="aa")
    cc, aa = live.address("cc@net-a")[0], live.address("aa")[0]
    assert r.message == f"cc resolves to {cc} in aa, expected {aa}"
    r = fails(live, "resolves", container="aa", name="cc", includes=["aa", "cc"])
    assert r.message == f"cc resolves to {cc} in aa, which lacks {aa}"
    passes(live, "resolves", container="aa", name="cc", to="cc@net-a")


@case("not_resolves")
def not_resolves_(live):
    if checks.evaluate(live, "embedded_dns", {"container": "aa"}).ok is None:
        pytest.skip("no embedded DNS in this cnmlab")
    r = fails(live, "not_resolves", container="aa", name="cc")
    assert r.message == f"cc resolves to {live.address('cc@net-a')[0]} in aa, and should not"
    assert r.hint == "names resolve only between containers that share a user-defined network"


@case("embedded_dns")
def embedded_dns_(live):
    assert fails(live, "embedded_dns", container="dd").message == \
        "dd is only on the default bridge, which has no embedded DNS"
    passes(live, "embedded_dns", container="aa")


@case("trace_dropped_by")
def trace_dropped_by_(live):
    r = fails(live, "trace_dropped_by", src="aa", dst="cc@net-a", chain="DOCKER-ISOLATION")
    assert r.message == "aa → cc@net-a by icmp was replied, not dropped"
    assert r.hint == "the two must be on different networks"
    r = fails(live, "trace_dropped_by", src="aa", dst="dd", chain="DOCKER-USER")
    assert r.message.startswith("aa → dd by icmp was dropped by DOCKER-ISOLATION"), r.message
    assert r.message.endswith(", not DOCKER-USER")


@case("trace_encapsulated")
def trace_encapsulated_(live):
    r = fails(live, "trace_encapsulated", src="aa", dst="cc@net-a")
    assert r.message == "no hop of aa → cc@net-a was VXLAN-encapsulated"
    assert r.hint == "both must be on one overlay network"


@case("fdb_programmed")
def fdb_programmed_(live):
    r = fails(live, "fdb_programmed", container="aa", network="net-a", on_host="host1")
    mac = live.containers["aa"].networks["net-a"].mac_address
    assert r.message == f"no VXLAN FDB entry sends aa's MAC {mac} to host1 (192.168.100.11)"
    r = fails(live, "fdb_programmed", container="aa", network="net-b", on_host="host1")
    assert (r.message, r.hint) == ("aa has no endpoint on net-b", "try `cnmlab network connect net-b aa`")


@case("http_answers")
def http_answers_(live):
    r = fails(live, "http_answers", src="aa", dst="cc@net-a", contains="bb")
    assert r.message == f"HTTP from aa to cc@net-a:80 answered 'cc {live.address('cc@net-a')[0]}', not from bb"
    r = fails(live, "http_answers", src="aa", dst="bb")
    assert r.message.startswith("HTTP from aa to bb:80: ERROR")
    assert r.hint == "aa and bb share no network: try `cnmlab network connect net-b aa`"


@case("http_spread")
def http_spread_(live):
    r = fails(live, "http_spread", src="aa", dst="cc@net-a", requests=3, backends=2)
    assert r.message == "3 requests to cc@net-a:80 reached only cc×3"
    assert r.hint == "scale the service: `cnmlab service scale cc@net-a=2`"


@case("seen_by")
def seen_by_(live):
    # aa's ping to host1 is delivered on docker's side of host1, never on its LAN NIC eth0
    r = fails(live, "seen_by", machine="host1", src="aa", address_of="aa")
    assert (r.message, r.hint) == ("nothing from aa arrived at host1", "look at the path: `cnmlab trace aa host1`")


def test_every_kind_has_a_wrong_topology_case():
    assert set(CASES) == set(checks.KINDS)


@pytest.mark.parametrize("kind", sorted(CASES))
def test_check_kind(live, kind):
    CASES[kind](live)


def test_without_the_engines_probe_checks_send_real_pings_and_connects(live):
    """An engine without /lab/probe: reachability is measured with ping and a TCP connect run in
    the source sandbox; udp needs the probe and says so."""
    bare = Live(live.client)
    bare.requirements["probe"] = "this cnmlab does not offer test packets (cnmlab probe) yet"
    assert checks.evaluate(bare, "reachable", {"src": "aa", "dst": "cc"}).ok is True
    assert checks.evaluate(bare, "reachable", {"src": "aa", "dst": "cc", "proto": "tcp", "port": 80}).ok is True
    refused = checks.evaluate(bare, "reachable", {"src": "aa", "dst": "cc", "proto": "tcp", "port": 81})
    assert refused.ok is False and refused.message.endswith("by tcp/81: refused")
    silent = checks.evaluate(bare, "not_reachable", {"src": "aa", "dst": "cc@net-b"})
    assert silent.ok is True and silent.message.endswith(": timeout")
    udp = checks.evaluate(bare, "reachable", {"src": "aa", "dst": "cc", "proto": "udp", "port": 7})
    assert udp.ok is False
    assert udp.message == ("reachable could not run: a udp check needs the engine's probe: "
                           "this cnmlab does not offer test packets (cnmlab probe) yet")
