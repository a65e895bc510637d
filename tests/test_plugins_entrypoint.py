"""Python drivers through the `cnmlab.drivers` entry-point group: the example p2p package
(examples/p2p-driver, pip-installed by ./test.sh) is found without importing it, and runs the
whole CNM lifecycle on the real kernel."""

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import in_world, ip_of, ping

EXAMPLE = Path(__file__).parent.parent / "examples" / "p2p-driver"


def test_listing_drivers_does_not_import_them():
    code = ("import sys, json; from cnmlab.drivers import installed; d = installed(); "
            "print(json.dumps([d.get('p2p'), 'cnmlab_p2p' in sys.modules, 'cnmlab.drivers.bridge' in sys.modules]))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert json.loads(out) == ["cnmlab_p2p.driver:P2PDriver", False, False]


def test_drivers_entry_points_are_read_once_and_again_for_a_name_they_lack(monkeypatch):
    """A reset loads every driver again: the metadata scan (20-50 ms) is not redone for names
    already found, but a driver installed since (a name not found) is looked for afresh."""
    import cnmlab.drivers as drivers

    real, scans = drivers.entry_points, []
    monkeypatch.setattr(drivers, "entry_points", lambda **kw: scans.append(kw) or real(**kw))
    monkeypatch.setattr(drivers, "_found", {})  # read afresh at the first load
    assert drivers.load_class("bridge").__name__ == "BridgeDriver"
    assert drivers.load_class("null") and drivers.load_class("bridge")
    assert len(scans) == 1
    with pytest.raises(Exception, match='plugin "no-such-driver" not found'):
        drivers.load_class("no-such-driver")
    assert len(scans) >= 2  # looked for afresh before the remote plugins


def test_example_uses_only_the_public_driver_api_and_osl():
    allowed = {"cnmlab.drivers", "cnmlab.osl", "cnmlab.errors"}
    tree = ast.parse((EXAMPLE / "cnmlab_p2p" / "driver.py").read_text())
    used = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
    used |= {a.name for node in ast.walk(tree) if isinstance(node, ast.Import) for a in node.names}
    cnmlab = {m for m in used if m.split(".")[0] == "cnmlab"}
    assert cnmlab and cnmlab <= allowed, cnmlab - allowed


@pytest.mark.kernel
def test_cli_lists_entry_point_drivers(lab, cli):
    listed = json.loads(cli("plugin", "ls", "--json").stdout)
    drivers = {d["Name"]: d["Entrypoint"] for d in listed["Drivers"]}
    assert drivers["p2p"] == "cnmlab_p2p.driver:P2PDriver" and drivers["bridge"]
    assert "p2p" in cli("network", "create", "-d", "?", "x").stdout.split()
    table = cli("plugin", "ls")
    assert table.returncode == 0 and "p2p" in table.stdout and "python" in table.stdout


@pytest.mark.kernel
def test_unknown_driver_error_lists_installed(lab, cli):
    result = cli("network", "create", "-d", "p2q", "nope")
    assert result.returncode == 1
    line = result.stderr.strip()
    assert "\n" not in line and line.startswith('Error: plugin "p2q" not found (installed drivers: ')
    assert "p2p" in line and "bridge" in line
    assert "nope" not in {n["Name"] for n in lab.networks()}


def p2p_links(client, container: str) -> dict[str, str]:
    """interface -> 'LOCAL peer PEER/32' for the p2p links in a sandbox."""
    out = in_world(client, container, "ip", "-o", "-4", "addr", "show", check=True).stdout
    found = {}
    for line in out.splitlines():
        fields = line.split()
        if "p" in fields[1] and fields[1].startswith("eth") and "peer" in fields:
            found[fields[1]] = " ".join(fields[3:6])
    return found


@pytest.mark.kernel
def test_p2p_full_lifecycle(lab):
    lab.network_create("mesh", driver="p2p", subnet="10.80.0.0/24")
    for name in ("aa", "bb", "cc"):
        lab.run(name, network="mesh")
    ips = {n: ip_of(lab, n, "mesh") for n in ("aa", "bb", "cc")}
    assert ips == {"aa": "10.80.0.2", "bb": "10.80.0.3", "cc": "10.80.0.4"}
    # a full mesh: every container has one link per peer, with a /32 peer address
    assert p2p_links(lab, "aa") == {"eth0p1": "10.80.0.2 peer 10.80.0.3/32", "eth0p2": "10.80.0.2 peer 10.80.0.4/32"}
    assert p2p_links(lab, "cc") == {"eth0p1": "10.80.0.4 peer 10.80.0.2/32", "eth0p2": "10.80.0.4 peer 10.80.0.3/32"}
    for src in ips:
        for dst, ip in ips.items():
            if src != dst:
                assert ping(lab, src, ip), f"{src} -> {dst}"
    # leaving removes exactly this endpoint's links, on both ends
    lab.disconnect("mesh", "bb")
    assert p2p_links(lab, "bb") == {}
    assert p2p_links(lab, "aa") == {"eth0p2": "10.80.0.2 peer 10.80.0.4/32"}
    assert not ping(lab, "aa", ips["bb"])
    # a new member wires to the ones there now, with names never reused in a sandbox
    lab.run("dd", network="mesh")
    assert p2p_links(lab, "aa")["eth0p3"] == "10.80.0.2 peer 10.80.0.3/32"  # dd got bb's free address
    assert ping(lab, "dd", ips["aa"]) and ping(lab, "cc", "10.80.0.3")
    for name in ("aa", "bb", "cc", "dd"):
        lab.rm(name, force=True)
    lab.network_rm("mesh")
    assert "mesh" not in {n["Name"] for n in lab.networks()}


@pytest.mark.kernel
def test_p2p_survives_an_engine_restart(lab):
    lab.network_create("mesh", driver="p2p", subnet="10.81.0.0/24")
    lab.run("aa", network="mesh")
    lab.run("bb", network="mesh")
    lab.stop_engine()
    assert lab.network_inspect("mesh")["Driver"] == "p2p"  # the next call starts and restores the engine
    assert ping(lab, "aa", "10.81.0.3") and ping(lab, "bb", "10.81.0.2")
    assert p2p_links(lab, "bb") == {"eth0p1": "10.81.0.3 peer 10.81.0.2/32"}


@pytest.mark.kernel
def test_p2p_asks_for_no_gateway_service(lab):
    """JoinInfo.disable_gateway_service (Docker's DisableGatewayService): no docker_gwbridge."""
    lab.network_create("mesh", driver="p2p", subnet="10.82.0.0/24")
    lab.run("aa", network="mesh")
    assert set(lab.inspect("aa")["NetworkSettings"]["Networks"]) == {"mesh"}
    assert "docker_gwbridge" not in {n["Name"] for n in lab.networks()}
