"""Services: replicas behind a VIP, balanced per connection; DNS names; the routing mesh."""

import json
import sys
import threading
import time

import pytest
from conftest import in_world, ip_of

from cnmlab.errors import Conflict, Forbidden, InvalidParameter, NotFound
from cnmlab.swarm.service import TaskReplaced

pytestmark = pytest.mark.kernel

# Sequential HTTP requests from inside a sandbox; each replica's built-in server answers
# "NAME ADDRESS", so the names count where every connection went.
FETCH = """
import collections, sys, urllib.request
url, n = sys.argv[1], int(sys.argv[2])
seen = collections.Counter(urllib.request.urlopen(url, timeout=3).read().decode().split()[0] for _ in range(n))
print(" ".join(f"{k}={v}" for k, v in sorted(seen.items())))
"""


def spread(lab, where, url, n=30) -> dict:
    result = in_world(lab, where, sys.executable, "-c", FETCH, url, str(n))
    assert result.returncode == 0, result.stderr
    return {k: int(v) for k, v in (pair.split("=") for pair in result.stdout.split())}


def getent(lab, container, name) -> list[str]:
    result = in_world(lab, container, "getent", "ahostsv4", name)
    return sorted({line.split()[0] for line in result.stdout.splitlines()})


def rules(lab, where) -> list[str]:
    """Every chain and rule of a namespace, without the packet counters iptables-save prints."""
    text = in_world(lab, where, "iptables-save").stdout
    return [" ".join(line.split()[:2]) if line.startswith(":") else line for line in text.splitlines()
            if not line.startswith("#")]


@pytest.fixture
def web(lab):
    lab.network_create("net-a", subnet="10.77.1.0/24")
    lab.run("client", network="net-a")
    svc = lab.service_create("web", "net-a", replicas=3, ports=["8080:80"])
    return lab, svc


def test_the_vip_spreads_connections_evenly_and_scale_changes_it(web):
    lab, svc = web
    vip = svc["Endpoint"]["VirtualIPs"][0]["Addr"].split("/")[0]
    replicas = sorted(ip_of(lab, f"web.{i}", "net-a") for i in (1, 2, 3))
    assert [t["Name"] for t in svc["Tasks"]] == ["web.1", "web.2", "web.3"]
    assert getent(lab, "client", "web") == [vip], "the service name resolves to the VIP"
    assert getent(lab, "client", "tasks.web") == replicas, "tasks.NAME resolves to the replicas"
    assert vip not in replicas and vip.startswith("10.77.1."), "the VIP comes from the network's pool"
    assert spread(lab, "client", "http://web/") == {"web.1": 10, "web.2": 10, "web.3": 10}
    chain = [r for r in in_world(lab, "client", "iptables", "-t", "nat", "-S").stdout.splitlines() if "nth" in r]
    assert len(chain) == 2 and "--every 3 --packet 0" in chain[0]

    lab.service_scale("web", 2)
    assert spread(lab, "client", f"http://{vip}/") == {"web.1": 15, "web.2": 15}
    assert getent(lab, "client", "tasks.web") == replicas[:2]
    lab.service_scale("web", 5)
    assert spread(lab, "client", "http://web/") == {f"web.{i}": 6 for i in range(1, 6)}
    assert lab.service_inspect("web")["ServiceStatus"] == {"RunningTasks": 5, "DesiredTasks": 5}
    # A replica balances the VIP for its own connections too (each sandbox has the chain).
    assert sum(spread(lab, "web.4", "http://web/", 10).values()) == 10


def test_the_routing_mesh_answers_on_the_hosts_address(web):
    lab, _ = web
    host_ip = lab.hosts()[0]["Address"].split("/")[0]
    assert spread(lab, "underlay", f"http://{host_ip}:8080/", 9) == {"web.1": 3, "web.2": 3, "web.3": 3}
    assert spread(lab, "host1", f"http://{host_ip}:8080/", 3) == {"web.1": 1, "web.2": 1, "web.3": 1}


