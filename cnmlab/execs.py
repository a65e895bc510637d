"""Exec instances (`docker exec`): a command run beside a container's main process, in its sandbox.

As in Docker, an exec is created first (what to run, with or without a TTY, which streams),
then started once; inspecting it afterwards gives its exit code. Execs end with their
container: when its main process exits or it is removed, they are killed.
"""

from __future__ import annotations

import queue
import signal
import threading
from dataclasses import dataclass, field

from . import image
from .container import check_working_dir, uts_of
from .errors import Conflict, InvalidParameter, NotFound
from .events import ContainerDied, ContainerRemoved, LabReset
from .names import new_id
from .process import SandboxProcess, sandbox_argv


@dataclass
class ExecInstance:
    id: str
    container_id: str
    argv: list[str]
    tty: bool = False
    stdin: bool = False
    stdout: bool = True
    stderr: bool = True
    env: list[str] = field(default_factory=list)
    user: str = ""
    privileged: bool = False
    detach_keys: str = ""  # "" : Docker's default, ctrl-p ctrl-q
    working_dir: str = ""  # "": the container's
    process: SandboxProcess | None = None
    exit_code: int | None = None
    output: queue.Queue = field(default_factory=queue.Queue)  # (stream, bytes), then None

    @property
    def running(self) -> bool:
        return self.process is not None and self.exit_code is None

    def inspect(self) -> dict:
        return {"ID": self.id, "Running": self.running, "ExitCode": self.exit_code, "ContainerID": self.container_id,
                "OpenStdin": self.stdin, "OpenStdout": self.stdout, "OpenStderr": self.stderr, "CanRemove": False,
                "DetachKeys": self.detach_keys, "Pid": self.process.pid if self.process else 0,
                "ProcessConfig": {"tty": self.tty, "entrypoint": self.argv[0], "arguments": self.argv[1:],
                                  "privileged": self.privileged, "user": self.user}}


class Execs:
    """The engine's exec instances. Creating and starting run on the kernel thread."""

    def __init__(self, ctl):
        self.ctl = ctl
        self._by_id: dict[str, ExecInstance] = {}
        self._lock = threading.Lock()
        ctl.subscribe(self._on_event, ContainerDied, ContainerRemoved, LabReset)

    def create(self, ref: str, argv: list[str], tty: bool = False, stdin: bool = False, stdout: bool = True,
               stderr: bool = True, env: list[str] | None = None, user: str = "", privileged: bool = False,
               detach_keys: str = "", working_dir: str = "") -> ExecInstance:
        c = self.ctl.container(ref)
        if not c.running:
            raise Conflict(f"Container {c.id} is not running")
        if not argv or not isinstance(argv, list) or not all(isinstance(a, str) for a in argv):
            raise InvalidParameter("No exec command specified")
        ex = ExecInstance(id=new_id(), container_id=c.id, argv=list(argv), tty=tty, stdin=stdin, stdout=stdout,
                          stderr=stderr, env=list(env or []), user=user, privileged=privileged,
                          detach_keys=detach_keys, working_dir=working_dir)
        with self._lock:
            self._by_id[ex.id] = ex
        return ex

    def get(self, exec_id: str) -> ExecInstance:
        with self._lock:
            ex = self._by_id.get(exec_id)
        if ex is None:
            raise NotFound(f"No such exec instance: {exec_id}")
        return ex

    def start(self, exec_id: str, detach: bool = False) -> ExecInstance:
        """Start it (kernel thread: its process dies with the engine); output goes to `ex.output`."""
        ex = self.get(exec_id)
        if ex.process is not None:
            raise Conflict(f"Exec {exec_id} has already been started")  # Docker: "already running"
        c = self.ctl.containers.get(ex.container_id)
        if c is None or not c.running:
            raise Conflict(f"Container {ex.container_id} is not running")
        env = image.environment(c.env + ex.env, c.hostname, ex.tty)
        if image.find(ex.argv[0], env) is None:
            ex.exit_code = 126
            raise InvalidParameter(f'OCI runtime exec failed: exec failed: unable to start container process: '
                                   f'exec: "{ex.argv[0]}": executable file not found in $PATH: unknown')
        check_working_dir(ex.working_dir or c.working_dir)
        proc = SandboxProcess(sandbox_argv(c.netns, uts_of(c), image.userland(c.image, ex.argv)), env, tty=ex.tty,
                              stdin=ex.stdin, cwd=ex.working_dir or c.working_dir)
        proc.on_output = (lambda stream, data: None) if detach else (lambda stream, data: ex.output.put((stream, data)))
        proc.on_exit = lambda code: self._exited(ex, code)
        ex.process = proc
        proc.start()
        return ex

    @staticmethod
    def _exited(ex: ExecInstance, code: int) -> None:
        ex.exit_code = code
        ex.output.put(None)

    def _on_event(self, event) -> None:
        if isinstance(event, (ContainerDied, ContainerRemoved, LabReset)):
            with self._lock:
                gone = [ex for ex in self._by_id.values()
                        if isinstance(event, LabReset) or ex.container_id == event.id]
                for ex in gone:
                    if not ex.running:
                        self._by_id.pop(ex.id, None)
            for ex in gone:
                if ex.running:
                    ex.process.signal(signal.SIGKILL)
