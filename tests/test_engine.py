"""The engine: status, stop, autostart, restore after stop and after kill -9, events."""

import json
import os
import signal
import threading
import time

import pytest

from cnmlab.client import Client
from conftest import in_world, ping

pytestmark = pytest.mark.kernel


def _started_again(data: dict) -> dict:
    """A restored running container is started again, as dockerd restarts it: a new StartedAt."""
    data["State"].pop("StartedAt")
    return data


def snapshot(client):
    return {
        "networks": sorted((n["Name"], n["Id"], json.dumps(n["IPAM"]), json.dumps(n["Containers"], sort_keys=True),
                            n.get("Host") or "") for n in client.networks()),
        "containers": sorted(json.dumps(_started_again(client.inspect(c["Id"])), sort_keys=True)
                             for c in client.containers()),
        "hosts": client.hosts(),
        "host1-links": sorted(line.split(": ")[1].split("@")[0] for line in
                              in_world(client, "host1", "ip", "-o", "link").stdout.splitlines()),
        "host1-rules": in_world(client, "host1", "iptables", "-S").stdout,
        "host1-nat": in_world(client, "host1", "iptables", "-t", "nat", "-S").stdout,
    }


def build(client):
    client.network_create("net-a", subnet="10.77.1.0/24")
    client.network_create("net-b")
    client.network_create("net-i", internal=True)
    client.run("aa", network="net-a", ip="10.77.1.50")
    client.run("bb", network="net-a", ports=["8080:80"])
    client.connect("net-b", "bb")
    client.run("ii", network="net-i")
    client.host_add("host2")
    client.run("far", host="host2")


def test_status_json_and_socket_mode(engine, cli):
    result = cli("engine", "status", "--json")
    data = json.loads(result.stdout)
    assert {"pid", "socket", "version"} <= set(data)
    assert os.stat(data["socket"]).st_mode & 0o777 == 0o600


def test_the_descriptor_table_is_sized_at_start(engine):
    """The kernel grows a threaded process's descriptor table only after an RCU grace period: a
    `run` stalled 10-25 ms where a build crossed 256 and 512 descriptors just after a reset. The
    engine takes its table's full size before its threads start (FDSize in /proc is the table's
    slots), through a descriptor it closes again."""
    from cnmlab.engine.server import FD_TABLE

    pid = engine.status()["pid"]
    with open(f"/proc/{pid}/status") as f:
        size = int(next(line.split()[1] for line in f if line.startswith("FDSize:")))
    with open(f"/proc/{pid}/limits") as f:
        limit = int(next(line.split()[3] for line in f if line.startswith("Max open files")))
    top = min(FD_TABLE, limit) - 1
    assert size > top, (size, limit)
    assert str(top) not in os.listdir(f"/proc/{pid}/fd")  # the slot was taken once, not kept open


def _kill_9(client) -> None:
    pid = client.status()["pid"]
    os.kill(pid, signal.SIGKILL)
    deadline = time.time() + 10
    while time.time() < deadline and os.path.exists(f"/proc/{pid}"):
        time.sleep(0.05)


def test_reset_forgets_the_drivers_the_last_lab_used(lab):
    """After a reset the lab is a fresh engine's: a driver the last lab loaded (nat adds per-host
    chains) sets up no new host, so a restart restores the very same rules."""
    lab.network_create("was-nat", driver="nat")
    lab.reset()
    before = in_world(lab, "host1", "iptables", "-S").stdout
    _kill_9(lab)
    assert in_world(lab, "host1", "iptables", "-S").stdout == before
    assert "HNS" not in before


def test_restore_after_kill_9_is_exact(lab):
    build(lab)
    before = snapshot(lab)
    pid = lab.status()["pid"]
    os.kill(pid, signal.SIGKILL)
    deadline = time.time() + 10
    while time.time() < deadline and os.path.exists(f"/proc/{pid}"):
        time.sleep(0.05)
    after = snapshot(lab)  # the first call starts a new engine, which restores from SQLite
    assert lab.status()["pid"] != pid
    assert after == before
    assert ping(lab, "bb", "10.77.1.50")
    address = lab.host("host1")["Address"].split("/")[0]
    got = in_world(lab, "host2", "python3", "-c",
                   f"import urllib.request;print(urllib.request.urlopen('http://{address}:8080',timeout=3).read().decode())")
    assert got.stdout.startswith("bb ")


def test_restore_after_engine_stop(lab, cli):
    build(lab)
    before = snapshot(lab)
    assert cli("engine", "stop").returncode == 0
    assert not Client(autostart=False).running()
    assert snapshot(lab) == before


def test_ipam_cursor_survives_restart(lab, cli):
    lab.network_create("c1")
    lab.network_rm("c1")
    cli("engine", "stop")
    lab.network_create("c2")
    assert lab.network_inspect("c2")["IPAM"]["Config"][0]["Subnet"] == "172.19.0.0/16"


def test_events_stream_reports_changes_from_another_client(lab):
    seen = []
    ready = threading.Event()

    def listen():
        for event in Client().events():
            ready.set()
            seen.append(event)
            if type(event).__name__ == "EndpointJoined":
                return

    t = threading.Thread(target=listen, daemon=True)
    t.start()
    time.sleep(0.3)
    lab.run("evt")
    t.join(timeout=10)
    names = [type(e).__name__ for e in seen]
    assert "ContainerCreated" in names or "EndpointJoined" in names
    joined = [e for e in seen if type(e).__name__ == "EndpointJoined"][0]
    assert joined.container == "evt" and joined.interface == "eth0"


def test_killed_engine_leaves_nothing_behind(engine):
    """The whole world is namespaces of the engine: killing it frees every lab object."""
    status = engine.status()
    world_net = os.readlink(f"/proc/{status['pid']}/ns/net")
    assert world_net != os.readlink("/proc/self/ns/net"), "the engine lives in its own network namespace"
    assert os.readlink(f"/proc/{status['pid']}/ns/mnt") != os.readlink("/proc/self/ns/mnt")
