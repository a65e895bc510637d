"""A host's published ports (`-p`): which host ports are free, and the ephemeral ones.

Like dockerd's port allocator: only running containers hold their ports (Docker allocates them
at start), per host, protocol and address. Which endpoint carries them is the sandbox's
decision (sandbox.py: `Sandbox.place_ports`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from .errors import Conflict

if TYPE_CHECKING:
    from .sandbox import Container, PortBinding


EPHEMERAL = range(49153, 65536)  # where dockerd's port allocator picks `-p PORT` / `-P` host ports


def check_free(containers: Iterable[Container], host: str, bindings: list[PortBinding],
               besides: Container | None = None) -> None:
    """Refuse a host port another running container of `host` holds. Ephemeral bindings get
    their host port here, afresh at every start."""
    if not bindings:  # most containers publish nothing: no walk over every container
        return
    taken = [p for c in containers if c.host == host and c.running and c is not besides for p in c.ports]
    for p in bindings:
        if p.ephemeral:
            p.host_port = next((n for n in EPHEMERAL if not _clash(taken, n, p)), 0)
            if not p.host_port:
                raise Conflict("no free ephemeral port left on the host for `-p` (49153-65535)")
        elif _clash(taken, p.host_port, p):
            raise Conflict(f"Bind for {p.host_ip or '0.0.0.0'}:{p.host_port} failed: port is already allocated")
        taken.append(p)


def _clash(taken: list[PortBinding], port: int, p: PortBinding) -> bool:
    return any(q.host_port == port and q.proto == p.proto and (not q.host_ip or not p.host_ip or q.host_ip == p.host_ip)
               for q in taken)
