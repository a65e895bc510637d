"""The embedded DNS server at 127.0.0.11, asked by real resolvers inside real sandboxes."""

import json
import os
import sys
import threading
import time

import pytest

from cnmlab.dns.events import DnsQueryAnswered
from conftest import in_world, ip_of, ping

pytestmark = pytest.mark.kernel

# One query from inside a sandbox, with dnslib (the engine's own Python has it): the raw flags,
# rcode, TTLs and records, over UDP or TCP, as a JSON line.
ASK = """
import json, sys
from dnslib import DNSRecord, QTYPE, RCODE
name, qtype, tcp = sys.argv[1], sys.argv[2], sys.argv[3] == "tcp"
q = DNSRecord.question(name, qtype)
r = DNSRecord.parse(q.send("127.0.0.11", 53, tcp=tcp, timeout=3))
print(json.dumps({"bitmap": r.header.bitmap, "rcode": RCODE.get(r.header.rcode),
                  "answers": [str(rr.rdata) for rr in r.rr], "ttls": [rr.ttl for rr in r.rr]}))
"""


def ask(lab, container, name, qtype="A", proto="udp") -> dict:
    result = in_world(lab, container, sys.executable, "-c", ASK, name, qtype, proto)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def getent(lab, container, name) -> list[str]:
    result = in_world(lab, container, "getent", "hosts", name)
    return [line.split()[0] for line in result.stdout.splitlines()] if result.returncode == 0 else []


@pytest.fixture
def two_networks(lab):
    lab.network_create("net-a", subnet="10.77.1.0/24")
    lab.network_create("net-b", subnet="10.77.2.0/24")
    lab.run("aa", network="net-a")
    lab.run("bb", network="net-a")
    lab.run("cc", network="net-b")
    lab.run("dd")  # the default bridge
    return lab


def test_real_resolvers_find_a_same_network_name(two_networks):
    lab = two_networks
    bb = ip_of(lab, "bb", "net-a")
    assert getent(lab, "aa", "bb") == [bb]
    gethostbyname = in_world(lab, "aa", sys.executable, "-c", "import socket; print(socket.gethostbyname('bb'))")
    assert gethostbyname.stdout.strip() == bb
    assert ping(lab, "aa", "bb"), "ping resolves the name through 127.0.0.11 too"
    # Docker's matching: the name ignores case, the network suffix does not; the short id works.
    short = lab.inspect("bb")["Id"][:12]
    for name in ("bb.net-a", "BB", "Bb.net-a", short, f"{short}.net-a", "aa"):
        assert getent(lab, "aa", name), name
    assert getent(lab, "aa", "BB.NET-A") == []


def test_a_name_on_another_network_is_nxdomain(two_networks):
    lab = two_networks
    for name in ("cc", "cc.net-b", "dd", "net-a", "example.com"):
        answer = ask(lab, "aa", name)
        assert answer["rcode"] == "NXDOMAIN" and answer["answers"] == [], name
    assert getent(lab, "aa", "cc") == []
    bb_b = ip_of(lab, "cc", "net-b")
    assert ask(lab, "aa", ".".join(reversed(bb_b.split("."))) + ".in-addr.arpa", "PTR")["rcode"] == "NXDOMAIN"


def test_answers_look_like_dockers(two_networks):
    lab = two_networks
    bb = ip_of(lab, "bb", "net-a")
    a = ask(lab, "aa", "bb")
    assert a["bitmap"] == 0x8180, "QR, RD, RA; not authoritative"
    assert a["rcode"] == "NOERROR" and a["answers"] == [bb] and a["ttls"] == [600]
    aaaa = ask(lab, "aa", "bb", "AAAA")
    assert aaaa["rcode"] == "NOERROR" and aaaa["answers"] == []
    ptr = ask(lab, "aa", ".".join(reversed(bb.split("."))) + ".in-addr.arpa", "PTR")
    assert ptr["answers"] == ["bb.net-a."]
    assert ask(lab, "aa", "bb", proto="tcp")["answers"] == [bb], "TCP/53 is served as well"


