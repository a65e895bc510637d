"""The real docker CLI (Debian's 20.10, and a current one where installed) and docker-compose
drive the lab through the engine's socket: the chapter's scenario typed as plain docker commands."""

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cnmlab.client import Client

pytestmark = pytest.mark.kernel

DEBIAN_DOCKER = "/usr/bin/docker"
CURRENT_DOCKER = "/usr/local/bin/docker"
COMPOSE_DIR = Path(__file__).parent.parent / "examples" / "compose"

if not os.path.exists(DEBIAN_DOCKER):
    pytest.skip("the docker CLI is missing: ./test.sh installs Debian's docker.io", allow_module_level=True)


def _env(tmp: Path) -> dict:
    return dict(os.environ, DOCKER_HOST=f"unix://{Client().status()['socket']}", DOCKER_CONFIG=str(tmp))


@pytest.fixture(scope="module")
def docker(engine, tmp_path_factory):
    """Run a docker command against the lab; binary= picks the CLI."""
    engine.reset()
    env = _env(tmp_path_factory.mktemp("docker-config"))

    def run(*args: str, binary: str = DEBIAN_DOCKER, check: bool = True, timeout: float = 60,
            input: str | None = None) -> subprocess.CompletedProcess:
        done = subprocess.run([binary, *args], capture_output=True, text=True, env=env, timeout=timeout,
                              input=input)
        if check and done.returncode != 0:
            raise AssertionError(f"docker {' '.join(args)} failed ({done.returncode}): {done.stderr}")
        return done

    run.env = env
    yield run
    engine.reset()


def _clis() -> list[str]:
    return [DEBIAN_DOCKER] + ([CURRENT_DOCKER] if os.path.exists(CURRENT_DOCKER) else [])


@pytest.mark.parametrize("binary", _clis())
def test_version_and_info_name_the_lab(docker, binary):
    out = docker("version", "--format", "{{.Server.APIVersion}} {{.Server.MinAPIVersion}} {{.Server.Platform.Name}}",
                 binary=binary).stdout
    assert out.startswith("1.45 1.24 cnmlab")
    client = docker("version", "--format", "{{.Client.APIVersion}}", binary=binary).stdout.strip()
    assert client in ("1.41", "1.45") or float(client) >= 1.45  # negotiated down to what each CLI speaks
    assert docker("info", "--format", "{{.Name}} {{.Swarm.LocalNodeState}}", binary=binary).stdout.strip() == \
        "cnmlab inactive"


