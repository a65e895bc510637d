"""The client of the engine's API: the only way the CLI, TUI and notebook reach the lab.

`Client` is synchronous; `AsyncClient` (cnmlab/async_client.py, a module of its own so that
the CLI never loads asyncio) offers the same calls as coroutines. The first call
starts the engine when none is running (like the Docker CLI would, had dockerd a socket
activation). Errors come back as the core's exception types with the engine's one-line message.
"""

from __future__ import annotations

import _socket
import _thread
import json
import os
import sys
import time

from . import paths
from .errors import CnmError, Conflict, EngineUnavailable, NotFound, from_status

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (5 ms of a CLI command)
if TYPE_CHECKING:
    import socket
    from collections.abc import Iterator
    from pathlib import Path

# What a plain command (`network ls`, `ps`, `inspect c1`) loads is what every command of a
# student's script pays: the socket module (its enums, selectors), pathlib, urllib.parse and
# threading would be a fifth of it, so the request path does without them and the rest of the
# client imports them where it uses them (tests/test_cli_imports.py keeps it so).
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-~")


def quote(text: str, safe: str = "") -> str:
    """urllib.parse.quote, without its import for a name that needs no quoting (as Docker's
    names never do)."""
    if _UNRESERVED.issuperset(text):
        return text
    from urllib.parse import quote as quote_all

    return quote_all(text, safe=safe)


def urlencode(query: dict) -> str:
    """urllib.parse.urlencode, without its import for plain keys and values (`all=1`, `t=10`)."""
    pairs = [(str(k), str(v)) for k, v in query.items()]
    if all(_UNRESERVED.issuperset(k) and _UNRESERVED.issuperset(v) for k, v in pairs):
        return "&".join(f"{k}={v}" for k, v in pairs)
    from urllib.parse import urlencode as encode_all

    return encode_all(query)

START_TIMEOUT = 60.0


class _OnFirstUse:
    """A module imported when first used: `network ls`, `ps` and `inspect` send no body, so they
    never load msgspec and the API's types (a third of a plain command's start-up)."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attr: str):
        import importlib

        module = importlib.import_module(self._name)
        globals()[self._name.rpartition(".")[2]] = module  # later uses reach the module itself
        return getattr(module, attr)


types = _OnFirstUse("cnmlab.api.types")
wire = _OnFirstUse("cnmlab.api.wire")


def event_types():
    """The events module, with every feature's event types registered (only streams need them)."""
    from . import events
    from .dns import events as _dns_events  # noqa: F401  (registers the DNS query-log event)
    from .swarm import service as _service_events  # noqa: F401  (registers the service events)

    return events


class _BadReply(OSError):
    """The engine's answer was cut short or was not HTTP (it died mid-answer, or is stopping)."""


def _connect(path: str, timeout: float) -> _socket.socket:
    """A connection to the engine: the C socket type itself, which has every call a request
    makes (socket.socket subclasses it for makefile and enum-typed attributes, which only
    streams need)."""
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(path)
    except BaseException:
        sock.close()
        raise
    return sock


def _exchange(sock: _socket.socket, timeout: float, request: bytes) -> tuple[int, bytes, bool, str]:
    """One HTTP/1.1 exchange on a connected socket: (status, body, whether the engine keeps it
    open, the body's Content-Type).

    The engine answers every call with Content-Length, so this is all a client needs; http.client
    would cost a CLI command 15-20 ms of imports (email parsing)."""
    if sock.gettimeout() != timeout:
        sock.settimeout(timeout)
    # MSG_NOSIGNAL: a connection the engine has closed fails with EPIPE (and the request goes
    # again on a new one, Client._exchange), whatever the program does with SIGPIPE.
    sock.sendall(request, _socket.MSG_NOSIGNAL)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise _BadReply("the engine closed the connection before answering")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    try:
        status = int(lines[0].split()[1])
    except (IndexError, ValueError):
        raise _BadReply(f"not an HTTP answer: {lines[0]!r}") from None
    headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:])}
    length = headers.get("content-length")
    wanted = int(length) if length is not None else None
    while wanted is None or len(body) < wanted:
        chunk = sock.recv(max(65536, (wanted or 0) - len(body)))
        if not chunk:
            if wanted is not None:
                raise _BadReply("the engine's answer was cut short")
            break
        body += chunk
    keep = wanted is not None and headers.get("connection", "").lower() != "close"
    return status, body, keep, headers.get("content-type", "")