def test_dockers_nat_chains_and_resolv_conf_in_the_sandbox(two_networks):
    lab = two_networks
    rules = in_world(lab, "aa", "iptables", "-t", "nat", "-S").stdout
    assert "-A OUTPUT -d 127.0.0.11/32 -j DOCKER_OUTPUT" in rules
    assert "-A POSTROUTING -d 127.0.0.11/32 -j DOCKER_POSTROUTING" in rules
    ports = lab.request("GET", "/dns")["Resolvers"]["aa"]
    assert (f"-A DOCKER_OUTPUT -d 127.0.0.11/32 -p udp -m udp --dport 53 -j DNAT "
            f"--to-destination 127.0.0.11:{ports['udp']}") in rules
    assert f"-A DOCKER_POSTROUTING -s 127.0.0.11/32 -p tcp -m tcp --sport {ports['tcp']} -j SNAT --to-source :53" in rules
    resolv = in_world(lab, "aa", "cat", "/etc/resolv.conf").stdout
    assert "nameserver 127.0.0.11" in resolv and "options ndots:0" in resolv
    # The file lives in the world's private tmpfs: the machine's /etc/netns holds no sandbox.
    assert "nameserver 127.0.0.11" in in_world(lab, None, "cat", "/etc/netns/aa/resolv.conf").stdout
    assert not os.path.exists("/etc/netns/aa")
    with open("/etc/resolv.conf") as machine:
        assert "127.0.0.11" not in machine.read()


def test_the_default_bridge_has_no_embedded_dns(two_networks):
    lab = two_networks
    resolv = in_world(lab, "dd", "cat", "/etc/resolv.conf").stdout
    assert "127.0.0.11" not in resolv
    assert "DOCKER_OUTPUT" not in in_world(lab, "dd", "iptables", "-t", "nat", "-S").stdout
    assert getent(lab, "dd", "aa") == [] and getent(lab, "dd", "dd") == []
    assert "dd" not in lab.request("GET", "/dns")["Resolvers"]


def test_an_alias_shared_by_two_containers_returns_both_shuffled(lab):
    lab.network_create("net-a", subnet="10.77.1.0/24")
    lab.run("aa", network="net-a")
    lab.run("s1", network="net-a", aliases=["shared"])
    lab.run("s2", network="net-a", aliases=["shared"])
    both = {ip_of(lab, "s1", "net-a"), ip_of(lab, "s2", "net-a")}
    assert set(getent(lab, "aa", "shared")) == both
    assert set(ask(lab, "aa", "shared.net-a")["answers"]) == both
    script = ("import socket\nfor _ in range(40): print(socket.gethostbyname_ex('shared')[2][0])")
    firsts = set(in_world(lab, "aa", sys.executable, "-c", script).stdout.split())
    assert firsts == both, "the answer order is shuffled: each address comes first sometimes"
    names = lab.network_inspect("net-a")["Containers"]
    s1 = lab.inspect("s1")["Id"]
    assert names[s1]["DNSNames"] == ["s1", "shared", s1[:12]]


def test_container_inspect_shows_dns_names_per_network(two_networks):
    lab = two_networks
    lab.connect("net-b", "bb", aliases=["bee"])
    bb = lab.inspect("bb")
    nets = bb["NetworkSettings"]["Networks"]
    assert nets["net-a"]["DNSNames"] == ["bb", bb["Id"][:12]]
    assert nets["net-b"]["DNSNames"] == ["bb", "bee", bb["Id"][:12]]
    assert lab.inspect("dd")["NetworkSettings"]["Networks"]["bridge"]["DNSNames"] is None, "Docker: null there"
    assert getent(lab, "cc", "bee") == [nets["net-b"]["IPAddress"]], "the names inspect shows resolve"
    lab.disconnect("net-b", "bb")
    assert list(lab.inspect("bb")["NetworkSettings"]["Networks"]) == ["net-a"]


