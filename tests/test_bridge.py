"""The bridge driver on the real kernel: the chapter's example, isolation, internal, ICC, ports."""

import pytest

from conftest import in_world, ip_of, ping

pytestmark = pytest.mark.kernel


def test_chapter_example(lab):
    lab.network_create("net-a")
    lab.network_create("net-b")
    lab.run("container-a", network="net-a")
    lab.run("container-b", network="net-a")
    lab.connect("net-b", "container-b")
    b_on_a, b_on_b = ip_of(lab, "container-b", "net-a"), ip_of(lab, "container-b", "net-b")
    assert ping(lab, "container-a", b_on_a), "A reaches B over Network A"
    assert not ping(lab, "container-a", b_on_b), "B's Network-B endpoint is not reachable from A without a router"
    links = in_world(lab, "container-b", "ip", "-o", "link").stdout
    assert "eth0@" in links and "eth1@" in links
    routes = in_world(lab, "container-b", "ip", "route").stdout
    assert "default via 172.18.0.1 dev eth0" in routes


def test_user_bridges_are_isolated_by_dockers_rules(lab):
    lab.network_create("net-a", subnet="10.77.1.0/24")
    lab.network_create("net-c")
    lab.run("aa", network="net-a")
    lab.run("cc", network="net-c")
    lab.run("dd")
    assert not ping(lab, "aa", ip_of(lab, "cc", "net-c"))
    assert not ping(lab, "cc", ip_of(lab, "aa", "net-a"))
    assert not ping(lab, "dd", ip_of(lab, "aa", "net-a"))
    assert ping(lab, "aa", "172.17.0.1"), "every container reaches every bridge gateway (host INPUT)"
    rules = in_world(lab, "host1", "iptables", "-S").stdout
    br = "br-" + lab.network_inspect("net-a")["Id"][:12]
    assert f"-A DOCKER-ISOLATION-STAGE-2 -o {br} -j DROP" in rules
    assert f"-A DOCKER-ISOLATION-STAGE-1 -i {br} ! -o {br} -j DOCKER-ISOLATION-STAGE-2" in rules
    nat = in_world(lab, "host1", "iptables", "-t", "nat", "-S").stdout
    assert f"-A POSTROUTING -s 10.77.1.0/24 ! -o {br} -j MASQUERADE" in nat


def test_rules_are_dockers_text_in_dockers_order(lab):
    lab.network_create("net-a", subnet="10.77.1.0/24")
    br = "br-" + lab.network_inspect("net-a")["Id"][:12]
    rules = [r for r in in_world(lab, "host1", "iptables", "-S", "FORWARD").stdout.splitlines() if r.startswith("-A")]
    assert rules == [
        "-A FORWARD -j DOCKER-USER",
        "-A FORWARD -j DOCKER-ISOLATION-STAGE-1",
        f"-A FORWARD -o {br} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
        f"-A FORWARD -o {br} -j DOCKER",
        f"-A FORWARD -i {br} ! -o {br} -j ACCEPT",
        f"-A FORWARD -i {br} -o {br} -j ACCEPT",
        "-A FORWARD -o docker0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
        "-A FORWARD -o docker0 -j DOCKER",
        "-A FORWARD -i docker0 ! -o docker0 -j ACCEPT",
        "-A FORWARD -i docker0 -o docker0 -j ACCEPT",
    ]
    assert "-P FORWARD DROP" in in_world(lab, "host1", "iptables", "-S").stdout
    lab.network_rm("net-a")
    after = in_world(lab, "host1", "iptables-save").stdout
    assert br not in after and "10.77.1.0" not in after


def test_internal_network_has_no_way_out(lab):
    lab.network_create("net-a", subnet="10.77.1.0/24")
    lab.network_create("net-i", internal=True)
    lab.run("aa", network="net-a")
    lab.run("ii", network="net-i")
    lab.run("ij", network="net-i")
    assert ping(lab, "ii", ip_of(lab, "ij", "net-i"))
    assert not ping(lab, "ii", ip_of(lab, "aa", "net-a"))
    assert not ping(lab, "aa", ip_of(lab, "ii", "net-i"))
    assert not ping(lab, "ii", "192.168.100.1"), "nothing beyond the subnet, not even the LAN's router"
    nat = in_world(lab, "host1", "iptables", "-t", "nat", "-S").stdout
    br = "br-" + lab.network_inspect("net-i")["Id"][:12]
    assert br not in nat


