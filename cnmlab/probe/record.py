"""A probe: what to send from which sandbox, and what came back (sender.py and apps.py fill it in)."""

from __future__ import annotations

import errno
from dataclasses import dataclass

NO_ROUTE_ERRNOS = (errno.ENETUNREACH, errno.EHOSTUNREACH)
FILTERED_ERRNOS = (errno.EPERM, errno.EACCES)


@dataclass
class Probe:
    netns: str
    proto: str
    dst_ip: str
    port: int | None = None
    egress: str | None = None  # arp: the interface to ask on
    resolver: str | None = None  # dns: the sandbox's name server
    query: str | None = None  # dns: the name to resolve
    payload: bytes | None = None  # udp: a real payload instead of the probe marker (a traced DNS query)
    # filled in by run()
    src_ip: str | None = None
    ident: int = 0
    outcome: str | None = None  # None: nothing came back (silence)
    rtt_ms: float | None = None
    heard: str | None = None  # what came back, one line
    answer_from: str | None = None
    answer: str | None = None  # http body line, dns address
    sent_at: float | None = None  # time.time() just before the packet left
    sent: bytes | None = None  # the IP packet as it was handed to the kernel
    discarded: int = 0  # IpOutDiscards of the source during a silent probe: its kernel dropped packets
    neighbour: str | None = None  # a silent probe's next hop that never answered ARP, as the kernel says
    size: int | None = None  # icmp/udp: the IP packet's length (DF is always set)

    def done(self, outcome: str, heard: str, sender: str | None = None, at: float | None = None) -> None:
        if self.outcome is None:
            self.outcome, self.heard, self.answer_from = outcome, heard, sender
            if at is not None and self._t0 is not None:
                self.rtt_ms = round((at - self._t0) * 1000, 3)

    _t0: float | None = None


def local_error(p: Probe, exc: OSError) -> None:
    """The source's own kernel refused to send: the probe's outcome, from the errno."""
    if exc.errno == errno.EMSGSIZE:
        p.done("no route", f"{p.netns}'s kernel refused to send {p.size} bytes with DF set ({exc.strerror}): "
                           "bigger than the MTU of its way out")
    elif exc.errno in NO_ROUTE_ERRNOS:
        p.done("no route", f"{p.netns} has no route to {p.dst_ip} ({exc.strerror})")
    elif exc.errno in FILTERED_ERRNOS:
        p.done("filtered", f"the sandbox's own rules refused to send it ({exc.strerror})")
    else:
        p.done("no route", f"sending failed: {exc.strerror}")
