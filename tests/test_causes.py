"""Every drop has a named cause, read from the kernel; and the path follows devices cnmlab never made.

One lab for the module: aa on net-a; bb on net-a and net-b; rr and rs (routers) on net-a; and a
third-party plugin's network (its own bridge and veths) with w1 and w2. Each test breaks one
thing on purpose, checks that probe (and trace) name it, and puts it back.
"""

import sys
from pathlib import Path

import pytest
from conftest import in_world

pytestmark = pytest.mark.kernel

PLUGIN = str(Path(__file__).parent / "own_bridge_plugin.py")


@pytest.fixture(scope="module")
def world(engine):
    engine.reset()
    engine.plugin_run([sys.executable, PLUGIN])
    engine.network_create("net-a", subnet="10.71.1.0/24")
    engine.network_create("net-b", subnet="10.71.2.0/24")
    engine.network_create("weave", driver="weavish", subnet="10.71.9.0/24")
    engine.run("aa", network="net-a")
    engine.run("bb", network="net-a")
    engine.connect("net-b", "bb")
    for router in ("rr", "rs"):
        engine.run(router, network="net-a")
        engine.exec(router, ["sysctl", "-w", "net.ipv4.ip_forward=1"])
    engine.run("w1", network="weave")
    engine.run("w2", network="weave")
    yield engine
    engine.reset()
    for p in engine.plugins()["Processes"]:
        engine.plugin_stop(str(p["Pid"]), force=True)


def sh(client, target: str, script: str) -> None:
    in_world(client, target, "sh", "-c", script, check=True)


def ip(client, container: str, network: str) -> str:
    return client.inspect(container)["NetworkSettings"]["Networks"][network]["IPAddress"]


def test_a_third_party_plugins_path_is_its_own_devices(world):
    """The trace follows the plugin's veth and bridge by the kernel's links: no underlay, no guesses."""
    t = world.trace("w1", "w2")
    assert t["verdict"] == "replied", t
    request = [(h["namespace"], h["interface"], h["direction"]) for h in t["hops"] if h["leg"] == "request"]
    assert [r[0] for r in request] == ["w1", "host1", "host1", "host1", "w2"]
    assert request[0][1] == request[-1][1] == "eth0"
    assert request[1][1].startswith("wvh") and request[3][1].startswith("wvh") and request[1][1] != request[3][1]
    assert request[2][1:] == ("wv-" + world.network_inspect("weave")["Id"][:6], "fwd")
    assert all(h["seen"] for h in t["hops"]) and not any(h["kind"] == "underlay" for h in t["hops"])


def test_a_forward_policy_drop_is_named_with_br_netfilter(world):
    bridge = "wv-" + world.network_inspect("weave")["Id"][:6]
    accept = f"-i {bridge} -o {bridge} -j ACCEPT"
    sh(world, "host1", f"iptables -D FORWARD {accept}")
    try:
        p = world.probe("w1", "w2", timeout=0.5)
        assert p["outcome"] == "filtered" and p["reason_key"] == "forward-policy", p
        assert p["rule"] == {"namespace": "host1", "table": "filter", "chain": "FORWARD", "rule": "-P FORWARD DROP"}
        assert "policy DROP: no rule accepted it" in p["reason"]
        assert "bridged frames pass iptables: br_netfilter is on in host1" in p["reason"]
        t = world.trace("w1", "w2", timeout=0.3)
        assert t["verdict"] == "dropped" and t["rule"]["rule"] == "-P FORWARD DROP"
        assert t["reason"] == ("dropped in host1 by the filter/FORWARD policy DROP: no rule accepted it; "
                               "bridged frames pass iptables: br_netfilter is on in host1")
        assert t["hops"][t["dropped_after"] - 1]["interface"] == bridge
    finally:
        sh(world, "host1", f"iptables -I FORWARD {accept}")
    assert world.probe("w1", "w2")["outcome"] == "reachable"


