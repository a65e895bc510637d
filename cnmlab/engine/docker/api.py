"""Which route answers a request: Docker's API versions, and the headers every answer carries.

A Docker client asks `HEAD /_ping` (unversioned), reads `API-Version`, then sends every request
as `/v1.N/...`. Versioned paths prefer Docker's routes (their shapes are Docker's exactly);
unversioned ones prefer cnmlab's own (its CLI, TUI and notebook use them), and fall back to
Docker's, as dockerd serves both.
"""

from __future__ import annotations

import re

from ...errors import InvalidParameter
from ..router import Route, Router
from ..router import router as lab_router

MIN_API_VERSION = "1.24"
API_VERSION = "1.45"  # the newest whose shapes are served: docker-py 7's default

# dockerd's version middleware puts these on every answer; the CLI negotiates with them.
HEADERS = {"API-Version": API_VERSION, "OSType": "linux", "Docker-Experimental": "false"}

router = Router()

_VERSIONED = re.compile(r"^/v(\d+\.\d+)(/.*)$")


def _key(version: str) -> tuple[int, int]:
    major, minor = version.split(".")
    return int(major), int(minor)


def resolve(method: str, path: str) -> tuple[tuple[Route, dict[str, str]] | None, str | None, bool]:
    """(route and params, the client's API version, whether some route has the path at all)."""
    m = _VERSIONED.match(path)
    if m is None:
        found = lab_router.match(method, path) or router.match(method, path)
        return found, None, found is not None or lab_router.allowed(path) or router.allowed(path)
    version, rest = m.groups()
    if _key(version) < _key(MIN_API_VERSION):
        raise InvalidParameter(f"client version {version} is too old. Minimum supported API version is "
                               f"{MIN_API_VERSION}, please upgrade your client to a newer version")
    if _key(version) > _key(API_VERSION):
        raise InvalidParameter(f"client version {version} is too new. Maximum supported API version is {API_VERSION}")
    found = router.match(method, rest) or lab_router.match(method, rest)
    return found, version, found is not None or router.allowed(rest) or lab_router.allowed(rest)
