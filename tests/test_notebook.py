"""The notebook front end in-process: the diagram's SVG, the result views, the Lab API and the
dashboard widget's logic, against a real engine (no browser, no Jupyter kernel)."""

import time
import xml.etree.ElementTree as ET

import pytest

from cnmlab.client import Client
from cnmlab.notebook import Lab, LabError, LabState, MatrixResult, ProbeResult, TraceResult, diagram, heatmap, ladder

NS = "{http://www.w3.org/2000/svg}"


# -- helpers: read a drawn diagram back ------------------------------------------------
def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def find(root: ET.Element, tag: str, cls: str) -> list[ET.Element]:
    return [e for e in root.iter(NS + tag) if cls in e.get("class", "").split()]


def groups(root: ET.Element, cls: str) -> list[ET.Element]:
    return find(root, "g", cls)


def check_wiring(root: ET.Element, state: LabState) -> None:
    """Every endpoint dot is wired from its own centre straight to the bar of its own network."""
    bars = {g.get("data-network"): g.find(NS + "rect") for g in groups(root, "network")}
    dots = {c.get("data-endpoint"): c for c in find(root, "circle", "endpoint")}
    wires = {line.get("data-endpoint"): line for line in find(root, "line", "wire")}
    for ep in state.endpoints:
        dot, wire, bar = dots[ep.id], wires[ep.id], bars[ep.network_id]
        assert dot.get("data-network") == ep.network_id == wire.get("data-network")
        assert (wire.get("x1"), wire.get("y1")) == (dot.get("cx"), dot.get("cy"))
        x = float(wire.get("x2"))
        assert float(bar.get("x")) <= x <= float(bar.get("x")) + float(bar.get("width")), ep
        assert float(wire.get("y2")) == float(bar.get("y"))


def check_diagram(svg: str, state: LabState) -> ET.Element:
    root = parse(svg)
    hosts = groups(root, "host")
    assert sorted(g.get("data-host") for g in hosts) == sorted(h.name for h in state.hosts)
    assert all(len(find(g, "rect", "host-box")) == 1 for g in hosts)
    sandboxes = groups(root, "sandbox")
    assert sorted(g.get("data-container") for g in sandboxes) == sorted(state.container_names())
    for g in sandboxes:
        assert len(find(g, "rect", "sandbox-box")) == 1
        rect = find(g, "rect", "sandbox-box")[0]
        for dot in find(g, "circle", "endpoint"):  # dots sit on the sandbox's edge
            assert float(dot.get("cy")) == float(rect.get("y")) + float(rect.get("height"))
    dots = find(root, "circle", "endpoint")
    assert sorted(d.get("data-endpoint") for d in dots) == sorted(e.id for e in state.endpoints)
    check_wiring(root, state)
    return root


# -- the diagram from literal engine JSON (no engine needed) ----------------------------
def _net(name, net_id, driver="bridge", host="host1", scope="local", subnet="", members=(), options=None):
    return {"Name": name, "Id": net_id, "Driver": driver, "Scope": scope, "Host": host, "Options": options or {},
            "IPAM": {"Config": [{"Subnet": subnet}] if subnet else []},
            "Containers": {f"c-{c}": {"Name": c, "EndpointID": f"ep-{c}-{name}"} for c in members}}


def _ctr(name, host, nets):
    return {"Id": f"c-{name}", "Names": [f"/{name}"], "Host": host,
            "HostConfig": {"NetworkMode": nets[0] if nets else "none"},
            "NetworkSettings": {"Networks": {n: {"IPAddress": f"10.0.{i}.2", "Interface": f"eth{i}",
                                                 "EndpointID": f"ep-{name}-{n}"} for i, n in enumerate(nets)}}}