def test_no_route_names_the_table(world):
    sh(world, "aa", "ip route del default")
    try:
        p = world.probe("aa", "192.168.100.1")
        assert p["outcome"] == "no route" and p["reason_key"] == "no-route", p
        assert "aa has no route to 192.168.100.1 (table main: Network is unreachable)" in p["reason"]
    finally:
        sh(world, "aa", "ip route add default via 10.71.1.1")


def test_an_unanswered_neighbour_is_named(world):
    p = world.probe("aa", "10.71.1.250", timeout=0.5)
    assert p["outcome"] == "timeout" and p["reason_key"] == "neighbour", p
    assert "10.71.1.250 never answered ARP on eth0 in aa" in p["reason"]
    assert "INCOMPLETE" in p["reason"] or "FAILED" in p["reason"]


def test_a_container_is_not_a_router(world):
    """A route through bb, which has legs on both networks but does not forward."""
    sh(world, "aa", f"ip route add 10.71.2.0/24 via {ip(world, 'bb', 'net-a')}")
    try:
        world.run("cc", network="net-b")
        p = world.probe("aa", "cc", timeout=0.5)
        assert p["reason_key"] == "no-forwarding", p
        assert "bb does not forward packets (net.ipv4.ip_forward = 0): a container is not a router" in p["reason"]
    finally:
        sh(world, "aa", "ip route del 10.71.2.0/24")
        world.rm("cc", force=True)


def test_rp_filter_is_named(world):
    """aa reaches bb's net-b address through the router rr; bb's route back to aa leaves by eth0,
    not eth1, so strict reverse path filtering drops it."""
    world.connect("net-b", "rr")
    sh(world, "aa", f"ip route add 10.71.2.0/24 via {ip(world, 'rr', 'net-a')}")
    sh(world, "bb", "sysctl -w net.ipv4.conf.all.rp_filter=1")
    try:
        p = world.probe("aa", ip(world, "bb", "net-b"), timeout=0.5)
        assert p["outcome"] == "timeout" and p["reason_key"] == "rp-filter", p
        assert "bb drops it by reverse path filtering (rp_filter strict on eth1)" in p["reason"]
        t = world.trace("aa", ip(world, "bb", "net-b"), timeout=0.3)
        assert "rr" in [h["namespace"] for h in t["hops"]], "the path crosses the router"
        assert t["hops"][t["dropped_after"] - 1]["namespace"] == "bb"
    finally:
        sh(world, "bb", "sysctl -w net.ipv4.conf.all.rp_filter=0")
        sh(world, "aa", "ip route del 10.71.2.0/24")
        world.disconnect("net-b", "rr")


def test_ttl_exceeded_in_a_routing_loop(world):
    sh(world, "aa", f"ip route add 10.99.0.0/24 via {ip(world, 'rr', 'net-a')}")
    sh(world, "rr", f"ip route add 10.99.0.0/24 via {ip(world, 'rs', 'net-a')}")
    sh(world, "rs", f"ip route add 10.99.0.0/24 via {ip(world, 'rr', 'net-a')}")
    for router in ("rr", "rs"):  # each redirect to aa would spend the ICMP rate limit for aa
        sh(world, router, "sysctl -qw net.ipv4.conf.all.send_redirects=0 net.ipv4.conf.eth0.send_redirects=0")
    try:
        p = world.probe("aa", "10.99.0.7", timeout=1.0)
        assert p["outcome"] == "no route" and p["reason_key"] == "ttl-exceeded", p
        assert "time exceeded" in p["reason"] and "TTL ran out" in p["reason"]
        t = world.trace("aa", "10.99.0.7", timeout=0.5)
        assert {"rr", "rs"} <= {h["namespace"] for h in t["hops"]}, "the walk follows the loop"
    finally:
        for box in ("aa", "rr", "rs"):
            sh(world, box, "ip route del 10.99.0.0/24")