def test_rm_leaves_no_rules_names_or_replicas_behind(lab):
    lab.network_create("net-a", subnet="10.77.1.0/24")
    lab.run("client", network="net-a")
    before = {ns: rules(lab, ns) for ns in ("client", "host1")}
    svc = lab.service_create("web", "net-a", replicas=3, ports=["8080:80"])
    vip = svc["Endpoint"]["VirtualIPs"][0]["Addr"]
    assert rules(lab, "client") != before["client"] and rules(lab, "host1") != before["host1"]
    lab.service_scale("web", 1)
    lab.service_rm("web")
    assert {ns: rules(lab, ns) for ns in ("client", "host1")} == before
    assert [c["Names"][0] for c in lab.containers()] == ["/client"]
    assert getent(lab, "client", "web") == [] and getent(lab, "client", "tasks.web") == []
    assert lab.services() == []
    again = lab.service_create("web2", "net-a", replicas=0)
    assert again["Endpoint"]["VirtualIPs"][0]["Addr"] == vip, "the VIP went back to the pool"


def test_dnsrr_has_no_vip_and_names_every_replica(lab):
    lab.network_create("net-a", subnet="10.77.1.0/24")
    lab.run("client", network="net-a")
    svc = lab.service_create("db", "net-a", replicas=2, endpoint_mode="dnsrr")
    assert svc["Endpoint"]["VirtualIPs"] == []
    replicas = sorted(ip_of(lab, f"db.{i}", "net-a") for i in (1, 2))
    assert getent(lab, "client", "db") == replicas
    assert getent(lab, "client", "tasks.db") == replicas
    assert "DOCKER-VIP" not in in_world(lab, "client", "iptables", "-t", "nat", "-S").stdout


def test_a_client_that_joins_later_balances_and_leaving_removes_its_chain(web):
    lab, _ = web
    lab.network_create("net-b")
    lab.run("late", network="net-b")
    lab.connect("net-a", "late")
    assert spread(lab, "late", "http://web/", 6) == {"web.1": 2, "web.2": 2, "web.3": 2}
    lab.disconnect("net-a", "late")
    assert "DOCKER-VIP" not in in_world(lab, "late", "iptables", "-t", "nat", "-S").stdout


def test_a_replica_removed_by_hand_is_replaced_in_its_slot(web):
    lab, _ = web
    seen: list = []

    def listen():
        for event in lab.events():
            if isinstance(event, TaskReplaced):
                seen.append(event)
                return

    threading.Thread(target=listen, daemon=True).start()
    time.sleep(0.3)  # the stream is open before the removal
    old = lab.inspect("web.2")["Id"]
    lab.rm("web.2")
    svc = lab.service_inspect("web")
    assert svc["ServiceStatus"] == {"RunningTasks": 3, "DesiredTasks": 3}
    assert [t["Name"] for t in svc["Tasks"]] == ["web.1", "web.2", "web.3"]
    new = lab.inspect("web.2")["Id"]
    assert new != old and new in {t["ContainerID"] for t in svc["Tasks"]}
    assert spread(lab, "client", "http://web/", 30) == {"web.1": 10, "web.2": 10, "web.3": 10}
    assert sorted(getent(lab, "client", "tasks.web")) == sorted(ip_of(lab, f"web.{i}", "net-a") for i in (1, 2, 3))
    for _ in range(50):
        if seen:
            break
        time.sleep(0.1)
    assert seen and (seen[0].service, seen[0].slot, seen[0].task) == ("web", 2, "web.2")
    assert (seen[0].old_id, seen[0].new_id) == (old, new)
    lab.service_scale("web", 2)  # scaling down is not a loss: nothing comes back
    assert [t["Name"] for t in lab.service_inspect("web")["Tasks"]] == ["web.1", "web.2"]
    assert "web.3" not in [c["Names"][0][1:] for c in lab.containers()]


def test_network_inspect_shows_services_when_verbose(web):
    lab, svc = web
    plain = lab.network_inspect("net-a")
    assert "Services" not in plain
    verbose = lab.network_inspect("net-a", verbose=True)["Services"]["web"]
    assert verbose["VIP"] == svc["Endpoint"]["VirtualIPs"][0]["Addr"].split("/")[0]
    assert verbose["Ports"] == ["Target: 80, Publish: 8080"]
    assert sorted(t["EndpointIP"] for t in verbose["Tasks"]) == sorted(
        ip_of(lab, f"web.{i}", "net-a") for i in (1, 2, 3))


