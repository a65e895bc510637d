"""The reachability matrix on the real kernel: a mixed topology gives Docker's truth table."""

import json

import pytest

from conftest import in_world

pytestmark = pytest.mark.kernel


def build_mixed(lab):
    """net-a: aa, bb; net-b: bb (second endpoint), cc; internal net-i: ii, ij; ICC off: q1, q2; bridge: dd."""
    lab.network_create("net-a", subnet="10.77.1.0/24")
    lab.network_create("net-b", subnet="10.77.2.0/24")
    lab.network_create("net-i", internal=True)
    lab.network_create("quiet", options={"com.docker.network.bridge.enable_icc": "false"})
    lab.run("aa", network="net-a")
    lab.run("bb", network="net-a")
    lab.connect("net-b", "bb")
    lab.run("cc", network="net-b")
    lab.run("ii", network="net-i")
    lab.run("ij", network="net-i")
    lab.run("q1", network="quiet")
    lab.run("q2", network="quiet")
    lab.run("dd")


REACHABLE = {("aa", "bb"), ("bb", "aa"), ("bb", "cc"), ("cc", "bb"), ("ii", "ij"), ("ij", "ii")}


def expected_reason(src: str, dst: str) -> str:
    if (src, dst) in REACHABLE:
        return "same-network"
    if {src, dst} == {"q1", "q2"}:
        return "icc-disabled"
    if "ii" in (src, dst) or "ij" in (src, dst):
        return "internal"
    return "isolation"


def test_mixed_topology_matrix_is_the_truth_table(lab):
    build_mixed(lab)
    m = lab.matrix(explain=True, by="container")
    names = ["aa", "bb", "cc", "ii", "ij", "q1", "q2", "dd"]
    assert m["containers"] == names and m["proto"] == "icmp"
    assert len(m["cells"]) == len(names) * (len(names) - 1)
    got = {(c["from"], c["to"]): c for c in m["cells"]}
    for src in names:
        for dst in names:
            if src == dst:
                continue
            cell = got[(src, dst)]
            want = "reachable" if (src, dst) in REACHABLE else "filtered"
            assert cell["outcome"] == want, (src, dst, cell)
            assert cell["reason"] == expected_reason(src, dst), (src, dst, cell)
            assert set(cell) >= {"from", "to", "outcome", "rtt_ms", "reason", "dst_ip"}
    assert got[("cc", "bb")]["dst_ip"].startswith("10.77.2."), "bb's address on the network cc shares"
    assert got[("aa", "bb")]["dst_ip"].startswith("10.77.1.")
    assert set(m["legend"]) == {"same-network", "isolation", "internal", "icc-disabled"}
    assert "ISOLATION" in m["legend"]["isolation"] and "enable_icc" in m["legend"]["icc-disabled"]


def test_matrix_per_protocol_and_network(lab):
    build_mixed(lab)
    tcp = lab.matrix(proto="tcp", port=80, network="net-a", by="container")
    assert tcp["containers"] == ["aa", "bb"] and tcp["port"] == 80
    assert [c["outcome"] for c in tcp["cells"]] == ["reachable", "reachable"]
    closed = lab.matrix(proto="tcp", port=81, network="net-a", by="container")
    assert [c["outcome"] for c in closed["cells"]] == ["refused", "refused"]
    on_b = lab.matrix(proto="udp", network="net-b", by="container")
    assert {(c["from"], c["to"], c["dst_ip"][:8]) for c in on_b["cells"]} == {
        ("bb", "cc", "10.77.2."), ("cc", "bb", "10.77.2.")}
    assert lab.matrix(explain=False)["legend"] == {}


def test_matrix_of_containers_without_a_network(lab):
    lab.network_create("net-a")
    lab.run("aa", network="net-a")
    lab.run("nobox", network="none")
    m = lab.matrix(explain=True, by="container")
    cells = {(c["from"], c["to"]): c for c in m["cells"]}
    assert cells[("aa", "nobox")]["outcome"] == "no route" and cells[("aa", "nobox")]["reason"] == "no-network"
    assert cells[("nobox", "aa")]["outcome"] == "no route"
    assert "no-network" in m["legend"]


def test_matrix_many_containers_costs_about_one_timeout(lab):
    lab.network_create("one")
    lab.network_create("two")
    for i in range(10):
        lab.run(f"m{i}", network="one" if i < 5 else "two")
    m = lab.matrix(timeout=0.3, by="container")
    outcomes = {(c["from"], c["to"]): c["outcome"] for c in m["cells"]}
    assert len(outcomes) == 90
    for (a, b), outcome in outcomes.items():
        same = (int(a[1:]) < 5) == (int(b[1:]) < 5)
        assert outcome == ("reachable" if same else "filtered"), (a, b, outcome)


def test_cli_matrix(lab, cli):
    build_mixed(lab)
    out = cli("matrix", "--explain")
    assert out.returncode == 0, out.stderr
    assert "reachability (icmp)" in out.stdout and "✓" in out.stdout and "✗" in out.stdout
    assert "different networks" in out.stdout and "ICC disabled" in out.stdout and "internal network" in out.stdout
    data = json.loads(cli("matrix", "--json", "--network", "net-a", "--by", "container").stdout)
    assert data["containers"] == ["aa", "bb"]
    data = json.loads(cli("matrix", "--json", "--network", "net-a").stdout)
    assert [c["name"] for c in data["columns"]] == ["aa@net-a", "bb@net-a"], "columns: net-a's endpoints"
    assert data["containers"] == ["aa", "bb", "cc", "ii", "ij", "q1", "q2", "dd"], "rows: every container sends"
    bad = cli("matrix", "--by", "network")
    assert bad.returncode == 2 and "invalid choice: 'network'" in bad.stderr
    bad = cli("matrix", "--network", "nosuchnet")
    assert bad.returncode == 1 and bad.stderr.strip() == "Error: network nosuchnet not found"


