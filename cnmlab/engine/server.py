"""The engine process: binds the API socket, enters the private lab world, serves requests.

Order matters: the socket is bound and the lock taken in the machine's mount namespace (so
clients can find them); then the still single-threaded process unshares into its own world;
only then are threads started. Every change to the lab runs on one kernel thread, in order,
because netlink handles belong to the thread that opened them.
"""

from __future__ import annotations

import contextlib
import fcntl
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
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

from .. import paths
from ..errors import CnmError
from ..events import Event
from ..osl import world
from . import routes  # noqa: F401  (registers the core routes)
from .router import Request, router



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
        self.kernel = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kernel")
        try:
            self.call(self._start_controller)
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

        self.controller = Controller(Store(self.store_path))
        self.controller.subscribe(self.broadcast)
        _load_extensions(self)
        self.controller.start()

    def request_stop(self) -> None:
        self._stopping.set()

    def _unlink_socket(self) -> None:
        with contextlib.suppress(FileNotFoundError, AttributeError):
            os.unlink(self.socket_path.name, dir_fd=self._runtime_fd)

    def call(self, fn, *args, **kwargs):
        """Run fn on the kernel thread and wait for it."""
        return self.kernel.submit(fn, *args, **kwargs).result()

    # -- events -----------------------------------------------------------------
    def broadcast(self, event: Event) -> None:
        line = (json.dumps(event.to_json()) + "\n").encode()
        with self._sub_lock:
            for q in self._subscribers:
                q.put(line)

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


def _raise_fd_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def _load_extensions(engine: Engine) -> None:
    """Feature modules (probes, DNS, overlay control plane ...) hook into the engine here."""
    from . import extensions

    extensions.load(engine)


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True

    def __init__(self, listener: socket.socket, engine: Engine):
        self.engine = engine
        socketserver.BaseServer.__init__(self, listener.getsockname(), _Handler)
        self.socket = listener
        self.socket.listen(128)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "cnmlab-engine"

    def address_string(self) -> str:
        return "unix"

    def log_message(self, format, *args) -> None:  # noqa: A002 - the stdlib's name
        pass

    def do_GET(self): self._dispatch("GET")  # noqa: E704
    def do_POST(self): self._dispatch("POST")  # noqa: E704
    def do_DELETE(self): self._dispatch("DELETE")  # noqa: E704
    def do_PUT(self): self._dispatch("PUT")  # noqa: E704

    def _dispatch(self, method: str) -> None:
        engine: Engine = self.server.engine
        url = urlsplit(self.path)
        found = router.match(method, url.path)
        if found is None:
            code = 405 if router.allowed(url.path) else 404
            return self._reply(code, {"message": f"page not found: {method} {url.path}"})
        route, params = found
        try:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            body = json.loads(raw) if raw.strip() else None
        except (ValueError, json.JSONDecodeError) as exc:
            return self._reply(400, {"message": f"invalid JSON body: {exc}"})
        req = Request(method, url.path, params, dict(parse_qsl(url.query)), body, engine)
        if route.streaming:
            return self._stream(route, req)
        try:
            result = engine.call(route.handler, req) if route.kernel else route.handler(req)
        except CnmError as exc:
            return self._reply(exc.status, {"message": exc.message})
        except Exception as exc:  # a bug or an unexpected kernel error: say what, keep serving
            traceback.print_exc()
            return self._reply(500, {"message": f"{type(exc).__name__}: {exc}"})
        if route.status == 204 or result is None:
            return self._reply(204 if route.status == 204 else 200, None)
        self._reply(route.status, result)

    def _reply(self, code: int, payload) -> None:
        data = b"" if payload is None else json.dumps(payload).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()  # HTTP/1.1 keep-alive: a client's next request reuses this connection and thread
        if data:
            self.wfile.write(data)

    def _stream(self, route, req: Request) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True

        def write(chunk: bytes) -> None:
            self.wfile.write(chunk)
            self.wfile.flush()

        req.stream = write
        with contextlib.suppress(OSError):
            route.handler(req)
