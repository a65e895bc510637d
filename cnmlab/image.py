"""Images: recorded, never pulled. A container runs the lab's own userland in its sandbox.

Any image name is accepted. Where learners rely on an image's default command, it is honoured:
`alpine` and `busybox` run `sh` (which exits at once without `-i`, as in Docker); `nginx`,
`httpd` and every other image without a command of its own run the lab's test services (HTTP on
80, echo on 7), served by the engine: that stand-in has no process of its own.

Commands run in a container find alpine's usual tools first on PATH: a directory of busybox
applet links in the world's private /run, made once when the engine starts.
"""

from __future__ import annotations

import contextlib
import os
import shutil

BUSYBOX = "/bin/busybox"
APPLETS_DIR = "/run/cnmlab/applets"
# alpine's networking tools and its shell; nothing that could act on the machine (reboot, mount ...)
APPLETS = ("sh", "ash", "ping", "ping6", "nslookup", "wget", "nc", "ip", "ifconfig", "route", "traceroute",
           "traceroute6", "netstat", "arp", "arping", "telnet", "hostname", "ipcalc")
DOCKER_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

SHELL_IMAGES = {"alpine", "busybox"}  # their CMD is ["sh"] (alpine: /bin/sh)
SERVICE_IMAGES = {"nginx", "httpd"}  # they serve HTTP on 80: the test services stand in


def base_name(image: str) -> str:
    """`docker.io/library/alpine:3.19` -> `alpine` (registry, path and tag or digest dropped)."""
    name = image.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    return last.split(":", 1)[0].lower()


def default_cmd(image: str) -> list[str] | None:
    """The image's own CMD as Docker's image config has it (None: it has none)."""
    return ["/bin/sh"] if base_name(image) in SHELL_IMAGES else None


def command(image: str, entrypoint: list[str] | None, cmd: list[str] | None) -> list[str] | None:
    """The main process's argv (Entrypoint + Cmd); None means the test services stand in."""
    if entrypoint:  # a new entrypoint drops the image's CMD, as Docker does
        return list(entrypoint) + list(cmd or [])
    return list(cmd or default_cmd(image) or []) or None


def userland(image: str, argv: list[str]) -> list[str]:
    """alpine's and busybox's /bin/sh is busybox's shell: run that one, not the machine's."""
    if base_name(image) in SHELL_IMAGES and argv and argv[0] in ("/bin/sh", "/bin/ash") \
            and os.path.exists(os.path.join(APPLETS_DIR, "sh")):
        return [os.path.join(APPLETS_DIR, "sh"), *argv[1:]]
    return argv


def exposed_ports(image: str) -> list[str]:
    return ["80/tcp"] if base_name(image) in SERVICE_IMAGES else []


def prepare_applets() -> None:
    """Link busybox's applets into APPLETS_DIR (in the world's tmpfs). Without busybox, none."""
    if not os.path.exists(BUSYBOX):
        return
    os.makedirs(APPLETS_DIR, exist_ok=True)
    for applet in APPLETS:
        with contextlib.suppress(FileExistsError):
            os.symlink(BUSYBOX, os.path.join(APPLETS_DIR, applet))


def path(extra: str | None = None) -> str:
    """PATH for a process in a container: the applets first, then Docker's default PATH."""
    return f"{APPLETS_DIR}:{extra or DOCKER_PATH}"


def environment(env: list[str], hostname: str, tty: bool) -> dict[str, str]:
    """A container process's environment, as Docker builds it: PATH, HOSTNAME, (TERM), HOME, then Env."""
    out = {"PATH": path(), "HOSTNAME": hostname}
    if tty:
        out["TERM"] = "xterm"
    out["HOME"] = "/root"
    for item in env:
        key, _, value = item.partition("=")
        if key:
            out[key] = value
    return out


def find(argv0: str, env: dict[str, str]) -> str | None:
    """Where the command is, looked up as the container will (its PATH), or None."""
    if "/" in argv0:
        return argv0 if os.access(argv0, os.X_OK) and os.path.isfile(argv0) else None
    return shutil.which(argv0, path=env.get("PATH", path()))
