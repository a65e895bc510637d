"""docker-py (Docker's own Python client, PyPI `docker`) drives the lab: APIClient and
DockerClient, networks with IPAM pools, labels, internal networks and prune, containers with
aliases and fixed addresses, inspect shapes as Docker's."""

import time

import pytest

from cnmlab.client import Client

docker = pytest.importorskip("docker")

pytestmark = pytest.mark.kernel


@pytest.fixture(scope="module")
def clients(engine):
    engine.reset()
    url = f"unix://{Client().status()['socket']}"
    api = docker.APIClient(base_url=url)  # version=None: negotiated from /version, as docker-py 7 does
    high = docker.DockerClient(base_url=url)
    yield api, high
    api.close()
    high.close()
    engine.reset()


def test_negotiates_the_newest_version_and_pings(clients):
    api, high = clients
    assert api.api_version == "1.45"
    assert api.ping() is True and high.ping() is True
    assert high.version()["MinAPIVersion"] == "1.24"
    info = high.info()
    assert info["Name"] == "cnmlab" and info["Containers"] == len(Client().containers())


def _raw(method: str, path: str) -> tuple[int, dict, bytes]:
    import http.client
    import socket

    conn = http.client.HTTPConnection("localhost")
    conn.sock = socket.socket(socket.AF_UNIX)
    conn.sock.connect(Client().status()["socket"])
    conn.request(method, path)
    resp = conn.getresponse()
    return resp.status, dict(resp.getheaders()), resp.read()


def test_ping_headers_and_api_versions(clients):
    status, headers, body = _raw("HEAD", "/_ping")
    assert status == 200 and body == b""
    assert (headers["API-Version"], headers["OSType"], headers["Docker-Experimental"]) == ("1.45", "linux", "false")
    assert _raw("GET", "/v1.24/_ping")[2] == b"OK"
    old = _raw("GET", "/v1.23/networks")
    assert old[0] == 400 and b"client version 1.23 is too old. Minimum supported API version is 1.24" in old[2]
    assert _raw("GET", "/v1.46/networks")[0] == 400
    assert _raw("GET", "/v1.41/nosuchthing")[0] == 404
    assert _raw("GET", "/v1.41/images/library/nginx:1.25/json")[0] == 200


def test_networks_with_pools_labels_internal_and_prune(clients):
    api, high = clients
    ipam = docker.types.IPAMConfig(pool_configs=[docker.types.IPAMPool(
        subnet="10.77.5.0/24", iprange="10.77.5.128/25", gateway="10.77.5.254", aux_addresses={"router": "10.77.5.253"})])
    made = api.create_network("py-a", driver="bridge", ipam=ipam, labels={"course": "cnm"}, internal=True,
                              attachable=True, options={"com.docker.network.bridge.name": "br-pya"})
    net = api.inspect_network(made["Id"])
    assert net["IPAM"] == {"Driver": "default", "Options": {}, "Config": [
        {"Subnet": "10.77.5.0/24", "IPRange": "10.77.5.128/25", "Gateway": "10.77.5.254",
         "AuxiliaryAddresses": {"router": "10.77.5.253"}}]}
    assert (net["Internal"], net["Attachable"], net["Labels"]) == (True, True, {"course": "cnm"})
    assert net["Options"] == {"com.docker.network.bridge.name": "br-pya"}
    assert high.networks.get("py-a").attrs == api.inspect_network("py-a")
    dup = pytest.raises(docker.errors.APIError, api.create_network, "py-a", check_duplicate=True)
    assert dup.value.status_code == 409 and "network with name py-a already exists" in str(dup.value)

    high.networks.create("py-b", labels={"course": "other"})
    high.networks.create("py-c")
    assert [n.name for n in high.networks.list(filters={"label": "course=cnm"})] == ["py-a"]
    assert sorted(n.name for n in high.networks.list(filters={"label": "course"})) == ["py-a", "py-b"]
    assert sorted(n.name for n in high.networks.list(filters={"type": "custom"})) == ["py-a", "py-b", "py-c"]
    assert [n["Name"] for n in api.networks(names=["py-c"])] == ["py-c"]
    assert {n.name for n in high.networks.list(filters={"driver": "null"})} == {"none"}
    assert high.networks.prune(filters={"label": "course=other"}) == {"NetworksDeleted": ["py-b"]}
    assert sorted(api.prune_networks()["NetworksDeleted"]) == ["py-a", "py-c"]
    missing = pytest.raises(docker.errors.NotFound, high.networks.get, "py-a")
    assert "network py-a not found" in str(missing.value)


