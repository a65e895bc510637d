"""`Lab`: the notebook's handle on the engine, with a Python API that mirrors the CLI.

    from cnmlab.notebook import Lab
    lab = Lab()                      # connects, starting the engine if none runs
    lab                              # shows the dashboard (live diagram, controls, probe, tabs)
    lab.network_create("net-a")
    lab.run("aa", networks=["net-a"])
    lab.probe("aa", "bb", proto="tcp", port=80)

Every call is one client call (or a short sequence with its own undo); every engine error is
raised as `LabError` with the engine's message.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from ..client import Client
from ..errors import CnmError
from .results import (
    DiagramResult,
    ExecResult,
    LabError,
    MatrixResult,
    ObjectResult,
    ProbeResult,
    RemovedResult,
    TraceResult,
)
from .state import LabState

T = TypeVar("T")


def call(fn: Callable[..., T], *args, **kwargs) -> T:
    """Run one client call; any engine or connection error becomes a LabError with its message."""
    try:
        return fn(*args, **kwargs)
    except CnmError as exc:
        raise LabError(exc.message) from None
    except OSError as exc:
        raise LabError(f"cannot reach the cnmlab engine: {exc.strerror or exc}") from None


class Lab:
    def __init__(self, socket_path: str | Path | None = None, autostart: bool = True, client: Client | None = None):
        self.client = client or Client(socket_path, autostart=autostart)
        self.engine = call(self.client.status)
        self._dashboard = None

    # -- the lab as a whole ---------------------------------------------------------
    def state(self) -> LabState:
        return call(LabState.fetch, self.client)

    def diagram(self) -> DiagramResult:
        return DiagramResult(self.state())

    def reset(self) -> None:
        call(self.client.reset)

    # -- networks -------------------------------------------------------------------
    def network_create(self, name: str, driver: str = "bridge", subnet: str | None = None, gateway: str | None = None,
                       ip_range: str | None = None, internal: bool = False, attachable: bool = False,
                       options: dict | None = None, labels: dict | None = None,
                       host: str | None = None) -> ObjectResult:
        created = call(self.client.network_create, name, driver=driver, subnet=subnet, gateway=gateway,
                       ip_range=ip_range, internal=internal, attachable=attachable, options=options,
                       labels=labels, host=host)
        return ObjectResult("network", call(self.client.network_inspect, created["Id"]))

    def network_inspect(self, name: str) -> ObjectResult:
        return ObjectResult("network", call(self.client.network_inspect, name))

    def network_rm(self, *names: str) -> RemovedResult:
        for name in names:
            call(self.client.network_rm, name)
        return RemovedResult("network", names)

    def networks(self) -> list[ObjectResult]:
        return [ObjectResult("network", n) for n in call(self.client.networks)]

    # -- containers -----------------------------------------------------------------
    def run(self, name: str, network: str | None = None, networks: list[str] | None = None, ip: str | None = None,
            aliases: list[str] | None = None, ports: list[str] | None = None, host: str | None = None) -> ObjectResult:
        """Create a container joined to `network` (or the first of `networks`, then connected to the rest).

        If a later connect fails, the container is removed again: nothing is left half made.
        """
        if network and networks:
            raise LabError("give either network= or networks=, not both")
        nets = list(networks or ([network] if network else []))
        call(self.client.run, name, network=nets[0] if nets else None, ip=ip, aliases=aliases, ports=ports, host=host)
        try:
            for net in nets[1:]:
                call(self.client.connect, net, name)
        except LabError:
            call(self.client.rm, name, force=True)
            raise
        return self.inspect(name)

    def inspect(self, name: str) -> ObjectResult:
        return ObjectResult("container", call(self.client.inspect, name))

    def connect(self, network: str, container: str, ip: str | None = None,
                aliases: list[str] | None = None) -> ObjectResult:
        call(self.client.connect, network, container, ip=ip, aliases=aliases)
        return self.inspect(container)

    def disconnect(self, network: str, container: str, force: bool = False) -> ObjectResult:
        call(self.client.disconnect, network, container, force=force)
        return self.inspect(container)

    def rm(self, *names: str, force: bool = True) -> RemovedResult:
        for name in names:
            call(self.client.rm, name, force=force)
        return RemovedResult("container", names)

    def containers(self) -> list[str]:
        return [c["Names"][0].lstrip("/") for c in call(self.client.containers)]

    def exec(self, target: str, command: str | list[str], timeout: float = 60.0) -> ExecResult:
        """Run a real command in a container's sandbox (or a host's namespace): lab.exec("aa", "ip addr")."""
        argv = shlex.split(command) if isinstance(command, str) else list(command)
        if not argv:
            raise LabError("exec needs a command, e.g. lab.exec('aa', 'ip addr')")
        call(self.client.namespace_of, target)  # a clear "No such container or host" first
        try:
            proc = self.client.exec(target, argv, timeout=timeout)
        except FileNotFoundError as exc:
            raise LabError(f"cannot run {argv[0]}: {exc.strerror}") from None
        return ExecResult(target, argv, proc)

    # -- packets ----------------------------------------------------------------------
    def probe(self, src: str, dst: str, proto: str = "icmp", port: int | None = None,
              timeout: float = 1.0) -> ProbeResult:
        return ProbeResult(call(self.client.probe, src, dst, proto=proto, port=port, timeout=timeout))

    def matrix(self, proto: str = "icmp", port: int | None = None, network: str | None = None,
               explain: bool = True, by: str = "endpoint") -> MatrixResult:
        """Every container against every endpoint (by="container": every container)."""
        return MatrixResult(call(self.client.matrix, proto=proto, port=port, network=network, explain=explain,
                                 by=by))

    def trace(self, src: str, dst: str, proto: str = "icmp", port: int | None = None) -> TraceResult:
        data = call(self.client.trace, src, dst, proto=proto, port=port)
        return TraceResult(data, self.state())

    # -- the dashboard ----------------------------------------------------------------
    def dashboard(self):
        """The dashboard widget (one per Lab; it follows the engine's events until `close()`)."""
        if self._dashboard is None:
            from .dashboard import Dashboard

            self._dashboard = Dashboard(self)
        return self._dashboard

    def _repr_mimebundle_(self, **kwargs):
        return self.dashboard()._repr_mimebundle_(**kwargs)

    def close(self) -> None:
        if self._dashboard is not None:
            self._dashboard.stop()

    def __repr__(self) -> str:
        return f"Lab(engine pid {self.engine.get('pid')}, socket {self.client.socket_path})"
