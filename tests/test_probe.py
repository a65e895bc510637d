"""Test packets on the real kernel: outcomes per protocol, name resolution, errors, and proof that
no probe ever leaves the lab world."""

import json
import os
import socket

import pytest
from conftest import in_world, ip_of

from cnmlab.errors import InvalidParameter, NotFound

pytestmark = pytest.mark.kernel


@pytest.fixture
def pair(lab):
    lab.network_create("net-a", subnet="10.77.1.0/24")
    lab.run("aa", network="net-a")
    lab.run("bb", network="net-a", aliases=["shared"])
    return lab


@pytest.mark.parametrize("proto,port", [("icmp", None), ("tcp", 80), ("udp", 7), ("http", 80), ("tcp", 7),
                                        ("arp", None)])
def test_same_network_is_reachable(pair, proto, port):
    r = pair.probe("aa", "bb", proto=proto, port=port)
    assert r["outcome"] == "reachable", r
    assert (r["src_ip"], r["dst_ip"]) == ("10.77.1.2", "10.77.1.3")
    assert isinstance(r["rtt_ms"], float) and r["rtt_ms"] > 0
    assert r["port"] == port
    if proto == "http":
        assert "200 OK: bb 10.77.1.3" in r["reason"], "the answer came from bb's own HTTP service"
    if proto == "arp":
        assert "02:42:0a:4d:01:03" in r["reason"], "bb's MAC follows Docker's 02:42 + IP rule"


def test_closed_ports_are_refused(pair):
    tcp = pair.probe("aa", "bb", proto="tcp", port=81)
    assert tcp["outcome"] == "refused" and "RST" in tcp["reason"]
    udp = pair.probe("aa", "bb", proto="udp", port=9)
    assert udp["outcome"] == "refused" and "port unreachable" in udp["reason"]
    http = pair.probe("aa", "bb", proto="http", port=8081)
    assert http["outcome"] == "refused"


def test_two_user_bridges_are_filtered_by_the_isolation_rule(pair):
    pair.network_create("net-c")
    pair.run("cc", network="net-c")
    br = "br-" + pair.network_inspect("net-c")["Id"][:12]
    for proto in ("icmp", "tcp", "udp"):
        r = pair.probe("aa", "cc", proto=proto, timeout=0.3)
        assert r["outcome"] == "filtered", r
        assert r["rule"] == {"namespace": "host1", "table": "filter", "chain": "DOCKER-ISOLATION-STAGE-2",
                             "rule": f"-o {br} -j DROP"}
        assert r["reason"] == "different networks: dropped by DOCKER-ISOLATION-STAGE-2 on host1"
        assert r["rtt_ms"] is None


def test_internal_network_cannot_reach_beyond_its_subnet(pair):
    pair.network_create("net-i", internal=True)
    pair.run("ii", network="net-i")
    pair.run("ij", network="net-i")
    gateway = pair.network_inspect("net-i")["IPAM"]["Config"][0]["Gateway"]
    assert pair.probe("ii", "ij")["outcome"] == "reachable"
    assert pair.probe("ii", gateway)["outcome"] == "reachable", "its own gateway (host INPUT) answers"
    assert pair.probe("ii", "10.77.1.1")["outcome"] == "reachable", "as in Docker: another bridge's gateway is the host"
    for dst in ("aa", "192.168.100.1"):
        r = pair.probe("ii", dst, timeout=0.3)
        assert r["outcome"] == "filtered", (dst, r)
        assert r["rule"]["chain"] == "DOCKER-ISOLATION-STAGE-1" and r["rule"]["rule"].startswith("! -d ")
        assert r["reason_key"] == "internal"
    inbound = pair.probe("aa", "ii", timeout=0.3)
    assert inbound["outcome"] == "filtered" and inbound["rule"]["rule"].startswith("! -s ")


def test_destination_forms(pair):
    assert pair.probe("aa", "shared")["dst_ip"] == "10.77.1.3", "an alias on a shared network"
    assert pair.probe("aa", "10.77.1.3")["outcome"] == "reachable"
    assert pair.probe("aa", "host1")["dst_ip"] == "192.168.100.11"
    assert pair.probe("host1", "bb")["outcome"] == "reachable", "a host is a source too"
    pair.network_create("net-b")
    pair.connect("net-b", "bb")
    pair.run("cc", network="net-b")
    on_b = ip_of(pair, "bb", "net-b")
    assert pair.probe("cc", "bb")["dst_ip"] == on_b, "bb's address on the network cc shares with it"
    assert pair.probe("aa", "bb")["dst_ip"] == "10.77.1.3"


