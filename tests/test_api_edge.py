"""The API's edge: every body is decoded with its type (cnmlab.api.types); a wrong type or value is
a 400 naming the field, never a 500; the limits on size and depth; the OpenAPI document."""

import json
import socket
import time

import pytest

from cnmlab.api import types, wire
from cnmlab.errors import CnmError

pytestmark = pytest.mark.kernel


def raw_request(client, data: bytes, timeout: float = 30.0) -> tuple[int, bytes]:
    """Send bytes as they are to the engine's socket; (status, body) of its answer."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    sock.connect(client.socket_path)
    try:  # one request per connection: the engine keeps connections open unless asked not to
        sock.sendall(data.replace(b"\r\n", b"\r\nConnection: close\r\n", 1))
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    finally:
        sock.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split(b" ")[1]), body


def post(client, path: str, body) -> tuple[int, dict | None]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    status, reply = raw_request(client, b"POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                                b"Content-Length: %d\r\n\r\n%s" % (path.encode(), len(data), data))
    return status, json.loads(reply) if reply else None


@pytest.fixture(scope="module")
def edge(engine):
    engine.reset()
    engine.network_create("edge-net")
    engine.run("edge-c", network="edge-net")
    yield engine
    engine.reset()


# (path, body, the field the 400 names): each answered 500 or was silently misread before
WRONG_TYPES = [
    ("/networks/create", {"Name": 123}, "Name: expected a string, got an integer"),
    ("/networks/create", {"Name": "w1", "IPAM": "x"}, "IPAM: expected an object or null, got a string"),
    ("/networks/create", {"Name": "w1", "Internal": "false"}, "Internal: expected true or false, got a string"),
    ("/networks/create", {"Name": "w1", "IPAM": {"Config": [{"Subnet": 12345}]}},
     "IPAM.Config[0].Subnet: expected a string or null, got an integer"),
    ("/networks/create", {"Name": "w1", "IPAM": {"Config": {"Subnet": "10.1.0.0/24"}}}, "IPAM.Config: expected an array"),
    ("/networks/create", {"Name": "w1", "Labels": ["a"]}, "Labels: expected an object or null, got an array"),
    ("/networks/create", {"Name": "w1", "Options": {"a": 1}}, "Options[...]: expected a string, got an integer"),
    ("/networks/create", {"Name": "w1", "Attachable": 1}, "Attachable: expected true or false"),
    ("/networks/create", {}, "Name is required"),
    ("/networks/create", [], "invalid request body: expected an object, got an array"),
    ("/networks/edge-net/connect", {"Container": "edge-c", "EndpointConfig": {"Aliases": "abc"}},
     "EndpointConfig.Aliases: expected an array or null, got a string"),
    ("/networks/edge-net/connect", {"Container": ["edge-c"]}, "Container: expected a string, got an array"),
    ("/networks/edge-net/disconnect", {"Container": "edge-c", "Force": "yes"}, "Force: expected true or false"),
    ("/containers/create?name=w2", {"HostConfig": {"PortBindings": {"80/tcp": [{"HostPort": 8080}]}}},
     "HostConfig.PortBindings[...][0].HostPort: expected a string, got an integer"),
    ("/containers/create?name=w2", {"NetworkingConfig": {"EndpointsConfig": "edge-net"}},
     "NetworkingConfig.EndpointsConfig: expected an object or null"),
    ("/hosts/create", {"Name": "h9", "Plain": "no"}, "Plain: expected true or false, got a string"),
    ("/lab/probe", {"Source": "edge-c", "Destination": "edge-c", "Port": "80"}, "Port: expected an integer"),
    ("/lab/probe", {"Source": "edge-c", "Destination": "edge-c", "Proto": "tcp", "Port": 70000}, "invalid port 70000"),
    ("/lab/matrix", {"Explain": "true"}, "Explain: expected true or false"),
    ("/services/create", {"Name": "s", "Network": "edge-net", "Replicas": "3"}, "Replicas: expected an integer"),
    ("/services/create", {"Name": "s", "Network": "edge-net", "Replicas": -1}, "invalid replicas"),
    ("/plugins/run", {"Argv": "sleep 1"}, "Argv: expected an array, got a string"),
]


def test_wrong_types_are_400_naming_the_field(edge):
    for path, body, message in WRONG_TYPES:
        status, reply = post(edge, path, body)
        assert (status, reply["message"][:len(message)]) == (400, message), (path, body)
    assert [n["Name"] for n in edge.networks() if n["Name"] == "w1"] == []
    assert [c for c in edge.containers() if c["Names"] == ["/w2"]] == []


def test_a_docker_null_is_an_empty_value_and_unknown_fields_are_ignored(edge):
    status, reply = post(edge, "/networks/create", {"Name": "nulls", "IPAM": {"Driver": "default", "Config": None},
                                                    "Options": None, "Labels": None, "CheckDuplicate": True,
                                                    "SomethingNewer": {"x": 1}})
    assert status == 201, reply
    assert edge.network_inspect("nulls")["Labels"] == {}
    edge.network_rm("nulls")


def test_names_match_dockers_rule_over_the_whole_string(edge):
    status, reply = post(edge, "/containers/create?name=nl-ctr%0A", {})
    assert (status, reply["message"]) == (400, "Invalid container name (nl-ctr\n), only [a-zA-Z0-9][a-zA-Z0-9_.-] "
                                                "are allowed")
    status, reply = post(edge, "/networks/create", {"Name": "nl-net\n"})
    assert status == 400 and reply["message"].startswith("Invalid network name")
    status, reply = post(edge, "/containers/create?name=x", {})
    assert status == 400 and reply["message"].startswith("Invalid container name (x)")
    status, reply = post(edge, "/networks/create", {"Name": "x"})  # one character: fine for a network
    assert status == 201
    edge.network_rm("x")
    assert "nl-ctr" not in [n["Name"] for n in edge.namespaces()]


def test_bodies_are_capped_in_size_and_depth(edge):
    # The engine answers from the headers alone, without reading 10 MB first.
    status, reply = raw_request(edge, b"POST /networks/create HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000\r\n\r\n"
                                + b'{"Name": "big", "Labels": {"k": "')
    assert status == 413 and json.loads(reply)["message"] == f"the request body is 10000000 bytes; the limit is " \
        f"{wire.MAX_BODY}"
    with pytest.raises(CnmError) as refused:  # the whole 10 MB sent: the client still reads the answer
        edge.network_create("big", labels={"k": "v" * 10_000_000})
    assert refused.value.message.startswith("the request body is 100000")
    deep = b'{"Name": "deep", "Labels": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    status, reply = post(edge, "/networks/create", deep)
    assert status == 400 and reply["message"] == "Labels: expected an object or null, got an array"
    status, reply = post(edge, "/engine/stop", b"[" * 100_000 + b"]" * 100_000)  # an untyped route
    assert status == 400 and reply["message"] == f"the request body nests deeper than {wire.MAX_DEPTH} levels"
    assert edge.running()


@pytest.mark.parametrize("length", [b"-1", b"abc", b"1e3"])
def test_a_bad_content_length_is_refused_at_once(edge, length):
    status, reply = raw_request(edge, b"POST /networks/create HTTP/1.1\r\nHost: x\r\nContent-Length: " + length
                                + b"\r\n\r\n{}", timeout=5)
    assert status == 400 and json.loads(reply)["message"].startswith("invalid Content-Length")


def test_a_chunked_body_is_read(edge):
    data = b'{"Name": "chunky"}'
    status, reply = raw_request(edge, b"POST /networks/create HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                                + b"%x\r\n%s\r\n0\r\n\r\n" % (len(data), data))
    assert status == 201, reply
    edge.network_rm("chunky")


def test_the_openapi_document_describes_every_route_and_body(edge):
    doc = edge.request("GET", "/openapi.json")
    assert doc["openapi"].startswith("3.")
    create = doc["paths"]["/networks/create"]["post"]
    assert create["requestBody"]["content"]["application/json"]["schema"]["$ref"] == \
        "#/components/schemas/NetworkCreate"
    schema = doc["components"]["schemas"]["NetworkCreate"]
    assert {"Name", "Driver", "IPAM", "EnableIPv6", "Internal", "Labels", "Options"} <= set(schema["properties"])
    assert schema["required"] == ["Name"]
    assert doc["components"]["schemas"]["IPAMConfig"]["properties"]["IPRange"]
    for body in types.BODIES:
        assert body.__name__ in doc["components"]["schemas"]
    assert "/containers/{id}/json" in doc["paths"] and "/openapi.json" in doc["paths"]


POLLUTING = [
    ({"subnet": "10.40.0.5/24"}, "Invalid subnet 10.40.0.5/24: host bits are set; use 10.40.0.0/24"),
    ({"subnet": "10.40.0.0/24", "gateway": "10.40.0.0"},
     "Invalid gateway 10.40.0.0: it is the network address of 10.40.0.0/24; use an address inside it, e.g. 10.40.0.1"),
    ({"subnet": "10.40.0.0/24", "gateway": "10.40.0.255"}, "Invalid gateway 10.40.0.255: it is the broadcast address"),
    ({"subnet": "127.0.0.0/8"}, "Invalid subnet 127.0.0.0/8: it is loopback"),
    ({"subnet": "224.1.0.0/16"}, "Invalid subnet 224.1.0.0/16: it is multicast"),
    ({"subnet": "169.254.0.0/16"}, "Invalid subnet 169.254.0.0/16: it is link-local"),
    ({"subnet": "10.40.0.0/32"}, "Invalid subnet 10.40.0.0/32: a /32 is too small"),
    ({"subnet": "10.40.0.0"}, "Invalid subnet 10.40.0.0: give a prefix length"),
    ({"subnet": "10.40.0.0/24", "ip_range": "10.40.0.130/25"},
     "Invalid ip-range 10.40.0.130/25: host bits are set; use 10.40.0.128/25"),
]


def test_inputs_that_would_pollute_the_lab_are_refused_with_the_reason(edge, cli):
    from cnmlab.errors import InvalidParameter

    before = edge.networks()
    for flags, message in POLLUTING:
        with pytest.raises(InvalidParameter) as refused:
            edge.network_create("polluted", **flags)
        assert refused.value.message.startswith(message), flags
    status, reply = post(edge, "/networks/create", {"Name": "polluted", "IPAM": {"Config": [{"Subnet": 12345}]}})
    assert status == 400
    assert edge.networks() == before
    shown = cli("network", "create", "--subnet", "10.40.0.5/24", "polluted")
    assert (shown.returncode, shown.stdout) == (1, "")
    assert shown.stderr == "Error: Invalid subnet 10.40.0.5/24: host bits are set; " \
                           "use 10.40.0.0/24\n"
    assert cli("network", "ls").returncode == 0


def engine_threads(client) -> int:
    with open(f"/proc/{client.status()['pid']}/status") as f:
        return int(next(line for line in f if line.startswith("Threads:")).split()[1])


def test_stalled_clients_hold_a_bounded_number_of_threads_and_are_dropped(edge):
    from cnmlab.engine.server import MAX_CONNECTIONS

    before = engine_threads(edge)
    stalled = []
    for _ in range(MAX_CONNECTIONS + 40):  # half a request each, then silence
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(30)
        while True:
            try:
                sock.connect(edge.socket_path)
                break
            except BlockingIOError:  # the listen backlog is full for a moment: as any client would, retry
                time.sleep(0.01)
        sock.sendall(b"POST /networks/create HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"Na")
        stalled.append(sock)
    turned_away = 0
    for sock in stalled:  # the engine drops each: at once when it is full, after its read timeout otherwise
        answer = b""
        try:
            while chunk := sock.recv(4096):
                answer += chunk
        except ConnectionResetError:  # closed with our half request unread: dropped all the same
            pass
        turned_away += answer.startswith(b"HTTP/1.1 503")
        sock.close()
    assert turned_away >= 1
    assert engine_threads(edge) <= before + 2
    assert edge.request("GET", "/_ping") == "OK"


def test_a_driver_name_cannot_reach_a_file(edge, tmp_path, cli):
    secret = tmp_path / "evil.spec"
    secret.write_text("SECRET-FIRST-LINE\n")
    relative = "../../.." + str(tmp_path / "evil")
    shown = cli("network", "create", "-d", relative, "leaky")
    assert shown.returncode == 1 and "SECRET" not in shown.stderr
    assert shown.stderr == f'Error: Invalid driver name ({relative}): use letters, digits, "_", ".", ":" and "-" ' \
                           '(no "/" or "..")\n'
    status, reply = post(edge, "/networks/create", {"Name": "leaky", "IPAM": {"Driver": "../x"}})
    assert status == 400 and reply["message"].startswith("Invalid IPAM driver name (../x)")


def test_host_rm_then_add_of_the_same_name_always_works(edge):
    for _ in range(12):
        edge.host_add("h5")
        edge.host_rm("h5")
    edge.host_add("h5")
    assert "h5" in [h["Name"] for h in edge.hosts()]
    edge.host_rm("h5")


def test_another_users_socket_is_one_line(edge, tmp_path):
    import os
    import subprocess
    import sys

    if os.geteuid() != 0:
        pytest.skip("needs root to act as another user")
    env = dict(os.environ, CNMLAB_STATE_DIR=str(tmp_path / "nobody-state"), HOME=str(tmp_path))
    run = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable, "-m",
                          "cnmlab", "ps"], capture_output=True, text=True, timeout=60, env=env, cwd="/")
    assert run.returncode == 1
    assert run.stderr.splitlines() == [f"Error: permission denied on {edge.socket_path}: that engine belongs to "
                                       "another user; run cnmlab as that user, or point CNMLAB_RUNTIME_DIR and "
                                       "CNMLAB_STATE_DIR at directories of your own"]


def _answers(sock, count: int) -> list[tuple[int, bytes]]:
    """The next `count` answers on a kept connection: (status, body) each, by Content-Length."""
    data, out = b"", []
    while len(out) < count:
        head, sep, rest = data.partition(b"\r\n\r\n")
        if sep:
            length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                              if line.lower().startswith(b"content-length:")))
            if len(rest) >= length:
                out.append((int(head.split(b" ")[1]), rest[:length]))
                data = rest[length:]
                continue
        chunk = sock.recv(65536)
        assert chunk, f"the engine closed the connection after {len(out)} of {count} answers"
        data += chunk
    assert not data
    return out


def test_a_kept_connection_carries_every_kind_of_request_in_turn(edge):
    """One kept connection: reads, changes, errors, a request in two sends, a route off the kernel
    thread, two requests in one send, a chunked body after an idle while, and a close."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(30)
    sock.connect(edge.socket_path)
    body = json.dumps({"Name": "kept-net"}).encode()
    create = b"POST /networks/create HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
    try:
        sock.sendall(b"GET /networks HTTP/1.1\r\nHost: x\r\n\r\n")
        assert _answers(sock, 1)[0][0] == 200
        sock.sendall(create)  # a change with a body, whole in one send
        assert _answers(sock, 1)[0][0] == 201
        sock.sendall(create)  # the handler's error, answered on the connection
        assert _answers(sock, 1)[0][0] == 409
        sock.sendall(create[:30])  # a request in two sends, the rest later
        time.sleep(0.05)
        sock.sendall(create[30:].replace(b"kept-net", b"kept-nt2"))
        assert _answers(sock, 1)[0][0] == 201
        sock.sendall(b"GET /engine/status HTTP/1.1\r\nHost: x\r\n\r\n")  # a route off the kernel thread
        assert _answers(sock, 1)[0][0] == 200
        sock.sendall(b"GET /no/such/page HTTP/1.1\r\nHost: x\r\n\r\n")
        assert _answers(sock, 1)[0][0] == 404
        sock.sendall(b"DELETE /networks/kept-net HTTP/1.1\r\nHost: x\r\n\r\nGET /networks/kept-net HTTP/1.1\r\nHost: x\r\n\r\n")
        assert [status for status, _ in _answers(sock, 2)] == [204, 404]  # two requests in one send
        time.sleep(0.5)  # longer than the kernel thread keeps an idle connection
        sock.sendall(b"POST /networks/create HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                     b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body))
        assert _answers(sock, 1)[0][0] == 201
        sock.sendall(b"DELETE /networks/kept-net HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert _answers(sock, 1)[0][0] == 204
        assert sock.recv(1) == b""  # closed, as asked
    finally:
        sock.close()
    edge.network_rm("kept-nt2")
