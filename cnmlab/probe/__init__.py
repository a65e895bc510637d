"""Test packets, the reachability matrix and hop-by-hop traces, on the lab's real kernel.

scapy builds the packets; every socket that sends or captures them is opened *inside* a lab
namespace (sockets.py), so the kernel of that sandbox routes them as it would any app's packet
and nothing ever reaches the machine's own network. Only the engine process imports this package.

    sockets.py  sockets born inside a lab namespace (and a ledger of where each was born)
    packets.py  scapy-built probe packets; reading answers and frames back from bytes
    target.py   what SRC and DST mean (resolved on the kernel thread from controller state)
    path.py     the hops a packet takes, read from the kernel (osl/lookup.py), request and reply
    sender.py   many probes at once: raw L3 sockets, one epoll loop, short timeouts
    apps.py     arp, http and dns probes: conversations on one asyncio loop
    rules.py    walking a host's filter chains, and per-rule counters before/after
    verdict.py  outcome and one-line reason of a probe (and the matrix's legend)
    single.py   one probe: resolve, count, send, judge (POST /lab/probe)
    capture.py  AF_PACKET sockets on every hop of a path
    trace.py    one probe captured along its path (POST /lab/trace)
    matrix.py   every ordered pair of containers (POST /lab/matrix; run() is what benchmarks time)
    routes.py   the engine routes
"""

OUTCOMES = ("reachable", "refused", "no route", "timeout", "filtered")
PROTOS = ("icmp", "tcp", "udp", "arp", "dns", "http")
