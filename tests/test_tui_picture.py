"""The CNM picture and the tree's model from engine-shaped JSON (no engine, no root needed)."""

from cnmlab.tui.model import lab_from_json
from cnmlab.tui.picture import Selection, draw_cnm


def net(name, subnet, host="host1", driver="bridge"):
    return {"Name": name, "Id": f"{name}-{host}-id", "Driver": driver, "Scope": "local" if host else "swarm",
            "IPAM": {"Config": [{"Subnet": subnet}]}, "Host": host, "Internal": False}


def ctr(name, host="host1", **nets):
    return {"Id": name + "-id", "Names": ["/" + name], "Host": host, "NetworkSettings": {"Networks": {
        n: {"IPAddress": ip, "MacAddress": "02:42:00:00:00:01", "Interface": iface} for n, (iface, ip) in nets.items()}}}


HOSTS = [{"Name": "host1", "Address": "192.168.100.11/24", "Plain": False}]
NETS = [net("bridge", "172.17.0.0/16"), net("host", ""), net("none", ""),
        net("net-a", "172.18.0.0/16"), net("net-b", "172.19.0.0/16")]


def starter():
    return lab_from_json(HOSTS, NETS, [ctr("container-a", **{"net-a": ("eth0", "172.18.0.2")}),
                                       ctr("container-b", **{"net-b": ("eth1", "172.19.0.2"),
                                                             "net-a": ("eth0", "172.18.0.3")})])


def test_the_chapters_figure():
    lab = starter()
    assert [n.name for n in lab.drawn_networks()] == ["net-a", "net-b"]  # empty predefined ones are left out
    assert [e.interface for e in lab.container("container-b").endpoints] == ["eth0", "eth1"]
    lines = draw_cnm(lab).plain.splitlines()
    assert lines[0].count("┌") == 2 and "container-a" in lines[0] and "container-b" in lines[0]
    dots = [i for i, ch in enumerate(lines[1]) if ch == "●"]
    assert len(dots) == 3
    a_eth0, b_eth0, b_eth1 = dots
    net_a = next(line for line in lines if line.startswith("net-a"))
    net_b = next(line for line in lines if line.startswith("net-b"))
    assert net_a[a_eth0] == net_a[b_eth0] == "●" and net_a[b_eth1] == "╂"  # eth1 passes net-a by
    assert net_b[b_eth1] == "●" and net_b.count("●") == 1
    assert "bridge 172.18.0.0/16" in net_a


def test_details_drop_when_narrow_and_selection_is_styled():
    lab = starter()
    wide = draw_cnm(lab)
    narrow = draw_cnm(lab, width=40)
    assert "bridge 172.18.0.0/16" in wide.plain.splitlines()[3]
    bars, key = narrow.plain.split("\n\n")  # beside the bars does not fit: a key under the picture
    assert "172.18.0.0/16" not in bars
    assert [line.split() for line in key.splitlines()] == [["net-a", "bridge", "172.18.0.0/16"],
                                                           ["net-b", "bridge", "172.19.0.0/16"]]
    picked = draw_cnm(lab, Selection("container", "container-b"))
    start = picked.plain.index("container-b")
    assert any("yellow" in str(span.style) and span.start <= start < span.end for span in picked.spans)


def test_same_name_networks_on_two_hosts_and_an_empty_lab():
    hosts = HOSTS + [{"Name": "host2", "Address": "192.168.100.12/24", "Plain": False}]
    nets = [net("bridge", "172.17.0.0/16"), net("bridge", "172.17.0.0/16", host="host2"),
            net("ov1", "10.0.1.0/24", host=None, driver="overlay")]
    lab = lab_from_json(hosts, nets, [ctr("c1", bridge=("eth0", "172.17.0.2")),
                                      ctr("c2", host="host2", bridge=("eth0", "172.17.0.2"), ov1=("eth1", "10.0.1.3"))])
    # Each container's "bridge" is its own host's: names repeat across hosts, ids do not.
    assert {e.network_id for e in lab.container("c2").endpoints} == {"bridge-host2-id", "ov1-None-id"}
    assert [e.network_id for e in lab.container("c1").endpoints] == ["bridge-host1-id"]
    labels = [lab.network_label(n) for n in lab.drawn_networks()]
    assert "bridge@host1" in labels and "bridge@host2" in labels and "ov1" in labels
    assert [n.name for n in lab.networks_on(lab.hosts[1])] == ["bridge", "ov1"]
    assert "c1 @host1" in draw_cnm(lab).plain
    assert "No sandboxes yet" in draw_cnm(lab_from_json(HOSTS, NETS[:3], [])).plain
