"""Containers' life cycle, Docker's way, on the real kernel: create/start/exit/restart/stop/kill/wait/rm,
restore after an engine restart, logs, attach and exec over hijacked connections, image defaults,
alpine's tools first on PATH, and the CLI's Docker habits."""

import json
import os
import socket
import struct
import subprocess
import time

import pytest

from cnmlab.api import types
from cnmlab.client import Client
from cnmlab.errors import CnmError
from conftest import in_world, ip_of
from tui_helpers import stop_tmux

pytestmark = pytest.mark.kernel


@pytest.fixture(scope="module")
def lab(engine):
    engine.reset()
    engine.network_create("net-l", subnet="10.77.40.0/24")
    yield engine
    engine.reset()


def state(client, name):
    return client.inspect(name)["State"]


def until(predicate, what: str, seconds: float = 10.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"never became true: {what}")


def netns_names(client) -> set[str]:
    return set(in_world(client, None, "ip", "netns", "list").stdout.split())


# -- a small Docker API client over the raw socket (hijack included) -----------------------------
def api(client, method, path, body=None, upgrade=False) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(client.socket_path)
    sock.settimeout(20)
    data = json.dumps(body).encode() if body is not None else b""
    head = f"{method} {path} HTTP/1.1\r\nHost: lab\r\nContent-Type: application/json\r\nContent-Length: {len(data)}\r\n"
    head += "Connection: Upgrade\r\nUpgrade: tcp\r\n" if upgrade else "Connection: close\r\n"  # read_all reads to EOF
    sock.sendall(head.encode() + b"\r\n" + data)
    return sock


def read_head(sock) -> str:
    buf = b""
    while not buf.endswith(b"\r\n\r\n"):
        buf += sock.recv(1)
    return buf.decode()


def read_all(sock) -> bytes:
    out = b""
    while data := sock.recv(65536):
        out += data
    return out


def frames(raw: bytes) -> list[tuple[int, bytes]]:
    out = []
    while raw:
        kind, size = struct.unpack(">BxxxL", raw[:8])
        out.append((kind, raw[8:8 + size]))
        raw = raw[8 + size:]
    return out


def exec_create(client, ctr, cmd, tty=False, stdin=False) -> str:
    sock = api(client, "POST", f"/containers/{ctr}/exec",
               {"Cmd": cmd, "Tty": tty, "AttachStdin": stdin, "AttachStdout": True, "AttachStderr": True})
    assert "201" in read_head(sock).splitlines()[0]
    return json.loads(read_all(sock))["Id"]


def exec_inspect(client, exec_id) -> dict:
    sock = api(client, "GET", f"/exec/{exec_id}/json")
    read_head(sock)
    return json.loads(read_all(sock))


# -- life cycle ------------------------------------------------------------------------------------
def test_create_start_exit_and_restart_take_addresses_afresh(lab):
    before = netns_names(lab)
    lab.create("first", network="net-l", image="alpine", cmd=["sleep", "600"])
    assert state(lab, "first")["Status"] == "created" and "first" not in netns_names(lab)
    assert lab.inspect("first")["NetworkSettings"]["Networks"]["net-l"]["IPAddress"] == ""
    lab.start("first")
    st = state(lab, "first")
    assert st["Running"] and st["Pid"] > 0 and st["StartedAt"] != "0001-01-01T00:00:00Z"
    assert ip_of(lab, "first", "net-l") == "10.77.40.2"
    lab.stop("first")  # SIGTERM ends sleep: 128+15
    st = state(lab, "first")
    assert (st["Status"], st["ExitCode"], st["Pid"]) == ("exited", 143, 0) and st["FinishedAt"] != "0001-01-01T00:00:00Z"
    until(lambda: "first" not in netns_names(lab), "the sandbox goes with the main process (its unmount is "
          "the reaper's, off the request)")
    lab.run("second", network="net-l")  # takes the address first gave back
    assert ip_of(lab, "second", "net-l") == "10.77.40.2"
    lab.start("first")
    assert ip_of(lab, "first", "net-l") == "10.77.40.3", "a dynamic address can change across a restart"
    lab.restart("first")
    assert state(lab, "first")["Running"] and ip_of(lab, "first", "net-l") == "10.77.40.3"
    lab.kill("first", "SIGINT")
    assert lab.wait("first") == 130
    with pytest.raises(Exception, match="is not running"):
        lab.kill("first")
    assert lab.wait("first") == 130, "not-running: answers at once"
    with pytest.raises(Exception, match="You cannot remove a running container"):
        lab.rm("second", force=False)
    lab.rm("second", force=True)
    lab.rm("first", force=False)
    until(lambda: netns_names(lab) == before, "every sandbox unmounted (the reaper's work)")