def test_containers_with_aliases_fixed_addresses_and_docker_shapes(clients):
    api, high = clients
    net = high.networks.create("py-d", ipam=docker.types.IPAMConfig(
        pool_configs=[docker.types.IPAMPool(subnet="10.77.6.0/24")]))
    high.networks.create("py-e", ipam=docker.types.IPAMConfig(pool_configs=[docker.types.IPAMPool(subnet="10.77.7.0/24")]))
    c1 = high.containers.run("alpine", "sleep 600", name="py1", detach=True, labels={"role": "client"},
                             network="py-d", ports={"80/tcp": 8081, "53/udp": None})
    config = api.create_networking_config({"py-d": api.create_endpoint_config(aliases=["db"], ipv4_address="10.77.6.50")})
    created = api.create_container("busybox", "sleep 600", name="py2", networking_config=config,
                                   host_config=api.create_host_config(network_mode="py-d"))
    api.start(created["Id"])
    c1.reload()
    shape = c1.attrs
    assert shape["Name"] == "/py1" and shape["Config"]["Image"] == "alpine" and shape["State"]["Running"] is True
    assert shape["Config"]["Labels"] == {"role": "client"} and shape["HostConfig"]["NetworkMode"] == "py-d"
    ep = shape["NetworkSettings"]["Networks"]["py-d"]
    assert ep["IPAddress"] == "10.77.6.2" and ep["IPPrefixLen"] == 24 and ep["Gateway"] == "10.77.6.1"
    assert ep["MacAddress"] == "02:42:0a:4d:06:02" and ep["IPAMConfig"] is None and ep["NetworkID"] == net.id
    assert shape["NetworkSettings"]["IPAddress"] == ""  # top-level fields are empty on user networks
    assert c1.ports["80/tcp"] == [{"HostIp": "0.0.0.0", "HostPort": "8081"}]
    assert c1.ports["53/udp"][0]["HostPort"].isdigit()
    two = api.inspect_container("py2")["NetworkSettings"]["Networks"]["py-d"]
    assert two["IPAddress"] == "10.77.6.50" and two["IPAMConfig"] == {"IPv4Address": "10.77.6.50"}
    assert two["Aliases"][0] == "db"
    assert high.containers.run("alpine", ["sh", "-c", "getent hosts db; exit 0"], network="py-d", remove=True) \
        .split() == [b"10.77.6.50", b"db"]  # attached: logs, wait, remove
    failed = pytest.raises(docker.errors.ContainerError, high.containers.run, "busybox", ["sh", "-c", "exit 3"],
                           remove=True)
    assert failed.value.exit_status == 3
    code, out = c1.exec_run(["getent", "hosts", "db"])
    assert (code, out.split()[:1]) == (0, [b"10.77.6.50"]), (code, out)
    exec_id = api.exec_create("py2", ["sh", "-c", "ip -4 -o addr show eth0; exit 3"])["Id"]
    assert b"10.77.6.50/24" in api.exec_start(exec_id)
    assert api.exec_inspect(exec_id)["ExitCode"] == 3

    high.networks.get("py-e").connect("py2", aliases=["store"], ipv4_address="10.77.7.9",
                                      driver_opt={"com.example.opt": "1"}, links={"py1": "one"})
    on_e = api.inspect_container("py2")["NetworkSettings"]["Networks"]["py-e"]
    assert on_e["IPAMConfig"] == {"IPv4Address": "10.77.7.9"} and on_e["Aliases"][0] == "store"
    assert on_e["DriverOpts"] == {"com.example.opt": "1"} and on_e["Links"] == ["py1:one"]
    api.connect_container_to_network("py1", "py-e", mac_address="02:42:aa:bb:cc:dd")
    assert api.inspect_container("py1")["NetworkSettings"]["Networks"]["py-e"]["MacAddress"] == "02:42:aa:bb:cc:dd"

    assert [c.name for c in high.containers.list(filters={"label": "role=client"})] == ["py1"]
    assert {c.name for c in high.containers.list(filters={"network": "py-e"})} == {"py1", "py2"}
    assert [c["Names"] for c in api.containers(filters={"name": "py2"})] == [["/py2"]]
    row = api.containers(filters={"name": "py1"})[0]
    assert isinstance(row["Created"], int) and row["Image"] == "alpine" and row["Command"] == "sleep 600"
    assert {"IP": "0.0.0.0", "PrivatePort": 80, "PublicPort": 8081, "Type": "tcp"} in row["Ports"]

    in_use = pytest.raises(docker.errors.APIError, api.remove_network, "py-d")
    assert in_use.value.status_code == 403
    high.networks.get("py-e").disconnect("py1")
    gone = pytest.raises(docker.errors.APIError, api.disconnect_container_from_network, "py1", "py-e")
    assert gone.value.status_code == 403 and "is not connected to network py-e" in str(gone.value)
    conflict = pytest.raises(docker.errors.APIError, high.containers.run, "alpine", name="py1", detach=True)
    assert conflict.value.status_code == 409 and 'The container name "/py1" is already in use' in str(conflict.value)
    c1.remove(force=True)
    api.remove_container("py2", force=True)
    assert high.containers.list(all=True) == []
    missing = pytest.raises(docker.errors.NotFound, api.inspect_container, "py1")
    assert "No such container: py1" in str(missing.value)