def test_restart_restores_services(web):
    lab, svc = web
    before = lab.service_inspect("web")
    pid = lab.status()["pid"]
    lab.stop_engine()
    after = lab.service_inspect("web")  # a new engine, restored from SQLite
    assert lab.status()["pid"] != pid
    assert after == before
    assert spread(lab, "client", "http://web/") == {"web.1": 10, "web.2": 10, "web.3": 10}
    host_ip = lab.hosts()[0]["Address"].split("/")[0]
    assert sum(spread(lab, "underlay", f"http://{host_ip}:8080/", 3).values()) == 3
    lab.run("other", network="net-a")  # the VIP stays reserved: no container gets it
    assert ip_of(lab, "other", "net-a") != svc["Endpoint"]["VirtualIPs"][0]["Addr"].split("/")[0]


@pytest.mark.parametrize("kwargs, error, text", [
    ({"name": "we.b", "network": "net-a"}, InvalidParameter, "Invalid service name"),
    ({"name": "web", "network": "bridge"}, InvalidParameter, "cannot be used with services"),
    ({"name": "web", "network": "nosuch"}, NotFound, "network nosuch not found"),
    ({"name": "web", "network": "net-a", "replicas": -1}, InvalidParameter, "invalid replicas"),
    ({"name": "web", "network": "net-a", "ports": ["8080:80"], "endpoint_mode": "dnsrr"}, InvalidParameter,
     "can't be used with dnsrr mode"),
    ({"name": "web", "network": "net-a", "endpoint_mode": "ipvs"}, InvalidParameter, "invalid endpoint mode"),
    ({"name": "web", "network": "net-a", "ports": ["80"]}, InvalidParameter, "invalid port specification"),
])
def test_bad_input_is_one_clear_error_and_makes_nothing(lab, kwargs, error, text):
    lab.network_create("net-a", subnet="10.77.1.0/24")
    with pytest.raises(error, match=text):
        lab.service_create(**kwargs)
    assert lab.services() == [] and lab.containers() == []


def test_conflicts_leave_nothing_half_made(lab):
    lab.network_create("net-a", subnet="10.77.1.0/24")
    lab.run("web.2", network="net-a")  # the second replica's name is taken
    with pytest.raises(Conflict, match="web.2"):
        lab.service_create("web", "net-a", replicas=3)
    assert [c["Names"][0] for c in lab.containers()] == ["/web.2"] and lab.services() == []
    lab.rm("web.2")
    lab.service_create("web", "net-a", replicas=1, ports=["8080:80"])
    with pytest.raises(Conflict, match="already exists"):
        lab.service_create("web", "net-a")
    with pytest.raises(Conflict, match="8080"):
        lab.service_create("api", "net-a", ports=["8080:81"])
    with pytest.raises(Conflict, match="routing mesh of service web"):
        lab.run("other", network="net-a", ports=["8080:80"])
    assert "other" not in [c["Names"][0][1:] for c in lab.containers()]
    with pytest.raises(NotFound):
        lab.service_scale("nosuch", 2)
    lab.service_scale("web", 0)
    with pytest.raises(Forbidden, match="in use by service web"):
        lab.network_rm("net-a")
    assert lab.network_inspect("net-a")


def test_a_served_network_is_refused_by_name_and_skipped_by_prune(lab, cli):
    lab.network_create("net-a", subnet="10.77.1.0/24")
    lab.network_create("net-z")
    lab.service_create("web", "net-a", replicas=2)
    for replicas in (2, 0):  # Docker asks the swarm first: the service, not its tasks' endpoints
        lab.service_scale("web", replicas)
        with pytest.raises(Forbidden, match=r"^network net-a is in use by service web: remove it first"):
            lab.network_rm("net-a")
        refused = cli("network", "rm", "net-a")
        assert refused.returncode == 1 and refused.stderr.count("\n") == 1, refused.stderr
        assert "in use by service web" in refused.stderr and "web.1" not in refused.stderr
    pruned = cli("network", "prune", "-f")
    assert pruned.returncode == 0, pruned.stderr
    assert "net-z" in pruned.stdout and "net-a" not in pruned.stdout
    assert [n["Name"] for n in lab.networks() if n["Name"].startswith("net-")] == ["net-a"]
    lab.service_create("api", "net-a", replicas=0, endpoint_mode="dnsrr")
    with pytest.raises(Forbidden, match="in use by services api, web: remove them first"):
        lab.network_rm("net-a")
    lab.service_rm("web")
    lab.service_rm("api")
    lab.network_rm("net-a")
    assert lab.containers() == []