def test_published_port_from_another_host(pair):
    pair.run("web", network="net-a", ports=["8080:80"])
    pair.host_add("host2")
    pair.run("far", host="host2")
    tcp = pair.probe("far", "host1:8080")
    assert tcp["proto"] == "tcp" and tcp["port"] == 8080 and tcp["dst_ip"] == "192.168.100.11"
    assert tcp["outcome"] == "reachable"
    http = pair.probe("far", "host1:8080", proto="http")
    assert http["outcome"] == "reachable" and "web 10.77.1.4" in http["reason"]
    assert pair.probe("far", "host1:8081", proto="tcp")["outcome"] == "refused"


def test_no_route(pair):
    pair.run("nobox", network="none")
    r = pair.probe("nobox", "aa")
    assert r["outcome"] == "no route" and "network none" in r["reason"]
    assert pair.probe("aa", "nobox")["outcome"] == "no route"
    assert pair.probe("aa", "bb", proto="arp", timeout=0.3)["outcome"] == "reachable"
    pair.network_create("net-c")
    pair.run("cc", network="net-c")
    arp = pair.probe("aa", "cc", proto="arp")
    assert arp["outcome"] == "no route" and "local link" in arp["reason"]


def test_silence_without_a_rule_is_a_timeout(pair):
    r = pair.probe("aa", "10.77.1.99", timeout=0.3)  # on the subnet, but nobody answers ARP
    assert r["outcome"] == "timeout" and r["rule"] is None


def test_bad_input_gets_one_clear_line(pair):
    with pytest.raises(NotFound, match="No such container or host: ghost"):
        pair.probe("ghost", "aa")
    with pytest.raises(NotFound, match="No such container, alias, host or address: ghost"):
        pair.probe("aa", "ghost")
    with pytest.raises(InvalidParameter, match="unknown protocol sctp"):
        pair.probe("aa", "bb", proto="sctp")
    with pytest.raises(InvalidParameter, match="invalid port 70000"):
        pair.probe("aa", "bb", proto="tcp", port=70000)
    with pytest.raises(InvalidParameter, match="--port does not apply to icmp"):
        pair.probe("aa", "bb", port=80)
    with pytest.raises(InvalidParameter, match="invalid timeout"):
        pair.probe("aa", "bb", timeout=0)


def test_cli_exit_code_is_zero_only_when_reachable(pair, cli):
    pair.network_create("net-c")
    pair.run("cc", network="net-c")
    ok = cli("probe", "aa", "bb", "--proto", "tcp", "--port", "80")
    assert ok.returncode == 0 and "reachable" in ok.stdout and "10.77.1.2 -> 10.77.1.3" in ok.stdout
    ping = cli("ping", "aa", "bb", "--json")
    assert ping.returncode == 0 and json.loads(ping.stdout)["proto"] == "icmp"
    blocked = cli("probe", "aa", "cc", "--timeout", "0.3")
    assert blocked.returncode == 1 and "filtered" in blocked.stdout
    assert "DOCKER-ISOLATION-STAGE-2" in blocked.stdout
    refused = cli("probe", "aa", "bb", "--proto", "tcp", "--port", "81", "--json")
    assert refused.returncode == 1 and json.loads(refused.stdout)["outcome"] == "refused"
    bad = cli("probe", "aa", "ghost")
    assert bad.returncode == 1 and bad.stderr.strip().splitlines() == [
        "Error: No such container, alias, host or address: ghost"]


def test_dns_probe_asks_the_sandbox_resolver(pair):
    pytest.importorskip("cnmlab.dns.feature", reason="the embedded DNS (issue 5) is not in this tree")
    r = pair.probe("aa", "bb", proto="dns")
    assert r["outcome"] == "reachable" and r["dst_ip"] == "10.77.1.3" and "127.0.0.11" in r["reason"]
    unknown = pair.probe("aa", "nosuchname", proto="dns", timeout=0.5)
    assert unknown["outcome"] != "reachable"


