"""The engine's probe routes: POST /lab/probe, /lab/matrix, /lab/trace.

They run on HTTP threads (kernel=False): a probe waits for answers, and the kernel thread must
keep serving lab changes meanwhile. Controller state is read through engine.call.
"""

from __future__ import annotations

from ..api import types
from ..api.router import Request, router


@router.route("POST", "/lab/probe", kernel=False, body=types.Probe)
def probe(req: Request):
    from . import single

    p: types.Probe = req.body
    return single.run(req.engine, p.source, p.destination, p.proto or "icmp", p.port, p.timeout, p.size)


@router.route("POST", "/lab/matrix", kernel=False, body=types.Matrix)
def matrix(req: Request):
    from . import matrix as matrix_mod

    m: types.Matrix = req.body
    return matrix_mod.run(req.engine, proto=m.proto or "icmp", port=m.port, network=m.network,
                          explain=m.explain, timeout=m.timeout, by=m.by, size=m.size)


@router.route("POST", "/lab/trace", kernel=False, body=types.Probe)
def trace(req: Request):
    from . import trace as trace_mod

    p: types.Probe = req.body
    return trace_mod.run(req.engine, p.source, p.destination, p.proto or "icmp", p.port, p.timeout, p.size)


@router.route("GET", "/lab/probe/sockets", kernel=False)
def probe_sockets(req: Request):
    """Where every recent probe socket was opened (namespace name and inode): for audits and tests."""
    from . import sockets

    return sockets.opened()
