"""The embedded DNS server's query log, as typed events for the fronts."""

from dataclasses import dataclass, field

from ..events import Event, register


@register
@dataclass(frozen=True)
class DnsQueryAnswered(Event):
    """One query a sandbox asked 127.0.0.11, and what the engine answered."""

    container: str
    name: str
    qtype: str  # A, AAAA, PTR, ...
    rcode: str  # NOERROR, NXDOMAIN, ...
    answers: list[str] = field(default_factory=list)
    network: str = ""  # the network whose records answered ("" when none did)
