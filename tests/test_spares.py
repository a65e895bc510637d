"""Spare namespaces (osl/spares.py): made ahead on the writer thread, taken by new sandboxes."""

import subprocess
import sys
import time

import pytest
from conftest import in_world, ip_of

pytestmark = pytest.mark.kernel

KERNEL_SPARES = r"""
import os, socket
from cnmlab.builtin_services import open_sockets
from cnmlab.kernel import Kernel
from cnmlab.osl import netns, spares, world
world.enter()

def net_fds():
    # fds of network namespaces other than the world one (every thread keeps an fd of that one)
    home = os.readlink("/proc/thread-self/ns/net")
    links = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            links.append(os.readlink(f"/proc/self/fd/{fd}"))
        except FileNotFoundError:
            pass  # the listing's own fd
    return sum(link.startswith("net:[") and link != home for link in links)

def settle(k):
    k.spares._last.exception()

base = net_fds()
k = Kernel(in_spares=open_sockets)
print("first", len(k.create_sandbox("s0", "h0")))  # none made yet: its own namespace, nothing opened
k.make_spares()
settle(k)
print("ready", len(k.spares._ready), "fds", net_fds() - base)
opened = k.create_sandbox("s1", "h1")
print("taken", len(opened), "listed", sorted(os.listdir(netns.NETNS_DIR)))
with netns.entered("s1"):
    ipv6 = open("/proc/sys/net/ipv6/conf/all/disable_ipv6").read().strip() + \
        open("/proc/sys/net/ipv6/conf/default/disable_ipv6").read().strip()
    lo_up = int(open("/sys/class/net/lo/flags").read(), 16) & 1
    probe = socket.create_connection(("127.0.0.1", 80), timeout=2)  # the spare's HTTP socket listens here
    probe.close()
print("ipv6 off", ipv6, "lo up", lo_up)
with netns.entered("s0"):
    try:
        socket.create_connection(("127.0.0.1", 80), timeout=2)
        print("s0 port 80 open")
    except ConnectionRefusedError:
        print("s0 port 80 closed")
for sock in opened:
    sock.close()
k.make_spares()
settle(k)

def broken():
    raise OSError(24, "too many open files")
k.spares.inside = broken  # a spare that cannot be made: the next sandbox makes its own
k.spares._drop_ready()
k.make_spares()
settle(k)
print("after a failed making", len(k.spares._ready), len(k.create_sandbox("s2", "h2")))
for name in ("s0", "s1", "s2"):
    k.delete_sandbox(name)
k.spares.inside = open_sockets
k.make_spares()
k.close()
print("left", net_fds() - base)
"""


def test_a_sandbox_takes_a_spare_made_ahead_and_closing_frees_them():
    result = subprocess.run([sys.executable, "-c", KERNEL_SPARES], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.splitlines()
    assert lines[0] == "first 0"
    assert lines[1] == "ready 2 fds 2", "KEEP spares, each held by its namespace fd"
    assert lines[2] == "taken 3 listed ['s0', 's1']", "the spare's three service sockets; spares are not listed"
    assert lines[3] == "ipv6 off 11 lo up 1"
    assert lines[4] == "s0 port 80 closed", "a namespace made inline opens nothing itself"
    assert lines[5] == "after a failed making 0 0"
    assert lines[6] == "left 0", "closing the kernel frees every spare"


def test_a_container_with_its_own_server_gets_port_80_from_a_spare(lab):
    """A spare comes with the test services' sockets open; a container with a command of its own
    must find port 80 free."""
    lab.network_create("sp")
    lab.run("warm", network="sp")  # the spares are made behind the first sandbox, in about a millisecond
    time.sleep(0.5)
    lab.run("own", network="sp", image="alpine", cmd=["sh", "-c", "echo own | nc -l -p 80; sleep 600"])
    lab.run("svc", network="sp")  # the test services from a spare's sockets: its name and address
    own, svc = ip_of(lab, "own", "sp"), ip_of(lab, "svc", "sp")
    answer = ""
    for _ in range(50):
        answer = in_world(lab, "warm", "busybox", "nc", "-w", "1", own, "80").stdout
        if answer:
            break
        time.sleep(0.1)
    assert answer == "own\n"
    page = in_world(lab, "warm", "busybox", "wget", "-q", "-O", "-", f"http://{svc}/").stdout
    assert page == f"svc {svc}\n"
