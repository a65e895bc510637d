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


def _rows(path) -> list[tuple[str, str]]:
    import sqlite3

    db = sqlite3.connect(path)
    try:
        return sorted(db.execute("SELECT kind, id FROM objects").fetchall())
    finally:
        db.close()


def test_a_batch_writes_its_last_put_or_delete_of_each_object_at_its_commit(tmp_path):
    path = tmp_path / "lab.db"
    store = Store(path)
    kept, dropped, again = (Network(id=x * 64, name=x, driver="bridge", scope="local", created="t", host="host1") for x in "abc")
    store.put(kept)
    store.put(dropped)
    with store.batch():
        store.delete(dropped)
        store.put(again)
        store.delete(again)
        store.put(again)  # put after its delete: it stays
        store.delete(Network(id="d" * 64, name="d", driver="bridge", scope="local", created="t", host="host1"))  # never stored
        assert _rows(path) == [("network", "a" * 64), ("network", "b" * 64)]  # nothing before the commit
        assert [n.name for n in store.load("network")] == ["a", "c"]  # but the store itself knows
    assert _rows(path) == [("network", "a" * 64), ("network", "c" * 64)]
    store.close()
    assert [n.name for n in Store(path).load("network")] == ["a", "c"]


def test_checkpoint_copies_the_wal_into_the_store_file(tmp_path):
    path = tmp_path / "lab.db"
    store = Store(path)
    for i in range(50):
        store.put(Network(id=f"{i:064}", name=f"n{i}", driver="bridge", scope="local", created="t", host="host1"))
    assert (tmp_path / "lab.db-wal").stat().st_size > 0
    store.checkpoint()
    import sqlite3

    plain = sqlite3.connect(f"file:{path}?immutable=1", uri=True)  # the main file alone, without the WAL
    assert plain.execute("SELECT count(*) FROM objects").fetchone() == (50,)
    plain.close()
    store.close()