class Client:
    def __init__(self, socket_path: str | Path | None = None, autostart: bool = True, timeout: float = 120.0):
        self.socket_path = str(socket_path or paths.socket_file())
        self.autostart = autostart
        self.timeout = timeout
        self._dir_checked = False
        # One kept-alive connection: a script's 100 `run`s pay one connect and one engine-side
        # thread, not 100. (_thread is built in: no import cost for a CLI command.)
        self._kept: _socket.socket | None = None
        self._kept_lock = _thread.allocate_lock()

    # -- transport --------------------------------------------------------------
    def request(self, method: str, path: str, body=None, query: dict | None = None, timeout: float | None = None):
        if query:
            path += "?" + urlencode({k: v for k, v in query.items() if v is not None})
        try:
            return self._send(method, path, body, timeout)
        except (FileNotFoundError, ConnectionRefusedError):
            if not self.autostart:
                raise EngineUnavailable(f"the cnmlab engine is not running (no socket at {self.socket_path})") from None
            self.start_engine()
            return self._send(method, path, body, timeout)
        except PermissionError:
            raise EngineUnavailable(
                f"permission denied on {self.socket_path}: that engine belongs to another user; run cnmlab as "
                "that user, or point CNMLAB_RUNTIME_DIR and CNMLAB_STATE_DIR at directories of your own") from None
        except OSError as exc:  # reset, broken pipe, timeout, a cut-short answer: one line
            raise EngineUnavailable(f"the engine at {self.socket_path} did not answer {method} {path}: "
                                    f"{exc.strerror or exc}") from None

    def _send(self, method: str, path: str, body, timeout: float | None):
        if not self._dir_checked:  # a socket in someone else's directory is not our engine
            if (owner := paths.foreign_owner(os.path.dirname(self.socket_path))) is not None:
                raise EngineUnavailable(f"{os.path.dirname(self.socket_path)} belongs to another user (uid {owner}): "
                                        "not connecting to an engine there")
            self._dir_checked = True
        data = b"" if body is None else wire.encode(body)
        head = f"{method} {path} HTTP/1.1\r\nHost: localhost\r\nContent-Length: {len(data)}\r\n"
        if body is not None:
            head += "Content-Type: application/json\r\n"
        status, raw, content_type = self._exchange(timeout or self.timeout, (head + "\r\n").encode() + data)
        json_body = content_type.startswith("application/json")
        try:
            payload = (json.loads(raw) if json_body else raw.decode(errors="replace")) if raw else None
        except ValueError:
            payload = None
        if status >= 400:
            message = payload.get("message") if isinstance(payload, dict) else raw.decode(errors="replace")
            raise from_status(status, message or f"engine answered {status}")
        return payload

    def _exchange(self, timeout: float, request: bytes) -> tuple[int, bytes, str]:
        with self._kept_lock:  # at most one idle connection; concurrent callers open their own
            sock, self._kept = self._kept, None
        reused = sock is not None
        sock = sock or _connect(self.socket_path, timeout)
        try:
            status, body, keep, content_type = _exchange(sock, timeout, request)
        except (ConnectionResetError, BrokenPipeError, _BadReply):
            sock.close()
            if not reused:
                raise
            # The kept connection was closed by the engine (it restarted, or hung up after its
            # idle timeout) or died under us: the request met no live engine, so it goes once
            # more on a new connection. (No look before sending: that cost 3 system calls a request.)
            sock = _connect(self.socket_path, timeout)
            try:
                status, body, keep, content_type = _exchange(sock, timeout, request)
            except BaseException:
                sock.close()
                raise
        except BaseException:
            sock.close()
            raise
        with self._kept_lock:
            if keep and self._kept is None:
                self._kept, sock = sock, None
        if sock is not None:
            sock.close()
        return status, body, content_type

    def close(self) -> None:
        """Close the kept connection (it also closes when the Client is collected)."""
        with self._kept_lock:
            sock, self._kept = self._kept, None
        if sock is not None:
            sock.close()

    def running(self) -> bool:
        try:
            self._send("GET", "/_ping", None, 5.0)
            return True
        except (OSError, CnmError):
            return False

    def start_engine(self) -> None:
        """Start the engine in the background and wait until it answers."""
        import subprocess

        from . import engine_log

        log = paths.log_path()
        paths.private_dir(log.parent)
        env = dict(os.environ, CNMLAB_RUNTIME_DIR=os.path.dirname(self.socket_path))
        engine_log.rotate(log)
        fd = engine_log.open_private(log)
        with open(fd, "ab") as out:
            start = out.tell()
            proc = subprocess.Popen([sys.executable, "-m", "cnmlab.engine"], stdin=subprocess.DEVNULL,
                                    stdout=out, stderr=out, start_new_session=True, env=env)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.running():
                return
            if proc.poll() is not None and not self.running():
                if proc.returncode == 1:  # another engine won the race: wait for it
                    time.sleep(0.1)
                    continue
                raise EngineUnavailable(_last_error(log, start) or f"the engine exited with code {proc.returncode}")
            time.sleep(0.05)
        raise EngineUnavailable(f"the engine did not answer within {START_TIMEOUT:.0f} s (see {log})")

    # -- engine -----------------------------------------------------------------
    def status(self) -> dict:
        return self.request("GET", "/engine/status")

    def stop_engine(self, wait: float = 15.0) -> int | None:
        """Stop the engine if it runs; return its pid."""
        try:
            pid = self._send("GET", "/engine/status", None, 5.0)["pid"]
        except (OSError, CnmError):
            return None
        try:
            self._send("POST", "/engine/stop", None, 5.0)
        except (OSError, CnmError):
            pass  # the engine may exit before its answer is out (IncompleteRead): it is stopping
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and _alive(pid):
            time.sleep(0.05)
        return pid

    def reset(self) -> dict:
        return self.request("POST", "/lab/reset")

    def drivers(self) -> list[dict]:
        return self.request("GET", "/plugins/drivers")

    # -- plugins (third-party drivers) ---------------------------------------------
    def plugins(self) -> dict:
        """Entry-point drivers, remote plugins found in the world, and plugin processes."""
        return self.request("GET", "/plugins")

    def plugin_run(self, argv: list[str], host: str | None = None, wait: float = 10.0) -> dict:
        """Start a plugin process in a host's namespace inside the lab world (never outside)."""
        return self.request("POST", "/plugins/run", types.PluginRun(argv=[str(a) for a in argv], host=host,
                                                                     cwd=os.getcwd(), env=dict(os.environ), wait=wait))

    def plugin_stop(self, ref: str, force: bool = False) -> dict:
        return self.request("POST", f"/plugins/{quote(ref, safe='')}/stop", types.PluginStop(force=force))

    # -- hosts ------------------------------------------------------------------
    def hosts(self) -> list[dict]:
        return self.request("GET", "/hosts")

    def host(self, name: str) -> dict:
        return self.request("GET", f"/hosts/{quote(name, safe='')}")

    def host_add(self, name: str, address: str | None = None, plain: bool = False) -> dict:
        return self.request("POST", "/hosts/create", types.HostCreate(name=name, address=address, plain=plain))

    def host_rm(self, name: str) -> None:
        self.request("DELETE", f"/hosts/{quote(name, safe='')}")

    # -- networks ---------------------------------------------------------------
    def networks(self) -> list[dict]:
        return self.request("GET", "/networks")

    def network_create(self, name: str | types.NetworkCreate, driver: str = "bridge", subnet: str | None = None,
                       gateway: str | None = None, ip_range: str | None = None,
                       aux_addresses: dict | None = None, internal: bool = False, attachable: bool = False,
                       options: dict | None = None, labels: dict | None = None, ipv6: bool = False,
                       host: str | None = None, ipam_driver: str | None = None) -> dict:
        """`docker network create`: a NetworkCreate body, or a name and the flags `NetworkCreate.of` takes."""
        spec = name if isinstance(name, types.NetworkCreate) else types.NetworkCreate.of(
            name, driver=driver, subnet=subnet, gateway=gateway, ip_range=ip_range, aux_addresses=aux_addresses,
            internal=internal, attachable=attachable, options=options, labels=labels, ipv6=ipv6, host=host,
            ipam_driver=ipam_driver)
        return self.request("POST", "/networks/create", spec)

    def network_inspect(self, ref: str, host: str | None = None, verbose: bool = False) -> dict:
        return self.request("GET", f"/networks/{quote(ref, safe='')}",
                            query={"host": host, "verbose": "1" if verbose else None})

    def network_rm(self, ref: str) -> None:
        self.request("DELETE", f"/networks/{quote(ref, safe='')}")

    def network_prune(self) -> list[str]:
        return self.request("POST", "/networks/prune")["NetworksDeleted"]

    def connect(self, network: str, container: str, ip: str | None = None, aliases: list[str] | None = None) -> None:
        body = types.NetworkConnect(container=container, endpoint_config=types.EndpointSettings.of(ip, aliases))
        self.request("POST", f"/networks/{quote(network, safe='')}/connect", body)

    def disconnect(self, network: str, container: str, force: bool = False) -> None:
        self.request("POST", f"/networks/{quote(network, safe='')}/disconnect",
                     types.NetworkDisconnect(container=container, force=force))

    # -- containers -------------------------------------------------------------
    def create(self, name: str | None = None, network: str | list[str] | types.ContainerCreate | None = None,
               ip: str | None = None, aliases: list[str] | None = None, ports: list[str | dict] | None = None,
               host: str | None = None, labels: dict | None = None, image: str | None = None,
               cmd: list[str] | None = None, env: list[str] | None = None, tty: bool = False, stdin: bool = False,
               auto_remove: bool = False, entrypoint: list[str] | None = None, hostname: str | None = None) -> dict:
        """`docker create`: the container is recorded, not started. A ContainerCreate body (in place
        of `network`), or the flags `ContainerCreate.of` takes: `network` may name several (every
        one is joined at start); `ip`/`aliases` are for the first; `ports` are `-p` texts or
        {"HostIp", "HostPort", "ContainerPort", "Proto"} dicts."""
        body = network if isinstance(network, types.ContainerCreate) else types.ContainerCreate.of(
            network=network, ip=ip, aliases=aliases, ports=ports, host=host, labels=labels, image=image, cmd=cmd,
            env=env, tty=tty, stdin=stdin, auto_remove=auto_remove, entrypoint=entrypoint, hostname=hostname)
        return self.request("POST", "/containers/create", body, query={"name": name})

    def run(self, name: str, network: str | list[str] | types.ContainerCreate | None = None, ip: str | None = None,
            aliases: list[str] | None = None, ports: list[str | dict] | None = None, host: str | None = None,
            labels: dict | None = None, image: str | None = None, cmd: list[str] | None = None,
            env: list[str] | None = None, tty: bool = False, stdin: bool = False, auto_remove: bool = False,
            entrypoint: list[str] | None = None, hostname: str | None = None) -> dict:
        """`docker run -d`: create and start; a start that fails removes the container again.
        (`name` None: Docker's way, a random adjective_scientist name.)"""
        body = network if isinstance(network, types.ContainerCreate) else types.ContainerCreate.of(
            network=network, ip=ip, aliases=aliases, ports=ports, host=host, labels=labels, image=image, cmd=cmd,
            env=env, tty=tty, stdin=stdin, auto_remove=auto_remove, entrypoint=entrypoint, hostname=hostname)
        # One request: the engine creates and starts in one turn (an engine from before that
        # answers without `Started`, and the container is started the Docker way). Not with host
        # ports: a start of its own holds them on the kernel thread, so two starts asking for one
        # port keep their order (engine/server.py:_holds_of); a container yet to be made holds none.
        hc = body.host_config
        publishes = hc is not None and (bool(hc.port_bindings) or hc.publish_all_ports)
        made = self.request("POST", "/containers/create", body, query={"name": name, "start": None if publishes else 1})
        if made.pop("Started", False):
            return made
        try:
            self.start(made["Id"])
        except CnmError:
            try:
                self.rm(made["Id"], force=True)
            except CnmError:
                pass  # the start's own error is the one to tell
            raise
        return made

    def start(self, ref: str) -> None:
        self.request("POST", f"/containers/{quote(ref, safe='')}/start")

    def stop(self, ref: str, timeout: float | None = None) -> None:
        self.request("POST", f"/containers/{quote(ref, safe='')}/stop", query={"t": timeout})

    def restart(self, ref: str, timeout: float | None = None) -> None:
        self.request("POST", f"/containers/{quote(ref, safe='')}/restart", query={"t": timeout})

    def kill(self, ref: str, signal: str = "KILL") -> None:
        self.request("POST", f"/containers/{quote(ref, safe='')}/kill", query={"signal": signal})

    def wait(self, ref: str, condition: str = "not-running") -> int:
        return self.request("POST", f"/containers/{quote(ref, safe='')}/wait", query={"condition": condition},
                            timeout=None)["StatusCode"]

    def logs(self, ref: str, follow: bool = False, tail: str = "all", timestamps: bool = False,
             stdout: bool = True, stderr: bool = True) -> Iterator[tuple[str, bytes]]:
        """The container's log as (stream, bytes) chunks; `follow` keeps reading until it stops."""
        query = {"follow": int(follow), "tail": tail, "timestamps": int(timestamps), "stdout": int(stdout),
                 "stderr": int(stderr)}
        tty = self.inspect(ref)["Config"].get("Tty", False)
        sock = self._raw("GET", f"/containers/{quote(ref, safe='')}/logs?" + urlencode(query))
        try:
            reader = sock.makefile("rb")
            status = _read_head(reader)
            if status >= 400:
                payload = json.loads(reader.read() or b"{}")
                raise from_status(status, payload.get("message") or f"engine answered {status}")
            yield from read_frames(reader, tty)
        finally:
            sock.close()

    def _raw(self, method: str, path: str) -> socket.socket:
        if not self.running():
            self.request("GET", "/_ping")
        import socket

        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(self.socket_path)
        sock.sendall(f"{method} {path} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode())
        return sock

    def containers(self, all: bool = True) -> list[dict]:  # noqa: A002 - Docker's name
        return self.request("GET", "/containers/json", query={"all": int(all)})

    def inspect(self, ref: str) -> dict:
        return self.request("GET", f"/containers/{quote(ref, safe='')}/json")

    def rm(self, ref: str, force: bool = True) -> None:
        """Remove a container; the lab's own callers remove running ones too (force). `cnmlab rm`
        passes force only with -f, as `docker rm` does."""
        self.request("DELETE", f"/containers/{quote(ref, safe='')}", query={"force": "1" if force else None})

    # -- topologies: many networks and containers in one request (engine/batch.py) ----
    def apply(self, networks: list[dict] | None = None, containers: list[dict] | None = None) -> dict:
        """Build a topology in one request, all or nothing: {"Name", "Subnet", ...} networks and
        {"Name", "Network", "IP", ...} containers. Returns how many of each were made."""
        return self.request("POST", "/lab/apply", _topology(networks, containers))

    def unapply(self, networks: list[dict] | None = None, containers: list[dict] | None = None) -> dict:
        """Remove what a topology names (containers first), in one request."""
        return self.request("DELETE", "/lab/apply", _topology(networks, containers))

    # -- packets: probe, matrix, trace (cnmlab.probe) ----------------------------
    def probe(self, src: str, dst: str, proto: str = "icmp", port: int | None = None,
              timeout: float = 1.0, size: int | None = None) -> dict:
        """One test packet from src to dst; the answer says reachable/refused/no route/timeout/filtered.
        `size`: the IP packet's length in bytes (icmp, udp; DF is set), to test a path's MTU."""
        return self.request("POST", "/lab/probe", types.Probe(source=src, destination=dst, proto=proto, port=port,
                                                              timeout=timeout, size=size))

    def matrix(self, proto: str = "icmp", port: int | None = None, network: str | None = None,
               explain: bool = False, timeout: float | None = None, by: str = "endpoint",
               size: int | None = None) -> dict:
        """Every container to every endpoint (by="container": to every container), probed concurrently.
        `size`: every probe's IP length in bytes (icmp, udp; DF set), to test the paths' MTU."""
        return self.request("POST", "/lab/matrix", types.Matrix(proto=proto, port=port, network=network,
                                                                explain=explain, timeout=timeout, by=by, size=size))

    def trace(self, src: str, dst: str, proto: str = "icmp", port: int | None = None,
              timeout: float | None = None, size: int | None = None) -> dict:
        """One probe captured at every hop of its path, with the verdict and the dropping rule."""
        return self.request("POST", "/lab/trace", types.Probe(source=src, destination=dst, proto=proto, port=port,
                                                              timeout=timeout, size=size))

    # -- services (VIP load balancing) ---------------------------------------------
    def services(self) -> list[dict]:
        return self.request("GET", "/services")

    def service_create(self, name: str, network: str, replicas: int = 1, ports: list[str] | None = None,
                       endpoint_mode: str = "vip", host: str | None = None) -> dict:
        return self.request("POST", "/services/create", types.ServiceCreate(
            name=name, network=network, replicas=replicas, ports=list(ports or []), endpoint_mode=endpoint_mode,
            host=host))

    def service_inspect(self, ref: str) -> dict:
        return self.request("GET", f"/services/{quote(ref, safe='')}")

    def service_scale(self, ref: str, replicas: int) -> dict:
        return self.request("POST", f"/services/{quote(ref, safe='')}/update", types.ServiceScale(replicas=replicas))

    def service_rm(self, ref: str) -> None:
        self.request("DELETE", f"/services/{quote(ref, safe='')}")

    # -- events -----------------------------------------------------------------
    def events(self) -> Iterator:
        """Engine events as they happen (blocks; stop iterating to close the stream)."""
        if not self.running():
            self.request("GET", "/_ping")
        import socket

        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(self.socket_path)
        try:
            sock.sendall(b"GET /events HTTP/1.1\r\nHost: localhost\r\n\r\n")
            decode = event_types().from_json
            reader = sock.makefile("rb")
            while reader.readline() not in (b"\r\n", b"\n", b""):
                pass  # headers
            for line in reader:
                if line.strip():
                    yield decode(json.loads(line))
        finally:
            sock.close()

    # -- processes in the world --------------------------------------------------
    def namespaces_of(self, ref: str | None) -> tuple[str | None, str | None]:
        """The lab network namespace of a container or host name (None: the world itself), and
        the path of the container's UTS namespace (its hostname), if it has one."""
        if ref is None:
            return None, None
        try:
            found = self.inspect(ref)
            if not found["State"]["Running"]:
                raise Conflict(f"Container {found['Id']} is not running")
            settings = found["NetworkSettings"]
            return os.path.basename(settings["SandboxKey"]), settings.get("UtsKey") or None
        except NotFound:
            if any(h["Name"] == ref for h in self.hosts()) or ref == "underlay":
                return ref, None
            if any(n["Name"] == ref for n in self.namespaces()):  # e.g. an overlay's 1-<id10>@<host>
                return ref, None
            raise NotFound(f"No such container, host or lab namespace: {ref}") from None

    def namespaces(self) -> list[dict]:
        """Every network namespace of the lab world: [{"Name", "Kind"}], Kind one of container,
        host, underlay, network (an overlay's per-host namespace) or other."""
        return self.request("GET", "/lab/namespaces")

    def namespace_of(self, ref: str | None) -> str | None:
        return self.namespaces_of(ref)[0]

    def enter_argv(self, ref: str | None, argv: list[str], userland: bool = False) -> list[str]:
        """argv that runs a command inside the lab world, in the namespace of `ref`. `userland`:
        in a container, find alpine's tools first on PATH, as its own processes do (the lab's
        checks keep the machine's tools, whose output they read)."""
        status = self.status()
        enter = ["nsenter", "-t", str(status["pid"]), "-n", "-m"]
        if status.get("rootless"):
            enter[1:1] = ["-U", "--preserve-credentials"]
        ns, uts = self.namespaces_of(ref)
        if ns is None:
            return enter + ["--"] + argv
        if uts:  # opened after entering the world's mount namespace, where /run/uts lives
            enter += ["--", "nsenter", f"--uts={uts}"]
            if userland:
                from .image import path as image_path  # shutil: only for `exec`

                argv = ["env", f"PATH={image_path()}"] + argv
        return enter + ["--", "ip", "netns", "exec", ns] + argv

    def exec(self, ref: str, argv: list[str], timeout: float = 60.0) -> subprocess.CompletedProcess:
        """Run a real command in the sandbox and capture its output and exit code."""
        import subprocess

        return subprocess.run(self.enter_argv(ref, argv), capture_output=True, text=True, timeout=timeout)


def _read_head(reader) -> int:
    status = int(reader.readline().split()[1])
    while reader.readline() not in (b"\r\n", b"\n", b""):
        pass
    return status


def read_frames(reader, tty: bool) -> Iterator[tuple[str, bytes]]:
    """Docker's stream: raw bytes with a TTY, else frames of an 8-byte header and the payload."""
    if tty:
        while data := reader.read1(65536):
            yield "stdout", data
        return
    while len(head := reader.read(8)) == 8:
        kind, size = head[0], int.from_bytes(head[4:], "big")  # struct's ">BxxxL"
        yield ("stderr" if kind == 2 else "stdout"), reader.read(size)


def _topology(networks: list | None, containers: list | None) -> types.Topology:
    """A Topology from its items, given as types or as {"Name", "Subnet", ...} dicts."""
    return wire.convert({"Networks": list(networks or []), "Containers": list(containers or [])}, types.Topology)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie child of ours counts as gone
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[-1][:1] != "Z"
    except OSError:
        return False


def _last_error(log: Path, start: int) -> str | None:
    try:
        with open(log, "rb") as f:
            f.seek(start)
            lines = f.read().decode(errors="replace").splitlines()
    except OSError:
        return None
    for line in reversed(lines):
        if line.startswith("cnmlab engine:"):
            return line.removeprefix("cnmlab engine:").strip()
    return lines[-1] if lines else None
