"""Every bad input: a one-line error naming the problem, a non-zero exit, no half-made state."""

import pytest

from conftest import in_world

pytestmark = pytest.mark.kernel


def world_state(client):
    links = lambda ns: sorted(l.split(": ")[1].split("@")[0] for l in in_world(client, ns, "ip", "-o", "link").stdout.splitlines())  # noqa: E731
    return {
        "networks": sorted(n["Name"] for n in client.networks()),
        "containers": sorted(c["Names"][0] for c in client.containers()),
        "hosts": sorted(h["Name"] for h in client.hosts()),
        "netns": sorted(in_world(client, None, "ip", "netns", "list").stdout.split()),
        "host1": links("host1"),
        "underlay": links("underlay"),
        "rules": [line for line in in_world(client, "host1", "iptables", "-S").stdout.splitlines()]
        + [line for line in in_world(client, "host1", "iptables", "-t", "nat", "-S").stdout.splitlines()],
    }


@pytest.fixture
def topo(lab):
    lab.network_create("net-a", subnet="10.77.1.0/24")
    lab.network_create("net-c")
    lab.run("aa", network="net-a")
    lab.run("bb", network="net-c")
    return lab


CASES = [
    (["network", "create", "-d", "nosuchdriver", "x1"], 'plugin "nosuchdriver" not found (installed drivers: bridge'),
    (["network", "inspect", "nosuchnet"], "No such network: nosuchnet"),
    (["network", "rm", "nosuchnet"], "No such network: nosuchnet"),
    (["network", "connect", "nosuchnet", "aa"], "network nosuchnet not found"),
    (["network", "connect", "net-a", "nosuch"], "No such container: nosuch"),
    (["network", "create", "net-a"], "network with name net-a already exists"),
    (["run", "--name", "aa"], 'The container name "/aa" is already in use'),
    (["run", "--name", "a"], "Invalid container name (a), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"),
    (["run", "--name", "bad/name"], "Invalid container name (bad/name)"),
    (["network", "create", "bad name"], "Invalid network name (bad name)"),
    (["network", "create", "-o", "com.docker.network.bridge.name=this-is-too-long", "x2"], "Invalid bridge name (this-is-too-long)"),
    (["host", "add", "Host_2"], "Invalid host name (Host_2)"),
    (["network", "create", "--subnet", "10.77.5.0/33", "x3"], "Invalid subnet 10.77.5.0/33 : invalid CIDR address: 10.77.5.0/33"),
    (["network", "create", "--subnet", "10.77.5.0/24", "--gateway", "10.77.6.1", "x4"], "no matching subnet for gateway 10.77.6.1"),
    (["network", "create", "--subnet", "10.77.1.128/25", "x5"], 
     "Pool overlaps with other one on this address space: 10.77.1.128/25 overlaps network net-a (10.77.1.0/24)"),
    (["network", "create", "--subnet", "172.17.3.0/24", "x6"],
     "Pool overlaps with other one on this address space: 172.17.3.0/24 overlaps network bridge (172.17.0.0/16)"),
    (["network", "rm", "net-a"], "has active endpoints (aa)"),
    (["network", "rm", "bridge"], "bridge is a pre-defined network and cannot be removed"),
    (["run", "--name", "c1", "--network", "net-a", "--ip", "10.77.9.5"], "Invalid address 10.77.9.5: It does not belong to any of this network's subnets"),
    (["run", "--name", "c2", "--network", "net-a", "--ip", "10.77.1.2"], "Address already in use"),
    (["run", "--name", "c3", "--network", "net-a", "--ip", "10.77.1.1"], "Address already in use"),
    (["run", "--name", "c4", "--network", "net-c", "--ip", "172.19.0.9"], "user specified IP address is supported only when connecting to networks with user configured subnets"),
    (["run", "--name", "c5", "--network", "bridge", "--ip", "172.17.0.9"], "user specified IP address is supported on user defined networks only"),
    (["run", "--name", "c6", "--network", "net-a", "--ip", "not-an-ip"], "Invalid address not-an-ip"),
    (["run", "--name", "c7", "-p", "web:80"], 'invalid port specification: "web:80"'),
    (["run", "--name", "c8", "-p", "99999:80"], "ports are 1-65535"),
    (["network", "connect", "net-a", "aa"], "endpoint with name aa already exists in network net-a"),
    (["network", "disconnect", "net-c", "aa"], "Error: container aa is not connected to network net-c"),
    (["run", "--name", "c10", "--alias", "x"],
     "network-scoped alias is supported only for containers in user defined networks"),
    (["network", "connect", "--alias", "x", "bridge", "aa"],
     "network-scoped alias is supported only for containers in user defined networks"),
    (["run", "--name", "c9", "--host", "nohost"], "No such host: nohost"),
    (["run", "--name", "host1"], "is taken by a host of the lab"),
    (["network", "create", "--ipv6", "x8"], "IPv6 networks are not supported in the lab"),
    (["network", "create", "--gateway", "10.1.1.1", "x9"], "must have a corresponding subnet"),
    (["network", "create", "-o", "nosuch.option=1", "x10"], "unknown option nosuch.option for the bridge driver"),
    (["host", "rm", "host1"], "host host1 has containers: aa, bb"),
]


@pytest.mark.parametrize("argv, message", CASES, ids=[" ".join(c[0]) for c in CASES])
def test_bad_input_is_refused_cleanly(topo, cli, argv, message):
    before = world_state(topo)
    result = cli(*argv)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    assert message in lines[0]
    assert world_state(topo) == before


def test_port_already_allocated(topo, cli):
    assert cli("run", "--name", "w1", "-p", "8080:80").returncode == 0
    before = world_state(topo)
    result = cli("run", "--name", "w2", "-p", "8080:80")
    assert result.returncode == 1 and "Bind for 0.0.0.0:8080 failed: port is already allocated" in result.stderr
    assert world_state(topo) == before


def test_a_failing_driver_step_rolls_back(topo, cli):
    """A bridge name that exists already fails in the kernel step; nothing of the network remains."""
    assert cli("network", "create", "-o", "com.docker.network.bridge.name=eth0", "clash").returncode == 1
    assert "clash" not in [n["Name"] for n in topo.networks()]
