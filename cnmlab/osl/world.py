"""The private lab world: the engine's own network and mount namespaces.

The engine calls `enter()` once, while it is still single-threaded (a user namespace cannot be
unshared by a threaded process). Everything the lab creates lives inside; when the engine dies,
the kernel removes it all, so nothing leaks into the machine's root namespace.
"""

import os

from ..errors import Forbidden
from . import syscalls

NETNS_DIR = "/run/netns"


generation = 0  # how many times this process entered a world


def enter() -> None:
    """Unshare net + mount + uts (+ user when not root) and mount a private /run for named netns."""
    uid, gid = os.geteuid(), os.getegid()
    # A private UTS namespace too: sandboxes' hostnames are UTS namespaces the kernel thread
    # creates and leaves again, and returning needs the world to own the one it returns to.
    flags = syscalls.CLONE_NEWNET | syscalls.CLONE_NEWNS | syscalls.CLONE_NEWUTS
    if uid != 0:
        flags |= syscalls.CLONE_NEWUSER
    try:
        syscalls.unshare(flags)
    except OSError as exc:
        if uid != 0:
            raise Forbidden(
                f"cannot create the lab world: user namespaces are disabled or limited here ({exc.strerror}); "
                "enable kernel.unprivileged_userns_clone or run as root"
            ) from None
        raise Forbidden(f"cannot create the lab world: {exc.strerror} (missing CAP_SYS_ADMIN?)") from None
    global generation
    generation += 1  # namespace fds kept from before (osl/netns.py's homes) point at the old world
    if uid != 0:
        _map_to_root(uid, gid)
    # Make every mount private first, so nothing mounted below propagates to the machine.
    syscalls.mount("none", "/", None, syscalls.MS_REC | syscalls.MS_PRIVATE)
    syscalls.mount("tmpfs", "/run", "tmpfs", 0, "mode=755")
    os.makedirs(NETNS_DIR, exist_ok=True)
    os.makedirs("/run/docker/plugins", exist_ok=True)
    _private_etc_dirs()


def _map_to_root(uid: int, gid: int) -> None:
    with open("/proc/self/setgroups", "w") as f:
        f.write("deny")
    with open("/proc/self/uid_map", "w") as f:
        f.write(f"0 {uid} 1")
    with open("/proc/self/gid_map", "w") as f:
        f.write(f"0 {gid} 1")


def _private_etc_dirs() -> None:
    """Give the world private /etc/netns and /etc/docker/plugins without writing the real ones.

    `ip netns exec` bind-mounts /etc/netns/NAME/* over /etc (that is how a sandbox gets its
    resolv.conf), and Docker looks for plugin specs in /etc/docker/plugins. We bind a directory
    of our tmpfs over each; only an empty mount point is ever made on the real disk.
    """
    targets = ("/etc/netns", "/etc/docker/plugins")
    for target in targets:
        os.makedirs(f"/run{target}", exist_ok=True)
    try:
        for target in targets:
            os.makedirs(target, exist_ok=True)
    except PermissionError:
        _shadow_etc()  # unprivileged: the mount points cannot be made on the real disk
        for target in targets:
            os.makedirs(target, exist_ok=True)
    for target in targets:
        syscalls.mount(f"/run{target}", target, None, syscalls.MS_BIND)


def _shadow_etc() -> None:
    """Put a tmpfs on the world's /etc and bind the machine's entries back into it, one by one.

    The world then sees the same /etc, but may add directories to it (a user namespace cannot
    write the real one). Files the machine later replaces by rename keep their old content in
    the world until it restarts.
    """
    real = "/run/etc-machine"
    os.makedirs(real, exist_ok=True)
    syscalls.mount("/etc", real, None, syscalls.MS_BIND | syscalls.MS_REC)
    syscalls.mount("tmpfs", "/etc", "tmpfs", 0, "mode=755")
    for entry in os.scandir(real):
        target = os.path.join("/etc", entry.name)
        if entry.is_symlink():
            os.symlink(os.readlink(entry.path), target)
            continue
        if entry.is_dir():
            os.mkdir(target)
        else:
            open(target, "w").close()
        try:
            syscalls.mount(entry.path, target, None, syscalls.MS_BIND | syscalls.MS_REC)
        except OSError:
            pass  # an entry we may not bind (a socket, a device node) stays an empty placeholder