def test_cli(lab, cli):
    lab.network_create("net-a", subnet="10.77.1.0/24")
    created = cli("service", "create", "--name", "web", "--network", "net-a", "--replicas", "2", "-p", "8080:80")
    assert created.returncode == 0, created.stderr
    listed = json.loads(cli("service", "ls", "--json").stdout)
    assert [(s["Spec"]["Name"], s["ServiceStatus"]["RunningTasks"]) for s in listed] == [("web", 2)]
    table = cli("service", "ls").stdout
    assert "web" in table and "2/2" in table and "*:8080->80/tcp" in table
    assert cli("service", "scale", "web=3").returncode == 0
    tasks = json.loads(cli("service", "ps", "web", "--json").stdout)
    assert [t["Name"] for t in tasks] == ["web.1", "web.2", "web.3"]
    bad = cli("service", "scale", "web")
    assert bad.returncode != 0 and bad.stderr.strip() == "Error: invalid scale specifier 'web': use NAME=REPLICAS"
    assert cli("service", "rm", "web").returncode == 0
    assert json.loads(cli("service", "ls", "--json").stdout) == []
    missing = cli("service", "rm", "web")
    assert missing.returncode == 1 and "service web not found" in missing.stderr


def test_across_hosts_on_an_overlay_every_host_answers(lab):
    if "overlay" not in {d["Name"] for d in lab.drivers()}:
        pytest.skip("the overlay driver is not installed")
    lab.host_add("host2")
    lab.network_create("ov", driver="overlay", attachable=True)
    lab.run("far", network="ov", host="host2")
    before = rules(lab, "host2")
    lab.service_create("web", "ov", replicas=2, ports=["8080:80"], host="host1")
    assert spread(lab, "far", "http://web/", 10) == {"web.1": 5, "web.2": 5}, "the VIP works across hosts"
    assert getent(lab, "far", "tasks.web") == sorted(ip_of(lab, f"web.{i}", "ov") for i in (1, 2))
    addresses = {h["Name"]: h["Address"].split("/")[0] for h in lab.hosts()}
    # host2 has no replica: it forwards to host1, which answers from its own replicas.
    assert spread(lab, "underlay", f"http://{addresses['host2']}:8080/", 6) == {"web.1": 3, "web.2": 3}
    assert spread(lab, "underlay", f"http://{addresses['host1']}:8080/", 6) == {"web.1": 3, "web.2": 3}
    host3 = lab.host_add("host3")["Address"].split("/")[0]
    assert spread(lab, "underlay", f"http://{host3}:8080/", 2) == {"web.1": 1, "web.2": 1}, "a new host joins"
    lab.service_rm("web")
    assert rules(lab, "host2") == before


def test_across_hosts_the_mesh_balances_over_every_replica(lab):
    if "overlay" not in {d["Name"] for d in lab.drivers()}:
        pytest.skip("the overlay driver is not installed")
    lab.host_add("host2")
    lab.network_create("ov", driver="overlay", attachable=True)
    for host in ("host1", "host2"):  # docker_gwbridge (and its rules) come with a host's first overlay sandbox
        lab.run(f"far-{host}", network="ov", host=host)
    before = {h: rules(lab, h) for h in ("host1", "host2")}
    lab.service_create("web", "ov", replicas=3, ports=["8080:80"])  # slots 1, 3 on host1; 2 on host2
    hosts = {t["Name"]: t["Host"] for t in lab.service_inspect("web")["Tasks"]}
    assert hosts == {"web.1": "host1", "web.2": "host2", "web.3": "host1"}
    addresses = {h["Name"]: h["Address"].split("/")[0] for h in lab.hosts()}
    even = {"web.1": 10, "web.2": 10, "web.3": 10}
    for host in ("host1", "host2"):  # each host sends some connections to the other's replicas
        assert spread(lab, "underlay", f"http://{addresses[host]}:8080/", 30) == even, host
    lab.service_scale("web", 2)
    assert spread(lab, "underlay", f"http://{addresses['host1']}:8080/", 10) == {"web.1": 5, "web.2": 5}
    assert spread(lab, "far-host2", "http://web/", 10) == {"web.1": 5, "web.2": 5}, "the VIP, across hosts"
    lab.service_rm("web")
    after = {h: rules(lab, h) for h in ("host1", "host2")}
    assert after == before, {h: set(after[h]) ^ set(before[h]) for h in after}
