"""TUI time to first frame, in a real terminal: tmux (a private server) runs `cnmlab tui`.

"First frame" is the first time the pane shows the app (more than a few visible characters);
"lab shown" is when a container of the benchmark's lab appears on it. The engine is already up.

The pane is read every 10 ms through one tmux control-mode client (`tmux -C`, kept open for the
run): a read costs the tmux server a capture and nothing else. The first version ran
`tmux capture-pane` for each read, a new process every 10 ms on a 2-core machine beside the app
it timed; `poll="spawn"` still does, to compare the two (docs/benchmarks.md, history item 20).
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import subprocess
import sys
import time

TIMEOUT = 20.0
EXITED = "__cnmlab_bench_exited__"


def _pane(tmux: list[str]) -> str:
    return subprocess.run(tmux + ["capture-pane", "-p", "-t", "bench"], capture_output=True, text=True).stdout


class _ControlClient:
    """A tmux control-mode client of the session: `capture()` asks for the pane's text over its
    stdin and reads the answer's %begin ... %end block (blocks flagged 0 are tmux's own)."""

    def __init__(self, tmux: list[str]) -> None:
        self._proc = subprocess.Popen(tmux + ["-C", "attach", "-f", "ignore-size,read-only,no-output", "-t", "bench"],
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, errors="replace")

    def capture(self) -> str:
        try:
            self._proc.stdin.write("capture-pane -p -t bench\n")
            self._proc.stdin.flush()
        except BrokenPipeError:
            return ""
        lines: list[str] = []
        ours = False
        for line in self._proc.stdout:
            if line.startswith("%begin"):
                ours, lines = line.split()[3:4] == ["1"], []
            elif line.startswith(("%end", "%error")):
                if ours:
                    return "".join(lines)
            elif ours:
                lines.append(line)
        return ""  # the session ended

    def close(self) -> None:
        if self._proc.stdin:
            self._proc.stdin.close()
        try:
            self._proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()


def _new_session(tmux: list[str], cmd: str, tries: int = 3) -> str | None:
    """Start the pane; None when it runs, else why not. tmux may lose its server at start ("server
    exited unexpectedly": once seen after a 1000-container build, not reproduced since), so a
    failed start is retried on a fresh server; it is reported, never fatal to the whole run."""
    why = ""
    for attempt in range(tries):
        done = subprocess.run(tmux + ["new-session", "-d", "-s", "bench", "-x", "140", "-y", "45", cmd],
                              capture_output=True, text=True, env=dict(os.environ, TERM="xterm-256color"))
        if done.returncode == 0:
            return None
        why = (done.stderr or done.stdout).strip() or f"exit status {done.returncode}"
        subprocess.run(tmux + ["kill-server"], capture_output=True)
        time.sleep(0.5 * (attempt + 1))
    return f"tmux could not start the pane ({tries} tries): {why}"


def _remove_socket(server: str) -> None:
    """tmux 3.3 leaves a killed server's socket in /tmp/tmux-UID: one file per benchmark run."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(os.path.join(os.environ.get("TMUX_TMPDIR") or "/tmp", f"tmux-{os.getuid()}", server))


def first_frame(runs: int, expect: str = "c0", poll: str = "control",
                module: tuple[str, ...] = ("cnmlab", "tui", "--empty")) -> dict:
    """`python -m MODULE` in a fresh pane, `runs` times: the first frame's and (when `expect`
    is given) the lab's times in seconds."""
    if not shutil.which("tmux"):
        return {"error": "tmux is not installed"}
    tmux = ["tmux", "-L", f"cnmlab-bench-{os.getpid()}", "-f", "/dev/null"]
    frames, shown = [], []
    try:
        for _ in range(runs):
            # The shell keeps the pane open after an exit, so a crash shows its last words.
            cmd = f"{shlex.quote(sys.executable)} -m {' '.join(map(shlex.quote, module))}; echo {EXITED} $?; sleep 60"
            t0 = time.perf_counter()
            failed = _new_session(tmux, cmd)
            if failed:
                return {"error": failed, "first_frame_s": frames} if frames else {"error": failed}
            frame = lab = None
            reader = _ControlClient(tmux) if poll == "control" else None
            while time.perf_counter() - t0 < TIMEOUT and lab is None:
                text = reader.capture() if reader else _pane(tmux)
                now = time.perf_counter() - t0
                if EXITED in text:
                    if reader:
                        reader.close()
                    subprocess.run(tmux + ["kill-session", "-t", "bench"], capture_output=True)
                    return {"error": "the TUI exited: " + " | ".join(text.strip().splitlines()[-3:])[:300]}
                if frame is None and len("".join(text.split())) > 20:
                    frame = now
                    if not expect:
                        break
                if frame is not None and expect in text:
                    lab = now
                time.sleep(0.01)
            if reader:
                reader.close()
            subprocess.run(tmux + ["kill-session", "-t", "bench"], capture_output=True)
            if frame is None:
                return {"error": f"no frame within {TIMEOUT:.0f} s (is the TUI there? last pane: {text.strip()[:120]!r})"}
            frames.append(frame)
            if lab is not None:
                shown.append(lab)
    finally:
        subprocess.run(tmux + ["kill-server"], capture_output=True)
        _remove_socket(tmux[2])
    out = {"first_frame_s": frames}
    if shown:
        out["lab_shown_s"] = shown
    return out


def textual_floor(runs: int) -> dict:
    """The same timing of the least Textual app (benchmarks/textual_hello.py): what any TUI
    written with Textual pays on this machine before it draws anything of its own."""
    return first_frame(runs, expect="", module=("benchmarks.textual_hello",))
