"""HTTP/1.1 on one client connection: a request's head and body in, a reply's bytes out.

The standard library's BaseHTTPRequestHandler took 0.17 ms of CPU per request on the engine's
connection thread just for the head (its headers go through the e-mail parser) and sent each
reply in two writes, head then body, so the client woke twice. This reads the head with a few
`readline`s of the buffered socket and builds each reply's head and body into one send. It keeps
what the API's clients use: keep-alive (HTTP/1.1's default; `Connection: close`; HTTP/1.0),
Content-Length and chunked bodies, `Expect: 100-continue`, HEAD, and the limits on lines and
headers that the standard library had.
"""

from __future__ import annotations

import contextlib
import socket
import time
from email.utils import formatdate
from http import HTTPStatus

from ..api import wire
from ..errors import CnmError, InvalidParameter

MAX_LINE = 65536  # bytes of a request line or a header line, as the standard library's server
MAX_HEADERS = 100
METHODS = frozenset({"GET", "POST", "PUT", "DELETE", "HEAD"})
SERVER = "cnmlab-engine"


class BadRequest(CnmError):
    """A head the engine cannot read as HTTP/1.x: answered, then the connection is closed."""

    status = 400


class _Status(BadRequest):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class Head:
    """A request's first line and headers (names in lower case; the first of a repeated one)."""

    __slots__ = ("method", "target", "version", "headers", "keep_alive")

    def __init__(self, method: str, target: str, version: tuple[int, int], headers: dict[str, str]) -> None:
        self.method, self.target, self.version, self.headers = method, target, version, headers
        connection = headers.get("connection", "").lower()
        self.keep_alive = connection != "close" and (version >= (1, 1) or connection == "keep-alive")


def read_head(rfile) -> Head | None:
    """The next request's head; None when the client closed the connection (or sent a blank line)."""
    line = rfile.readline(MAX_LINE + 1)
    if not line:
        return None
    if len(line) > MAX_LINE:
        raise _Status(414, "the request line is too long")
    words = line.decode("iso-8859-1").split()
    if not words:
        return None
    if len(words) != 3 or not words[2].startswith("HTTP/"):
        raise BadRequest(f"bad request line: {line[:80]!r}")
    method, target, protocol = words
    try:
        major, minor = protocol[5:].split(".")
        version = (int(major), int(minor))
    except ValueError:
        raise BadRequest(f"bad HTTP version: {protocol[:20]!r}") from None
    if version >= (2, 0):
        raise _Status(505, f"HTTP version {protocol} is not supported")
    if method not in METHODS:
        raise _Status(501, f"unsupported method {method[:20]!r}")
    if target.startswith("//"):  # `//x` would read as a host name to urlsplit
        target = "/" + target.lstrip("/")
    headers: dict[str, str] = {}
    name = None
    for _ in range(MAX_HEADERS + 1):
        line = rfile.readline(MAX_LINE + 1)
        if len(line) > MAX_LINE:
            raise _Status(431, "a header line is too long")
        if line in (b"\r\n", b"\n", b""):
            return Head(method, target, version, headers)
        text = line.decode("iso-8859-1")
        if text[0] in " \t" and name is not None:  # an obsolete folded line continues the last header
            headers[name] += " " + text.strip()
            continue
        field, colon, value = text.partition(":")
        if not colon:
            raise BadRequest(f"bad header line: {line[:80]!r}")
        name = field.strip().lower()
        headers.setdefault(name, value.strip())
    raise _Status(431, f"more than {MAX_HEADERS} headers")


def read_body(rfile, head: Head, wfile) -> bytes:
    """The request's body, at most wire.MAX_BODY bytes, by Content-Length or chunked."""
    headers = head.headers
    chunked = "chunked" in headers.get("transfer-encoding", "").lower()
    text = headers.get("content-length", "0").strip()
    if not chunked:
        if not text.isdigit():
            raise InvalidParameter(f"invalid Content-Length: {text[:40]!r}")
        length = int(text)
        if length > wire.MAX_BODY:
            raise wire.TooLarge(f"the request body is {length} bytes; the limit is {wire.MAX_BODY}")
        if not length:
            return b""
    if head.version >= (1, 1) and headers.get("expect", "").lower() == "100-continue":
        wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
    if chunked:
        return _read_chunked(rfile)
    raw = rfile.read(length)
    if len(raw) < length:
        raise InvalidParameter(f"the request body ended after {len(raw)} of {length} bytes")
    return raw


def _read_chunked(rfile) -> bytes:
    parts, size = [], 0
    while True:
        line = rfile.readline(64).split(b";")[0].strip()
        try:
            chunk = int(line, 16)
        except ValueError:
            raise InvalidParameter("invalid chunked request body") from None
        if chunk == 0:
            rfile.readline(64)
            return b"".join(parts)
        size += chunk
        if chunk < 0 or size > wire.MAX_BODY:
            raise wire.TooLarge(f"the request body is over the limit of {wire.MAX_BODY} bytes")
        parts.append(rfile.read(chunk))
        rfile.readline(64)


_REASONS = {s.value: s.phrase for s in HTTPStatus}
_date = [0, ""]  # the Date header, made again once a second


def reply_head(status: int, headers: dict[str, str], reason: str | None = None) -> bytes:
    """A reply's status line and headers, the blank line included."""
    now = int(time.time())
    if _date[0] != now:
        _date[:] = [now, formatdate(now, usegmt=True)]
    lines = [f"HTTP/1.1 {status} {reason or _REASONS.get(status, '')}\r\nServer: {SERVER}\r\nDate: {_date[1]}\r\n"]
    lines.extend(f"{name}: {value}\r\n" for name, value in headers.items())
    lines.append("\r\n")
    return "".join(lines).encode("latin-1")


def linger(sock: socket.socket, seconds: float, most: int) -> None:
    """Closing with the client's bytes unread would reset the connection, and the client would
    lose the answer it was sent (a 413): read them away first, for a bounded while."""
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_WR)
        sock.settimeout(seconds)
        deadline, drained = time.monotonic() + seconds, 0
        while time.monotonic() < deadline and drained < most:
            chunk = sock.recv(1 << 16)
            if not chunk:
                break
            drained += len(chunk)
