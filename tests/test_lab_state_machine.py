"""A stateful property-based test: random sequences of network, container, connect/disconnect, host
and service operations, good and bad, on the real engine. After every step the kernel must agree
with the API (namespaces, interfaces, addresses; no orphan namespace, link or iptables rule; no
duplicate address), and at the end of every run an engine restarted by kill -9 restores the same lab.

At least 300 steps run by default; CNMLAB_LONG_TESTS=1 runs 3000.
"""

import json
import os
import re
import subprocess

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from cnmlab.errors import CnmError
from conftest import kill_9
from test_api_edge import post

pytestmark = [pytest.mark.kernel, pytest.mark.slow]

STEPS = 3000 if os.environ.get("CNMLAB_LONG_TESTS") else 300
NETWORKS = ["sm-a", "sm-b", "sm-c"]
CONTAINERS = ["c1", "c2", "c3", "c4"]
SUBNETS = [None, "10.61.0.0/24", "10.62.0.0/24", "10.61.0.5/24", "127.0.0.0/8", "10.63.0.0/30"]
HOST = "sm-h"
BAD = [  # (path, body): each must be a 400, and change nothing
    ("/networks/create", {"Name": 123}),
    ("/networks/create", {"Name": "sm-x", "IPAM": "x"}),
    ("/networks/create", {"Name": "sm-x", "Internal": "false"}),
    ("/networks/create", {"Name": "sm-x", "IPAM": {"Config": [{"Subnet": 12345}]}}),
    ("/networks/create", {"Name": "sm-x\n"}),
    ("/networks/create", {"Name": "sm-x", "Driver": "../../../tmp/x/evil"}),
    ("/containers/create?name=c9%0A", {}),
    ("/networks/sm-a/connect", {"Container": "c1", "EndpointConfig": {"Aliases": "abc"}}),
    ("/hosts/create", {"Name": "sm-y", "Plain": "no"}),
]
DUMP = r"""
for n in $(ip netns list | cut -d' ' -f1); do
  echo "== $n"
  printf 'link show\naddress show\n' | ip -n "$n" -4 -o -b -
  case $n in host*|sm-h) echo "-- iptables"; ip netns exec "$n" iptables-save ;; esac
done
"""

steps_run = [0]


def world_dump(client) -> dict[str, str]:
    out = subprocess.run(client.enter_argv(None, ["sh", "-c", DUMP]), capture_output=True, text=True,
                         timeout=60, check=True).stdout
    return {part.split("\n", 1)[0].strip(): part.split("\n", 1)[1] if "\n" in part else ""
            for part in out.split("== ")[1:]}


def lab_picture(client) -> dict:
    """What the store must bring back: names, subnets, who is on what with which address."""
    nets = sorted((n["Name"], n.get("Host") or "", json.dumps(n["IPAM"]["Config"]),
                   sorted((e["Name"], e["IPv4Address"]) for e in n["Containers"].values()))
                  for n in client.networks())
    return {"networks": nets, "hosts": sorted(h["Name"] for h in client.hosts()),
            "containers": sorted(c["Names"][0] for c in client.containers()),
            "services": sorted(s["Spec"]["Name"] for s in client.services())}