def test_a_device_cnmlab_cannot_follow_is_shown_as_such(world):
    sh(world, "aa", "ip tuntap add dev tap9 mode tap && ip link set tap9 up && ip route add 10.98.0.0/24 dev tap9 && "
       "ip neigh add 10.98.0.1 lladdr 02:00:00:00:98:01 dev tap9")
    try:
        t = world.trace("aa", "10.98.0.1", timeout=0.3)
        unknown = [h for h in t["hops"] if h["kind"] == "unknown"]
        assert unknown and unknown[0]["interface"] == "tap9 (tun)", t["hops"]
        assert unknown[0]["summary"] == "a device cnmlab cannot follow: not captured"
        first = t["hops"][0]
        assert (first["namespace"], first["interface"]) == ("aa", "tap9")
        assert first["summary"] is None, "a capture socket was opened on the device it does know"
    finally:
        sh(world, "aa", "ip link del tap9")


def test_too_big_for_the_path_mtu_with_df_on_an_overlay(world):
    """An overlay's containers get MTU 1450 (VXLAN's 50 bytes on the LAN's 1500): a 1500-byte DF
    packet is refused at the source; on an overlay set to MTU 1500 it leaves, and the 1550-byte
    frame does not fit host1's eth0."""
    world.host_add("host2")
    world.network_create("ov", driver="overlay", attachable=True)
    world.network_create("fat", driver="overlay", attachable=True, options={"com.docker.network.driver.mtu": "1500"})
    for name, net in (("o1", "ov"), ("f1", "fat")):
        world.run(name, network=net)
        world.run(name.replace("1", "2"), network=net, host="host2")
    assert world.probe("o1", "o2", size=1450)["outcome"] == "reachable"
    p = world.probe("o1", "o2", size=1500)
    assert p["reason_key"] == "too-big", p
    assert ("too big for the path MTU (1450 on the overlay) with DF set: 1500 bytes do not fit eth0 in o1 "
            "(MTU 1450)") in p["reason"]
    p = world.probe("f1", "f2", size=1500, timeout=0.5)
    assert p["reason_key"] == "too-big", p
    assert ("too big for the path MTU (1450 on the overlay) with DF set: 1500 bytes do not fit eth0 in host1 "
            "(MTU 1500) inside VXLAN (1550 bytes on the wire)") in p["reason"]
    t = world.trace("f1", "f2", size=1500, timeout=0.3)
    cause = p["reason"][p["reason"].index("too big"):]  # what the kernel said first differs once the PMTU is cached
    assert t["reason_key"] == "too-big" and t["reason"].endswith(cause), t["reason"]
    m = world.matrix(network="fat", size=1500, explain=True, timeout=0.3)
    cell = next(c for c in m["cells"] if (c["from"], c["to"]) == ("f1", "f2@fat"))
    assert cell["reason"] == "too-big" and "too big for the path MTU (1450 on the overlay)" in cell["detail"], cell
    assert m["legend"]["too-big"].startswith("too big for the path MTU with DF set")
    with pytest.raises(Exception, match="--size applies to icmp and udp probes, not tcp"):
        world.probe("o1", "o2", proto="tcp", size=1500)


def test_the_reply_takes_its_own_way_and_a_lost_reply_is_named(world):
    """aa reaches bb's net-b address through the router rr; bb answers directly over net-a (an
    asymmetric path, as the kernel routes it). A blackhole for aa in bb then loses the reply."""
    world.connect("net-b", "rr")
    sh(world, "aa", f"ip route add 10.71.2.0/24 via {ip(world, 'rr', 'net-a')}")
    target = ip(world, "bb", "net-b")
    try:
        t = world.trace("aa", target, timeout=0.5)
        assert t["verdict"] == "replied", t
        request = {h["namespace"] for h in t["hops"] if h["leg"] == "request"}
        reply = [(h["namespace"], h["interface"]) for h in t["hops"] if h["leg"] == "reply"]
        assert "rr" in request and "rr" not in {ns for ns, _ in reply}, reply
        assert reply[0] == ("bb", "eth0") and reply[-1] == ("aa", "eth0")
        assert all(h["seen"] for h in t["hops"] if h["leg"] == "reply")
        sh(world, "bb", f"ip route add blackhole {ip(world, 'aa', 'net-a')}/32")
        p = world.probe("aa", target, timeout=0.5)
        assert p["outcome"] == "timeout" and p["reason_key"] == "reply-lost", p
        assert (f"the request reaches bb, but its reply is lost: bb has no route to {ip(world, 'aa', 'net-a')} "
                "(table main") in p["reason"]
    finally:
        sh(world, "bb", f"ip route del blackhole {ip(world, 'aa', 'net-a')}/32 || true")
        sh(world, "aa", "ip route del 10.71.2.0/24")
        world.disconnect("net-b", "rr")


