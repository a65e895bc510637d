"""The engine process: binds the API socket, enters the private lab world, serves requests.

Order matters: the socket is bound and the lock taken in the machine's mount namespace (so
clients can find them); then the still single-threaded process unshares into its own world;
only then are threads started. Every change to the lab runs on one kernel thread (netlink
handles belong to the thread that opened them), where a change that waits on a plugin is parked
so the others go on (kernel_thread.py).
"""

from __future__ import annotations

import contextlib
import fcntl
import gc
import json
import os
import queue
import resource
import signal
import socket
import socketserver
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

from .. import engine_log, paths, plugins
from ..api import types, wire
from ..errors import CnmError
from ..events import Event
from ..osl import world
from . import connection, routes  # noqa: F401  (routes registers the core routes)
from .docker import api as docker_api  # Docker's Engine API beside the lab routes (importing registers it)
from .kernel_thread import EVERYTHING, READ, Holds, KernelThread
from .router import Reply, Request, Route

if TYPE_CHECKING:
    from .extensions import Extensions



HIJACK_HEAD_PAUSE = 0.05  # seconds between a hijacked stream's 101 head and its first bytes


class Engine:
    def __init__(self, socket_path: Path | None = None, store_path: Path | None = None):
        self.socket_path = Path(socket_path or paths.socket_path())
        self.store_path = str(store_path or paths.database_path())
        self.uid = os.geteuid()
        self.started = time.time()
        self.controller = None
        self._subscribers: list[queue.Queue] = []
        self._sub_lock = threading.Lock()
        self._stopping = threading.Event()
        self.kernel = None
        self.extensions: Extensions | None = None  # what the features provide (extensions.py), once attached
        self.server = None

    # -- life cycle -------------------------------------------------------------
    def run(self) -> int:
        runtime = self.socket_path.parent
        try:
            paths.private_dir(runtime)
            paths.private_dir(Path(self.store_path).parent)
        except CnmError as exc:
            print(f"cnmlab engine: {exc.message}", file=sys.stderr)
            return 2
        lock = open(runtime / "engine.lock", "w")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print("cnmlab engine: another engine is already running for this socket", file=sys.stderr)
            return 1
        self._runtime_fd = os.open(runtime, os.O_RDONLY | os.O_DIRECTORY)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.socket_path)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old_umask = os.umask(0o177)
        try:
            listener.bind(str(self.socket_path))
        finally:
            os.umask(old_umask)
        os.chmod(self.socket_path, 0o600)
        try:
            world.enter()
        except CnmError as exc:
            print(f"cnmlab engine: {exc.message}", file=sys.stderr)
            self._unlink_socket()
            return 2
        _raise_fd_limit()
        _presize_fd_table(self._runtime_fd)
        self.kernel = KernelThread(self._holds_of, on_park=[(self._park_store, self._wake_store)])
        plugins.off_thread = self.kernel.off_thread
        try:
            self.call(self._start_controller)
        except CnmError as exc:  # e.g. a damaged store: one line, and the way out
            print(f"cnmlab engine: {exc.message}", file=sys.stderr)
            self._unlink_socket()
            return 2
        except Exception as exc:
            traceback.print_exc()
            print(f"cnmlab engine: could not build the lab world: {exc}", file=sys.stderr)
            self._unlink_socket()
            return 2
        self.server = _Server(listener, self)
        signal.signal(signal.SIGTERM, lambda *_: self.request_stop())
        signal.signal(signal.SIGINT, lambda *_: self.request_stop())
        print(f"cnmlab engine {os.getpid()} serving on {self.socket_path}", file=sys.stderr, flush=True)
        serve = threading.Thread(target=self.server.serve_forever, name="api", daemon=True)
        serve.start()
        engine_log.keep_rotated(paths.log_path(), self._stopping)
        threading.Thread(target=self._watch_store, name="store-watch", daemon=True).start()
        self._stopping.wait()
        self.server.shutdown()
        with contextlib.suppress(Exception):
            self.call(self.controller.close)
        self._close_streams()
        self._unlink_socket()
        return 0

    def _start_controller(self) -> None:
        from ..controller import Controller
        from ..store import Store

        from ..image import prepare_applets

        prepare_applets()  # alpine's tools for processes in containers, in the world's /run
        self.controller = Controller(Store(self.store_path))
        self.controller.submit = self.kernel.submit  # work for the one thread that changes the lab
        self.controller.subscribe(self.broadcast)
        _load_extensions(self)
        self.controller.start()
        # What exists now is mostly the modules, alive as long as the engine: frozen out of the
        # cyclic collector's sight (reference counting still frees them), a full collection scans
        # only what requests made since. Measured: a 130-220 ms pause during a 100-container
        # build or a 1000-container batch; frozen, none and 30 ms.
        gc.collect()
        gc.freeze()

    def _watch_store(self) -> None:
        """Notice a store file deleted or replaced under the running engine, and write the lab again;
        copy the WAL into the store file."""
        while not self._stopping.wait(STORE_CHECK_EVERY):
            try:
                note = self.controller.store.check_file()
                self.controller.store.checkpoint()  # here, not on a commit of the kernel thread
            except Exception as exc:  # keep watching; say it once per failure
                note = f"could not check the store {self.store_path}: {type(exc).__name__}: {exc}"
            if note:
                print(f"cnmlab engine: {note}", file=sys.stderr, flush=True)

    def request_stop(self) -> None:
        self._stopping.set()

    def _unlink_socket(self) -> None:
        with contextlib.suppress(FileNotFoundError, AttributeError):
            os.unlink(self.socket_path.name, dir_fd=self._runtime_fd)

    def call(self, fn, *args, holds: Holds = EVERYTHING, **kwargs):
        """Run fn on the kernel thread and wait for it. `holds`: the names and ids of the objects
        it works on (None: it may touch any, so it waits for every change parked on a plugin)."""
        return self.kernel.submit(fn, *args, holds=holds, **kwargs).result()

    def _holds_of(self, refs) -> set[str]:
        """Every name and id of the objects that names or ids mention, and the host ports a container
        asks for (checked free at its start, taken after its joins) (kernel thread). Predefined
        networks are left out: joining them never conflicts, and only a whole host removes them."""
        ctl, out = self.controller, set()
        for ref in refs:
            found = []
            for lookup in (ctl.network, ctl.container):
                try:
                    found.append(lookup(ref))
                except CnmError:
                    pass
            if found and all(getattr(obj, "predefined", False) for obj in found):
                continue
            out.add(ref)
            for obj in found:
                out.update((obj.id, obj.name))
                out.update(f"port {obj.host} {p.host_port}/{p.proto}" for p in getattr(obj, "ports", ())
                           if p.host_port and not p.ephemeral)
        return out

    def _park_store(self) -> bool:
        # A parked change's writes so far are committed, so that others' writes (answered meanwhile) are too.
        return self.controller is not None and self.controller.store.pause_batch()

    def _wake_store(self, paused: bool) -> None:
        if paused:
            self.controller.store.resume_batch()

    # -- events -----------------------------------------------------------------
    def broadcast(self, event: Event) -> None:
        if self._subscribers:  # a container makes ~7 events: no JSON for nobody
            line = (json.dumps(event.to_json()) + "\n").encode()
            with self._sub_lock:
                for q in self._subscribers:
                    q.put(line)
        self.kernel.serve_reads()  # a step is done: reads waiting now see it, and need not wait for the rest

    def stream_events(self, req: Request) -> None:
        q: queue.Queue = queue.Queue()
        with self._sub_lock:
            self._subscribers.append(q)
        try:
            req.stream(b"")
            while not self._stopping.is_set():
                try:
                    line = q.get(timeout=1.0)
                except queue.Empty:
                    continue
                if line is None:
                    break
                req.stream(line)
        except OSError:
            pass
        finally:
            with self._sub_lock:
                self._subscribers.remove(q)

    def _close_streams(self) -> None:
        with self._sub_lock:
            for q in self._subscribers:
                q.put(None)


