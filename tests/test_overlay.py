"""The overlay driver on the real kernel: VXLAN across two simulated hosts, the engine's control
plane (static FDB + neighbour entries), docker_gwbridge, isolation, restore."""

import os
import signal
import struct
import subprocess
import threading
import time

import pytest
from conftest import in_world, ip_of, ping

from cnmlab.client import Client
from cnmlab.drivers.overlay_events import FdbRemoved  # registers the typed events, as a front would
from cnmlab.errors import InvalidParameter

pytestmark = pytest.mark.kernel

VNI_KEY = "com.docker.network.driver.overlay.vxlanid_list"


def sandbox(client, network: str, host: str) -> str:
    return f"1-{client.network_inspect(network)['Id'][:10]}@{host}"


def in_ns(client, ns: str, *argv) -> subprocess.CompletedProcess:
    return in_world(client, None, "ip", "netns", "exec", ns, *argv)


def namespaces(client) -> list[str]:
    return [line.split()[0] for line in in_world(client, None, "ip", "netns").stdout.splitlines()]


def two_hosts(lab, network="ov1"):
    lab.host_add("host2")
    lab.network_create(network, driver="overlay")
    lab.run("c1", network=network, host="host1")
    lab.run("c2", network=network, host="host2")


def mac_of(client, container: str, network: str) -> str:
    return client.inspect(container)["NetworkSettings"]["Networks"][network]["MacAddress"]


def control_plane(client, ns: str) -> str:
    """The VXLAN device's FDB and neighbour tables, as iproute2 prints them."""
    return in_ns(client, ns, "bridge", "fdb", "show", "dev", "vxlan0").stdout + \
        in_ns(client, ns, "ip", "neigh", "show", "dev", "vxlan0").stdout


def test_containers_on_two_hosts_ping_over_the_overlay(lab):
    two_hosts(lab)
    net = lab.network_inspect("ov1")
    assert net["Scope"] == "global" and net["Driver"] == "overlay" and net["Host"] is None
    assert net["Options"][VNI_KEY] == "4096"
    assert sorted(p["Name"] for p in net["Peers"]) == ["host1", "host2"]
    assert ping(lab, "c1", ip_of(lab, "c2", "ov1"))
    assert ping(lab, "c2", ip_of(lab, "c1", "ov1"))
    assert "mtu 1450" in in_world(lab, "c1", "ip", "-o", "link", "show", "eth0").stdout, "underlay MTU - 50"
    vx = in_ns(lab, sandbox(lab, "ov1", "host1"), "ip", "-d", "link", "show", "vxlan0").stdout
    for part in ("vxlan id 4096", "local 192.168.100.11", "dstport 4789", "nolearning", "master br0"):
        assert part in vx
    # the VXLAN socket belongs to the host (its underlay address), not to the overlay namespace
    assert "0.0.0.0:4789" in in_world(lab, "host1", "ss", "-Huln").stdout


def test_the_way_out_is_docker_gwbridge(lab):
    two_hosts(lab)
    links = in_world(lab, "c1", "ip", "-o", "link").stdout
    assert "eth0@" in links and "eth1@" in links
    gw = lab.network_inspect("docker_gwbridge", host="host1")
    assert gw["Driver"] == "bridge" and gw["Options"]["com.docker.network.bridge.enable_icc"] == "false"
    gateway = gw["IPAM"]["Config"][0]["Gateway"]
    assert f"default via {gateway} dev eth1" in in_world(lab, "c1", "ip", "route").stdout
    assert ping(lab, "c1", "192.168.100.1"), "masqueraded out through host1's eth0 to the LAN's router"
    assert "docker_gwbridge" in in_world(lab, "host1", "ip", "-o", "link").stdout
    nat = in_world(lab, "host1", "iptables", "-t", "nat", "-S").stdout
    assert f"-A POSTROUTING -s {gw['IPAM']['Config'][0]['Subnet']} ! -o docker_gwbridge -j MASQUERADE" in nat


