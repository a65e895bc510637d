"""The example remote plugin (examples/remote-plugin), a separate process speaking Docker's plugin
protocol over a Unix socket, runs the whole CNM lifecycle on the real kernel."""

import sys
from pathlib import Path

import pytest
from conftest import in_world, ip_of, ping

from cnmlab.errors import CnmError, Forbidden, NotFound

pytestmark = pytest.mark.kernel

PLUGIN = str(Path(__file__).parent.parent / "examples" / "remote-plugin" / "labbridge_plugin.py")


@pytest.fixture
def labbridge(lab):
    proc = lab.plugin_run([sys.executable, PLUGIN])
    yield proc
    for p in lab.plugins()["Processes"]:
        lab.plugin_stop(str(p["Pid"]), force=True)


def host_links(client) -> list[str]:
    out = in_world(client, "host1", "ip", "-o", "link", "show", check=True).stdout
    return sorted(line.split(": ")[1].split("@")[0] for line in out.splitlines())


def test_plugin_run_is_discovered_and_listed(labbridge, lab, cli):
    assert labbridge["Name"] == "labbridge" and labbridge["Host"] == "host1" and labbridge["Running"]
    remote = {r["Name"]: r for r in lab.plugins()["Remote"]}
    assert remote["labbridge"]["Implements"] == ["NetworkDriver"]
    assert remote["labbridge"]["Address"] == "/run/docker/plugins/labbridge.sock"
    assert remote["labbridge"]["Pid"] == labbridge["Pid"]
    # the process runs in host1's namespace inside the world, not in the engine's or the machine's
    pid_ns = in_world(lab, None, "readlink", f"/proc/{labbridge['Pid']}/ns/net", check=True).stdout
    host_ns = in_world(lab, "host1", "readlink", "/proc/self/ns/net", check=True).stdout
    assert pid_ns == host_ns
    listed = cli("network", "create", "-d", "?", "x")
    assert "labbridge" in listed.stdout.split()


def test_full_lifecycle_two_containers_ping(labbridge, lab):
    before = host_links(lab)
    net = lab.network_create("lbnet", driver="labbridge", subnet="10.50.0.0/24",
                             options={"labbridge.route": "10.99.0.0/16"})
    bridge = "lb-" + net["Id"][:12]
    assert bridge in host_links(lab)
    lab.run("aa", network="lbnet")
    lab.run("bb", network="lbnet")
    a, b = ip_of(lab, "aa", "lbnet"), ip_of(lab, "bb", "lbnet")
    assert (a, b) == ("10.50.0.2", "10.50.0.3")  # cnmlab's IPAM gave the addresses
    assert ping(lab, "aa", b) and ping(lab, "bb", a)
    assert ping(lab, "aa", "10.50.0.1")  # the plugin's gateway on its bridge
    # Join: SrcName moved in and renamed DstPrefix + index; Gateway and StaticRoutes applied
    routes = in_world(lab, "aa", "ip", "route", check=True).stdout
    assert "default via 10.50.0.1 dev eth0" in routes
    assert "10.99.0.0/16 via 10.50.0.1 dev eth0" in routes
    assert in_world(lab, "aa", "ip", "-o", "link", "show", "eth0").returncode == 0
    info = lab.network_inspect("lbnet")
    assert info["Driver"] == "labbridge" and len(info["Containers"]) == 2
    # disconnect gives the interface back to the plugin, which deletes its veth
    lab.disconnect("lbnet", "bb")
    assert not ping(lab, "aa", b)
    assert in_world(lab, "bb", "ip", "-o", "link", "show", "eth0").returncode != 0
    assert len(host_links(lab)) == len(before) + 2  # the bridge and aa's veth; bb's is gone
    lab.rm("aa", force=True)
    lab.rm("bb", force=True)
    lab.network_rm("lbnet")
    assert host_links(lab) == before  # no bridge, no veth left in the host


def test_null_ipam_plugin_supplies_addresses(labbridge, lab):
    lab.network_create("lbnull", driver="labbridge", ipam_driver="null", options={"labbridge.pool": "10.51.0.0/24"})
    lab.run("aa", network="lbnull")
    lab.run("bb", network="lbnull")
    a, b = ip_of(lab, "aa", "lbnull"), ip_of(lab, "bb", "lbnull")
    assert a.startswith("10.51.0.1") and b.startswith("10.51.0.1") and a != b  # the plugin's own choice
    assert ping(lab, "aa", b)
    lab.rm("aa", force=True)
    lab.rm("bb", force=True)
    lab.network_rm("lbnull")


def test_spec_file_discovery(lab):
    proc = lab.plugin_run([sys.executable, PLUGIN, "--name", "specbridge", "--spec"])
    try:
        remote = {r["Name"]: r for r in lab.plugins()["Remote"]}
        assert remote["specbridge"]["Source"] == "/etc/docker/plugins/specbridge.spec"
        assert remote["specbridge"]["Address"] == "/run/specbridge/plugin.sock"
        lab.network_create("specnet", driver="specbridge", subnet="10.52.0.0/24")
        lab.run("aa", network="specnet")
        lab.run("bb", network="specnet")
        assert ping(lab, "aa", ip_of(lab, "bb", "specnet"))
        with pytest.raises(Forbidden, match="in use by network"):
            lab.plugin_stop("specbridge")
    finally:
        for c in ("aa", "bb"):
            try:
                lab.rm(c, force=True)
            except CnmError:
                pass
        try:
            lab.network_rm("specnet")
        except CnmError:
            pass
        lab.plugin_stop(str(proc["Pid"]), force=True)
    assert "specbridge" not in {r["Name"] for r in lab.plugins()["Remote"]}


def test_unknown_driver_lists_entry_points_and_plugins(labbridge, lab):
    with pytest.raises(NotFound) as err:
        lab.network_create("nope", driver="nosuchdriver")
    assert 'plugin "nosuchdriver" not found' in err.value.message
    assert "bridge" in err.value.message and "labbridge" in err.value.message
    assert "nope" not in {n["Name"] for n in lab.networks()}


def test_plugin_stops_on_reset(labbridge, lab):
    pid = labbridge["Pid"]
    lab.reset()
    assert not any(p["Pid"] == pid for p in lab.plugins()["Processes"])
    assert not Path(f"/proc/{pid}").exists()