@pytest.fixture
def two_host_state():
    hosts = [{"Name": "host1", "Address": "192.168.100.11/24"}, {"Name": "host2", "Address": "192.168.100.12/24"},
             {"Name": "pc", "Address": "192.168.100.50/24", "Plain": True}]
    networks = [
        _net("bridge", "b1", host="host1", subnet="172.17.0.0/16",
             options={"com.docker.network.bridge.name": "docker0"}),
        _net("bridge", "b2", host="host2", subnet="172.17.0.0/16", members=["solo"],
             options={"com.docker.network.bridge.name": "docker0"}),
        _net("net-a", "na", subnet="172.18.0.0/16", members=["aa", "bb"]),
        _net("ov", "ov", driver="overlay", host=None, scope="global", subnet="10.0.9.0/24", members=["bb", "cc"]),
        {**_net("mv", "mv", driver="macvlan", subnet="192.168.100.0/24", members=["mm"], options={"parent": "eth0"}),
         "OnUnderlay": True},
    ]
    containers = [_ctr("aa", "host1", ["net-a"]), _ctr("bb", "host1", ["net-a", "ov"]), _ctr("mm", "host1", ["mv"]),
                  _ctr("cc", "host2", ["ov"]), _ctr("solo", "host2", ["bridge"])]
    return LabState.from_api(hosts, networks, containers)


def test_diagram_boxes_sandboxes_dots_and_wires(two_host_state):
    state = two_host_state
    assert len(state.endpoints) == 6
    check_diagram(diagram.to_svg(state), state)


def test_endpoints_join_the_right_same_named_network(two_host_state):
    # both hosts have a network called "bridge": solo's endpoint must be wired to host2's
    solo = two_host_state.endpoints_in("solo")[0]
    assert solo.network_id == "b2"
    lay = diagram.layout(two_host_state)
    assert lay.hosts["host2"].x <= lay.bars["b2"].box.x < lay.hosts["host2"].right


def test_overlay_spans_hosts_and_macvlan_sits_on_the_underlay(two_host_state):
    lay = diagram.layout(two_host_state)
    overlay = lay.bars["ov"].box
    assert overlay.x <= lay.hosts["host1"].x and overlay.right >= lay.hosts["host2"].right
    assert overlay.y > max(b.bottom for b in lay.hosts.values())  # outside every host box
    assert lay.bars["ov"].band == "global"
    root = parse(diagram.to_svg(two_host_state))
    underlay = groups(root, "underlay")[0]
    assert [g.get("data-name") for g in groups(underlay, "network")] == ["mv"]
    mv = lay.bars["mv"].box
    assert lay.lan is not None and mv.bottom < lay.lan.y  # just above the LAN bar it shares
    # every Docker host (and the plain machine) plugs its eth0 into the LAN
    assert sorted(c.get("data-host") for c in find(root, "circle", "host-nic")) == ["host1", "host2", "pc"]


def test_diagram_of_an_empty_lab_is_just_the_lan():
    state = LabState.from_api([], [], [])
    root = parse(diagram.to_svg(state))
    assert groups(root, "host") == [] and len(find(root, "rect", "lan-bar")) == 1


# -- result views from the agreed JSON shapes --------------------------------------------
MATRIX = {"proto": "icmp", "port": None, "containers": ["aa", "bb", "cc"], "legend": {
    "isolation": "different networks: dropped by DOCKER-ISOLATION-STAGE-2 on host1"}, "cells": [
    {"from": "aa", "to": "bb", "outcome": "reachable", "rtt_ms": 0.1, "reason": "", "dst_ip": "172.18.0.3"},
    {"from": "aa", "to": "cc", "outcome": "filtered", "rtt_ms": None, "reason": "isolation", "dst_ip": "172.19.0.2"},
    {"from": "bb", "to": "aa", "outcome": "reachable", "rtt_ms": 0.1, "reason": "", "dst_ip": "172.18.0.2"},
    {"from": "bb", "to": "cc", "outcome": "reachable", "rtt_ms": 0.1, "reason": "", "dst_ip": "172.19.0.2"},
    {"from": "cc", "to": "aa", "outcome": "timeout", "rtt_ms": None, "reason": "no route to 172.18.0.2",
     "dst_ip": "172.18.0.2"},
    {"from": "cc", "to": "bb", "outcome": "reachable", "rtt_ms": 0.1, "reason": "", "dst_ip": "172.19.0.3"}]}