def read_pcap(data: bytes) -> list[bytes]:
    """Frames of a classic pcap stream (our own decoder, independent of the engine's code)."""
    endian = "<" if data[:4] == b"\xd4\xc3\xb2\xa1" else ">"
    frames, offset = [], 24
    while offset + 16 <= len(data):
        incl = struct.unpack(endian + "IIII", data[offset:offset + 16])[2]
        frames.append(data[offset + 16:offset + 16 + incl])
        offset += 16 + incl
    return frames


def vxlan_of(frame: bytes) -> tuple[str, str, int, int, str, str] | None:
    """(outer src, outer dst, UDP dst port, VNI, inner src, inner dst) of Ethernet/IPv4/UDP/VXLAN/Ethernet/IPv4."""
    def ip(raw: bytes) -> str:
        return ".".join(map(str, raw))

    if frame[12:14] != b"\x08\x00" or frame[23] != 17:
        return None
    udp = 14 + (frame[14] & 0x0F) * 4
    dport = struct.unpack("!H", frame[udp + 2:udp + 4])[0]
    vxlan = frame[udp + 8:udp + 16]
    inner = frame[udp + 16 + 14:]  # the encapsulated Ethernet frame's IPv4 header
    return ip(frame[26:30]), ip(frame[30:34]), dport, int.from_bytes(vxlan[4:7], "big"), ip(inner[12:16]), ip(inner[16:20])