def test_icc_disabled_drops_traffic_inside_the_bridge(lab):
    lab.network_create("quiet", options={"com.docker.network.bridge.enable_icc": "false"})
    lab.run("q1", network="quiet")
    lab.run("q2", network="quiet")
    rules = in_world(lab, "host1", "iptables", "-S", "FORWARD").stdout
    br = "br-" + lab.network_inspect("quiet")["Id"][:12]
    assert f"-A FORWARD -i {br} -o {br} -j DROP" in rules
    assert not ping(lab, "q1", ip_of(lab, "q2", "quiet"))


def test_published_port_is_reachable_from_a_second_host(lab):
    lab.network_create("net-a", subnet="10.77.1.0/24")
    lab.run("web", network="net-a", ports=["8080:80"])
    lab.host_add("host2")
    address = lab.host("host1")["Address"].split("/")[0]
    answer = in_world(lab, "host2", "python3", "-c",
                      f"import urllib.request;print(urllib.request.urlopen('http://{address}:8080',timeout=3).read().decode())")
    assert answer.stdout.split() == ["web", "10.77.1.2"]
    nat = in_world(lab, "host1", "iptables", "-t", "nat", "-S", "DOCKER").stdout
    br = "br-" + lab.network_inspect("net-a")["Id"][:12]
    assert f"-A DOCKER ! -i {br} -p tcp -m tcp --dport 8080 -j DNAT --to-destination 10.77.1.2:80" in nat
    lab.rm("web")
    assert "8080" not in in_world(lab, "host1", "iptables-save").stdout


def test_custom_bridge_name_and_mac_rule(lab):
    lab.network_create("named", subnet="10.77.9.0/24", options={"com.docker.network.bridge.name": "refbr0"})
    lab.run("mac-box", network="named", ip="10.77.9.50")
    assert "refbr0" in in_world(lab, "host1", "ip", "-o", "link").stdout
    net = lab.network_inspect("named")
    entry = next(iter(net["Containers"].values()))
    assert entry["MacAddress"] == "02:42:0a:4d:09:32" and entry["IPv4Address"] == "10.77.9.50/24"


def test_host_and_none_modes(lab):
    lab.run("hostbox", network="host")
    lab.run("nobox", network="none")
    assert "eth0" in in_world(lab, "hostbox", "ip", "-o", "link").stdout  # the host's own eth0
    links = in_world(lab, "nobox", "ip", "-o", "link").stdout.splitlines()
    assert len(links) == 1 and "lo" in links[0]


def test_ipv6_is_off_in_sandboxes(lab):
    """One sysctl write turns it off (`all`, which sets `default` too): eth0, made after it, has it
    off, and so does a link made later still (a second network's eth1)."""
    lab.network_create("sixnet")
    lab.run("six")
    lab.connect("sixnet", "six")
    for conf in ("all", "default", "eth0", "eth1"):
        path = f"/proc/sys/net/ipv6/conf/{conf}/disable_ipv6"
        assert in_world(lab, "six", "cat", path).stdout.strip() == "1", conf
    assert "inet6" not in in_world(lab, "six", "ip", "-6", "addr").stdout


def test_veths_have_the_queues_the_kernel_gives_a_veth_made_by_ip(lab):
    """The join asks for the kernel's default queue count itself (saves an RCU wait per end):
    `ip -d link` must still show what a veth made by `ip` (as Docker makes them) shows."""
    import re

    def queues(target, ifname):
        text = in_world(lab, target, "ip", "-d", "link", "show", ifname, check=True).stdout
        return re.search(r"numtxqueues (\d+) numrxqueues (\d+)", text).groups()

    lab.run("qbox")
    in_world(lab, "host1", "ip", "link", "add", "qref0", "type", "veth", "peer", "name", "qref1", check=True)
    try:
        expected = queues("host1", "qref0")
    finally:
        in_world(lab, "host1", "ip", "link", "del", "qref0")
    assert queues("qbox", "eth0") == expected
    veths = in_world(lab, "host1", "ip", "-o", "link", "show", "type", "veth", check=True).stdout
    host_sides = re.findall(r"^\d+: (veth\w+)@", veths, re.M)
    assert host_sides and all(queues("host1", name) == expected for name in host_sides)


def test_interface_numbers_are_not_reused(lab):
    lab.network_create("n1")
    lab.network_create("n2")
    lab.network_create("n3")
    lab.run("multi", network="n1")
    lab.connect("n2", "multi")
    lab.disconnect("n2", "multi")
    lab.connect("n3", "multi")
    nets = lab.inspect("multi")["NetworkSettings"]["Networks"]
    assert nets["n3"]["Interface"] == "eth2"


