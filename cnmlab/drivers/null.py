"""The `none` driver: the container keeps its loopback interface only."""

from .base import Capabilities, Driver


class NullDriver(Driver):
    name = "null"
    capabilities = Capabilities(needs_ipam=False, has_gateway=False, network_mode="none")