def test_underlay_capture_shows_udp_4789_with_the_networks_vni(lab):
    two_hosts(lab)
    lab.network_create("ov2", driver="overlay")  # another VNI on the same hosts' UDP 4789
    vni = int(lab.network_inspect("ov1")["Options"][VNI_KEY])
    c1, c2 = ip_of(lab, "c1", "ov1"), ip_of(lab, "c2", "ov1")
    capture = subprocess.Popen(lab.enter_argv("underlay", ["tcpdump", "-i", "lab0", "-U", "-c", "2", "-w", "-",
                                                           "udp port 4789"]),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        time.sleep(1.0)  # tcpdump is listening once its socket is bound
        assert ping(lab, "c1", c2)
        out, _ = capture.communicate(timeout=15)
    finally:
        if capture.poll() is None:
            capture.kill()
    seen = [v for v in map(vxlan_of, read_pcap(out)) if v]
    assert seen == [("192.168.100.11", "192.168.100.12", 4789, vni, c1, c2),
                    ("192.168.100.12", "192.168.100.11", 4789, vni, c2, c1)], "echo request, then reply"


def test_leave_removes_fdb_and_neighbour_entries_on_every_host(lab):
    for host in ("host2", "host3"):
        lab.host_add(host)
    lab.network_create("ov1", driver="overlay")
    for name, host in (("c1", "host1"), ("c2", "host2"), ("c3", "host3"), ("c4", "host1")):
        lab.run(name, network="ov1", host=host)
    mac, ip = mac_of(lab, "c2", "ov1"), ip_of(lab, "c2", "ov1")
    for host in ("host1", "host3"):
        table = control_plane(lab, sandbox(lab, "ov1", host))
        assert f"{mac} dst 192.168.100.12 " in table and f"{ip} lladdr {mac} PERMANENT" in table
    assert mac not in control_plane(lab, sandbox(lab, "ov1", "host2")), "no entry for a host's own endpoint"
    shown = lab.network_inspect("ov1", verbose=True)["ControlPlane"]
    assert {"MAC": mac, "VTEP": "192.168.100.12"} in shown["host3"]["FDB"]
    assert {"IP": ip, "MAC": mac} in shown["host1"]["Neighbours"]
    assert ping(lab, "c3", ip)
    events = []

    def listen():
        for event in Client().events():
            events.append(event)
            if type(event).__name__ == "EndpointLeft" and event.network == "ov1":
                return  # the controller reports the leave after the driver's last step

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    time.sleep(0.3)
    lab.disconnect("ov1", "c2")
    listener.join(timeout=10)
    for host in ("host1", "host3"):
        table = control_plane(lab, sandbox(lab, "ov1", host))
        assert mac not in table and ip not in table, f"entries for c2 still on {host}"
    assert sandbox(lab, "ov1", "host2") not in namespaces(lab), "host2's last container left: its part is gone"
    shown = lab.network_inspect("ov1", verbose=True)["ControlPlane"]
    assert set(shown) == {"host1", "host3"} and mac not in str(shown) and ip not in str(shown)
    removed = {(e.host, e.ip, e.vtep) for e in events if isinstance(e, FdbRemoved)}
    assert removed == {("host1", ip, "192.168.100.12"), ("host3", ip, "192.168.100.12")}
    assert ping(lab, "c3", ip_of(lab, "c1", "ov1")), "the others still reach each other"
    assert not ping(lab, "c3", ip)
    c3_mac, c3_ip = mac_of(lab, "c3", "ov1"), ip_of(lab, "c3", "ov1")
    lab.rm("c3")  # removing the container (its namespace goes at once) unprograms it too
    table = control_plane(lab, sandbox(lab, "ov1", "host1"))
    assert c3_mac not in table and c3_ip not in table
    assert sandbox(lab, "ov1", "host3") not in namespaces(lab)


def test_two_overlays_are_isolated(lab):
    lab.host_add("host2")
    lab.network_create("ov1", driver="overlay")
    lab.network_create("ov2", driver="overlay")
    lab.run("a1", network="ov1", host="host1")
    lab.run("a2", network="ov1", host="host2")
    lab.run("b2", network="ov2", host="host2")
    vnis = {lab.network_inspect(n)["Options"][VNI_KEY] for n in ("ov1", "ov2")}
    assert vnis == {"4096", "4097"}
    assert ping(lab, "a1", ip_of(lab, "a2", "ov1"))
    assert not ping(lab, "a1", ip_of(lab, "b2", "ov2"))
    assert not ping(lab, "b2", ip_of(lab, "a1", "ov1"))
    assert mac_of(lab, "a1", "ov1") not in control_plane(lab, sandbox(lab, "ov2", "host2"))


def test_encrypted_is_refused_and_nothing_is_made(lab, cli):
    result = cli("network", "create", "-d", "overlay", "--opt", "encrypted", "sec")
    assert result.returncode != 0
    assert "not supported in the lab" in result.stderr and "IPsec" in result.stderr
    with pytest.raises(InvalidParameter):
        lab.network_create("sec", driver="overlay", options={"encrypted": "true"})
    assert "sec" not in [n["Name"] for n in lab.networks()]


def test_attachable_and_a_chosen_vni(lab):
    lab.network_create("ov1", driver="overlay", attachable=True, options={VNI_KEY: "5000"})
    net = lab.network_inspect("ov1")
    assert net["Attachable"] is True and net["Options"][VNI_KEY] == "5000"
    with pytest.raises(Exception, match="VNI 5000 is already used"):
        lab.network_create("ov2", driver="overlay", options={VNI_KEY: "5000"})


def test_restart_rebuilds_the_overlay(lab):
    two_hosts(lab)
    pid = lab.status()["pid"]
    os.kill(pid, signal.SIGKILL)
    deadline = time.time() + 10
    while time.time() < deadline and os.path.exists(f"/proc/{pid}"):
        time.sleep(0.05)
    assert lab.network_inspect("ov1")["Options"][VNI_KEY] == "4096"  # starts and restores a new engine
    assert lab.status()["pid"] != pid
    assert ping(lab, "c1", ip_of(lab, "c2", "ov1"))
    mac = mac_of(lab, "c2", "ov1")
    assert f"{mac} dst 192.168.100.12 " in control_plane(lab, sandbox(lab, "ov1", "host1"))
    assert ping(lab, "c1", "192.168.100.1")