def test_the_chapter_scenario_with_docker_commands(docker):
    docker("network", "create", "--subnet", "10.77.1.0/24", "net-a")
    docker("network", "create", "--subnet", "10.77.2.0/24", "--label", "chapter=1", "net-b")
    docker("run", "-d", "--name", "aa", "--network", "net-a", "--network-alias", "alpha", "alpine", "sleep", "600")
    docker("run", "-d", "--name", "bb", "--network", "net-a", "busybox", "sleep", "600")
    docker("network", "connect", "--alias", "bee", "net-b", "bb")

    # names and aliases resolve from inside the sandboxes (Docker's embedded DNS)
    ping = docker("exec", "aa", "ping", "-c1", "-W2", "bb")
    assert ping.stdout.startswith("PING bb (10.77.1.3): 56 data bytes") and "1 packets received" in ping.stdout
    assert "1 packets received" in docker("exec", "bb", "ping", "-c1", "-W2", "alpha").stdout
    assert docker("exec", "bb", "ping", "-c1", "-W1", "10.77.9.9", check=False).returncode == 1
    assert docker("run", "--rm", "--network", "net-a", "alpine", "getent", "hosts", "alpha").stdout.split() == \
        ["10.77.1.2", "alpha"]
    if os.path.exists(CURRENT_DOCKER):
        assert "1 packets received" in docker("exec", "aa", "ping", "-c1", "-W2", "bb", binary=CURRENT_DOCKER).stdout

    assert docker("inspect", "-f", "{{range $n, $e := .NetworkSettings.Networks}}{{$n}}={{$e.IPAddress}} {{end}}",
                  "bb").stdout.split() == ["net-a=10.77.1.3", "net-b=10.77.2.2"]
    aliases = json.loads(docker("inspect", "-f", "{{json (index .NetworkSettings.Networks \"net-b\").Aliases}}",
                                "bb").stdout)
    assert aliases[0] == "bee" and len(aliases) == 2
    members = docker("network", "inspect", "-f", "{{range .Containers}}{{.Name}}={{.IPv4Address}} {{end}}", "net-a")
    assert sorted(members.stdout.split()) == ["aa=10.77.1.2/24", "bb=10.77.1.3/24"]
    rows = docker("ps", "--format", "{{.Names}} {{.Image}} {{.Networks}}").stdout.splitlines()
    assert sorted(rows)[0] == "aa alpine net-a"
    assert sorted(rows)[1].startswith("bb busybox ") and set(sorted(rows)[1].split()[2].split(",")) == {"net-a", "net-b"}
    assert docker("network", "ls", "--filter", "label=chapter=1", "--format", "{{.Name}}").stdout.split() == ["net-b"]

    # Docker's error for a network in use, word for word up to the lab's list of endpoints
    rm = docker("network", "rm", "net-a", check=False)
    assert rm.returncode == 1
    assert rm.stderr.startswith("Error response from daemon: error while removing network: network net-a id ")
    assert "has active endpoints" in rm.stderr
    missing = docker("network", "inspect", "nosuchnet", check=False)
    assert missing.returncode == 1 and "No such network: nosuchnet" in missing.stderr

    # published ports: fixed, ephemeral, and -P with the image's exposed port
    docker("run", "-d", "--name", "web", "--network", "net-a", "-p", "8080:80", "-p", "9000", "nginx")
    docker("run", "-d", "--name", "web2", "-P", "nginx")
    # Docker 20.10's CLI prints a Go map: in any order
    assert sorted(docker("port", "web").stdout.splitlines()) == ["80/tcp -> 0.0.0.0:8080", "9000/tcp -> 0.0.0.0:49153"]
    assert docker("port", "web2", "80").stdout.strip() == "0.0.0.0:49154"
    taken = docker("run", "-d", "--name", "web3", "-p", "8080:80", "nginx", check=False)
    assert taken.returncode == 125 and "port is already allocated" in taken.stderr

    assert docker("ps", "-a", "--filter", "name=web3", "--format", "{{.Status}}").stdout.strip() == "Created"
    # two --network flags: Docker 20.10's API refuses them, API 1.44+ (Docker 25+) joins both
    two = docker("run", "-d", "--name", "two", "--network", "net-a", "--network", "net-b", "alpine", check=False)
    assert two.returncode == 125
    assert "Container cannot be connected to network endpoints: net-a, net-b." in two.stderr
    if os.path.exists(CURRENT_DOCKER):
        docker("run", "-d", "--name", "two", "--network", "net-a", "--network", "net-b", "alpine", "sleep", "600",
               binary=CURRENT_DOCKER)
        assert docker("inspect", "-f", "{{len .NetworkSettings.Networks}}", "two").stdout.strip() == "2"
        docker("rm", "-f", "two")

    docker("rm", "-f", "web", "web2", "web3", "aa")
    assert docker("ps", "-a", "--format", "{{.Names}}").stdout.split() == ["bb"]
    assert [c["Names"] for c in Client().containers()] == [["/bb"]]  # one lab: cnmlab sees what docker made


def test_network_inspect_is_the_same_as_cnmlabs(docker, cli):
    docker("network", "create", "--subnet", "10.77.3.0/24", "--internal", "-o", "com.docker.network.bridge.name=br-same",
           "net-same")
    docker("run", "-d", "--name", "same1", "--network", "net-same", "--ip", "10.77.3.9", "alpine", "sleep", "600")
    ours = json.loads(cli("network", "inspect", "net-same").stdout)
    theirs = json.loads(docker("network", "inspect", "net-same").stdout)
    assert theirs == ours
    assert theirs[0]["Internal"] is True and theirs[0]["Containers"]
    docker("rm", "-f", "same1")
    docker("network", "rm", "net-same")


def test_events_show_connect_and_disconnect_with_the_container(docker):
    since = str(time.time() - 1)
    docker("network", "create", "net-ev")
    cid = docker("run", "-d", "--name", "ev1", "--network", "net-ev", "alpine", "sleep", "600").stdout.strip()
    docker("network", "disconnect", "net-ev", "ev1")
    docker("stop", "-t", "5", "ev1")
    docker("rm", "ev1")
    docker("network", "rm", "net-ev")
    out = docker("events", "--filter", "type=network", "--filter", "network=net-ev", "--since", since, "--until", str(time.time() + 1),
                 "--format", "{{.Type}} {{.Action}} {{.Actor.Attributes.name}} {{.Actor.Attributes.container}}").stdout
    assert out.splitlines() == ["network create net-ev <no value>", f"network connect net-ev {cid}",
                                f"network disconnect net-ev {cid}", "network destroy net-ev <no value>"]
    out = docker("events", "--filter", "container=ev1", "--filter", "type=container", "--since", since,
                 "--until", str(time.time() + 1), "--format", "{{.Action}} {{.Actor.ID}} {{.Actor.Attributes.image}}")
    assert out.stdout.splitlines() == [f"{action} {cid} alpine" for action in ("create", "start", "die", "stop", "destroy")]


