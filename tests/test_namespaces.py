"""`cnmlab exec` / `cnmlab shell` reach every namespace of the lab world, overlay ones included."""

import pytest
from conftest import in_world

from cnmlab.errors import NotFound

pytestmark = pytest.mark.kernel


def test_the_world_lists_its_namespaces_with_their_kind(lab):
    lab.host_add("host2")
    net = lab.network_create("ov", driver="overlay")
    lab.run("aa", network="ov")
    kinds = {n["Name"]: n["Kind"] for n in lab.namespaces()}
    overlay_ns = f"1-{net['Id'][:10]}@host1"
    assert kinds["aa"] == "container"
    assert kinds["host1"] == kinds["host2"] == "host"
    assert kinds["underlay"] == "underlay"
    assert kinds[overlay_ns] == "network"
    # the same list the kernel has, independently read from inside the world
    assert set(kinds) == set(in_world(lab, None, "ls", "/run/netns").stdout.split())


def test_exec_enters_an_overlay_network_namespace(lab, cli):
    net = lab.network_create("ov", driver="overlay")
    lab.run("aa", network="ov")
    overlay_ns = f"1-{net['Id'][:10]}@host1"
    links = lab.exec(overlay_ns, ["ip", "-o", "link"]).stdout
    assert "br0" in links and "vxlan0" in links
    result = cli("exec", overlay_ns, "--", "ip", "-o", "link", "show", "vxlan0")
    assert result.returncode == 0 and "vxlan0" in result.stdout


def test_an_unknown_name_is_refused_in_one_line(lab, cli):
    with pytest.raises(NotFound, match=r"^No such container, host or lab namespace: 1-nosuch@host1$"):
        lab.namespace_of("1-nosuch@host1")
    result = cli("exec", "1-nosuch@host1", "--", "true")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == ["Error: No such container, host or lab namespace: 1-nosuch@host1"]


def test_a_removed_container_leaves_at_once_and_its_name_is_free(lab):
    """rm returns before the namespace's unmount (osl/netns.Reaper); nothing shows it meanwhile,
    and a container made again under the name waits for the old mount."""
    for _ in range(3):
        lab.run("again", network="bridge")
        lab.rm("again")
        assert "again" not in [n["Name"] for n in lab.namespaces()]
    lab.run("again", network="bridge")
    assert lab.exec("again", ["hostname"]).stdout.strip() == lab.inspect("again")["Config"]["Hostname"]


ENTERS_FROM_THREADS = r"""
import os, threading
from cnmlab.osl import netns, world
world.enter()  # a private world of this process's own
netns.Namespaces().create("t1", handle=False)
home = os.readlink("/proc/thread-self/ns/net")
before = len(os.listdir("/proc/self/fd"))
def work():
    with netns.entered("t1"):
        assert os.readlink("/proc/thread-self/ns/net") != home
        with netns.entered("t1"):  # nested: back to t1, not to the thread's home
            pass
        assert os.readlink("/proc/thread-self/ns/net") != home
    assert os.readlink("/proc/thread-self/ns/net") == home
for _ in range(40):
    t = threading.Thread(target=work)
    t.start()
    t.join()
work()
print(before, len(os.listdir("/proc/self/fd")))
"""


def test_threads_that_enter_namespaces_keep_no_fds_after_they_end():
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-c", ENTERS_FROM_THREADS], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr[-2000:]
    before, after = map(int, result.stdout.split())
    assert after == before, "40 ended threads left their home namespace fds open"


SYSCTLS_THROUGH_OWN_PROCFS = r"""
import os
from cnmlab.osl import netns, world
world.enter()
spaces = netns.Namespaces()
every = netns._SysctlProc.EVERY  # sandboxes per procfs instance (one write each)
for i in range(3 * every + 1):
    spaces.create(f"t{i}", handle=False)
procs = [line.split()[4] for line in open("/proc/self/mountinfo") if " - proc " in line]
ipv6_off = []
for name in ("t0", f"t{every}", f"t{3 * every}"):
    with netns.entered(name):
        ipv6_off.append(open("/proc/sys/net/ipv6/conf/all/disable_ipv6").read().strip()
                        + open("/proc/sys/net/ipv6/conf/default/disable_ipv6").read().strip())
print(" ".join(procs), "|", " ".join(ipv6_off))
"""


def test_sysctls_go_through_one_private_procfs_at_a_time():
    """A fresh procfs instance every 64 sandboxes keeps the first sysctl lookup of a new namespace
    from walking every earlier one's dentries (osl/netns._SysctlProc); each sandbox still has
    IPv6 off, and the instances before the newest are gone."""
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-c", SYSCTLS_THROUGH_OWN_PROCFS], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    mounts, ipv6_off = result.stdout.split("|")
    assert sorted(mounts.split()) == ["/proc", "/run/cnmlab-proc/3"]
    assert ipv6_off.split() == ["11", "11", "11"]


REAPER_BURSTS = r"""
import os, time
from cnmlab.osl import netns, world
world.enter()
spaces = netns.Namespaces()
for i in range(4):
    spaces.create(f"r{i}", handle=False)
reaper = netns.Reaper()
reaper.QUIET, reaper.AGE = 0.3, 30.0
reaper.drop(netns.path("r0"))
time.sleep(0.1)
print("burst", sorted(os.listdir(netns.NETNS_DIR)))  # r0 waits while drops may follow
time.sleep(0.5)
print("after", sorted(os.listdir(netns.NETNS_DIR)))  # QUIET s without a drop: the burst is over
reaper.QUIET = 30.0
reaper.drop(netns.path("r1"))
reaper.drop(netns.path("r2"))
start = time.monotonic()
reaper.settle(netns.path("r1"))  # a namespace of that name is to be made: no waiting for the burst
print("settled", time.monotonic() - start < 5, "r1" in os.listdir(netns.NETNS_DIR))
reaper.settle()
print("all", time.monotonic() - start < 5, sorted(os.listdir(netns.NETNS_DIR)))
"""


def test_the_reaper_drops_a_burst_of_removals_when_it_ends_or_when_one_is_waited_for():
    """osl/netns.Reaper: mounts dropped in a burst go once no drop came for QUIET s, so the
    kernel's freeing of their namespaces does not run beside the next removals; `settle` drops
    what is queued at once."""
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-c", REAPER_BURSTS], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.splitlines() == ["burst ['r0', 'r1', 'r2', 'r3']", "after ['r1', 'r2', 'r3']",
                                          "settled True False", "all True ['r3']"]