def test_exit_code_logs_and_their_selection(lab, cli):
    lab.run("talker", image="busybox", cmd=["sh", "-c", "echo one; echo two >&2; echo three; exit 3"])
    assert lab.wait("talker") == 3
    both = list(lab.logs("talker"))  # two pipes: the order between them is the pumps', as in Docker
    assert [d for s, d in both if s == "stdout"] == [b"one\n", b"three\n"] and ("stderr", b"two\n") in both
    assert list(lab.logs("talker", stdout=False)) == [("stderr", b"two\n")]
    assert list(lab.logs("talker", tail="1")) == both[-1:] and list(lab.logs("talker", tail="0")) == []
    stamped = list(lab.logs("talker", timestamps=True, stderr=False))[0][1].decode()
    assert stamped.endswith("Z one\n") and stamped[4] == "-" and len(stamped.split()[0]) == 30
    result = cli("logs", "talker")
    assert result.stdout == "one\nthree\n" and result.stderr == "two\n"
    assert lab.inspect("talker")["Path"] == "sh" and lab.inspect("talker")["State"]["ExitCode"] == 3
    lab.create("ticker", image="alpine", cmd=["sh", "-c", "for i in 1 2 3; do echo tick $i; sleep 0.2; done"])
    lab.start("ticker")
    followed = b"".join(data for _, data in lab.logs("ticker", follow=True))  # ends when it exits
    assert followed == b"tick 1\ntick 2\ntick 3\n"
    lab.rm("talker")
    lab.rm("ticker")


def test_attach_before_start_with_stdin(lab):
    lab.create("catter", image="alpine", cmd=["cat"], stdin=True)
    sock = api(lab, "POST", "/containers/catter/attach?stream=1&stdin=1&stdout=1&stderr=1", upgrade=True)
    head = read_head(sock)
    assert head.startswith("HTTP/1.1 101") and "application/vnd.docker.multiplexed-stream" in head
    lab.start("catter")
    sock.sendall(b"hello through attach\n")
    sock.shutdown(socket.SHUT_WR)  # stdin's end: StdinOnce closes cat's stdin
    assert frames(read_all(sock)) == [(1, b"hello through attach\n")]
    assert lab.wait("catter") == 0
    lab.rm("catter")


def test_detach_keys_end_the_attach_and_leave_the_container_running(lab):
    lab.run("holder", image="alpine", cmd=["cat"], stdin=True)
    for query, keys in (("", b"\x10\x11"), ("&detachKeys=ctrl-x,x", b"\x18x")):  # Docker's default, then chosen
        sock = api(lab, "POST", f"/containers/holder/attach?stream=1&stdin=1&stdout=1{query}", upgrade=True)
        assert read_head(sock).startswith("HTTP/1.1 101")
        sock.sendall(b"\x10echo\n")  # a lone ctrl-p goes on to the process with what follows it
        assert sock.recv(8 + 6) == struct.pack(">BxxxL", 1, 6) + b"\x10echo\n"
        sock.sendall(keys + b"dropped\n")
        assert read_all(sock) == b""  # the stream ends; nothing after the keys reached cat
        assert state(lab, "holder")["Running"]
    bad = api(lab, "POST", "/containers/holder/attach?stream=1&stdin=1&detachKeys=ctrl-1", upgrade=True)
    assert read_head(bad).startswith("HTTP/1.1 400") and "Invalid detach keys (ctrl-1) provided" in read_all(bad).decode()
    lab.rm("holder")


