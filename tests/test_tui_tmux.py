"""End to end: the real `cnmlab` command in a real terminal (tmux), driven with send-keys and read
with capture-pane, while the CLI changes the lab from another process."""

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from tui_helpers import stop_tmux

pytestmark = [pytest.mark.kernel, pytest.mark.slow]

CNMLAB = str(Path(sys.executable).with_name("cnmlab"))


class Terminal:
    def __init__(self, cols: int = 100, rows: int = 30):
        self.server = f"cnmlab-e2e-{os.getpid()}"
        self.cols, self.rows = cols, rows

    def tmux(self, *args: str) -> str:
        return subprocess.run(["tmux", "-L", self.server, *args], capture_output=True, text=True, check=False,
                              timeout=20).stdout

    def start(self, command: str) -> None:
        env = [f"{k}={os.environ[k]}" for k in ("CNMLAB_RUNTIME_DIR", "CNMLAB_STATE_DIR") if k in os.environ]
        args = ["new-session", "-d", "-s", "app", "-x", str(self.cols), "-y", str(self.rows)]
        for pair in env + ["TERM=xterm-256color"]:
            args += ["-e", pair]
        # COLUMNS/LINES from the test process would override the terminal's real size.
        self.tmux(*args, f"env -u COLUMNS -u LINES {command}; echo CNMLAB-EXIT=$?; sleep 30")

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", "app")

    def keys(self, *keys: str) -> None:
        self.tmux("send-keys", "-t", "app", *keys)

    def wait_for(self, text: str, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            screen = self.screen()
            if text in screen:
                return screen
            time.sleep(0.1)
        raise AssertionError(f"{text!r} never appeared on the screen:\n{self.screen()}")

    def wait_gone(self, text: str, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while text in self.screen():
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} stayed on the screen:\n{self.screen()}")
            time.sleep(0.1)

    def close(self) -> None:
        stop_tmux(self.server)


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_cnmlab_in_a_terminal_sees_the_cli(lab, cli):
    term = Terminal(cols=130, rows=45)
    try:
        term.start(CNMLAB)
        # Plain `cnmlab` on an empty lab builds the chapter's starter topology and draws it.
        screen = term.wait_for("container-b")
        term.wait_for("net-b")
        names = sorted(c["Names"][0] for c in lab.containers())
        assert names == ["/container-a", "/container-b"], screen
        assert "n Net" in screen and "? Help" in screen  # key bindings in the footer

        term.keys("e")
        term.wait_for("engine events (live)")
        made = cli("network", "create", "--subnet", "10.55.0.0/24", "net-cli")
        assert made.returncode == 0, made.stderr
        term.wait_for("network net-cli created (driver bridge)")
        ran = cli("run", "--name", "from-cli", "--network", "net-cli")
        assert ran.returncode == 0, ran.stderr
        term.wait_for("sandbox from-cli created on host1")

        term.keys("h")
        screen = term.wait_for("net-cli bridge 10.55.0.0/24")
        term.wait_for("from-cli")
        # stopped containers show their state, in the tree and in the picture
        assert cli("create", "--name", "made-only", "alpine").returncode == 0
        assert cli("run", "--name", "quitter", "alpine", "sh", "-c", "exit 3").returncode == 0
        term.wait_for("made-only created")
        screen = term.wait_for("quitter exited (3)")
        assert "▣ made-only created" in screen and "│ created" in screen, screen  # the tree and the picture's box

        term.keys("?")
        term.wait_for("the Container Network Model, live")
        term.keys("Escape")
        term.wait_gone("the Container Network Model, live")  # (ESC then q at once would read as alt+q)
        term.keys("q")
        term.wait_for("CNMLAB-EXIT=0")
    finally:
        term.close()


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_probe_keys_in_a_real_terminal_at_120_columns(lab, cli):
    """The newcomer's path: three sandboxes at 120x36; the picture keeps driver and subnet; on the
    probe screen, a visit to the destination field leaves `t` a key, not a letter ("cc" -> "cct")."""
    term = Terminal(cols=120, rows=36)
    try:
        term.start(CNMLAB)
        term.wait_for("container-b")
        assert cli("run", "--name", "container-c", "--network", "net-b").returncode == 0
        screen = term.wait_for("container-c")
        term.wait_for("bridge 172.19.0.0/16")
        assert "d Disconnect" in term.wait_for("? Help"), screen  # the footer is whole
        term.keys("p")
        term.wait_for("s Send")
        term.keys("Tab")  # into the destination field: the footer says what acts there
        term.wait_for("Leave field")
        term.keys("Escape")  # leaves the field, not the screen
        term.wait_for("s Send")
        term.keys("h")
        term.wait_for("d Disconnect")
        term.keys("p")
        term.wait_for("s Send")
        term.keys("t")
        screen = term.wait_for("replied")
        assert "container-bt" not in screen
        term.keys("q")
        term.wait_for("CNMLAB-EXIT=0")
    finally:
        term.close()