def test_shared_sandbox_restart_policy_and_detach_keys(clients):
    api, high = clients
    web = high.containers.run("nginx", name="py-web", detach=True)
    side = high.containers.run("alpine", "sleep 600", name="py-side", detach=True, network_mode=f"container:{web.id}",
                               restart_policy={"Name": "unless-stopped"})
    assert side.exec_run(["wget", "-qO-", "http://localhost/"]).output.startswith(b"py-web ")
    side.reload()
    assert side.attrs["HostConfig"]["NetworkMode"] == f"container:{web.id}"
    assert side.attrs["NetworkSettings"]["Networks"] == {}
    assert side.attrs["HostConfig"]["RestartPolicy"] == {"Name": "unless-stopped", "MaximumRetryCount": 0}
    refused = pytest.raises(docker.errors.APIError, api.connect_container_to_network, "py-side", "bridge")
    assert refused.value.status_code == 400 and "container sharing network namespace" in str(refused.value)

    # detach keys on a hijacked attach: the stream ends, the container runs on
    sock = api.attach_socket("py-side", params={"stdin": 1, "stream": 1, "detachKeys": "ctrl-a"})
    sock._sock.sendall(b"\x01")
    sock._sock.settimeout(10)
    assert sock._sock.recv(100) == b""
    sock.close()
    side.reload()
    assert side.status == "running"
    side.kill()  # by hand: unless-stopped rests
    side.reload()
    assert side.status == "exited" and side.attrs["RestartCount"] == 0
    side.remove()
    web.remove(force=True)


def test_a_label_places_networks_and_containers_on_another_host(clients):
    api, high = clients
    Client().host_add("host2")
    high.networks.create("py-h2", labels={"cnmlab.host": "host2"})
    c = high.containers.run("alpine", "sleep 600", name="py-far", detach=True, network="py-h2",
                            labels={"cnmlab.host": "host2"})
    assert api.inspect_network("py-h2")["Host"] == "host2"
    assert c.attrs["Host"] == "host2" and [x["Name"] for x in Client().hosts()] == ["host1", "host2"]
    assert Client().host("host2")["Containers"] == ["py-far"]
    wrong = pytest.raises(docker.errors.APIError, high.containers.run, "alpine", name="py-near", detach=True,
                          network="py-h2")
    assert wrong.value.status_code == 400 and "is local to host host2" in str(wrong.value)
    shared = high.containers.run("alpine", "sleep 600", detach=True, network_mode="container:py-far")
    assert shared.attrs["Host"] == "host2"  # a sandbox is shared on its own host
    shared.remove(force=True)
    c.remove(force=True)
    api.remove_container("py-near", force=True)  # Docker leaves a failed run's container created
    high.networks.get("py-h2").remove()
    Client().host_rm("host2")


def test_events_stream_in_dockers_shape(clients):
    api, high = clients
    since = time.time() - 1
    high.networks.create("py-ev").remove()
    seen = list(api.events(since=since, until=time.time() + 1, filters={"network": "py-ev"}, decode=True))
    assert [(e["Type"], e["Action"], e["Actor"]["Attributes"]["name"]) for e in seen] == [
        ("network", "create", "py-ev"), ("network", "destroy", "py-ev")]
    assert all(e["timeNano"] // 10**9 == e["time"] and e["scope"] == "local" for e in seen)
