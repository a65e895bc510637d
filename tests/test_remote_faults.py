"""Remote plugins that misbehave: each fault gives one clear line and leaves nothing half made.

The session's engine runs with CNMLAB_PLUGIN_TIMEOUT=2 (conftest), so a hung plugin costs 2 s.
"""

import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import in_world, ip_of, ping

from cnmlab.errors import CnmError

pytestmark = pytest.mark.kernel

FAULT_PLUGIN = str(Path(__file__).parent / "fault_plugin.py")


@pytest.fixture
def faulty(lab, tmp_path):
    """Start a fault plugin: faulty(fault, once=False) -> (name, log path)."""

    def start(fault: str, once: bool = False):
        log = tmp_path / f"{fault}.log"
        argv = [sys.executable, FAULT_PLUGIN, "--name", f"f-{fault}", "--fault", fault, "--log", str(log)]
        proc = lab.plugin_run(argv + (["--once"] if once else []))
        assert proc["Name"] == f"f-{fault}"
        return proc["Name"], log

    yield start
    for p in lab.plugins()["Processes"]:
        lab.plugin_stop(str(p["Pid"]), force=True)


def _expect_error(call, into: list) -> None:
    try:
        call()
    except CnmError as exc:
        into.append(exc)


def calls(log: Path) -> list[str]:
    return [line.rsplit(".", 1)[-1] for line in log.read_text().split()] if log.exists() else []


def assert_clean(lab, container: str, network: str | None = None) -> None:
    """No container record, no sandbox namespace, no endpoint left on the network."""
    assert container not in {c["Names"][0].lstrip("/") for c in lab.containers()}
    assert container not in in_world(lab, None, "ip", "netns", "list", check=True).stdout.split()
    if network:
        assert lab.network_inspect(network)["Containers"] == {}


def test_malformed_json_reply(faulty, lab, cli):
    name, _ = faulty("malformed")
    before = {n["Name"] for n in lab.networks()}
    result = cli("network", "create", "-d", name, "badnet")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        result.stderr.strip()]  # one line
    assert "malformed reply to /NetworkDriver.CreateNetwork: not JSON" in result.stderr
    assert {n["Name"] for n in lab.networks()} == before
    # the failed create took no pool: the next network gets the first free default pool
    net = lab.network_create("after")
    assert lab.network_inspect(net["Id"])["IPAM"]["Config"][0]["Subnet"].startswith("172.")


def test_reply_missing_required_field(faulty, lab):
    name, log = faulty("missing", once=True)
    lab.network_create("mnet", driver=name, subnet="10.70.0.0/24")
    with pytest.raises(CnmError) as err:
        lab.run("aa", network="mnet")
    assert "Join reply is missing InterfaceName.SrcName; rolled back" in err.value.message
    assert_clean(lab, "aa", "mnet")
    assert calls(log)[-3:] == ["Join", "Leave", "DeleteEndpoint"]  # the plugin was told to undo
    # the address went back to the pool and the next join works (eth0 again)
    lab.run("bb", network="mnet")
    assert ip_of(lab, "bb", "mnet") == "10.70.0.2"
    assert in_world(lab, "bb", "ip", "-o", "addr", "show", "eth0", check=True).stdout.count("10.70.0.2/24") == 1
    lab.rm("bb", force=True)
    lab.network_rm("mnet")


def test_plugin_that_hangs_delays_only_the_work_that_needs_it(faulty, lab):
    """While a plugin keeps a `run` waiting (its Join), reads answer and unrelated changes are made
    and stored; the hung run fails at the plugin's timeout, naming it, and leaves nothing behind."""
    name, log = faulty("hang")
    lab.network_create("hnet", driver=name, subnet="10.71.0.0/24")
    lab.network_create("other")
    lab.run("bystander", network="other")
    store = lab.request("GET", "/engine/status")["store"]
    failed = []
    hung = threading.Thread(target=lambda: _expect_error(lambda: lab.run("aa", network="hnet"), failed))
    hung.start()
    while "Join" not in calls(log):  # the plugin has the Join and will not answer it
        time.sleep(0.02)
    # ps, ls and inspect answer while the plugin holds the run
    names = [c["Names"][0] for c in lab.containers()]
    nets = {n["Name"] for n in lab.networks()}
    seen = lab.inspect("bystander")["Name"]
    # and unrelated changes go on: a bridge network, a container on it stopped and started, one on "other" removed
    made = lab.network_create("during")
    lab.run("during-c", network="during")
    lab.stop("during-c")  # a process's exit and a start by hand hold only their container and networks
    lab.start("during-c")
    nameless = lab.run(None)["Id"]  # Docker's random name, on the default bridge
    lab.rm("bystander", force=True)
    lab.rm(nameless, force=True)
    stored = _stored_names(store)  # acknowledged, so in the file, while the run's batch waits
    during_ip = ip_of(lab, "during-c", "during")
    still_hung = hung.is_alive()
    hung.join()
    assert still_hung, "an unrelated change waited for the hung plugin's timeout"
    assert "/bystander" in names and {"hnet", "other"} <= nets and seen == "/bystander"
    assert {"during", "during-c"} <= stored and "bystander" not in stored
    (err,) = failed
    assert f"plugin {name} did not answer /NetworkDriver.Join within 2 s (the limit is CNMLAB_PLUGIN_TIMEOUT)" \
        in err.message
    assert_clean(lab, "aa", "hnet")
    assert "DeleteEndpoint" in calls(log)
    assert [c["IPv4Address"] for c in lab.network_inspect(made["Id"])["Containers"].values()] == [during_ip + "/16"]
    lab.rm("during-c", force=True)
    lab.network_rm("during")
    lab.network_rm("hnet")
    assert "hnet" not in {n["Name"] for n in lab.networks()}