def test_restart_policies(lab):
    flaky = types.ContainerCreate.of(image="alpine", cmd=["sh", "-c", "exit 3"], restart="on-failure:2")
    lab.run("flaky", network=flaky)
    until(lambda: (state(lab, "flaky")["Status"], lab.inspect("flaky")["RestartCount"]) == ("exited", 2),
          "on-failure:2 gave up after two restarts", seconds=20)
    assert state(lab, "flaky")["ExitCode"] == 3
    lab.run("loop", network=types.ContainerCreate.of(image="alpine", cmd=["sleep", "0.2"], restart="always"))
    until(lambda: lab.inspect("loop")["RestartCount"] >= 2, "always restarts a command that ends well")
    lab.stop("loop", timeout=1)  # a stop by hand rests the policy
    assert state(lab, "loop")["Status"] == "exited" and not state(lab, "loop")["Restarting"]
    lab.start("loop")
    assert lab.inspect("loop")["RestartCount"] == 0  # a start by hand counts afresh
    lab.rm("loop")
    with pytest.raises(CnmError, match="invalid restart policy 'sometimes'"):
        lab.create("bad", network=types.ContainerCreate.of(restart="sometimes"))
    with pytest.raises(CnmError, match="can't create 'AutoRemove' container with restart policy"):
        lab.create("bad", network=types.ContainerCreate.of(restart="always", auto_remove=True))


def test_exec_with_and_without_a_tty_over_the_socket(lab):
    lab.run("box", network="net-l", image="alpine", cmd=["sleep", "600"])
    lab.run("peer", network="net-l")
    exec_id = exec_create(lab, "box", ["sh", "-c", "ping -c1 -W1 peer >/dev/null && echo reached; echo oops >&2; exit 4"])
    sock = api(lab, "POST", f"/exec/{exec_id}/start", {"Detach": False, "Tty": False}, upgrade=True)
    assert read_head(sock).startswith("HTTP/1.1 101 UPGRADED")
    assert sorted(frames(read_all(sock))) == [(1, b"reached\n"), (2, b"oops\n")]  # two pipes: either order
    assert exec_inspect(lab, exec_id)["ExitCode"] == 4 and not exec_inspect(lab, exec_id)["Running"]

    exec_id = exec_create(lab, "box", ["sh"], tty=True, stdin=True)
    sock = api(lab, "POST", f"/exec/{exec_id}/start", {"Detach": False, "Tty": True}, upgrade=True)
    assert "application/vnd.docker.raw-stream" in read_head(sock)
    resize = api(lab, "POST", f"/exec/{exec_id}/resize?h=40&w=100")
    assert read_head(resize).startswith("HTTP/1.1 200")
    sock.sendall(b"hostname; stty size; tty; exit 6\n")
    out = read_all(sock).decode()
    hostname = lab.inspect("box")["Config"]["Hostname"]
    assert f"\r\n{hostname}\r\n40 100\r\n/dev/pts/" in out, out
    assert exec_inspect(lab, exec_id)["ExitCode"] == 6
    missing = api(lab, "POST", f"/exec/{exec_create(lab, 'box', ['nosuchtool'])}/start", {"Detach": False})
    assert "executable file not found in $PATH" in read_all(missing).decode()

    sleeper = exec_create(lab, "peer", ["sleep", "600"])  # a detached exec ends with its container
    detached = api(lab, "POST", f"/exec/{sleeper}/start", {"Detach": True})
    assert read_head(detached).startswith("HTTP/1.1 200") and exec_inspect(lab, sleeper)["Running"]
    lab.stop("peer")
    until(lambda: not exec_inspect(lab, sleeper)["Running"], "the exec killed with its container")
    assert exec_inspect(lab, sleeper)["ExitCode"] == 137
    bad = api(lab, "POST", "/containers/box/exec", {"Cmd": "sh", "Tty": "yes"})
    assert read_head(bad).startswith("HTTP/1.1 400") and "Tty" in read_all(bad).decode()


def test_images_default_commands_and_alpine_tools_first(lab, cli):
    lab.run("shell", image="alpine")  # sh without a terminal ends at once, as in Docker
    assert lab.wait("shell") == 0 and lab.inspect("shell")["Config"]["Cmd"] == ["/bin/sh"]
    lab.run("web", network="net-l", image="nginx:1.25")
    assert state(lab, "web")["Running"] and state(lab, "web")["Pid"] == 0, "the test services stand in"
    page = cli("exec", "box", "wget", "-qO-", "http://web")
    assert page.returncode == 0 and page.stdout.startswith("web 10.77.40."), page.stderr
    which = cli("exec", "box", "which", "ping", "nslookup", "wget", "nc", "ip", "ifconfig", "route", "traceroute")
    assert which.stdout.split() == [f"/run/cnmlab/applets/{t}" for t in
                                    ("ping", "nslookup", "wget", "nc", "ip", "ifconfig", "route", "traceroute")]
    lab.run("pathfinder", image="debian", cmd=["sh", "-c", "which nc; echo $HOSTNAME"])
    lab.wait("pathfinder")
    assert b"".join(d for _, d in lab.logs("pathfinder")).split() == [b"/run/cnmlab/applets/nc",
                                                                       lab.inspect("pathfinder")["Id"][:12].encode()]
    for name in ("shell", "web", "pathfinder"):
        lab.rm(name, force=True)