def test_matrix_heatmap_has_a_cell_per_pair_with_its_explanation():
    result = MatrixResult(MATRIX)
    assert result.outcome("aa", "cc") == "filtered" and ("aa", "bb") in result.reachable_pairs()
    assert result.explain("aa", "cc") == MATRIX["legend"]["isolation"]
    root = parse(ET.tostring(heatmap.render(MATRIX), encoding="unicode"))
    cells = {(g.get("data-from"), g.get("data-to")): g for g in groups(root, "cell")}
    assert len(cells) == 6
    assert MATRIX["legend"]["isolation"] in cells["aa", "cc"].find(NS + "title").text
    assert "no route to 172.18.0.2" in cells["cc", "aa"].find(NS + "title").text
    assert cells["aa", "bb"].find(NS + "rect").get("fill") == heatmap.OUTCOME_COLORS["reachable"]
    page = result._repr_html_()
    assert "<li>different networks: dropped by DOCKER-ISOLATION-STAGE-2 on host1</li>" in page


TRACE = {"source": "aa", "destination": "cc", "proto": "icmp", "port": None, "src_ip": "10.0.9.2",
         "dst_ip": "10.0.9.3", "verdict": "dropped", "dropped_after": 2,
         "rule": {"namespace": "host2", "table": "filter", "chain": "DOCKER-ISOLATION-STAGE-2",
                  "rule": "-o br-1a2b3c4d5e6f -j DROP"},
         "hops": [
             {"index": 0, "leg": "request", "namespace": "aa", "kind": "container", "interface": "eth0",
              "direction": "out", "seen": True, "summary": "10.0.9.2 > 10.0.9.3 ICMP echo-request", "outer": None,
              "nat": None, "time_ms": 0.0},
             {"index": 1, "leg": "request", "namespace": "underlay", "kind": "underlay", "interface": "lab0",
              "direction": "fwd", "seen": True, "summary": "VXLAN 10.0.9.2 > 10.0.9.3 ICMP echo-request",
              "outer": {"src": "192.168.100.11", "dst": "192.168.100.12", "udp_port": 4789, "vni": 4097},
              "nat": None, "time_ms": 0.2},
             {"index": 2, "leg": "request", "namespace": "host2", "kind": "host", "interface": "vxlan0",
              "direction": "in", "seen": True, "summary": "10.0.9.2 > 10.0.9.3 ICMP echo-request", "outer": None,
              "nat": None, "time_ms": 0.3},
             {"index": 3, "leg": "request", "namespace": "cc", "kind": "container", "interface": "eth0",
              "direction": "in", "seen": False, "summary": "", "outer": None, "nat": None, "time_ms": None}]}


def test_trace_ladder_marks_the_drop_rule_and_vxlan_outer_headers():
    result = TraceResult(TRACE)
    assert [h["index"] for h in result.seen_hops] == [0, 1, 2]
    assert result.rule_text == "dropped in host2 by filter/DOCKER-ISOLATION-STAGE-2: -o br-1a2b3c4d5e6f -j DROP"
    root = parse(ET.tostring(ladder.render(TRACE), encoding="unicode"))
    hops = groups(root, "hop")
    assert [h.get("data-seen") for h in hops] == ["true", "true", "true", "false"]
    texts = [t.text for t in root.iter(NS + "text")]
    assert "outer 192.168.100.11 → 192.168.100.12 UDP 4789 VNI 4097" in texts
    drop = groups(root, "drop-point")
    assert len(drop) == 1 and drop[0].get("data-after") == "2"
    assert result.rule_text in [t.text for t in drop[0].iter(NS + "text")]
    # the drop marker sits between the last hop that saw the packet and the first that did not
    ys = [float(h.find(NS + "circle").get("cy")) for h in hops]
    drop_y = float(drop[0].find(NS + "text").get("y"))
    assert ys[2] < drop_y < ys[3]
    assert "dropped after hop 2" in result._repr_html_()


