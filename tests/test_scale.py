"""Scale limits a user meets: a Linux bridge holds at most 1023 ports, so one network takes at
most 1023 containers; the next `run` gets a one-line error naming the limit and leaves nothing."""

import subprocess

import pytest

from cnmlab.drivers.bridge import BRIDGE_MAX_PORTS
from cnmlab.errors import Forbidden

pytestmark = [pytest.mark.kernel, pytest.mark.slow]


def bridge_ports(lab, bridge: str) -> int:
    out = subprocess.run(lab.enter_argv("host1", ["ip", "-o", "link", "show", "master", bridge]),
                         capture_output=True, text=True, check=True).stdout
    return len(out.splitlines())


def test_a_full_bridge_refuses_the_next_container(lab, cli):
    lab.network_create("full-net", subnet="10.80.0.0/16")
    bridge = "br-" + lab.network_inspect("full-net")["Id"][:12]
    lab.run("first", network="full-net")
    # The other 1022 ports in one `ip -batch` process (real containers would take far longer).
    fill = "".join(f"link add fill{i} master {bridge} type veth peer name fillp{i}\n"
                   for i in range(BRIDGE_MAX_PORTS - 1))
    subprocess.run(lab.enter_argv("host1", ["ip", "-batch", "-"]), input=fill, text=True, check=True,
                   capture_output=True, timeout=120)
    assert bridge_ports(lab, bridge) == BRIDGE_MAX_PORTS

    message = "network full-net is full: a Linux bridge takes at most 1023 ports"
    with pytest.raises(Forbidden, match=message):
        lab.run("one-too-many", network="full-net")
    result = cli("run", "--name", "one-too-many", "--network", "full-net")
    assert result.returncode == 1 and result.stderr.startswith(f"Error: {message}")
    assert len(result.stderr.strip().splitlines()) == 1
    # Nothing half-made: no container, no namespace, no extra port; the address went back.
    assert all(c["Names"] != ["/one-too-many"] for c in lab.containers())
    assert "one-too-many" not in [n["Name"] for n in lab.namespaces()]
    assert bridge_ports(lab, bridge) == BRIDGE_MAX_PORTS
    subprocess.run(lab.enter_argv("host1", ["ip", "link", "del", "fill0"]), check=True)
    second = lab.run("second", network="full-net")  # one port free again: it fits, with the next address
    assert lab.inspect(second["Id"])["NetworkSettings"]["Networks"]["full-net"]["IPAddress"] == "10.80.0.3"