def test_cli_keeps_dockers_habits(lab, cli):
    lab.network_create("net-m")
    made = cli("run", "--name", "multi", "--network", "net-l", "--network", "net-m", "-p", "127.0.0.1:8080:80",
               "-p", "9090:90/udp", "-p", "7", "alpine", "sleep", "600")
    assert made.returncode == 0, made.stderr
    assert set(lab.inspect("multi")["NetworkSettings"]["Networks"]) == {"net-l", "net-m"}
    ports = cli("port", "multi").stdout.splitlines()
    assert ports == ["7/tcp -> 0.0.0.0:49153", "80/tcp -> 127.0.0.1:8080", "90/udp -> 0.0.0.0:9090"]
    assert cli("port", "multi", "90/udp").stdout == "0.0.0.0:9090\n"
    nat = in_world(lab, "host1", "iptables", "-t", "nat", "-S", "DOCKER").stdout
    assert "-d 127.0.0.1/32 ! -i br-" in nat and "--dport 8080 -j DNAT" in nat
    assert cli("exec", "multi", "ping", "-c1", "-W1", "box").returncode == 0, "exec without --"
    assert cli("exec", "multi", "--", "sh", "-c", "exit 9").returncode == 9
    assert cli("stop", "-t", "1", "multi").stdout == "multi\n"
    assert "Exited (143)" in cli("ps", "-a").stdout and "multi" not in cli("ps").stdout
    assert cli("start", "multi").returncode == 0 and state(lab, "multi")["Running"]
    assert cli("restart", "multi").returncode == 0 and state(lab, "multi")["Running"]
    star = cli("run", "--name", "starry", "-P", "httpd")
    assert star.returncode == 0 and cli("port", "starry").stdout.startswith("80/tcp -> 0.0.0.0:491")
    hint = cli("run", "--dns", "1.1.1.1", "alpine")
    assert hint.returncode == 2 and len(hint.stderr.splitlines()) == 1
    assert "has no --dns" in hint.stderr and "docker -H unix://" in hint.stderr and " run --dns" in hint.stderr
    assert "docker -H unix://" in cli("run", "-it", "alpine", "sh").stderr


@pytest.mark.parametrize("argv, message", [
    (["run", "--name", "bad1", "alpine", "nosuchcmd"], 'exec: "nosuchcmd": executable file not found in $PATH'),
    (["run", "--name", "bad2", "-p", "8080:http", "alpine"], "invalid port specification"),
    (["run", "--name", "bad3", "-p", "999.1.1.1:80:80", "alpine"], "invalid IP address in publish spec"),
    (["run", "--name", "bad4", "--network", "nosuchnet", "alpine"], "network nosuchnet not found"),
    (["run", "--name", "bad5", "--network", "host", "--network", "net-l", "alpine"], "cannot be combined"),
    (["start", "nosuchbox"], "No such container: nosuchbox"),
    (["logs", "nosuchbox"], "No such container: nosuchbox"),
    (["kill", "-s", "NOSUCHSIG", "box"], "Invalid signal: NOSUCHSIG"),
    (["exec", "box"], "exec needs a command"),
])
def test_bad_inputs_get_one_line_and_leave_nothing(lab, cli, argv, message):
    before = ({c["Id"] for c in lab.containers()}, netns_names(lab))
    result = cli(*argv)
    assert result.returncode != 0 and message in result.stderr and len(result.stderr.splitlines()) == 1, result.stderr
    assert ({c["Id"] for c in lab.containers()}, netns_names(lab)) == before


