"""Routes for third-party drivers: list plugins, run a plugin process in the world, stop it.

GET  /plugins              entry-point drivers (read from package metadata, never imported) and
                           the remote plugins discovered in the world, each asked /Plugin.Activate
POST /plugins/run          api.types.PluginRun: start a plugin process in a host's namespace and
                           wait until its socket (or spec file) appears
POST /plugins/{ref}/stop   api.types.PluginStop: stop a process `plugins/run` started (by name or PID)
"""

from __future__ import annotations

from ..api import types
from ..errors import Forbidden, InvalidParameter
from ..events import HostRemoved, LabReset
from ..plugin_runner import Runner
from .router import Request, router

MAX_WAIT = 60.0  # seconds a plugin may take to show its socket


def attach(engine) -> None:
    runner = engine.extensions.provide(Runner())

    def on_event(event) -> None:
        # The namespaces a plugin served are gone: its interfaces would land nowhere.
        if isinstance(event, LabReset):
            runner.stop_all()
        elif isinstance(event, HostRemoved):
            runner.stop_all(event.host)

    engine.controller.subscribe(on_event, LabReset, HostRemoved)


def _runner(req: Request) -> Runner:
    return req.engine.extensions.get(Runner)


@router.route("GET", "/plugins", kernel=False)
def plugin_list(req: Request):
    from .. import plugins
    from ..drivers import installed

    by_name = {p.name: p for p in _runner(req).processes.values() if p.name and p.running()}
    remote = []
    for plugin in plugins.discover().values():
        info = plugins.describe(plugin)
        proc = by_name.get(plugin.name)
        info["Pid"], info["Host"] = (proc.pid, proc.host) if proc else (None, None)
        remote.append(info)
    return {"Drivers": [{"Name": n, "Entrypoint": v} for n, v in sorted(installed().items())],
            "Remote": remote,
            "Processes": [p.to_json() for p in _runner(req).processes.values()]}


@router.route("POST", "/plugins/run", kernel=False, status=201, body=types.PluginRun)
def plugin_run(req: Request):
    from .. import plugins

    engine = req.engine
    spec: types.PluginRun = req.body
    host = engine.call(_docker_host, engine.controller, spec.host)
    before = set(plugins.discover())
    runner = _runner(req)
    # Started on the kernel thread: it lives as long as the engine, so the parent-death signal
    # reaches the plugin only when the engine goes.
    proc = engine.call(runner.start, host, list(spec.argv), spec.cwd, spec.env)
    runner.wait_for_name(proc, before, min(spec.wait, MAX_WAIT))
    if not proc.running():
        runner.stop(proc)
        raise InvalidParameter(f"the plugin exited with code {proc.popen.returncode}: {_last_line(proc.log)}")
    return proc.to_json()


@router.route("POST", "/plugins/{ref}/stop", kernel=False, body=types.PluginStop)
def plugin_stop(req: Request):
    runner = _runner(req)
    proc = runner.find(req.params["ref"])
    if proc.name and not req.body.force:
        users = req.engine.call(_users, req.engine.controller, proc.name)
        if users:
            raise Forbidden(f"plugin {proc.name} is in use by network(s) {', '.join(users)}: "
                            "remove them first, or stop it anyway with -f")
    code = runner.stop(proc)
    return {"Pid": proc.pid, "Name": proc.name, "ExitCode": code}


def _docker_host(ctl, name: str | None) -> str:
    return ctl.host(name).name if name else ctl.default_host()


def _users(ctl, name: str) -> list[str]:
    return sorted(n.name for n in ctl.networks.values() if name in (n.driver, n.ipam_driver))


def _last_line(log: str) -> str:
    try:
        with open(log, errors="replace") as f:
            lines = [line.strip() for line in f if line.strip()]
    except OSError:
        return "no output"
    return lines[-1] if lines else "no output"