class Lab(RuleBasedStateMachine):
    client = None  # set by the test

    def __init__(self):
        super().__init__()
        self.client.reset()

    def _do(self, call, *args, **kwargs) -> None:
        steps_run[0] += 1
        try:
            call(*args, **kwargs)
        except CnmError as exc:
            assert exc.status != 500, f"{call.__name__}{args}{kwargs}: a 500: {exc.message}"

    @rule(name=st.sampled_from(NETWORKS), subnet=st.sampled_from(SUBNETS), internal=st.booleans(),
          host=st.sampled_from([None, None, HOST]))
    def network_create(self, name, subnet, internal, host):
        self._do(self.client.network_create, name, subnet=subnet, internal=internal, host=host)

    @rule(name=st.sampled_from(NETWORKS))
    def network_rm(self, name):
        self._do(self.client.network_rm, name)

    @rule(name=st.sampled_from(CONTAINERS), network=st.sampled_from(NETWORKS + [None]),
          ip=st.sampled_from([None, None, "10.61.0.50", "10.62.0.50"]), host=st.sampled_from([None, None, HOST]))
    def run(self, name, network, ip, host):
        self._do(self.client.run, name, network=network, ip=ip if network else None, host=host)

    @rule(name=st.sampled_from(CONTAINERS))
    def rm(self, name):
        self._do(self.client.rm, name, force=True)

    @rule(network=st.sampled_from(NETWORKS), container=st.sampled_from(CONTAINERS),
          ip=st.sampled_from([None, None, "10.61.0.60", "10.62.0.60"]))
    def connect(self, network, container, ip):
        self._do(self.client.connect, network, container, ip=ip)

    @rule(network=st.sampled_from(NETWORKS), container=st.sampled_from(CONTAINERS), force=st.booleans())
    def disconnect(self, network, container, force):
        self._do(self.client.disconnect, network, container, force=force)

    @rule()
    def host_add(self):
        self._do(self.client.host_add, HOST)

    @rule()
    def host_rm(self):
        self._do(self.client.host_rm, HOST)

    @rule(network=st.sampled_from(NETWORKS), replicas=st.integers(0, 2))
    def service_create(self, network, replicas):
        self._do(self.client.service_create, "sv", network, replicas=replicas)

    @rule()
    def service_rm(self):
        self._do(self.client.service_rm, "sv")

    @rule(bad=st.sampled_from(BAD))
    def bad_input(self, bad):
        steps_run[0] += 1
        before = lab_picture(self.client)
        status, reply = post(self.client, *bad)
        assert status == 400, (bad, status, reply)
        assert lab_picture(self.client) == before

    @invariant()
    def kernel_agrees(self):
        check_kernel(self.client)

    def teardown(self):
        before = lab_picture(self.client)
        restart(self.client)
        assert lab_picture(self.client) == before
        check_kernel(self.client)


def check_kernel(client) -> None:
    dump = world_dump(client)
    kinds = {n["Name"]: n["Kind"] for n in client.namespaces()}
    assert not [n for n, kind in kinds.items() if kind == "other"], f"orphan namespaces: {kinds}"
    assert set(dump) == set(kinds)
    for net in client.networks():
        addresses = [e["IPv4Address"] for e in net["Containers"].values() if e["IPv4Address"]]
        assert len(addresses) == len(set(addresses)), f"duplicate address on {net['Name']}: {addresses}"
    for c in client.containers():
        ns = os.path.basename(client.inspect(c["Id"])["NetworkSettings"]["SandboxKey"])
        assert ns in dump, f"{c['Names'][0]} has no namespace {ns}"
        for net, ep in c["NetworkSettings"]["Networks"].items():
            if ep["IPAddress"]:
                assert re.search(rf"\d+: {re.escape(ep['Interface'])}\s+inet {re.escape(ep['IPAddress'])}/",
                                 dump[ns]), f"{c['Names'][0]} lacks {ep['IPAddress']} on {ep['Interface']} ({net})"
    for ns, text in dump.items():
        if kinds.get(ns) != "host":
            continue
        links, _, rules = text.partition("-- iptables")
        names = set(re.findall(r"^\d+: ([^:@]+)[:@]", links, re.M))
        for line in links.splitlines():  # a veth left behind by a container is one with no bridge
            if "link/ether" in line and re.match(r"\d+: veth", line):
                assert " master " in line, f"orphan veth in {ns}: {line}"
        for bridge in set(re.findall(r"\b(br-[0-9a-f]{12}|docker0|docker_gwbridge)\b", rules)):
            assert bridge in names, f"iptables rules in {ns} name {bridge}, which is gone"


def restart(client) -> None:
    """kill -9 the engine; the next call starts a new one, which restores from the store."""
    kill_9(client)
    client.status()


@pytest.mark.timeout(3600 if os.environ.get("CNMLAB_LONG_TESTS") else 300)
def test_random_operations_keep_the_kernel_and_the_store_in_step(engine):
    Lab.client = engine
    steps_run[0] = 0
    while steps_run[0] < STEPS:
        run_state_machine_as_test(Lab, settings=settings(max_examples=1, stateful_step_count=150, deadline=None,
                                                         database=None, suppress_health_check=list(HealthCheck)))
    engine.reset()
