"""The SQLite store keeps objects, their order and the IPAM cursor across restarts."""

from cnmlab.endpoint import Endpoint
from cnmlab.host import Host
from cnmlab.network import IpamConfig, Network
from cnmlab.sandbox import Container, PortBinding
from cnmlab.store import Store


def test_roundtrip_keeps_order_and_nested_fields(tmp_path):
    path = tmp_path / "lab.db"
    store = Store(path)
    store.put(Host("host1", "192.168.100.11"))
    net = Network(id="b" * 64, name="net-a", driver="bridge", scope="local", created="t", host="host1",
                  ipam=[IpamConfig("10.0.0.0/24", "10.0.0.1", user_subnet=True)], state={"bridge": "br-bbbbbbbbbbbb"})
    store.put(Network(id="a" * 64, name="first", driver="bridge", scope="local", created="t", host="host1"))
    store.put(net)
    store.put(Container(id="c" * 64, name="aa", host="host1", created="t", ports=[PortBinding(8080, 80)],
                        endpoints=["e" * 64], next_if=1))
    store.put(Endpoint(id="e" * 64, network_id=net.id, container_id="c" * 64, ifname="eth0", address="10.0.0.2/24"))
    store.set_meta("ipam.cursor", "3")
    net.name = "renamed"
    store.put(net)  # an update keeps the original position
    store.close()

    again = Store(path)
    assert [n.name for n in again.load("network")] == ["first", "renamed"]
    loaded = again.load("network")[1]
    assert loaded.ipam[0].gateway == "10.0.0.1" and loaded.state == {"bridge": "br-bbbbbbbbbbbb"}
    c = again.load("container")[0]
    assert c.ports[0].host_port == 8080 and c.next_if == 1
    assert again.load("endpoint")[0].address == "10.0.0.2/24"
    assert again.get_meta("ipam.cursor") == "3"
    again.delete(loaded)
    assert [n.name for n in again.load("network")] == ["first"]
