"""The overlay control plane's events: each static FDB + neighbour entry the engine writes or
removes on a host's VXLAN device, so fronts can show the control plane at work.

Kept apart from the driver (which needs pyroute2) so that fronts can import them.
"""

from dataclasses import dataclass

from ..events import Event, register


@register
@dataclass(frozen=True)
class FdbProgrammed(Event):
    host: str  # whose VXLAN device got the entries
    network: str
    mac: str
    ip: str
    vtep: str  # the underlay address of the host where the endpoint lives


@register
@dataclass(frozen=True)
class FdbRemoved(Event):
    host: str
    network: str
    mac: str
    ip: str
    vtep: str