def test_probe_result_reads_as_data_and_html():
    data = {"source": "aa", "destination": "bb", "proto": "tcp", "port": 80, "src_ip": "172.18.0.2",
            "dst_ip": "172.18.0.3", "outcome": "refused", "rtt_ms": 0.3, "reason": "TCP RST from 172.18.0.3"}
    result = ProbeResult(data)
    assert result.outcome == "refused" and not result.reachable and result["port"] == 80
    assert 'data-outcome="refused"' in result._repr_html_()
    assert str(result).endswith("refused in 0.30 ms — TCP RST from 172.18.0.3")


# -- against the real engine -------------------------------------------------------------
kernel = pytest.mark.kernel


def build(nb: Lab) -> None:
    nb.network_create("net-a", subnet="10.61.1.0/24")
    nb.network_create("net-b", subnet="10.61.2.0/24")
    nb.run("aa", networks=["net-a"])
    nb.run("bb", networks=["net-a", "net-b"])
    nb.run("cc", network="net-b")


@kernel
def test_diagram_matches_the_live_lab(lab):
    nb = Lab(client=lab)
    build(nb)
    lab.host_add("host2")
    nb.run("far", host="host2")
    state = nb.state()
    assert len(state.endpoints) == 5
    root = check_diagram(nb.diagram().svg, state)
    bars = {g.get("data-name") for g in groups(root, "network")}
    assert {"net-a", "net-b", "bridge"} <= bars
    wires_to_b = {w.get("data-endpoint") for w in find(root, "line", "wire")
                  if w.get("data-network") == nb.network_inspect("net-b").id}
    assert wires_to_b == {e.id for e in state.endpoints if e.network == "net-b"}

    lab.create("later", image="alpine")  # stopped sandboxes are drawn with their state
    lab.run("quitter", image="alpine", cmd=["sh", "-c", "exit 3"])
    lab.wait("quitter")
    sandboxes = {g.get("data-container"): g for g in groups(ET.fromstring(nb.diagram().svg), "sandbox")}
    assert (sandboxes["later"].get("data-state"), sandboxes["quitter"].get("data-state")) == ("created", "exited")
    assert "exited (3)" in ET.tostring(sandboxes["quitter"], encoding="unicode")
    assert sandboxes["aa"].get("data-state") == "running"


@kernel
def test_api_results_and_one_error_type(lab):
    nb = Lab(client=lab)
    net = nb.network_create("net-a", subnet="10.61.1.0/24")
    assert net.name == "net-a" and net.data["IPAM"]["Config"][0]["Subnet"] == "10.61.1.0/24"
    ctr = nb.run("aa", network="net-a")
    assert ctr.data["NetworkSettings"]["Networks"]["net-a"]["IPAddress"].startswith("10.61.1.")
    out = nb.exec("aa", "ip -o -4 addr show eth0")
    assert out.ok and "10.61.1." in out.stdout and "10.61.1." in out._repr_html_()
    assert not nb.exec("aa", "false").ok
    with pytest.raises(LabError, match="overlaps"):
        nb.network_create("net-x", subnet="10.61.1.0/25")
    with pytest.raises(LabError, match="No such container"):
        nb.exec("ghost", "true")
    with pytest.raises(LabError):
        nb.connect("net-a", "ghost")
    # a run whose later connect fails leaves no container behind
    with pytest.raises(LabError, match="no-such-net"):
        nb.run("half", networks=["net-a", "no-such-net"])
    assert "half" not in nb.containers()
    nb.disconnect("net-a", "aa")
    assert "net-a" not in nb.inspect("aa").data["NetworkSettings"]["Networks"]
    assert nb.rm("aa").removed == ["aa"]
    assert "removed network net-a" in nb.network_rm("net-a")._repr_html_()
    assert nb.containers() == [] and "net-a" not in nb.state().network_names()


@kernel
def test_lab_reports_an_engine_that_is_not_there(tmp_path):
    with pytest.raises(LabError, match="not running"):
        Lab(socket_path=tmp_path / "engine.sock", autostart=False)


