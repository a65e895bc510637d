"""The CLI end to end: listings with --json, Docker's inspect shapes, prune, shell, the async client."""

import asyncio
import json
import subprocess

import pytest

from cnmlab.client import AsyncClient

pytestmark = pytest.mark.kernel


def test_listings_take_json(lab, cli):
    assert cli("network", "create", "--subnet", "10.77.1.0/24", "net-a").returncode == 0
    assert cli("run", "--name", "aa", "--network", "net-a", "-p", "8080:80").returncode == 0
    nets = json.loads(cli("network", "ls", "--json").stdout)
    assert {n["Name"] for n in nets} == {"bridge", "host", "none", "net-a"}
    ps = json.loads(cli("ps", "--json").stdout)
    assert ps[0]["Names"] == ["/aa"] and ps[0]["Ports"][0]["PublicPort"] == 8080
    hosts = json.loads(cli("host", "ls", "--json").stdout)
    assert hosts[0]["Name"] == "host1" and hosts[0]["Containers"] == ["aa"]
    table = cli("network", "ls").stdout
    assert "NETWORK ID" in table and "net-a" in table and "10.77.1.0/24" in table


def test_inspect_shapes_follow_docker(lab, cli):
    cli("network", "create", "--subnet", "10.77.5.0/24", "net-s")  # Docker keeps 10.77.5.7/24 as written; the lab refuses it
    cli("network", "create", "net-p")
    cli("run", "--name", "ss", "--network", "net-s", "--ip", "10.77.5.9")
    cli("network", "connect", "net-p", "ss")
    net_s, net_p, bridge = json.loads(cli("network", "inspect", "net-s", "net-p", "bridge").stdout)
    assert net_s["IPAM"]["Config"] == [{"Subnet": "10.77.5.0/24"}], "no Gateway key"
    assert net_p["IPAM"]["Config"] == [{"Subnet": "172.18.0.0/16", "Gateway": "172.18.0.1"}]
    assert bridge["IPAM"]["Options"] is None and net_s["IPAM"]["Options"] == {}
    assert bridge["Options"]["com.docker.network.bridge.name"] == "docker0"
    assert net_s["Options"] == {} and net_s["Scope"] == "local" and net_s["Driver"] == "bridge"
    (cid, entry), = net_s["Containers"].items()
    assert entry["Name"] == "ss" and entry["IPv4Address"] == "10.77.5.9/24" and entry["IPv6Address"] == ""
    assert entry["MacAddress"] == "02:42:0a:4d:05:09"
    (ctr,) = json.loads(cli("inspect", "ss").stdout)
    nets = ctr["NetworkSettings"]["Networks"]
    assert nets["net-s"]["IPAMConfig"] == {"IPv4Address": "10.77.5.9"}
    assert nets["net-p"]["IPAMConfig"] == {} and nets["net-p"]["DriverOpts"] == {}
    assert nets["net-s"]["Aliases"] == [cid[:12]]
    assert ctr["NetworkSettings"]["IPAddress"] == "", "top-level fields are empty on user networks"


def test_prune_and_rm(lab, cli):
    cli("network", "create", "keep")
    cli("network", "create", "drop1")
    cli("network", "create", "drop2")
    cli("run", "--name", "kk", "--network", "keep")
    out = cli("network", "prune", "-f").stdout.split()
    assert sorted(out[2:]) == ["drop1", "drop2"]
    assert cli("rm", "-f", "kk").returncode == 0
    assert cli("network", "rm", "keep").returncode == 0
    assert [n["Name"] for n in lab.networks()] == ["bridge", "host", "none"]


def test_shell_runs_inside_the_world(lab, cli, engine):
    argv = engine.enter_argv("host1", ["sh"])
    result = subprocess.run(argv, input="ip -o link show docker0; bridge link; iptables -S DOCKER-USER\n",
                            capture_output=True, text=True, timeout=30)
    assert "docker0" in result.stdout and "-A DOCKER-USER -j RETURN" in result.stdout
    world = subprocess.run(engine.enter_argv(None, ["ip", "netns", "list"]), capture_output=True, text=True)
    assert {"host1", "underlay"} <= set(world.stdout.split())


def test_reset_wipes_the_lab(lab, cli):
    cli("network", "create", "temp")
    cli("run", "--name", "tt", "--network", "temp")
    cli("host", "add", "host2")
    assert cli("reset").returncode == 0
    assert [h["Name"] for h in lab.hosts()] == ["host1"]
    assert lab.containers() == []


def test_async_client_mirrors_the_sync_one(lab):
    async def go():
        client = AsyncClient()
        await client.network_create("anet")
        await client.run("async-box", network="anet")
        return await client.inspect("async-box")

    data = asyncio.run(go())
    assert data["NetworkSettings"]["Networks"]["anet"]["IPAddress"] == "172.18.0.2"


def test_demo_builds_the_chapter_example(lab, cli):
    result = cli("demo")
    assert result.returncode == 0
    nets = {c["Names"][0]: sorted(c["NetworkSettings"]["Networks"]) for c in lab.containers()}
    assert nets == {"/container-a": ["net-a"], "/container-b": ["net-a", "net-b"]}
