"""The API's route table: each route with its handler and body type, registered with a decorator.

It sits beside the types, below the engine, so feature packages (dns, swarm, probe) declare their
routes here without importing the engine that serves them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from ..errors import InvalidParameter


@dataclass
class Request:
    method: str
    path: str
    params: dict[str, str]
    query: dict[str, str]
    body: Any  # the route's declared type (cnmlab.api.types), decoded; plain JSON for untyped routes
    engine: Any = None
    stream: Callable[[bytes], None] | None = None  # for streaming routes (events)
    api_version: str | None = None  # the N of a Docker client's /v1.N/ path
    # Streaming routes may send their head themselves (content type; `upgrade`: 101 and a raw,
    # hijacked connection, as Docker's attach and exec start do) and then use the socket both ways.
    start_stream: Callable[..., None] | None = None
    socket: Any = None
    rfile: Any = None  # what the client sends after the head (it may be buffered already)
    headers: dict[str, str] = field(default_factory=dict)

    def flag(self, name: str) -> bool:
        return self.query.get(name, "").lower() in ("1", "true", "yes")

    def field(self, name: str, default: Any = None) -> Any:
        if self.body is None:
            return default
        if not isinstance(self.body, dict):
            raise InvalidParameter("the request body must be a JSON object")
        return self.body.get(name, default)


@dataclass
class Reply:
    """A reply that is not JSON (Docker's plain-text `OK` of /_ping), or carries extra headers."""

    body: bytes = b""
    content_type: str = "text/plain; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    status: int = 200


@dataclass
class Route:
    method: str
    pattern: re.Pattern
    handler: Callable[[Request], Any]
    kernel: bool = True  # run on the kernel thread (every change to the lab must)
    streaming: bool = False
    status: int = 200
    body: Any = None  # the request body's type (a cnmlab.api.types.Body); None: untyped JSON
    summary: str = ""
    template: str = ""  # the path as registered: /networks/{id}
    read: bool = False  # a read (ps, ls, inspect; every GET is one): never waits for a change
    exclusive: bool = False  # a change that may touch any object (hosts): it runs alone
    reply: Any = None  # the reply's type (cnmlab.api.types: a Reply, or a list of them); None: undeclared


@dataclass
class Router:
    routes: list[Route] = field(default_factory=list)

    def route(self, method: str, path: str, kernel: bool = True, streaming: bool = False, status: int = 200,
              body: Any = None, read: bool = False, exclusive: bool = False, reply: Any = None):
        # {name} is one path segment; {name:path} may hold slashes (an image name: library/nginx:1)
        regex = re.compile(r"\A" + re.sub(r"\{(\w+)(:path)?\}", lambda m: f"(?P<{m[1]}>{'.+' if m[2] else '[^/]+'})",
                                          path) + r"\Z")

        def register(fn):
            summary = (fn.__doc__ or "").strip().split("\n")[0]
            self.routes.append(Route(method, regex, fn, kernel, streaming, status, body, summary, path, read,
                                     exclusive, reply))
            return fn

        return register

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        for route in self.routes:
            m = route.pattern.match(path)
            if m and route.method == method:
                return route, {k: unquote(v) for k, v in m.groupdict().items()}  # clients quote names
        return None

    def allowed(self, path: str) -> bool:
        return any(r.pattern.match(path) for r in self.routes)


router = Router()