def test_conntrack_invalid_on_an_asymmetric_path(world):
    """aa pings bb directly over net-a, but bb sends its replies to aa through the router rr,
    whose firewall drops what conntrack marks INVALID: rr sees only the replies (an ICMP echo
    reply, a TCP SYN-ACK), never the request that would start their connection."""
    aa = ip(world, "aa", "net-a")
    sh(world, "rr", "sysctl -qw net.ipv4.conf.all.send_redirects=0 net.ipv4.conf.eth0.send_redirects=0 && "
       "iptables -I FORWARD -m conntrack --ctstate INVALID -j DROP")
    sh(world, "bb", f"ip route add {aa}/32 via {ip(world, 'rr', 'net-a')}")
    try:
        for proto in ("icmp", "tcp"):
            p = world.probe("aa", ip(world, "bb", "net-a"), proto=proto, timeout=0.5)
            assert p["outcome"] == "filtered" and p["reason_key"] == "conntrack-invalid", p
            assert p["rule"] == {"namespace": "rr", "table": "filter", "chain": "FORWARD",
                                 "rule": "-m conntrack --ctstate INVALID -j DROP"}
            reply = "an ICMP echo reply" if proto == "icmp" else "a TCP SYN-ACK"
            assert p["reason"] == (f"conntrack marked the packet INVALID in rr ({reply} of a connection rr never saw "
                                   "start: the request took another way (an asymmetric path), and only the reply "
                                   "crosses rr); dropped by filter/FORWARD: -m conntrack --ctstate INVALID -j DROP")
        t = world.trace("aa", ip(world, "bb", "net-a"), timeout=0.3)
        assert t["reason_key"] == "conntrack-invalid" and t["reason"].startswith("conntrack marked the packet INVALID")
        assert [h["namespace"] for h in t["hops"] if h["leg"] == "reply" and h["seen"]][:2] == ["bb", "host1"]
    finally:
        sh(world, "bb", f"ip route del {aa}/32")
        sh(world, "rr", "iptables -D FORWARD -m conntrack --ctstate INVALID -j DROP")
    assert world.probe("aa", "bb")["outcome"] == "reachable"


def test_the_reply_after_nat_is_the_kernels_own_way(world):
    """aa's ping to the LAN machine lan1 leaves host1 MASQUERADEd to host1's address; lan1 sends
    its reply for host1 through lan2 (a LAN machine that forwards). The reply leg is walked by
    the kernel's lookups from lan1, through lan2, then host1 undoes the MASQUERADE towards aa:
    not the request's hops reversed."""
    world.host_add("lan1", address="192.168.100.61", plain=True)
    world.host_add("lan2", address="192.168.100.62", plain=True)
    sh(world, "lan2", "sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.send_redirects=0 "
       "net.ipv4.conf.eth0.send_redirects=0")
    sh(world, "lan1", "ip route add 192.168.100.11/32 via 192.168.100.62")
    t = world.trace("aa", "lan1", timeout=0.5)
    assert t["verdict"] == "replied", t
    request = [h["namespace"] for h in t["hops"] if h["leg"] == "request"]
    reply = [(h["namespace"], h["interface"], h["seen"]) for h in t["hops"] if h["leg"] == "reply"]
    assert "lan2" not in request and ("lan2", "eth0", True) in reply, reply
    assert reply[0][:2] == ("lan1", "eth0") and reply[-1] == ("aa", "eth0", True)
    assert all(seen for _, _, seen in reply), reply
    nat = [h["nat"] for h in t["hops"] if h["leg"] == "reply" and h["nat"]]
    assert nat == [f"reverse MASQUERADE: destination 192.168.100.11 -> {ip(world, 'aa', 'net-a')}"], nat
