"""The example remote plugin (examples/remote-plugin), a separate process speaking Docker's plugin
protocol over a Unix socket, runs the whole CNM lifecycle on the real kernel."""

import sys
import time
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


def test_remote_networks_do_not_outlive_the_engine(labbridge, lab):
    """A plugin lives in the lab world; after a restart the world is new and the plugin is gone,
    so its networks are dropped (with their endpoints) and the rest of the lab comes back."""
    lab.network_create("lbnet", driver="labbridge", subnet="10.53.0.0/24")
    lab.network_create("plain", subnet="10.54.0.0/24")
    lab.run("aa", network="lbnet")
    lab.connect("plain", "aa")
    pid = labbridge["Pid"]
    lab.stop_engine()
    names = {n["Name"] for n in lab.networks()}  # this call starts and restores a new engine
    assert "plain" in names and "lbnet" not in names
    assert set(lab.inspect("aa")["NetworkSettings"]["Networks"]) == {"plain"}
    assert lab.plugins()["Processes"] == []
    deadline = time.monotonic() + 5  # the kernel sent it SIGTERM when its parent, the engine, went
    while time.monotonic() < deadline and _alive(pid):
        time.sleep(0.05)
    assert not _alive(pid)
    lab.rm("aa", force=True)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[-1][:1] != "Z"
    except OSError:
        return False


# -- remote IPAM (examples/remote-plugin/labipam_plugin.py) -------------------------------------
IPAM_PLUGIN = str(Path(PLUGIN).parent / "labipam_plugin.py")


@pytest.fixture
def labipam(lab):
    proc = lab.plugin_run([sys.executable, IPAM_PLUGIN])
    assert proc["Name"] == "labipam"
    yield proc
    for p in lab.plugins()["Processes"]:
        lab.plugin_stop(str(p["Pid"]), force=True)


def test_remote_ipam_gives_pool_gateway_and_addresses(labipam, lab):
    lab.network_create("ipnet", ipam_driver="labipam")  # the bridge driver, the plugin's addresses
    ipam = lab.network_inspect("ipnet")["IPAM"]
    assert ipam["Driver"] == "labipam"
    assert ipam["Config"] == [{"Subnet": "10.200.0.0/24", "Gateway": "10.200.0.1"}]
    lab.run("aa", network="ipnet")
    lab.run("bb", network="ipnet")
    assert (ip_of(lab, "aa", "ipnet"), ip_of(lab, "bb", "ipnet")) == ("10.200.0.254", "10.200.0.253")
    assert ping(lab, "aa", "10.200.0.253") and ping(lab, "bb", "10.200.0.1")
    lab.rm("aa", force=True)  # ReleaseAddress: the plugin hands .254 out again
    lab.run("cc", network="ipnet")
    assert ip_of(lab, "cc", "ipnet") == "10.200.0.254"
    lab.rm("bb", force=True)
    lab.rm("cc", force=True)
    lab.network_rm("ipnet")  # ReleaseAddress (gateway), ReleasePool: the same pool is free again
    lab.network_create("ipnet2", ipam_driver="labipam")
    assert lab.network_inspect("ipnet2")["IPAM"]["Config"][0]["Subnet"] == "10.200.0.0/24"


def test_remote_ipam_error_is_shown_as_is_and_rolled_back(labipam, lab):
    lab.network_create("tiny", ipam_driver="labipam", subnet="10.210.0.0/30")  # .1 gateway, .2 one host
    lab.run("aa", network="tiny")
    assert ip_of(lab, "aa", "tiny") == "10.210.0.2"
    with pytest.raises(CnmError) as err:
        lab.run("bb", network="tiny")
    assert err.value.message == "labipam: no free address in 10.210.0.0/30"
    assert "bb" not in {c["Names"][0].lstrip("/") for c in lab.containers()}
    lab.rm("aa", force=True)
    lab.run("bb", network="tiny")  # nothing of the failed attempt is held
    assert ip_of(lab, "bb", "tiny") == "10.210.0.2"
    with pytest.raises(CnmError) as err:  # --ip asks the plugin for that very address
        lab.run("cc", network="tiny", ip="10.210.0.1")
    assert err.value.message == "labipam: address 10.210.0.1 already in use"


def test_remote_ipam_pool_must_not_overlap_the_lab(labipam, lab):
    lab.network_create("taken", subnet="10.200.0.0/24")  # default IPAM
    with pytest.raises(CnmError, match="Pool overlaps with other one on this address space"):
        lab.network_create("clash", ipam_driver="labipam", subnet="10.200.0.0/25")
    assert "clash" not in {n["Name"] for n in lab.networks()}
    lab.network_create("fine", ipam_driver="labipam", subnet="10.200.0.0/25".replace("200", "201"))
    assert lab.network_inspect("fine")["IPAM"]["Config"][0]["Subnet"] == "10.201.0.0/25"


def test_unknown_ipam_driver(lab):
    with pytest.raises(NotFound, match='plugin "nosuchipam" not found'):
        lab.network_create("x", ipam_driver="nosuchipam")
    assert "x" not in {n["Name"] for n in lab.networks()}


def test_plugin_commands_in_the_cli(lab, cli):
    started = cli("plugin", "run", "--", sys.executable, PLUGIN, "--name", "clibridge")
    assert started.returncode == 0, started.stderr
    assert started.stdout.startswith("plugin clibridge running (pid ")
    assert "clibridge" in cli("plugin", "ls").stdout
    assert "clibridge" in cli("network", "create", "-d", "?", "x").stdout.split()
    stopped = cli("plugin", "rm", "clibridge")
    assert stopped.returncode == 0 and stopped.stdout.strip() == "clibridge"
    assert "clibridge" not in cli("plugin", "ls").stdout
    missing = cli("plugin", "rm", "clibridge")
    assert missing.returncode == 1 and missing.stderr.startswith("Error: no plugin process clibridge")
    failed = cli("plugin", "run", "--", sys.executable, "-c", "raise SystemExit('no socket for you')")
    assert failed.returncode == 1 and failed.stderr.strip() == "Error: the plugin exited with code 1: no socket for you"


def test_remote_driver_with_remote_ipam(labbridge, labipam, lab):
    """Two plugin processes, two protocols: labbridge wires, labipam numbers."""
    lab.network_create("both", driver="labbridge", ipam_driver="labipam")
    lab.run("aa", network="both")
    lab.run("bb", network="both")
    assert ip_of(lab, "aa", "both") == "10.200.0.254"
    assert "default via 10.200.0.1 dev eth0" in in_world(lab, "aa", "ip", "route", check=True).stdout
    assert ping(lab, "aa", "10.200.0.253")
    lab.rm("aa", force=True)
    lab.rm("bb", force=True)
    lab.network_rm("both")


def test_optional_calls_answering_404_are_not_implemented(labbridge, lab):
    """labbridge has no DiscoverNew or ProgramExternalConnectivity: both 404, and both are optional."""
    lab.network_create("lbnet", driver="labbridge", subnet="10.55.0.0/24")
    lab.run("aa", network="lbnet", ports=["8080:80"])  # ProgramExternalConnectivity -> 404: no ports, no error
    assert in_world(lab, "aa", "ping", "-c3", "-i0.2", "-W1", "10.55.0.1").returncode == 0
    lab.host_add("host2")  # DiscoverNew for the new host -> 404: the host is added all the same
    assert "host2" in {h["Name"] for h in lab.hosts()}
    lab.rm("aa", force=True)
    lab.network_rm("lbnet")