def test_dns_settings_and_extra_hosts_reach_the_sandbox(docker):
    docker("network", "create", "net-dns")
    out = docker("run", "--rm", "--network", "net-dns", "--dns", "9.9.9.9", "--dns-search", "lab.example",
                 "--dns-option", "timeout:1", "--add-host", "gw.example:10.1.2.3", "--hostname", "named",
                 "alpine", "sh", "-c", "cat /etc/resolv.conf; getent hosts gw.example; hostname").stdout
    assert "nameserver 127.0.0.11\nsearch lab.example\noptions ndots:0 timeout:1\n" in out
    assert out.splitlines()[-2:] == ["10.1.2.3        gw.example", "named"]
    bridge = docker("run", "--rm", "--dns", "10.0.0.53", "busybox", "cat", "/etc/resolv.conf").stdout
    assert "nameserver 10.0.0.53\n" in bridge and "127.0.0.11" not in bridge
    docker("run", "-d", "--name", "dns1", "--network", "net-dns", "--dns-search", "x.example", "alpine", "sleep", "600")
    assert docker("inspect", "-f", "{{.HostConfig.DnsSearch}}", "dns1").stdout.strip() == "[x.example]"
    docker("restart", "-t", "1", "dns1")  # a new sandbox: the settings are applied again
    assert "search x.example" in docker("exec", "dns1", "cat", "/etc/resolv.conf").stdout
    docker("rm", "-f", "dns1")
    docker("network", "rm", "net-dns")


def test_network_mode_container_shares_the_sandbox(docker):
    """`--network container:web`: the same interfaces, addresses and localhost; Docker's refusals."""
    docker("network", "create", "--subnet", "10.77.6.0/24", "net-pod")
    docker("run", "-d", "--name", "pod", "--network", "net-pod", "nginx")  # the test services serve HTTP on 80
    docker("run", "-d", "--name", "side", "--network", "container:pod", "alpine", "sleep", "600")
    assert "inet 10.77.6.2/24" in docker("exec", "side", "ip", "-4", "addr", "show", "eth0").stdout
    assert docker("exec", "side", "wget", "-qO-", "http://localhost/").stdout.startswith("pod ")  # pod's server
    assert docker("exec", "side", "hostname").stdout == docker("exec", "pod", "hostname").stdout
    assert docker("inspect", "-f", "{{.HostConfig.NetworkMode}} {{json .NetworkSettings.Networks}}", "side"
                  ).stdout.strip() == "container:pod {}"
    assert list(json.loads(docker("network", "inspect", "net-pod").stdout)[0]["Containers"]) == \
        [docker("inspect", "-f", "{{.Id}}", "pod").stdout.strip()]  # no endpoint of its own
    refused = docker("network", "connect", "net-pod", "side", check=False)
    assert refused.stderr.strip() == ("Error response from daemon: container sharing network namespace with another "
                                      "container or host cannot be connected to any other network")
    ports = docker("run", "--network", "container:pod", "-p", "81:80", "alpine", check=False)
    assert "conflicting options: port publishing and the container type network mode" in ports.stderr
    docker("stop", "-t", "1", "pod")
    links = [line.split(": ")[1] for line in docker("exec", "side", "ip", "-o", "link").stdout.splitlines()]
    assert links == ["lo"], "the sidecar runs on with only lo, as in Docker"
    late = docker("run", "--rm", "--network", "container:pod", "alpine", "true", check=False)
    assert late.returncode == 125 and "cannot join network of a non running container: pod" in late.stderr
    docker("start", "pod")
    docker("restart", "-t", "1", "side")  # it joins pod's new sandbox
    assert "inet 10.77.6.2/24" in docker("exec", "side", "ip", "-4", "addr", "show", "eth0").stdout

    # restart policies: on-failure:2 starts a failing command twice more, then leaves it exited
    docker("run", "-d", "--name", "flaky", "--network", "net-pod", "--restart", "on-failure:2", "alpine",
           "sh", "-c", "exit 3")
    deadline = time.monotonic() + 20
    while docker("inspect", "-f", "{{.State.Status}} {{.RestartCount}}", "flaky").stdout.strip() != "exited 2":
        assert time.monotonic() < deadline, docker("inspect", "flaky").stdout
        time.sleep(0.1)
    assert docker("inspect", "-f", "{{.HostConfig.RestartPolicy.Name}} {{.HostConfig.RestartPolicy.MaximumRetryCount}}",
                  "flaky").stdout.strip() == "on-failure 2"
    docker("rm", "-f", "side", "pod", "flaky")
    docker("network", "rm", "net-pod")