def _root_lo_packets() -> int:
    with open("/proc/net/dev") as f:  # this test process lives in the machine's root namespace
        for line in f:
            name, _, data = line.partition(":")
            if name.strip() == "lo":
                fields = data.split()
                return int(fields[1]) + int(fields[9])
    return 0


def test_probes_never_leave_the_lab_world(pair):
    """Three proofs: no frame carrying the probes' marker crosses any interface of the machine's
    root namespace; its loopback does not count the probes sent to a sandbox's 127.0.0.1; and
    every socket the probe code opened was born in a lab namespace (by inode)."""
    engine_pid = pair.status()["pid"]
    root_inode = os.stat("/proc/self/ns/net").st_ino
    world_inode = os.stat(f"/proc/{engine_pid}/ns/net").st_ino
    # Watching is not changing: a packet socket in this (root) namespace only reads.
    watch = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
    watch.setblocking(False)
    watch.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    try:
        before_lo = _root_lo_packets()
        count = 150
        for _ in range(count):  # to the sandbox's own loopback: in the root namespace these would count on lo
            assert pair.probe("aa", "127.0.0.1", proto="udp", port=7)["outcome"] == "reachable"
        moved = _root_lo_packets() - before_lo
        for proto in ("icmp", "udp", "tcp", "http", "arp"):
            pair.probe("aa", "bb", proto=proto)
        pair.trace("aa", "bb")
        pair.matrix(proto="udp")
        leaked = 0
        while True:
            try:
                frame = watch.recv(65535)
            except BlockingIOError:
                break
            leaked += b"cnmlab-probe" in frame
    finally:
        watch.close()
    assert leaked == 0, f"{leaked} frames with the probe marker crossed the root namespace"
    assert moved < count, f"the root namespace's lo moved by {moved} packets during {count} probes"
    opened = pair.request("GET", "/lab/probe/sockets")
    assert opened, "the ledger records every probe socket"
    lab_inodes = {}
    for ns in ("aa", "bb", "host1", "underlay"):
        out = in_world(pair, None, "stat", "-L", "-c", "%i", f"/run/netns/{ns}", check=True).stdout
        lab_inodes[ns] = int(out)
    for entry in opened[-300:]:
        assert entry["inode"] not in (root_inode, world_inode), entry
        if entry["namespace"] in lab_inodes:
            assert entry["inode"] == lab_inodes[entry["namespace"]], entry
    assert {e["kind"] for e in opened} >= {"raw-send", "raw-recv", "packet", "tcp"}


@pytest.mark.parametrize("reject_with,outcome,heard", [
    ("icmp-admin-prohibited", "filtered", "administratively prohibited"),
    ("icmp-host-unreachable", "no route", "host unreachable"),
    ("icmp-port-unreachable", "refused", "port unreachable"),
])
def test_a_reject_rule_answers_in_the_hosts_name(pair, reject_with, outcome, heard):
    """A DOCKER-USER rule (where Docker wants a user's own rules) rejects aa's packets to bb."""
    pair.network_create("net-c", subnet="10.77.3.0/24")
    pair.run("cc", network="net-c")
    rule = f"-s 10.77.3.2/32 -d 10.77.1.3/32 -p udp -j REJECT --reject-with {reject_with}"
    in_world(pair, "host1", "iptables", "-I", "DOCKER-USER", *rule.split(), check=True)
    r = pair.probe("cc", "bb", proto="udp", port=7)
    assert r["outcome"] == outcome and heard in r["reason"] and "from 10.77.3.1" in r["reason"], r
    assert r["rule"] == {"namespace": "host1", "table": "filter", "chain": "DOCKER-USER", "rule": rule}
    assert "rejected by DOCKER-USER on host1" in r["reason"]


def test_a_name_only_dns_knows_is_resolved_by_the_sources_resolver(pair):
    pytest.importorskip("cnmlab.swarm.feature", reason="services (issue 5) are not in this tree")
    pair.service_create("web", network="net-a", replicas=2)
    r = pair.probe("aa", "web", proto="tcp", port=80)
    assert r["outcome"] == "reachable", r
    assert r["resolved"].startswith("web resolved to ") and "127.0.0.11" in r["resolved"]
    assert r["dst_ip"] == r["resolved"].split()[3], "the VIP the embedded DNS gave"
    with pytest.raises(NotFound, match="No such container, alias, host or address: nosuch"):
        pair.probe("aa", "nosuch")
