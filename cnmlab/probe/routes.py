"""The engine's probe routes: POST /lab/probe, /lab/matrix, /lab/trace.

They run on HTTP threads (kernel=False): a probe waits for answers, and the kernel thread must
keep serving lab changes meanwhile. Controller state is read through engine.call.
"""

from __future__ import annotations

from ..engine.router import Request, router
from ..errors import InvalidParameter


def _body(req: Request) -> None:
    if req.body is not None and not isinstance(req.body, dict):
        raise InvalidParameter("the request body must be a JSON object")


@router.route("POST", "/lab/probe", kernel=False)
def probe(req: Request):
    from . import single

    _body(req)
    return single.run(req.engine, req.field("Source", ""), req.field("Destination", ""),
                      req.field("Proto") or "icmp", req.field("Port"), req.field("Timeout"), req.field("Size"))


@router.route("POST", "/lab/matrix", kernel=False)
def matrix(req: Request):
    from . import matrix as matrix_mod

    _body(req)
    return matrix_mod.run(req.engine, proto=req.field("Proto") or "icmp", port=req.field("Port"),
                          network=req.field("Network"), explain=bool(req.field("Explain", False)),
                          timeout=req.field("Timeout"), by=req.field("By"))


@router.route("POST", "/lab/trace", kernel=False)
def trace(req: Request):
    from . import trace as trace_mod

    _body(req)
    return trace_mod.run(req.engine, req.field("Source", ""), req.field("Destination", ""),
                         req.field("Proto") or "icmp", req.field("Port"), req.field("Timeout"), req.field("Size"))


@router.route("GET", "/lab/probe/sockets", kernel=False)
def probe_sockets(req: Request):
    """Where every recent probe socket was opened (namespace name and inode): for audits and tests."""
    from . import sockets

    return sockets.opened()