def test_starter_lab_matrix_shows_the_chapters_isolation(lab, cli):
    """One column per endpoint: container-a reaches container-b on net-a, and is dropped by host1's
    DOCKER-ISOLATION-STAGE-2 on its way to container-b's net-b address (the chapter's example)."""
    lab.network_create("net-a")
    lab.network_create("net-b")
    lab.run("container-a", network="net-a")
    lab.run("container-b", network="net-a")
    lab.connect("net-b", "container-b")
    data = json.loads(cli("matrix", "--json", "--explain").stdout)
    assert data["by"] == "endpoint" and data["containers"] == ["container-a", "container-b"]
    columns = {c["name"]: c for c in data["columns"]}
    assert list(columns) == ["container-a@net-a", "container-b@net-a", "container-b@net-b"]
    cells = {(c["from"], c["to"]): c for c in data["cells"]}
    cell = cells[("container-a", "container-b@net-b")]
    assert cell["outcome"] == "filtered" and cell["dst_ip"] == columns["container-b@net-b"]["address"]
    assert cell["rule"]["chain"] == "DOCKER-ISOLATION-STAGE-2" and cell["rule"]["namespace"] == "host1"
    assert cells[("container-a", "container-b@net-a")]["outcome"] == "reachable"
    assert ("container-b", "container-b@net-b") not in cells, "a container does not probe itself"
    on_b = json.loads(cli("matrix", "--json", "--network", "net-b").stdout)
    assert [(c["from"], c["to"], c["outcome"]) for c in on_b["cells"]] == [
        ("container-a", "container-b@net-b", "filtered")], "--network keeps every source"
    text = cli("matrix", "--explain").stdout
    assert "container-b@net-b" in text and columns["container-b@net-b"]["address"] in text
    assert "DOCKER-ISOLATION-STAGE-1/2" in text
    assert "container-b@net-b" not in cli("matrix", "--by", "container").stdout
    probe = json.loads(cli("probe", "container-a", "container-b@net-b", "--json").stdout)
    assert probe["destination"] == "container-b@net-b" and probe["rule"]["chain"] == "DOCKER-ISOLATION-STAGE-2"


def test_macvlan_host_child_is_explained(lab):
    if "macvlan" not in {d["Name"] for d in lab.drivers()}:
        pytest.skip("the macvlan driver (issue 4) is not installed in this tree")
    lab.network_create("lan", driver="macvlan", subnet="192.168.100.0/24", gateway="192.168.100.1",
                       ip_range="192.168.100.128/25")
    lab.run("m1", network="lan")
    lab.run("b1")
    lab.run("hostbox", network="host")
    lab.host_add("host2")
    lab.run("far", host="host2", network="host")
    m = lab.matrix(explain=True, by="container")
    cells = {(c["from"], c["to"]): c for c in m["cells"]}
    for pair in [("b1", "m1"), ("m1", "hostbox"), ("hostbox", "m1")]:
        assert (cells[pair]["outcome"], cells[pair]["reason"]) == ("timeout", "macvlan-host"), (pair, cells[pair])
    # m1's way to b1 is its default route, the LAN's router, which knows no host's bridge subnet:
    # the kernel's lookup names that before the parent-child rule could matter
    assert cells[("m1", "b1")]["reason"] == "no-route", cells[("m1", "b1")]
    assert "underlay has no route to" in cells[("m1", "b1")]["detail"]
    assert cells[("far", "m1")]["outcome"] == "reachable", "another host on the LAN reaches the child"
    assert cells[("m1", "far")]["outcome"] == "reachable"
    assert "macvlan" in m["legend"]["macvlan-host"]


def test_neighbour_estimate_counts_on_link_peers_and_one_gateway_per_source():
    from cnmlab.probe.matrix import neighbours_needed
    from cnmlab.probe.target import Target

    def t(src, dst_ip, shared):
        return Target(source=src, source_kind="container", netns=src, destination=dst_ip, dst_ip=dst_ip,
                      proto="icmp", port=None, shared_networks=["n"] if shared else [])

    found = [t("a", "10.0.0.2", True), t("a", "10.0.0.3", True), t("a", "10.1.0.2", False),
             t("a", "10.1.0.3", False), t("b", "10.0.0.1", True), t("b", "10.1.0.2", False)]
    assert neighbours_needed(found) == 5  # a: 2 peers + its gateway; b: 1 peer + its gateway


def test_a_matrix_that_would_crowd_the_machines_arp_table_is_refused(lab, cli):
    """The neighbour table is one for every namespace, the machine's own included: never fill it."""
    lab.apply(networks=[{"Name": "big"}], containers=[{"Name": f"big{i:02d}", "Network": "big"} for i in range(24)])
    result = cli("matrix")
    assert result.returncode == 1
    (line,) = result.stderr.strip().splitlines()
    assert "would need about 552 ARP (neighbour) entries" in line and "--network" in line
    neighbours = in_world(lab, "big00", "ip", "neigh", "show").stdout.split("\n")
    assert len([n for n in neighbours if n.strip()]) == 0, "refused before any packet left"
