"""The `host` driver: the container shares its simulated host's network namespace.

The sandbox *is* the host's namespace (see Container.netns), so joining creates nothing.
"""

from .base import Capabilities, Driver


class HostDriver(Driver):
    name = "host"
    capabilities = Capabilities(needs_ipam=False, has_gateway=False, network_mode="host")