FD_TABLE = 16384  # file descriptors the engine's table holds from the start: ~6 a container


def _raise_fd_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def _presize_fd_table(fd: int) -> None:
    """A descriptor table that will not have to grow.

    The kernel doubles a process's table when a descriptor past its end opens, and in a process
    with threads it waits out an RCU grace period first (expand_fdtable): the 37th and 79th
    containers of a build stalled 10-25 ms there (256 and 512 descriptors) while a reset's cleanup
    kept grace periods long (a container keeps ~6 open: its netlink socket, the test services' 3,
    the resolver's 2).
    Taking the last slot once (a copy of `fd`), before any thread starts, grows it with no wait,
    and the table never shrinks. 16384 slots cost the kernel about 130 KiB."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    with contextlib.suppress(OSError):
        os.close(os.dup2(fd, min(soft, FD_TABLE) - 1, inheritable=False))


def _load_extensions(engine: Engine) -> None:
    """Feature modules (probes, DNS, overlay control plane ...) hook into the engine here."""
    from . import extensions

    engine.extensions = extensions.Extensions()
    extensions.load(engine)


STORE_CHECK_EVERY = 1.0  # seconds between looks at the store file
# Seconds a client may take to send its request (and to take a reply chunk).
READ_TIMEOUT = float(os.environ.get("CNMLAB_READ_TIMEOUT") or 10)
LINGER, LINGER_BYTES = 2.0, 64 << 20  # what a refused request may still send before the engine hangs up
CHECK_REPLIES = os.environ.get("CNMLAB_CHECK_REPLIES") == "1"  # each reply against its declared type (tests)
MAX_CONNECTIONS = 128  # open connections, each a thread; events streams count too
BUSY = (b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nConnection: close\r\n"
        b"Content-Length: 75\r\n\r\n"
        b'{"message": "the engine has too many open connections: try again shortly"}\n')


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True

    def __init__(self, listener: socket.socket, engine: Engine):
        self.engine = engine
        self.slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
        socketserver.BaseServer.__init__(self, listener.getsockname(), _Handler)
        self.socket = listener
        self.socket.listen(128)

    def process_request(self, request, client_address) -> None:
        # Stalled clients may hold at most MAX_CONNECTIONS threads; the next one is told so at once.
        if not self.slots.acquire(blocking=False):
            with contextlib.suppress(OSError):
                request.setblocking(False)
                request.recv(65536)  # what has arrived: closing on unread data would reset, losing the answer
            with contextlib.suppress(OSError):
                request.send(BUSY)
            self.shutdown_request(request)
            return
        super().process_request(request, client_address)

    def process_request_thread(self, request, client_address) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.slots.release()

    def handle_error(self, request, client_address) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, OSError):  # a client that went away (broken pipe, reset, timeout): one line
            print(f"cnmlab engine: a client went away: {type(exc).__name__}: {exc}", file=sys.stderr)
        else:
            traceback.print_exc()


def _holds(route: Route, req: Request) -> Holds:
    """What a request's work holds on the kernel thread: a read nothing; a change the objects its
    path, `?name=` and typed body name (a `run` without a name on the default bridge: none); a
    change without a body that names nothing (reset, prune), or one that may touch any (hosts): everything."""
    if route.read or req.method in ("GET", "HEAD"):
        return READ
    if route.exclusive:
        return EVERYTHING
    refs = [*req.params.values(), *filter(None, [req.query.get("name")]), *types.refs(req.body)]
    return frozenset(refs) if refs or route.body is not None else EVERYTHING


class _Handler(socketserver.StreamRequestHandler):
    """One client connection on its own thread: its requests one after another (keep-alive)."""

    timeout = READ_TIMEOUT
    head: connection.Head | None = None  # the request being answered

    def handle(self) -> None:
        while True:
            try:
                head = connection.read_head(self.rfile)
            except TimeoutError:  # a kept connection left idle, or a stalled head: hang up
                return
            except CnmError as exc:  # not HTTP/1.x: say why, and hang up
                return self._send(exc.status, {"message": exc.message}, close=True)
            if head is None:
                return
            self.head = head
            if not self._dispatch(head) or not head.keep_alive:
                return

    def _dispatch(self, head: connection.Head) -> bool:
        """Answer one request; False when the connection cannot carry another one."""
        engine: Engine = self.server.engine
        method = head.method
        url = urlsplit(head.target)
        try:
            found, api_version, known = docker_api.resolve(method, url.path)
        except CnmError as exc:
            return self._send(exc.status, {"message": exc.message})
        if found is None:
            return self._send(405 if known else 404, {"message": f"page not found: {method} {url.path}"})
        route, params = found
        try:
            raw = connection.read_body(self.rfile, head, self.wfile)
        except CnmError as exc:  # the body was not read (whole): this connection cannot carry another request
            self._send(exc.status, {"message": exc.message}, close=True)
            connection.linger(self.connection, LINGER, LINGER_BYTES)
            return False
        try:
            body = wire.decode(raw, route.body or Any)
        except CnmError as exc:
            return self._send(exc.status, {"message": exc.message})
        req = Request(method, url.path, params, dict(parse_qsl(url.query)), body, engine, api_version=api_version)
        if route.streaming:
            self._stream(route, req)
            return False
        try:
            if route.kernel:  # the kernel thread sends the reply itself (`_answer`); what it could not, we do
                unsent = engine.kernel.submit(self._answer, route, req, holds=_holds(route, req),
                                              reads_between=True).result()
                if unsent:
                    self.wfile.write(unsent)
                return True
            result = route.handler(req)
            self.wfile.write(self._reply_to(route, req, result))
            return True
        except CnmError as exc:
            return self._send(exc.status, {"message": exc.message})
        except Exception as exc:  # a bug in cnmlab (bad input is a CnmError): say what, keep serving
            traceback.print_exc()
            return self._send(500, {"message": f"internal error (a cnmlab bug, see engine.log): "
                                               f"{type(exc).__name__}: {exc}"})

    def _answer(self, route: Route, req: Request) -> bytes:
        """On the kernel thread: run the handler and send its reply from here, the moment it is
        ready, so the client does not wait for this connection's thread to be woken and get the
        GIL (0.1-0.3 ms on a busy machine). Only what the socket takes at once is sent (a slow
        client never holds the kernel thread); the rest is returned, for the connection's thread.
        An error is raised as it was: that thread answers it (a read that fails in the middle of
        a change is asked again, kernel_thread.serve_reads)."""
        data = self._reply_to(route, req, route.handler(req))
        try:
            fd = self.connection.fileno()
            sent = 0 if os.get_blocking(fd) else os.write(fd, data)
        except BlockingIOError:
            sent = 0
        except OSError:  # the client went away: its thread finds out when it writes or reads
            sent = 0
        return data[sent:]

    def _reply_to(self, route: Route, req: Request, result) -> bytes:
        """The bytes of a handler's successful answer."""
        if isinstance(result, Reply):
            return self._reply_bytes(result)
        if CHECK_REPLIES and route.reply is not None and result is not None:
            wire.check_reply(result, route.reply)  # a misfit is a CnmError: answered as one
        if route.status == 204 or result is None:
            return self._reply_bytes(Reply(b"", "application/json", status=204 if route.status == 204 else 200))
        return self._reply_bytes(Reply(wire.encode(result), "application/json", status=route.status))

    def _send(self, status: int, payload, close: bool = False) -> bool:
        """Answer with JSON (an error, mostly); False when the connection closes after it."""
        data = b"" if payload is None else wire.encode(payload)
        self.wfile.write(self._reply_bytes(Reply(data, "application/json", status=status), close))
        return not close

    def _reply_bytes(self, reply: Reply, close: bool = False) -> bytes:
        """The reply's head and body as one write: the client wakes once, with all of it."""
        headers = {"Content-Type": reply.content_type, "Content-Length": str(len(reply.body)), **reply.headers,
                   **docker_api.HEADERS}  # on every answer, as dockerd's middleware does
        if close:
            headers["Connection"] = "close"
        data = connection.reply_head(reply.status, headers)
        if reply.body and (self.head is None or self.head.method != "HEAD"):
            data += reply.body
        return data

    def _stream(self, route, req: Request) -> None:
        """A long-running answer on this HTTP thread. The head goes out with the first bytes (or
        `req.start_stream`), so a handler may still fail with a plain JSON error before it."""
        started = False
        chunked = False  # Docker's clients read a plain (not hijacked) stream as HTTP chunks

        def start(content_type: str = "application/x-ndjson", upgrade: bool = False) -> None:
            nonlocal started, chunked
            if started:
                return
            started = True
            if upgrade:  # Docker's hijack: the connection becomes a raw stream both ways
                head = connection.reply_head(101, {"Content-Type": content_type, "Connection": "Upgrade",
                                                   "Upgrade": "tcp", **docker_api.HEADERS}, reason="UPGRADED")
            else:
                chunked = req.api_version is not None
                headers = {"Content-Type": "application/json" if chunked and content_type == "application/x-ndjson"
                           else content_type}
                if chunked:
                    headers["Transfer-Encoding"] = "chunked"
                head = connection.reply_head(200, {**headers, "Connection": "close", **docker_api.HEADERS})
            self.wfile.write(head)
            if upgrade:
                self.connection.settimeout(None)  # an interactive session may be idle: READ_TIMEOUT is for requests
                # docker-py reads the 101 head through a buffered reader and then reads the raw
                # socket: bytes that arrive with the head are lost to it. dockerd's output always
                # comes later (a process starts); ours may be queued already, so let the head go first.
                time.sleep(HIJACK_HEAD_PAUSE)

        def write(chunk: bytes) -> None:
            start()
            if chunked and chunk:
                chunk = b"%x\r\n%s\r\n" % (len(chunk), chunk)
            self.wfile.write(chunk)

        req.stream, req.start_stream = write, start
        req.socket, req.rfile = self.connection, self.rfile
        req.headers = dict(self.head.headers)
        try:
            route.handler(req)
            if chunked:
                self.wfile.write(b"0\r\n\r\n")
        except CnmError as exc:
            if not started:
                self._send(exc.status, {"message": exc.message}, close=True)
        except OSError:
            pass  # the client went away
        except Exception as exc:  # a bug: say what, keep serving
            traceback.print_exc()
            if not started:
                self._send(500, {"message": f"{type(exc).__name__}: {exc}"}, close=True)