@kernel
def test_dashboard_controls_build_the_lab_and_show_errors_inline(lab):
    nb = Lab(client=lab)
    d = nb.dashboard()
    try:
        d.net_name.value, d.net_subnet.value = "net-w", "10.62.0.0/24"
        d.create_button.click()
        assert "created network net-w" in d.message.value
        assert "net-w" in d.ctr_network.options
        d.ctr_name.value, d.ctr_network.value = "ww", "net-w"
        d.run_button.click()
        assert "created container ww" in d.message.value
        d.ctr_name.value = "ww"  # again: the engine's conflict message, inline
        d.run_button.click()
        assert "cnm-error" in d.message.value and "ww" in d.message.value
        assert [g.get("data-container") for g in groups(parse(d.diagram.value), "sandbox")] == ["ww"]
        d.link_network.value, d.link_container.value = "bridge", "ww"
        d.connect_button.click()
        assert "connected ww to bridge" in d.message.value
        assert {e.network for e in d.state.endpoints_in("ww")} == {"net-w", "bridge"}
        d.disconnect_button.click()
        assert {e.network for e in d.state.endpoints_in("ww")} == {"net-w"}
        d.rm_target.value = "network net-w"
        d.rm_button.click()  # still has ww on it
        assert "active endpoints" in d.message.value
        d.rm_target.value = "container ww"
        d.rm_button.click()
        assert "removed container ww" in d.message.value
        assert groups(parse(d.diagram.value), "sandbox") == []
        d.probe_src.value = None
        d.probe_button.click()
        assert "choose a source and a destination" in d.probe_output.value
    finally:
        nb.close()