def test_builtin_services_answer(lab):
    lab.network_create("svc")
    lab.run("s1", network="svc")
    lab.run("s2", network="svc")
    ip = ip_of(lab, "s2", "svc")
    code = ("import socket;s=socket.create_connection(('%s',7),timeout=2);s.sendall(b'hi');print(s.recv(10).decode());"
            "u=socket.socket(socket.AF_INET,socket.SOCK_DGRAM);u.settimeout(2);u.sendto(b'yo',('%s',7));"
            "print(u.recv(10).decode())") % (ip, ip)
    assert in_world(lab, "s1", "python3", "-c", code).stdout.split() == ["hi", "yo"]


def test_sandbox_has_its_own_hostname_and_exec_passes_exit_codes(lab, cli):
    cid = lab.run("named-box")["Id"]
    result = cli("exec", "named-box", "--", "hostname")
    assert result.returncode == 0 and result.stdout.strip() == cid[:12]
    assert cli("exec", "named-box", "--", "sh", "-c", "exit 7").returncode == 7
    assert cli("exec", "nosuchbox", "--", "true").returncode == 1


def test_published_ports_follow_the_gateway_endpoint(lab):
    """As libnetwork does: when another network takes over the default route, the ports move there."""
    lab.network_create("net-z", subnet="10.77.26.0/24")
    lab.network_create("net-a", subnet="10.77.1.0/24")
    lab.run("mover", network="net-z", ports=["8080:80"])
    lab.host_add("host2")
    address = lab.host("host1")["Address"].split("/")[0]
    fetch = ["python3", "-c", f"import urllib.request;print(urllib.request.urlopen('http://{address}:8080',timeout=3).read().decode())"]
    assert in_world(lab, "host2", *fetch).stdout.split() == ["mover", "10.77.26.2"]
    lab.connect("net-a", "mover")  # net-a sorts first: it becomes the gateway, and takes the ports
    assert "default via 10.77.1.1" in in_world(lab, "mover", "ip", "route").stdout
    nat = in_world(lab, "host1", "iptables", "-t", "nat", "-S", "DOCKER").stdout
    assert "--to-destination 10.77.1.2:80" in nat and "10.77.26.2:80" not in nat
    assert in_world(lab, "host2", *fetch).stdout.split() == ["mover", "10.77.1.2"]
    lab.disconnect("net-a", "mover")
    nat = in_world(lab, "host1", "iptables", "-t", "nat", "-S", "DOCKER").stdout
    assert "--to-destination 10.77.26.2:80" in nat and "10.77.1.2" not in nat
    assert in_world(lab, "host2", *fetch).stdout.split() == ["mover", "10.77.26.2"]


TAKEN_VETH_NAMES = r"""
from types import SimpleNamespace
from cnmlab.osl import links, world
world.enter()
from cnmlab.drivers.bridge import plug_veth_endpoint
from cnmlab.errors import Conflict
from cnmlab.osl.netns import Namespaces
ns = Namespaces()
host = ns.create("h")
links.add_bridge(host, "br0")
links.set_up(host, "br0")
ns.create("s")
host.link("add", ifname="vethtaken", kind="veth", peer="vethpeer")  # the random draw's name, already there
ep = SimpleNamespace(host_ifname="vethtaken", ifname="eth0", mac="02:42:0a:00:00:02", address="10.0.0.2/24")
plug_veth_endpoint(ns.rtnl("h"), ns.rtnl("s"), ep, "s", "br0")
on_bridge = [l.get_attr("IFLA_IFNAME") for l in host.get_links() if l.get_attr("IFLA_MASTER")]
print(ep.host_ifname, ",".join(on_bridge))
ns.ipr("s").link("add", ifname="eth1", kind="veth", peer="eth1peer")  # made by hand inside the sandbox
ep1 = SimpleNamespace(host_ifname="vethfresh", ifname="eth1", mac=None, address=None)
try:
    plug_veth_endpoint(ns.rtnl("h"), ns.rtnl("s"), ep1, "s", "br0")
    print("no error")
except Conflict as exc:
    print(exc.message)
print(links.exists(host, "vethfresh"))
"""


def test_a_taken_veth_name_is_drawn_again_and_a_taken_interface_name_is_said():
    """The host side's name is random (veth + 7 hex): one already there is drawn again, as
    libnetwork does, not answered with a 500; an ethN the sandbox already has is the user's."""
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-c", TAKEN_VETH_NAMES], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr[-2000:]
    drawn, conflict, left = result.stdout.strip().splitlines()
    name, on_bridge = drawn.split()
    assert name.startswith("veth") and name != "vethtaken" and on_bridge == name
    assert conflict == "cannot add interface eth1 to s: an interface of that name already exists there"
    assert left == "False"