def test_restore_after_an_engine_restart(lab):
    lab.run("keeper", network="net-l", image="alpine", cmd=["sleep", "600"])
    lab.run("quitter", image="alpine", cmd=["sh", "-c", "echo bye; exit 2"])
    lab.wait("quitter")
    lab.create("waiter", image="alpine")
    for name, policy in (("stubborn", "always"), ("polite", "unless-stopped")):
        lab.run(name, network=types.ContainerCreate.of(image="alpine", cmd=["sleep", "600"], restart=policy))
        lab.stop(name, timeout=1)
    lab.run("sidekick", network="container:keeper", image="alpine", cmd=["sleep", "600"])
    address, old_pid = ip_of(lab, "keeper", "net-l"), state(lab, "keeper")["Pid"]
    lab.stop_engine()
    fresh = Client()
    until(lambda: state(fresh, "stubborn")["Running"], "`always` starts again with the engine, stopped or not")
    assert state(fresh, "polite")["Status"] == "exited"  # unless-stopped: it was stopped
    assert f"inet {address}/" in fresh.exec("sidekick", ["ip", "-o", "-4", "addr", "show", "eth0"]).stdout
    st = state(fresh, "keeper")
    assert st["Running"] and st["Pid"] not in (0, old_pid) and ip_of(fresh, "keeper", "net-l") == address
    assert (state(fresh, "quitter")["Status"], state(fresh, "quitter")["ExitCode"]) == ("exited", 2)
    assert list(fresh.logs("quitter")) == [("stdout", b"bye\n")], "logs outlive the engine"
    assert state(fresh, "waiter")["Status"] == "created"
    assert in_world(fresh, "keeper", "ping", "-c1", "-W1", ip_of(fresh, "box", "net-l")).returncode == 0
    fresh.stop("keeper", timeout=1)
    assert state(fresh, "keeper")["ExitCode"] == 143


# -- Docker's own CLI on the streams: piped stdin, logs -f, start -a, and a terminal (tmux) ----------
DOCKER = "/usr/bin/docker"  # Debian's docker.io (20.10); its dockerd is never started


@pytest.mark.skipif(not os.path.exists(DOCKER), reason="the docker CLI (docker.io) is not installed")
def test_docker_cli_streams_and_terminals(lab, tmp_path):
    env = dict(os.environ, DOCKER_HOST=f"unix://{lab.socket_path}", DOCKER_CONFIG=str(tmp_path))

    def docker(*args, stdin=None):
        return subprocess.run([DOCKER, *args], capture_output=True, text=True, env=env, input=stdin, timeout=60)

    piped = docker("run", "-i", "--rm", "alpine", "cat", stdin="through stdin\n")
    assert (piped.returncode, piped.stdout) == (0, "through stdin\n"), piped.stderr
    assert docker("run", "--name", "sayer", "busybox", "sh", "-c", "echo said; exit 5").returncode == 5
    assert docker("start", "-a", "sayer").stdout == "said\n"
    assert docker("logs", "sayer").stdout == "said\nsaid\n"
    docker("run", "-d", "--name", "counter", "alpine", "sh", "-c", "for i in 1 2; do echo n$i; sleep 0.2; done")
    assert docker("logs", "-f", "counter").stdout == "n1\nn2\n"
    assert docker("wait", "counter").stdout == "0\n"

    server = f"cnmlab-13b-{os.getpid()}"
    tmux = ["tmux", "-L", server]
    subprocess.run(tmux + ["new-session", "-d", "-s", "t", "-x", "90", "-y", "25", "-e", f"DOCKER_HOST={env['DOCKER_HOST']}",
                           "-e", f"DOCKER_CONFIG={tmp_path}", f"{DOCKER} exec -it box sh; echo EXEC-EXIT=$?; sleep 30"],
                   check=True, timeout=20)
    try:
        screen = lambda: subprocess.run(tmux + ["capture-pane", "-p", "-t", "t"], capture_output=True, text=True).stdout  # noqa: E731
        until(lambda: "/ #" in screen(), "busybox's prompt in the container")
        subprocess.run(tmux + ["send-keys", "-t", "t", "stty size; hostname; exit 3", "Enter"], check=True)
        until(lambda: "EXEC-EXIT=3" in screen(), "the shell's exit code through docker exec")
        assert "25 90" in screen() and lab.inspect("box")["Config"]["Hostname"] in screen()
    finally:
        stop_tmux(server)


def test_detach_keys_are_ascii_as_dockers_are():
    from cnmlab.engine import detach_keys

    assert detach_keys.parse("a,ctrl-q,DEL") == b"a\x11\x7f"
    with pytest.raises(CnmError, match=r"Invalid detach keys \(Ā\)"):  # two bytes in UTF-8: Go's len says 2
        detach_keys.parse("Ā")