def wait_for(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


@kernel
def test_dashboard_redraws_on_changes_from_another_client(lab):
    nb = Lab(client=lab)
    d = nb.dashboard()
    try:
        other = Client()  # as if from the CLI in a terminal
        for _ in range(20):  # make sure the watcher is subscribed before the change under test
            other.network_create("warm-up")
            other.network_rm("warm-up")
            if wait_for(lambda: "NetworkRemoved network=warm-up" in d.event_log.value, timeout=0.5):
                break
        assert wait_for(lambda: d.redraws >= 2)
        before = d.redraws
        other.network_create("net-o")
        other.run("oo", network="net-o")
        assert wait_for(lambda: "oo" in [g.get("data-container") for g in groups(parse(d.diagram.value), "sandbox")])
        assert d.redraws > before
        assert "oo" in d.probe_src.options and "net-o" in d.link_network.options
        assert wait_for(lambda: "ContainerCreated container=oo" in d.event_log.value)
        check_diagram(d.diagram.value, d.state)
    finally:
        nb.close()


@kernel
def test_diagram_of_a_live_overlay_and_macvlan_lab(lab):
    installed = {d["Name"] for d in lab.drivers()}
    if not {"overlay", "macvlan"} <= installed:
        pytest.skip(f"needs the overlay and macvlan drivers (installed: {sorted(installed)})")
    nb = Lab(client=lab)
    lab.host_add("host2")
    nb.network_create("ov", driver="overlay", subnet="10.64.0.0/24", attachable=True)
    nb.run("o1", network="ov", host="host1")
    nb.run("o2", network="ov", host="host2")
    nb.network_create("mv", driver="macvlan", subnet="192.168.100.0/24", gateway="192.168.100.1",
                      ip_range="192.168.100.192/27", options={"parent": "eth0"})
    nb.run("m1", network="mv")
    state = nb.state()
    root = check_diagram(nb.diagram().svg, state)
    lay = diagram.layout(state)
    ov = nb.network_inspect("ov").id
    assert lay.bars[ov].band == "global"
    assert lay.bars[ov].box.x <= lay.hosts["host1"].x and lay.bars[ov].box.right >= lay.hosts["host2"].right
    underlay = groups(root, "underlay")[0]
    assert [g.get("data-name") for g in groups(underlay, "network")] == ["mv"]
    assert nb.probe("o1", "o2").reachable  # the diagram's wire across hosts is a real path


def test_a_trace_is_drawn_over_the_diagram(two_host_state):
    trace = dict(TRACE, source="bb", destination="cc", src_ip="10.0.1.2", dst_ip="10.0.0.2",
                 hops=[dict(h, namespace="1-ov@host2") if h["namespace"] == "host2" else h for h in TRACE["hops"]])
    path = diagram.trace_path(two_host_state, trace)
    assert path.endpoints == {"ep-bb-ov", "ep-cc-ov"}  # not aa's, which has the same address on net-a
    assert path.hosts == {"host2"} and path.underlay and path.dropped_in == "host2"
    root = parse(diagram.to_svg(two_host_state, path))
    assert {w.get("data-endpoint") for w in find(root, "line", "on-path")} == {"ep-bb-ov", "ep-cc-ov"}
    assert [g.get("data-host") for g in groups(root, "host") if find(g, "rect", "on-path")] == ["host2"]
    assert len(find(root, "rect", "lan-bar")) == 1 and find(root, "rect", "on-path")
    marks = find(root, "text", "drop-mark")
    assert [m.get("data-in") for m in marks] == ["host2"]


@kernel
def test_probe_matrix_and_trace_from_the_real_engine(lab):
    nb = Lab(client=lab)
    build(nb)
    ok = nb.probe("aa", "bb", proto="tcp", port=80)
    assert ok.reachable and ok.dst_ip.startswith("10.61.1.") and ok.rtt_ms is not None
    blocked = nb.probe("aa", "cc")
    assert not blocked.reachable and blocked.reason
    m = nb.matrix(by="container")
    assert set(m.containers) == {"aa", "bb", "cc"}
    assert m.reachable_pairs() == {("aa", "bb"), ("bb", "aa"), ("bb", "cc"), ("cc", "bb")}
    assert m.explain("aa", "cc")
    by_endpoint = nb.matrix()  # the default: a column per endpoint
    assert set(by_endpoint.columns) == {"aa@net-a", "bb@net-a", "bb@net-b", "cc@net-b"}
    assert by_endpoint.outcome("aa", "bb@net-b") == "filtered" and by_endpoint.outcome("aa", "bb@net-a") == "reachable"
    assert "ISOLATION" in by_endpoint.explain("aa", "bb@net-b")
    svg = ET.tostring(heatmap.render(by_endpoint.data), encoding="unicode")
    assert "bb@net-b" in svg
    cells = {(g.get("data-from"), g.get("data-to")): g.get("data-outcome")
             for g in groups(parse(ET.tostring(heatmap.render(m.data), encoding="unicode")), "cell")}
    assert cells == {(c["from"], c["to"]): c["outcome"] for c in m.cells}
    t = nb.trace("aa", "cc")
    assert t.verdict == "dropped" and "DOCKER-ISOLATION" in t.rule_text
    drops = groups(parse(ET.tostring(ladder.render(t.data), encoding="unicode")), "drop-point")
    assert [d.get("data-after") for d in drops] == [str(t.dropped_after)]
    path = t.path
    aa_ep = next(e.id for e in t.state.endpoints_in("aa"))
    assert aa_ep in path.endpoints and path.dropped_in == "host1" and "host1" in path.hosts
    assert "drop-mark" in t._repr_html_()
    with pytest.raises(LabError, match="ghost"):
        nb.probe("aa", "ghost")


@kernel
def test_dashboard_waits_for_a_stopped_engine_and_redraws_the_restored_lab(lab):
    nb = Lab(client=lab)
    nb.network_create("net-r")
    nb.run("rr", network="net-r")
    d = nb.dashboard()
    try:
        old_pid = lab.status()["pid"]
        lab.stop_engine()
        assert wait_for(lambda: "cnm-error" in d.header.value and "engine" in d.header.value)
        time.sleep(2 * 1.5)
        assert not Client(autostart=False).running()  # the dashboard did not start an engine by itself
        new_pid = lab.status()["pid"]  # a user's next command starts it; it restores the lab
        assert new_pid != old_pid
        assert wait_for(lambda: f"engine pid {new_pid}" in d.header.value, timeout=15)
        assert [g.get("data-container") for g in groups(parse(d.diagram.value), "sandbox")] == ["rr"]
    finally:
        nb.close()