def test_work_on_the_object_a_hung_call_holds_waits_for_it(faulty, lab):
    """A change naming the container whose join the plugin holds runs after it, in order."""
    name, log = faulty("hang")
    lab.network_create("hnet2", driver=name, subnet="10.72.0.0/24")
    lab.create("held", network="hnet2")
    failed = []
    hung = threading.Thread(target=lambda: _expect_error(lambda: lab.start("held"), failed))
    hung.start()
    while "Join" not in calls(log):
        time.sleep(0.02)
    lab.rm("held", force=True)  # waits for the start to fail, then removes the container
    hung.join()
    (err,) = failed  # the start ran to the plugin's timeout: the rm did not pull the container from under it
    assert f"plugin {name} did not answer /NetworkDriver.Join" in err.message
    assert_clean(lab, "held", "hnet2")
    lab.network_rm("hnet2")


def _stored_names(store: str) -> set[str]:
    import json
    import sqlite3

    db = sqlite3.connect(f"file:{store}?mode=ro", uri=True)
    try:
        return {json.loads(data).get("name") for (data,) in db.execute("SELECT data FROM objects")}
    finally:
        db.close()


def test_plugin_dies_mid_join(faulty, lab):
    name, _ = faulty("die")
    lab.network_create("dnet", driver=name, subnet="10.72.0.0/24")
    with pytest.raises(CnmError) as err:
        lab.run("aa", network="dnet")
    assert f"plugin {name} closed the connection during /NetworkDriver.Join (did it exit?)" in err.value.message
    assert_clean(lab, "aa", "dnet")
    proc = next(p for p in lab.plugins()["Processes"] if p["Name"] == name)
    assert not proc["Running"] and proc["ExitCode"] == 3
    # with the plugin gone, the network can still be removed (its side is dropped with a warning)
    lab.network_rm("dnet")
    assert "dnet" not in {n["Name"] for n in lab.networks()}
    with pytest.raises(CnmError, match=f"plugin {name} is not running"):
        lab.network_create("dnet2", driver=name)
    assert "dnet2" not in {n["Name"] for n in lab.networks()}


def test_err_reply_is_shown_as_is_and_rolled_back(faulty, lab, cli):
    name, log = faulty("err")
    lab.network_create("enet", driver=name, subnet="10.73.0.0/24")
    result = cli("run", "--name", "aa", "--network", "enet")
    assert result.returncode != 0
    assert result.stderr == "Error: switch port 7 is broken\n"
    assert_clean(lab, "aa", "enet")
    assert "Join" not in calls(log)


def test_socket_that_is_not_a_plugin(faulty, lab):
    name, _ = faulty("notplugin")
    with pytest.raises(CnmError) as err:
        lab.network_create("xnet", driver=name)
    # what it does (banner, hang-up) decides the rest of the sentence; the verdict is the same
    assert err.value.message.startswith(f"/run/docker/plugins/{name}.sock is not a Docker plugin: it ")
    assert "\n" not in err.value.message
    assert "xnet" not in {n["Name"] for n in lab.networks()}
    listed = {r["Name"]: r for r in lab.plugins()["Remote"]}
    assert listed[name]["Implements"] is None and "not a Docker plugin" in listed[name]["Error"]
    # a working network afterwards: nothing of the failed attempt is in the way
    lab.network_create("ok")
    lab.run("aa", network="ok")
    lab.run("bb", network="ok")
    assert ping(lab, "aa", ip_of(lab, "bb", "ok"))