def test_update_top_workdir_and_what_shared_files_rule_out(docker):
    docker("run", "-d", "--name", "topped", "-w", "/tmp", "alpine", "sh", "-c", "sleep 600 & sleep 601")
    rows = docker("top", "topped").stdout.splitlines()
    assert rows[0].split()[:3] == ["UID", "PID", "PPID"] and sorted(r.split()[-1] for r in rows[1:]) == ["600", "601"]
    assert docker("exec", "topped", "pwd").stdout == "/tmp\n"
    assert docker("update", "--restart", "unless-stopped", "topped").stdout.strip() == "topped"
    assert docker("inspect", "-f", "{{.HostConfig.RestartPolicy.Name}} {{.Config.WorkingDir}}", "topped"
                  ).stdout.strip() == "unless-stopped /tmp"
    for args, text in ((("rename", "topped", "t2"), "name is its sandbox's namespace name"),
                       (("pause", "topped"), "the lab has no cgroup freezer"),
                       (("diff", "topped"), "share the machine's file system"),
                       (("run", "--rm", "-w", "/no/such/dir", "alpine", "pwd"), "working directory /no/such/dir does not exist")):
        refused = docker(*args, check=False)
        assert refused.returncode != 0 and text in refused.stderr, refused.stderr
    docker("rm", "-f", "topped")


def test_what_the_lab_lacks_answers_as_docker_without_it(docker):
    leave = docker("swarm", "leave", "--force", check=False)
    assert leave.returncode == 1 and leave.stderr.strip() == "Error response from daemon: This node is not part of a swarm"
    pull = docker("pull", "alpine")
    assert "lab containers run the lab's own userland" in pull.stdout
    assert docker("volume", "ls", "-q").stdout == ""
    assert docker("image", "inspect", "-f", "{{.RepoTags}}", "nginx").stdout.strip() == "[nginx:latest]"


def test_cnmlab_context_and_docker_env(docker, cli):
    env = cli("docker-env").stdout.strip()
    assert env == f"export DOCKER_HOST={docker.env['DOCKER_HOST']}"
    made = subprocess.run([sys.executable, "-m", "cnmlab", "context"], capture_output=True, text=True,
                          env=docker.env, timeout=60)
    assert made.returncode == 0 and "docker context cnmlab created" in made.stdout, made.stderr
    again = subprocess.run([sys.executable, "-m", "cnmlab", "context"], capture_output=True, text=True,
                           env=docker.env, timeout=60)
    assert "docker context cnmlab updated" in again.stdout
    env = {k: v for k, v in docker.env.items() if k != "DOCKER_HOST"}
    out = subprocess.run([DEBIAN_DOCKER, "--context", "cnmlab", "network", "ls", "--format", "{{.Name}}"],
                         capture_output=True, text=True, env=env, timeout=60)
    assert "bridge" in out.stdout.split(), out.stderr


@pytest.mark.skipif(shutil.which("docker-compose") is None, reason="docker-compose (compose v1) is missing")
def test_compose_builds_the_chapter_and_down_leaves_nothing(docker):
    compose = ["docker-compose", "-p", "chapter", "-f", str(COMPOSE_DIR / "docker-compose.yml")]
    up = subprocess.run([*compose, "up", "-d"], capture_output=True, text=True, env=docker.env, timeout=120)
    assert up.returncode == 0, up.stderr
    nets = json.loads(docker("inspect", "chapter_app_1").stdout)[0]["NetworkSettings"]["Networks"]
    assert nets["chapter_back"]["IPAddress"] == "10.88.2.10"
    assert "api" in nets["chapter_front"]["Aliases"]
    web = json.loads(docker("inspect", "chapter_web_1").stdout)[0]["NetworkSettings"]["Networks"]["chapter_front"]
    assert docker("exec", "chapter_app_1", "getent", "hosts", "www").stdout.split()[0] == web["IPAddress"]
    assert docker("exec", "chapter_app_1", "ping", "-c1", "-W2", "database").returncode == 0
    assert docker("exec", "chapter_web_1", "getent", "hosts", "database", check=False).returncode == 2  # not on back
    db = json.loads(docker("inspect", "chapter_db_1").stdout)[0]["NetworkSettings"]["Networks"]["chapter_back"]
    assert docker("exec", "chapter_web_1", "ping", "-c1", "-W1", db["IPAddress"], check=False).returncode == 1
    assert docker("port", "chapter_web_1").stdout.strip() == "80/tcp -> 0.0.0.0:8080"
    down = subprocess.run([*compose, "down"], capture_output=True, text=True, env=docker.env, timeout=120)
    assert down.returncode == 0, down.stderr
    assert docker("ps", "-aq", "--filter", "label=com.docker.compose.project=chapter").stdout == ""
    assert not [n for n in docker("network", "ls", "--format", "{{.Name}}").stdout.split() if n.startswith("chapter")]
    assert not [c for c in Client().containers() if c["Names"][0].startswith("/chapter")]