def test_names_follow_connect_disconnect_and_rm(two_networks):
    lab = two_networks
    lab.connect("net-b", "bb", aliases=["bee"])
    assert getent(lab, "cc", "bee") == [ip_of(lab, "bb", "net-b")]
    assert getent(lab, "bb", "cc") == [ip_of(lab, "cc", "net-b")], "bb now resolves names of both networks"
    lab.disconnect("net-b", "bb")
    assert getent(lab, "cc", "bb") == [] and getent(lab, "cc", "bee") == []
    lab.rm("bb")
    assert getent(lab, "aa", "bb") == []
    assert "bb" not in lab.request("GET", "/dns")["Resolvers"]
    assert in_world(lab, None, "ls", "/etc/netns").stdout.split().count("bb") == 0


def test_queries_are_logged_as_events(two_networks):
    lab = two_networks
    seen: list = []

    def listen():
        for event in lab.events():
            if isinstance(event, DnsQueryAnswered) and event.name == "bb" and event.qtype == "A":
                seen.append(event)
                return

    threading.Thread(target=listen, daemon=True).start()
    for _ in range(20):  # until the stream is surely open: each lookup is logged anew
        getent(lab, "aa", "bb")
        if seen:
            break
        time.sleep(0.2)
    assert seen and seen[0].container == "aa" and seen[0].answers == [ip_of(lab, "bb", "net-a")]
    assert seen[0].network == "net-a" and seen[0].rcode == "NOERROR"
    log = lab.request("GET", "/dns")["Queries"]
    assert any(q["name"] == "bb" and q["container"] == "aa" for q in log)


def test_restart_restores_dns(two_networks):
    lab = two_networks
    bb = ip_of(lab, "bb", "net-a")
    pid = lab.status()["pid"]
    lab.stop_engine()
    assert getent(lab, "aa", "bb") == [bb]  # the first call starts a new engine, which restores
    assert lab.status()["pid"] != pid
    assert set(lab.request("GET", "/dns")["Resolvers"]) == {"aa", "bb", "cc"}
    assert getent(lab, "cc", "bb") == []
    assert "nameserver 127.0.0.11" not in in_world(lab, "dd", "cat", "/etc/resolv.conf").stdout


def test_a_hosts_file_goes_with_its_sandbox(lab):
    """ExtraHosts writes the sandbox's hosts file beside its resolv.conf; rm takes both and their
    directory (only such sandboxes have a hosts file to remove)."""
    lab.network_create("net-h")
    lab.request("POST", "/v1.41/containers/create", {"Image": "alpine", "Cmd": ["sleep", "600"], "HostConfig": {
        "NetworkMode": "net-h", "ExtraHosts": ["gw.example:10.1.2.3"]}}, query={"name": "hh"})
    lab.request("POST", "/v1.41/containers/hh/start")  # Docker's API: it takes HostConfig
    lab.run("plain", network="net-h")
    assert "10.1.2.3\tgw.example" in in_world(lab, None, "cat", "/etc/netns/hh/hosts").stdout
    assert in_world(lab, None, "ls", "/etc/netns/plain").stdout.split() == ["resolv.conf"]
    lab.rm("hh", force=True)
    lab.rm("plain")
    left = in_world(lab, None, "ls", "/etc/netns").stdout.split()
    assert "hh" not in left and "plain" not in left


def test_a_resolver_that_cannot_start_says_why_and_leaves_nothing_open():
    """The resolver starts on the writer thread: a sandbox that is not there ends the start with
    the error, no port and nothing handed to the server; settle_all (what a probe waits on)
    returns only once that write is over."""
    from cnmlab.dns import sandbox as dns_sandbox
    from cnmlab.osl import writer

    served = []
    gate = threading.Event()
    writer.submit("cnmlab-test-gate", gate.wait)  # the writer is busy: the start queues behind it
    starting = dns_sandbox.start_resolver("cnmlab-no-such-sandbox", lambda *socks: served.append(socks))
    threading.Timer(0.2, gate.set).start()
    t0 = time.monotonic()
    writer.settle_all()
    assert time.monotonic() - t0 >= 0.15 and starting.job.done()
    error = starting.wait()
    assert isinstance(error, FileNotFoundError) and "cnmlab-no-such-sandbox" in str(error)
    assert (starting.udp, starting.tcp, served) == (0, 0, [])
