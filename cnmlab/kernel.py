"""The kernel actions the controller takes for the lab's switch, hosts and sandboxes.

They sit behind one object so the controller's own logic (gateway choice, port placement,
restore order, rollback) can be tested without root, with a stand-in that records the calls
(tests/test_controller_unit.py). Drivers reach the kernel through their DriverContext instead.
"""

from __future__ import annotations

from collections.abc import Callable

from . import underlay
from .host import Host
from .osl import links, netns
from .osl.netns import Namespaces
from .osl.spares import Spares


class Kernel:
    def __init__(self, ns: Namespaces | None = None, in_spares: Callable[[], list] | None = None) -> None:
        self.ns = ns or Namespaces()
        self.spares = Spares(in_spares)

    def settle(self) -> None:
        """Wait for the unmounts of removed sandboxes still running in the background."""
        netns.reaper.settle()

    def build_switch(self) -> None:
        underlay.build_switch(self.ns)

    def drop_switch(self) -> None:
        self.ns.delete(underlay.NAMESPACE)

    def plug_host(self, host: Host) -> None:
        underlay.plug_host(self.ns, host)

    def unplug_host(self, host: Host) -> None:
        underlay.unplug_host(self.ns, host)

    def share_sandbox(self, name: str, of: str, hostname: str) -> None:
        """Namespace `of` under a second name, with a UTS namespace of its own holding `hostname`."""
        netns.bind(name, of)
        try:
            netns.create_uts(name, hostname)
        except BaseException:
            self.ns.delete(name)
            raise

    def create_sandbox(self, name: str, hostname: str) -> list:
        """A network namespace with its own UTS namespace (the hostname), both or neither; what
        `spares.inside` opened in it when it was made ahead (osl/spares.py), else []."""
        spare = self.spares.take()
        opened = spare.extra if spare is not None else []
        if spare is not None:
            self.ns.adopt(name, spare)
        else:
            self.ns.create(name, handle=False)  # pyroute2's handle opens on first use
        try:
            netns.create_uts(name, hostname)
        except BaseException:
            for sock in opened:
                sock.close()
            self.ns.delete(name)
            raise
        return opened

    def make_spares(self) -> None:
        """A new sandbox's background writes are queued: make the namespaces of the next ones."""
        self.spares.refill()

    def delete_sandbox(self, name: str, background: bool = False) -> None:
        """background: the unmounts finish on the reaper's thread, off the request's path."""
        netns.delete_uts(name, background=background)
        self.ns.delete(name, background=background)

    def set_default_route(self, sandbox: str, gateway: str | None, ifname: str | None) -> None:
        """Point the sandbox's default route at `gateway` via `ifname`, or remove it (None)."""
        links.set_default_route(self.ns.rtnl(sandbox), gateway, ifname)

    def close(self) -> None:
        self.spares.close()
        self.ns.close()
