"""Several drivers at once: bridge, overlay and macvlan in one lab, one container on all three,
Docker's choice of default route, and docker_gwbridge coming and going as libnetwork does it."""

import json

import pytest
from conftest import in_world, ip_of, ping

pytestmark = pytest.mark.kernel


def interfaces(client, container):
    nets = client.inspect(container)["NetworkSettings"]["Networks"]
    return {name: n["Interface"] for name, n in nets.items()}


def default_route(client, container):
    return [r for r in in_world(client, container, "ip", "route").stdout.splitlines() if r.startswith("default")]


def test_one_container_on_bridge_overlay_and_macvlan(lab, cli):
    lab.host_add("host2")
    lab.host_add("legacy", plain=True)
    lab.network_create("net-b")
    lab.network_create("ov", driver="overlay")
    lab.network_create("lan", driver="macvlan", subnet="192.168.100.0/24", gateway="192.168.100.1",
                       ip_range="192.168.100.128/25")
    lab.run("multi", network="net-b")
    lab.connect("ov", "multi")
    lab.connect("lan", "multi")
    lab.run("far", network="ov", host="host2")
    assert interfaces(lab, "multi") == {"net-b": "eth0", "ov": "eth1", "lan": "eth2"}, "no docker_gwbridge: "\
        "net-b already gives a gateway"
    # Docker's priority: networks that give a gateway, then name order: "lan" < "net-b"
    assert default_route(lab, "multi") == ["default via 192.168.100.1 dev eth2 "]
    assert ping(lab, "multi", ip_of(lab, "far", "ov")), "over the overlay to host2"
    assert ping(lab, "multi", lab.host("legacy")["Address"].split("/")[0]), "over macvlan to a plain machine"
    assert ping(lab, "multi", "172.18.0.1"), "its bridge's gateway"
    lab.disconnect("lan", "multi")
    assert default_route(lab, "multi") == ["default via 172.18.0.1 dev eth0 "]

    listing = json.loads(cli("network", "ls", "--json").stdout)
    kinds = {(n["Name"], n["Driver"], n["Scope"]) for n in listing}
    assert {("net-b", "bridge", "local"), ("ov", "overlay", "global"), ("lan", "macvlan", "local")} <= kinds
    table = cli("network", "ls").stdout
    assert "DRIVER" in table and "SCOPE" in table and "global" in table


def test_docker_gwbridge_only_while_no_network_gives_a_gateway(lab):
    lab.network_create("ov", driver="overlay")
    lab.network_create("net-b")
    lab.run("oo", network="ov")
    assert interfaces(lab, "oo") == {"ov": "eth0", "docker_gwbridge": "eth1"}
    gw = lab.network_inspect("docker_gwbridge", host="host1")["IPAM"]["Config"][0]["Gateway"]
    assert default_route(lab, "oo") == [f"default via {gw} dev eth1 "]
    lab.connect("net-b", "oo")  # a bridge gives a gateway: the sandbox leaves docker_gwbridge
    assert interfaces(lab, "oo") == {"ov": "eth0", "net-b": "eth2"}
    gw_b = lab.network_inspect("net-b")["IPAM"]["Config"][0]["Gateway"]
    assert default_route(lab, "oo") == [f"default via {gw_b} dev eth2 "]
    assert "eth1" not in in_world(lab, "oo", "ip", "-o", "link").stdout
    lab.disconnect("net-b", "oo")  # back to overlay only: docker_gwbridge again, as a new interface
    assert interfaces(lab, "oo") == {"ov": "eth0", "docker_gwbridge": "eth3"}
    assert ping(lab, "oo", "192.168.100.1")


def test_overlay_containers_do_not_meet_on_docker_gwbridge(lab):
    lab.network_create("ov1", driver="overlay")
    lab.network_create("ov2", driver="overlay")
    lab.run("a1", network="ov1")
    lab.run("b1", network="ov2")
    b_gw = lab.inspect("b1")["NetworkSettings"]["Networks"]["docker_gwbridge"]["IPAddress"]
    assert not ping(lab, "a1", b_gw), "docker_gwbridge has icc off"
    assert not ping(lab, "a1", ip_of(lab, "b1", "ov2"))


def fetch_from_host2(client):
    got = in_world(client, "host2", "python3", "-c", "import urllib.request;print(urllib.request.urlopen("
                   "'http://192.168.100.11:8080',timeout=3).read().decode())")
    return got.stdout if got.returncode == 0 else got.stderr


def dnat_rule(bridge, ip):
    return f"-A DOCKER ! -i {bridge} -p tcp -m tcp --dport 8080 -j DNAT --to-destination {ip}:80"


def test_ports_of_an_overlay_container_follow_its_gateway_endpoint(lab):
    lab.host_add("host2")
    lab.network_create("ov", driver="overlay")
    lab.run("web", network="ov", ports=["8080:80"])
    gw_ip = lab.inspect("web")["NetworkSettings"]["Networks"]["docker_gwbridge"]["IPAddress"]
    nat = in_world(lab, "host1", "iptables", "-t", "nat", "-S").stdout
    assert dnat_rule("docker_gwbridge", gw_ip) in nat
    assert fetch_from_host2(lab).startswith("web ")
    # net-b gives a gateway: docker_gwbridge goes and the ports move to net-b's bridge (libnetwork
    # revokes external connectivity on the old gateway endpoint and programs it on the new one)
    net_b = lab.network_create("net-b")
    bridge_b = f"br-{net_b['Id'][:12]}"
    lab.connect("net-b", "web")
    assert "docker_gwbridge" not in interfaces(lab, "web")
    assert "80/tcp" in lab.inspect("web")["NetworkSettings"]["Ports"]
    nat = in_world(lab, "host1", "iptables", "-t", "nat", "-S").stdout
    b_ip = ip_of(lab, "web", "net-b")
    assert dnat_rule(bridge_b, b_ip) in nat
    assert gw_ip not in nat
    assert fetch_from_host2(lab).startswith("web ")
    lab.disconnect("net-b", "web")  # back to overlay only: the ports return to docker_gwbridge
    gw_ip = lab.inspect("web")["NetworkSettings"]["Networks"]["docker_gwbridge"]["IPAddress"]
    nat = in_world(lab, "host1", "iptables", "-t", "nat", "-S").stdout
    assert dnat_rule("docker_gwbridge", gw_ip) in nat
    assert dnat_rule(bridge_b, b_ip) not in nat
    assert fetch_from_host2(lab).startswith("web ")
    lab.run("web2", network="ov", ports=["8081:80"])
    assert "--dport 8081" in in_world(lab, "host1", "iptables", "-t", "nat", "-S").stdout
    lab.rm("web2")
    assert "--dport 8081" not in in_world(lab, "host1", "iptables", "-t", "nat", "-S").stdout
