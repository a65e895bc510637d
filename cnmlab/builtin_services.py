"""The built-in test services every container serves, so there is always something to reach.

- HTTP on :80 answers with the container's name and the address the request came in on.
- TCP and UDP echo on :7.

The sockets are opened inside each sandbox (a socket stays in the namespace it was created in)
and all are served by one thread with a selector, so 1000 containers cost 3000 file
descriptors and no processes.
"""

import contextlib
import selectors
import socket
import threading

from .osl import netns

HTTP_PORT = 80
ECHO_PORT = 7
# epoll watches a socket registered by another thread while it waits; select/poll would not, so
# only they need the serving thread woken (a wake per container was 4% of a batch's time).
LIVE_REGISTER = selectors.DefaultSelector is selectors.EpollSelector


def open_sockets() -> list[socket.socket]:
    """The services' three listening sockets, in the calling thread's namespace."""
    http = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    echo = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        for sock, port in ((http, HTTP_PORT), (echo, ECHO_PORT), (udp, ECHO_PORT)):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("0.0.0.0", port))
            sock.setblocking(False)
        http.listen(64)
        echo.listen(64)
    except OSError:
        for sock in (http, echo, udp):
            sock.close()
        raise
    return [http, echo, udp]


class BuiltinServices:
    def __init__(self) -> None:
        self._selector = selectors.DefaultSelector()
        self._listeners: dict[str, list[socket.socket]] = {}
        self._names: dict[str, str] = {}
        self._lock = threading.Lock()
        self._wake_r, self._wake_w = socket.socketpair()
        self._selector.register(self._wake_r, selectors.EVENT_READ, ("wake", None))
        self._thread = threading.Thread(target=self._serve, name="test-services", daemon=True)
        self._running = True
        self._thread.start()

    def start(self, ns: str, name: str, opened: list[socket.socket] | None = None) -> None:
        """Serve the services inside namespace `ns` for the container `name`; `opened`: their
        sockets, opened there already (a spare namespace's, osl/spares.py)."""
        if ns in self._listeners:
            for sock in opened or ():
                sock.close()
            return
        if opened:
            http, echo, udp = opened
        else:
            with netns.entered(ns):
                http, echo, udp = open_sockets()
        with self._lock:
            self._listeners[ns] = [http, echo, udp]
            self._names[ns] = name
            self._selector.register(http, selectors.EVENT_READ, ("accept-http", ns))
            self._selector.register(echo, selectors.EVENT_READ, ("accept-echo", ns))
            self._selector.register(udp, selectors.EVENT_READ, ("udp", ns))
        if not LIVE_REGISTER:
            self._wake()

    def stop(self, ns: str) -> None:
        with self._lock:
            socks = self._listeners.pop(ns, [])
            self._names.pop(ns, None)
            for sock in socks:
                with contextlib.suppress(KeyError, ValueError):
                    self._selector.unregister(sock)
                sock.close()

    def close(self) -> None:
        self._running = False
        self._wake()
        self._thread.join(timeout=2)
        for ns in list(self._listeners):
            self.stop(ns)

    def _wake(self) -> None:
        with contextlib.suppress(OSError):
            self._wake_w.send(b"x")

    def _serve(self) -> None:
        while self._running:
            for key, _ in self._selector.select(timeout=1.0):
                kind, ns = key.data
                try:
                    self._handle(kind, ns, key.fileobj)
                except OSError:
                    self._drop(key.fileobj)

    def _handle(self, kind: str, ns, sock) -> None:
        if kind == "wake":
            sock.recv(4096)
        elif kind in ("accept-http", "accept-echo"):
            conn, _ = sock.accept()
            conn.setblocking(False)
            role = "http" if kind == "accept-http" else "echo"
            with self._lock:
                self._selector.register(conn, selectors.EVENT_READ, (role, ns))
        elif kind == "udp":
            data, peer = sock.recvfrom(65535)
            sock.sendto(data, peer)
        elif kind == "echo":
            data = sock.recv(65535)
            if not data:
                self._drop(sock)
            else:
                sock.setblocking(True)
                sock.sendall(data)
                sock.setblocking(False)
        elif kind == "http":
            sock.recv(65535)  # one request per connection; HTTP/1.0 semantics
            body = f"{self._names.get(ns, '?')} {sock.getsockname()[0]}\n".encode()
            head = (f"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {len(body)}\r\n"
                    "Connection: close\r\n\r\n").encode()
            sock.setblocking(True)
            sock.settimeout(1.0)
            with contextlib.suppress(OSError):
                sock.sendall(head + body)
            self._drop(sock)

    def _drop(self, sock) -> None:
        with self._lock, contextlib.suppress(KeyError, ValueError):
            self._selector.unregister(sock)
        sock.close()
