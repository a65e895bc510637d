"""Processes in a sandbox: a container's main process and `exec` instances.

A process is started the way `cnmlab exec` enters a container: `nsenter --uts` (its hostname),
then `ip netns exec` (its network namespace and the lab's private /etc view, resolv.conf
included), with alpine's tools first on PATH (image.py). Neither forks, so the pid is the
command's own. With a TTY it gets a pty in the engine (setsid, controlling terminal); without,
pipes. Its output is pumped, as it comes, to `on_output(stream, bytes)`; when it has exited and
its output is drained, `on_exit(code)` runs, with Docker's code (128+N for a signal N).

Start processes on a long-lived thread (the kernel thread): the kernel kills them (PDEATHSIG)
when the thread that started them goes, so none outlives the engine and its world.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import pty
import shutil
import signal
import struct
import subprocess
import termios
import threading
from collections.abc import Callable

from .osl import syscalls

SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
DRAIN_TIMEOUT = 2.0  # how long an exited process's output may still trickle in (a child holding it)


def _tool(name: str) -> str:
    return shutil.which(name, path=SYSTEM_PATH) or name


def sandbox_argv(netns: str, uts: str | None, argv: list[str]) -> list[str]:
    """argv that runs `argv` in a lab namespace from inside the world (the engine's own view)."""
    prefix = [_tool("nsenter"), f"--uts={uts}"] if uts else []
    return prefix + [_tool("ip"), "netns", "exec", netns] + argv


def exit_code(returncode: int) -> int:
    """Docker's exit code: a process killed by signal N exits 128+N."""
    return 128 - returncode if returncode < 0 else returncode


class SandboxProcess:
    def __init__(self, argv: list[str], env: dict[str, str], tty: bool = False, stdin: bool = False,
                 on_output: Callable[[str, bytes], None] | None = None,
                 on_exit: Callable[[int], None] | None = None, cwd: str = "/"):
        self.argv = argv
        self.cwd = cwd or "/"
        self.env = env
        self.tty = tty
        self.wants_stdin = stdin
        self.on_output = on_output or (lambda stream, data: None)
        self.on_exit = on_exit or (lambda code: None)
        self.proc: subprocess.Popen | None = None
        self.code: int | None = None
        self.exited = threading.Event()
        self._master: int | None = None
        self._stdin_lock = threading.Lock()
        self._pumps: list[threading.Thread] = []

    @property
    def pid(self) -> int:
        return self.proc.pid if self.proc else 0

    def start(self) -> None:
        if self.tty:
            master, slave = pty.openpty()
            self._master = master
            try:
                self.proc = subprocess.Popen(self.argv, stdin=slave, stdout=slave, stderr=slave, env=self.env,
                                             cwd=self.cwd, start_new_session=True, preexec_fn=_as_terminal_child)
            except BaseException:
                os.close(master)
                raise
            finally:
                os.close(slave)
            self._pump("stdout", master)
        else:
            self.proc = subprocess.Popen(self.argv, stdin=subprocess.PIPE if self.wants_stdin else subprocess.DEVNULL,
                                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=self.env, cwd=self.cwd,
                                         start_new_session=True, preexec_fn=_child)
            self._pump("stdout", self.proc.stdout.fileno())
            self._pump("stderr", self.proc.stderr.fileno())
        threading.Thread(target=self._wait, name=f"wait-{self.proc.pid}", daemon=True).start()

    def _pump(self, stream: str, fd: int) -> None:
        def run() -> None:
            while True:
                try:
                    data = os.read(fd, 65536)
                except OSError:  # EIO: the pty's last slave closed
                    break
                if not data:
                    break
                self.on_output(stream, data)

        thread = threading.Thread(target=run, name=f"{stream}-pump", daemon=True)
        self._pumps.append(thread)
        thread.start()

    def _wait(self) -> None:
        code = exit_code(self.proc.wait())
        for pump in self._pumps:
            pump.join(DRAIN_TIMEOUT)
        self.code = code
        self._close_fds()
        self.exited.set()
        self.on_exit(code)

    def _close_fds(self) -> None:
        with self._stdin_lock:
            if self._master is not None:
                with contextlib.suppress(OSError):
                    os.close(self._master)
                self._master = None
            for f in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
                if f is not None:
                    with contextlib.suppress(OSError):
                        f.close()

    # -- talking to it ----------------------------------------------------------------
    def write(self, data: bytes) -> None:
        """Feed its stdin (the pty with a TTY); a process that has gone drops the bytes."""
        with self._stdin_lock, contextlib.suppress(OSError, ValueError):
            if self._master is not None:
                os.write(self._master, data)
            elif self.proc and self.proc.stdin:
                self.proc.stdin.write(data)
                self.proc.stdin.flush()

    def close_stdin(self) -> None:
        """End of input: EOF on its pipe; with a TTY, the terminal's EOF character."""
        with self._stdin_lock, contextlib.suppress(OSError, ValueError):
            if self._master is not None:
                os.write(self._master, b"\x04")
            elif self.proc and self.proc.stdin:
                self.proc.stdin.close()

    def resize(self, height: int, width: int) -> None:
        with self._stdin_lock, contextlib.suppress(OSError):
            if self._master is not None:
                fcntl.ioctl(self._master, termios.TIOCSWINSZ, struct.pack("HHHH", height, width, 0, 0))

    def signal(self, sig: int) -> None:
        if self.proc and self.code is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.proc.pid, sig)

    def wait(self, timeout: float | None = None) -> int | None:
        self.exited.wait(timeout)
        return self.code


def _child() -> None:
    syscalls.die_with_parent(signal.SIGKILL)


def _as_terminal_child() -> None:
    syscalls.die_with_parent(signal.SIGKILL)
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)
