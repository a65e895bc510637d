"""The embedded DNS inside one sandbox, plumbed the way Docker does it.

The engine's writer thread opens a UDP socket and a TCP listener on 127.0.0.11 at random ports
*inside* the sandbox, then writes Docker's two nat chains there, so that the container's queries to
127.0.0.11:53 are DNATed to those ports (and a student's `iptables -t nat -S` shows what a
Docker user would see). The sandbox's resolv.conf goes to /etc/netns/NAME/resolv.conf, which
`ip netns exec` (and so `cnmlab exec`) bind-mounts over /etc/resolv.conf. /etc/netns is a
directory of the world's private tmpfs (osl/world.py): nothing is written to the real /etc.
"""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Callable
from concurrent.futures import Future

from ..osl import iptables, iptables_pool, netns, nftables, writer

ADDRESS = "127.0.0.11"
ETC_NETNS = "/etc/netns"
RESOLV_CONF = """\
# Written by cnmlab: the sandbox's embedded DNS server, as Docker writes it on user networks.
nameserver 127.0.0.11
options ndots:0
"""


HOST_RESOLV_CONF = "/etc/resolv.conf"


def default_bridge_resolv_conf() -> str:
    """What a default-bridge container gets: the machine's nameservers, as Docker copies them.

    The lab world has no way to the machine's resolvers, so lookups there fail, as they fail in
    Docker for lab names; we ask glibc to give up after one short try instead of 20 seconds.
    """
    try:
        st = os.stat(HOST_RESOLV_CONF)
        stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
    except OSError:
        stamp = None
    global _default_text
    if _default_text[0] != stamp:  # read again only when the machine's file changed
        try:
            with open(HOST_RESOLV_CONF) as f:
                lines = [ln.rstrip() for ln in f if ln.split()[:1] in (["nameserver"], ["search"])]
        except OSError:
            lines = []
        _default_text = (stamp, (
            "# Written by cnmlab: a default-bridge container has no embedded DNS (as in Docker); these are\n"
            "# the machine's resolvers, copied as Docker copies them. The lab world cannot reach them.\n"
            + "".join(ln + "\n" for ln in lines) + "options timeout:1 attempts:1\n"))
    return _default_text[1]


_default_text: tuple = (False, "")  # (the machine's file's identity, the text made of it)


def nat_rules(udp_port: int, tcp_port: int) -> dict[str, list[str]]:
    """Docker's DOCKER_OUTPUT / DOCKER_POSTROUTING chains, rule for rule."""
    return {"nat": [
        ":DOCKER_OUTPUT - [0:0]",
        ":DOCKER_POSTROUTING - [0:0]",
        f"-A OUTPUT -d {ADDRESS}/32 -j DOCKER_OUTPUT",
        f"-A POSTROUTING -d {ADDRESS}/32 -j DOCKER_POSTROUTING",
        f"-A DOCKER_OUTPUT -d {ADDRESS}/32 -p tcp -m tcp --dport 53 -j DNAT --to-destination {ADDRESS}:{tcp_port}",
        f"-A DOCKER_OUTPUT -d {ADDRESS}/32 -p udp -m udp --dport 53 -j DNAT --to-destination {ADDRESS}:{udp_port}",
        f"-A DOCKER_POSTROUTING -s {ADDRESS}/32 -p tcp -m tcp --sport {tcp_port} -j SNAT --to-source :53",
        f"-A DOCKER_POSTROUTING -s {ADDRESS}/32 -p udp -m udp --sport {udp_port} -j SNAT --to-source :53",
    ]}


class Starting:
    """A resolver being started on the writer thread: its ports once its sockets are open, and,
    with iptables-legacy, the iptables-restore it began on the background pool."""

    __slots__ = ("job", "udp", "tcp", "legacy")

    def __init__(self) -> None:
        self.job: writer.Job | None = None
        self.udp = self.tcp = 0
        self.legacy: Future | None = None

    def wait(self) -> BaseException | None:
        """Wait until the resolver serves behind its rules; what failed, or None."""
        error = self.job.exception()
        if error is None and self.legacy is not None:
            error = self.legacy.exception()
        return error


def start_resolver(sandbox: str, serve: Callable[[str, socket.socket, socket.socket], None]) -> Starting:
    """Start the sandbox's resolver on the writer thread (osl/writer.py): open its sockets inside
    the sandbox, hand them to `serve`, and write the nat chains that lead to them, in-process over
    nf_tables where `iptables` is iptables-nft. The kernel thread goes on with the join meanwhile:
    a batch took 4% less per container (session 8)."""
    starting = Starting()

    def write() -> None:
        if not write_inside():  # the kernel refused the nf_tables batch: let iptables-restore try, and say why
            iptables.restore(sandbox, nat_rules(starting.udp, starting.tcp))

    def write_inside() -> bool:
        """Sockets, serving, rules, in one visit of the sandbox; False if nf_tables refused the rules."""
        with netns.entered(sandbox):
            udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                udp.bind((ADDRESS, 0))
                tcp.bind((ADDRESS, 0))
                tcp.listen(16)
                serve(sandbox, udp, tcp)
            except BaseException:  # nothing half-made: no socket left open, no port recorded
                udp.close()
                tcp.close()
                raise
            starting.udp, starting.tcp = udp.getsockname()[1], tcp.getsockname()[1]
            if not nftables.iptables_is_nft():
                starting.legacy = iptables_pool.start(sandbox, nat_rules(starting.udp, starting.tcp))
                return True
            try:
                nftables.send_batch(nftables.dns_messages(ADDRESS, starting.udp, starting.tcp))
            except OSError:
                return False
            return True

    starting.job = writer.submit(sandbox, write)
    return starting


def private_etc() -> bool:
    """True when /etc/netns is the world's own mount (never the machine's directory)."""
    global _etc_mounted
    if not _etc_mounted:  # once mounted it stays, for the life of the world's mount namespace
        _etc_mounted = os.path.ismount(ETC_NETNS)
    return _etc_mounted


_etc_mounted = False


def write_resolv_conf(sandbox: str, text: str = RESOLV_CONF) -> str | None:
    """Write the sandbox's resolv.conf; None when the world has no private /etc/netns (rootless)."""
    if not private_etc():
        return None
    directory = os.path.join(ETC_NETNS, sandbox)
    with contextlib.suppress(FileExistsError):
        os.mkdir(directory)
    path = os.path.join(directory, "resolv.conf")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)
    return path


def remove_resolv_conf(sandbox: str) -> None:
    """Remove our file, and the sandbox's directory once nothing else (a hosts file) is in it."""
    if private_etc():
        directory = os.path.join(ETC_NETNS, sandbox)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(os.path.join(directory, "resolv.conf"))
        with contextlib.suppress(OSError):
            os.rmdir(directory)


def remove_all_resolv_confs() -> None:
    """After a reset every sandbox is gone: so are their resolv.conf files."""
    if private_etc():
        for name in os.listdir(ETC_NETNS):
            remove_resolv_conf(name)
