"""The controller's own logic, without root: a Controller built on a recording stand-in for the
kernel (cnmlab/kernel.py) and fake drivers that record every CNM call.

They pin what the controller decides (which endpoint gives the default route, which carries the
published ports, when docker_gwbridge is joined and left, the order restore rebuilds things in,
and what a failed step undoes) so that moving that behaviour between modules cannot change it.
The kernel tests (test_bridge.py, test_overlay.py, ...) show the same on real namespaces.
"""

from __future__ import annotations

import dataclasses
import ipaddress

import pytest

from cnmlab import docker_views
from cnmlab.controller import GW_NETWORK, Controller
from cnmlab.events import HostAdded, HostRemoved, NetworkCreated, NetworkRemoved
from cnmlab.drivers import Capabilities, Driver, JoinInfo
from cnmlab.errors import Conflict, Forbidden, InvalidParameter, NotFound
from cnmlab.store import Store


class FakeKernel:
    """Records the controller's kernel actions; keeps each sandbox's default route."""

    def __init__(self) -> None:
        self.ns = None
        self.calls: list[tuple] = []
        self.sandboxes: set[str] = set()
        self.routes: dict[str, tuple[str | None, str | None]] = {}

    def settle(self) -> None:
        pass

    def build_switch(self) -> None:
        self.calls.append(("build_switch",))

    def drop_switch(self) -> None:
        self.calls.append(("drop_switch",))

    def plug_host(self, host) -> None:
        self.calls.append(("plug_host", host.name))

    def unplug_host(self, host) -> None:
        self.calls.append(("unplug_host", host.name))

    def create_sandbox(self, name: str, hostname: str) -> None:
        assert name not in self.sandboxes
        self.sandboxes.add(name)
        self.calls.append(("create_sandbox", name))

    def delete_sandbox(self, name: str, background: bool = False) -> None:
        self.sandboxes.discard(name)
        self.routes.pop(name, None)
        self.calls.append(("delete_sandbox", name))

    def set_default_route(self, sandbox: str, gateway: str | None, ifname: str | None) -> None:
        self.routes[sandbox] = (gateway, ifname)

    def make_spares(self) -> None:
        pass

    def close(self) -> None:
        pass


class FakeServices:
    def __init__(self) -> None:
        self.running: set[str] = set()

    def start(self, ns: str, name: str, opened=None) -> None:
        self.running.add(ns)

    def stop(self, ns: str) -> None:
        self.running.discard(ns)

    def close(self) -> None:
        self.running.clear()


class Recorder:
    """The fake drivers' shared log, and the faults a test asks for."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []
        self.fail_join: set[str] = set()  # container names whose join raises
        self.fail_join_on: set[tuple[str, str]] = set()  # (container, network) joins that raise
        self.published: dict[str, tuple[str, str]] = {}  # container -> (network, endpoint ifname)
        self.fail_create: set[tuple[str, str | None]] = set()  # (network, host) creates that raise
        self.drivers = make_drivers(self)

    def driver_class(self, name: str) -> type[Driver]:
        if name not in self.drivers:  # as drivers.load_class says it
            raise NotFound(f'plugin "{name}" not found')
        return self.drivers[name]


def make_drivers(rec: Recorder) -> dict[str, type[Driver]]:
    class Fake(Driver):
        def setup_host(self, host):
            rec.calls.append((self.name, "setup_host", host.name))

        def create_network(self, network):
            if (network.name, network.host) in rec.fail_create:
                raise InvalidParameter(f"cannot create {network.name} on {network.host}")
            rec.calls.append((self.name, "create_network", network.name))

        def delete_network(self, network):
            rec.calls.append((self.name, "delete_network", network.name))

        def create_endpoint(self, network, endpoint):
            rec.calls.append((self.name, "create_endpoint", network.name))

        def delete_endpoint(self, network, endpoint):
            rec.calls.append((self.name, "delete_endpoint", network.name))

        def join(self, network, endpoint, container):
            if container.name in rec.fail_join or (container.name, network.name) in rec.fail_join_on:
                raise InvalidParameter(f"join of {container.name} refused")
            rec.calls.append((self.name, "join", network.name, container.name, endpoint.ifname))
            return JoinInfo(gateway=endpoint.gateway)

        def leave(self, network, endpoint, container, teardown=False):
            rec.calls.append((self.name, "leave", network.name, container.name))

        def publish(self, network, endpoint, container, ports):
            rec.calls.append((self.name, "publish", network.name, container.name))
            rec.published[container.name] = (network.name, endpoint.ifname)

        def unpublish(self, network, endpoint, container, ports):
            rec.calls.append((self.name, "unpublish", network.name, container.name))
            assert rec.published.pop(container.name) == (network.name, endpoint.ifname)

    class Bridge(Fake):
        name = "bridge"

    class Overlay(Fake):  # no gateway in its join reply: the container needs docker_gwbridge
        name = "overlay"
        capabilities = Capabilities(scope="global", connectivity_scope="global")

        def join(self, network, endpoint, container):
            super().join(network, endpoint, container)
            return JoinInfo(gateway=None)

    class Host(Fake):
        name = "host"
        capabilities = Capabilities(needs_ipam=False, has_gateway=False, network_mode="host")

    class Null(Fake):
        name = "null"
        capabilities = Capabilities(needs_ipam=False, has_gateway=False, network_mode="none")

    class Lan(Fake):  # publishes nothing, as macvlan
        name = "lan"
        on_underlay = True

        def device(self, network):
            return "eth0"

        def inspect_network(self, network, data, verbose):
            data["Parent"] = "eth0"

        def publish(self, network, endpoint, container, ports):
            Driver.publish(self, network, endpoint, container, ports)

    class Nat(Fake):  # its own default subnets, and lab-wide state to drop on reset
        name = "nat"
        resets = 0
        option_keys = ("nat.mode",)

        def default_pools(self):
            return [ipaddress.IPv4Network("172.30.0.0/20"), ipaddress.IPv4Network("172.30.16.0/20")]

        def reset(self):
            type(self).resets += 1

    class Routed(Fake):  # no gateway, and no docker_gwbridge either (ipvlan l3's Join reply)
        name = "routed"

        def join(self, network, endpoint, container):
            super().join(network, endpoint, container)
            return JoinInfo(gateway=None, disable_gateway_service=True)

    return {d.name: d for d in (Bridge, Overlay, Host, Null, Lan, Nat, Routed)}


@pytest.fixture
def rec():
    return Recorder()


def controller(store: Store, rec: Recorder) -> Controller:
    ctl = Controller(store, builtin_services=FakeServices(), kernel=FakeKernel(), driver_class=rec.driver_class)
    ctl.start()
    return ctl


@pytest.fixture
def ctl(rec):
    ctl = controller(Store(":memory:"), rec)
    yield ctl
    ctl.close()


def route(ctl: Controller, name: str) -> tuple[str | None, str | None] | None:
    return ctl.kernel.routes.get(name)


def gateway_of(ctl: Controller, net: str) -> str:
    return ctl.network(net).ipam[0].gateway


# -- gateway selection -----------------------------------------------------------
def test_the_default_route_prefers_non_internal_then_name_order(ctl):
    for name, internal in (("b-net", False), ("a-internal", True), ("a-net", False)):
        ctl.create_network(name, internal=internal)
    ctl.run_container("web", network="b-net")
    assert route(ctl, "web") == (gateway_of(ctl, "b-net"), "eth0")
    ctl.connect("a-internal", "web")
    assert route(ctl, "web") == (gateway_of(ctl, "b-net"), "eth0")  # an internal network never wins
    ctl.connect("a-net", "web")
    assert route(ctl, "web") == (gateway_of(ctl, "a-net"), "eth2")  # then name order
    ctl.disconnect("a-net", "web")
    assert route(ctl, "web") == (gateway_of(ctl, "b-net"), "eth0")
    ctl.disconnect("b-net", "web")
    assert route(ctl, "web") == (gateway_of(ctl, "a-internal"), "eth1")  # the only one left


def test_an_overlay_container_joins_docker_gwbridge_and_leaves_it_for_a_gateway(ctl, rec):
    ctl.create_network("ov", driver="overlay")
    c = ctl.run_container("svc", network="ov")
    nets = [ctl.networks[ctl.endpoints[e].network_id].name for e in c.endpoints]
    assert nets == ["ov", GW_NETWORK]
    gw_net = ctl.network(GW_NETWORK, "host1")
    assert gw_net.options["com.docker.network.bridge.enable_icc"] == "false"
    assert route(ctl, "svc") == (gateway_of_host_net(ctl, GW_NETWORK), "eth1")
    ctl.create_network("front")
    ctl.connect("front", "svc")
    nets = [ctl.networks[ctl.endpoints[e].network_id].name for e in c.endpoints]
    assert nets == ["ov", "front"]  # another network gives a gateway: docker_gwbridge is left
    assert route(ctl, "svc") == (gateway_of(ctl, "front"), "eth2")
    ctl.disconnect("front", "svc")
    nets = [ctl.networks[ctl.endpoints[e].network_id].name for e in c.endpoints]
    assert nets == ["ov", GW_NETWORK]  # and joined again when it goes
    assert route(ctl, "svc") == (gateway_of_host_net(ctl, GW_NETWORK), "eth3")


def test_an_internal_overlay_needs_no_way_out(ctl):
    ctl.create_network("ov", driver="overlay", internal=True)
    c = ctl.run_container("svc", network="ov")
    assert len(c.endpoints) == 1
    assert route(ctl, "svc") == (None, None)


def gateway_of_host_net(ctl: Controller, name: str) -> str:
    return ctl.network(name, "host1").ipam[0].gateway


# -- port placement --------------------------------------------------------------
def test_ports_go_to_the_gateway_endpoint_and_follow_it(ctl, rec):
    ctl.create_network("ov", driver="overlay")
    ctl.create_network("front")
    ctl.run_container("svc", network="ov", ports=["8080:80"])
    assert rec.published["svc"] == (GW_NETWORK, "eth1")
    ctl.connect("front", "svc")
    assert rec.published["svc"] == ("front", "eth2")
    ctl.disconnect("front", "svc")
    assert rec.published["svc"] == (GW_NETWORK, "eth3")
    publishes = [c for c in rec.calls if c[1] in ("publish", "unpublish")]
    assert publishes == [("bridge", "publish", GW_NETWORK, "svc"),
                         ("bridge", "unpublish", GW_NETWORK, "svc"), ("bridge", "publish", "front", "svc"),
                         ("bridge", "unpublish", "front", "svc"), ("bridge", "publish", GW_NETWORK, "svc")]
    ctl.remove_container("svc", force=True)
    assert "svc" not in rec.published


def test_a_new_gateway_that_publishes_nothing_drops_the_ports(ctl, rec):
    ctl.create_network("z-net")
    ctl.create_network("a-lan", driver="lan")
    c = ctl.run_container("web", network="z-net", ports=["8080:80"])
    ctl.connect("a-lan", "web")  # name order makes it the gateway; it cannot publish
    assert "web" not in rec.published and c.ports == []


def test_a_host_port_is_taken_once_per_host(ctl, rec):
    ctl.run_container("one", ports=["8080:80"])
    with pytest.raises(Conflict, match="8080"):
        ctl.run_container("two", ports=["8080:80/tcp"])
    ctl.run_container("three", ports=["8080:80/udp"])
    with pytest.raises(InvalidParameter, match="host network mode"):
        ctl.run_container("four", network="host", ports=["9090:90"])


# -- rollback ----------------------------------------------------------------------
def test_a_failed_join_leaves_nothing_behind(ctl, rec):
    ctl.create_network("net")
    rec.fail_join.add("bad")
    with pytest.raises(InvalidParameter, match="refused"):
        ctl.run_container("bad", network="net", ip=None, ports=["8080:80"])
    assert "bad" not in ctl.containers.by_name
    assert not ctl.endpoints and "bad" not in ctl.kernel.sandboxes
    assert "bad" not in ctl.builtin_services.running and not ctl.store.load("container")
    assert ("bridge", "delete_endpoint", "net") in rec.calls
    good = ctl.run_container("good", network="net", ports=["8080:80"])  # address and port are free again
    subnet = ipaddress.ip_network(ctl.network("net").ipam[0].subnet)
    assert ctl.endpoints[good.endpoints[0]].address == f"{subnet.network_address + 2}/{subnet.prefixlen}"


def test_a_refused_hook_undoes_the_join(ctl, rec):
    ctl.create_network("a-net")
    ctl.create_network("b-net")
    c = ctl.run_container("web", network="b-net")

    def refuse(net, ep, container):
        if net.name == "a-net":
            raise Conflict("refused by a feature")

    ctl.hooks.joined.append(refuse)
    with pytest.raises(Conflict):
        ctl.connect("a-net", "web")
    assert [ctl.networks[ctl.endpoints[e].network_id].name for e in c.endpoints] == ["b-net"]
    assert route(ctl, "web") == (gateway_of(ctl, "b-net"), "eth0")
    assert rec.calls[-2:] == [("bridge", "leave", "a-net", "web"), ("bridge", "delete_endpoint", "a-net")]
    ctl.hooks.joined.remove(refuse)
    ep = ctl.connect("a-net", "web")
    subnet = ipaddress.ip_network(ctl.network("a-net").ipam[0].subnet)
    assert (ep.ifname, ep.address) == ("eth1", f"{subnet.network_address + 2}/{subnet.prefixlen}")  # not used up


def test_a_failed_network_create_frees_its_subnet(ctl, rec):
    class Refusing(rec.drivers["bridge"]):
        name = "refusing"

        def create_network(self, network):
            raise InvalidParameter("no")

    rec.drivers["refusing"] = Refusing
    with pytest.raises(InvalidParameter):
        ctl.create_network("x", driver="refusing", subnet="10.9.0.0/24")
    assert not any(n.name == "x" for n in ctl.networks.values())
    assert ctl.create_network("y", subnet="10.9.0.0/24").ipam[0].subnet == "10.9.0.0/24"


def test_a_host_whose_driver_setup_fails_is_not_added(rec):
    class Picky(rec.drivers["bridge"]):
        def setup_host(self, host):
            if host.name == "bad-host":
                raise InvalidParameter("cannot set up bad-host")

    rec.drivers["bridge"] = Picky
    ctl = controller(Store(":memory:"), rec)
    ctl.kernel.calls.clear()
    with pytest.raises(InvalidParameter):
        ctl.add_host("bad-host")
    assert "bad-host" not in ctl.hosts and [h.name for h in ctl.store.load("host")] == ["host1"]
    assert ctl.kernel.calls == [("plug_host", "bad-host"), ("unplug_host", "bad-host")]
    assert ctl.add_host("good-host").address == "192.168.100.12"  # its address was not used up


# -- restore -----------------------------------------------------------------------
def test_restore_rebuilds_hosts_networks_then_containers_in_join_order(rec, tmp_path):
    store = Store(tmp_path / "lab.db")
    first = controller(store, rec)
    first.create_network("ov", driver="overlay")
    first.create_network("front")
    first.run_container("svc", network="ov", ports=["8080:80"])
    first.run_container("web", network="front")
    first.connect("front", "svc")
    first.connect("ov", "web")
    before = {c.name: [(first.endpoints[e].ifname, first.endpoints[e].address) for e in c.endpoints]
              for c in first.containers.values()}
    first.close()

    rec.calls.clear()
    rec.published.clear()
    second = controller(store, rec)
    after = {c.name: [(second.endpoints[e].ifname, second.endpoints[e].address) for e in c.endpoints]
             for c in second.containers.values()}
    assert after == before
    kernel = second.kernel.calls
    assert kernel[0] == ("build_switch",) and kernel[1] == ("plug_host", "host1")
    assert kernel[2:] == [("create_sandbox", "svc"), ("create_sandbox", "web")]
    creates = [c[2] for c in rec.calls if c[1] == "create_network"]
    assert set(creates) == {"bridge", "host", "none", "ov", "front", GW_NETWORK}
    first_join = next(i for i, c in enumerate(rec.calls) if c[1] == "join")
    assert all(c[1] != "create_network" for c in rec.calls[first_join:])  # networks before containers
    joins = [(c[3], c[2], c[4]) for c in rec.calls if c[1] == "join"]
    assert joins == [("svc", "ov", "eth0"), ("svc", "front", "eth2"), ("web", "front", "eth0"),
                     ("web", "ov", "eth1")]  # svc left docker_gwbridge when front gave it a gateway
    assert route(second, "svc") == (gateway_of(second, "front"), "eth2")
    assert rec.published == {"svc": ("front", "eth2")}  # published once, on the gateway endpoint
    assert [c for c in rec.calls if c[1] == "publish"] == [("bridge", "publish", "front", "svc")]
    # and the lab goes on from where it was: the next address is a new one
    db = second.run_container("db", network="front")
    taken = {a for eps in after.values() for _, a in eps}
    assert second.endpoints[db.endpoints[0]].address not in taken
    second.close()


def test_restore_drops_a_network_whose_driver_is_gone_and_keeps_the_rest(rec, tmp_path):
    store = Store(tmp_path / "lab.db")
    first = controller(store, rec)
    first.create_network("plugged", driver="lan")
    first.create_network("front")
    first.run_container("web", network="front")
    first.connect("plugged", "web")
    first.close()

    del rec.drivers["lan"]  # e.g. a remote plugin that ran in the old lab world
    events = []
    second = Controller(store, builtin_services=FakeServices(), kernel=FakeKernel(), driver_class=rec.driver_class)
    second.subscribe(events.append)
    second.start()
    assert sorted(n.name for n in second.networks.values() if not n.predefined) == ["front"]
    assert any("network plugged not restored" in getattr(e, "step", "") for e in events)
    web = second.container("web")
    assert [second.networks[second.endpoints[e].network_id].name for e in web.endpoints] == ["front"]
    assert [c.endpoints for c in store.load("container")] == [web.endpoints]  # the store agrees
    assert len(store.load("endpoint")) == 1
    second.close()


def test_prune_skips_a_network_a_feature_still_claims(ctl, rec):
    for name in ("kept", "gone", "used"):
        ctl.create_network(name)
    ctl.run_container("web", network="used")

    def claim(net):
        if net.name == "kept":
            raise Forbidden("a service still uses it")

    ctl.hooks.removing_network.append(claim)
    assert ctl.prune_networks() == ["gone"]
    assert sorted(n.name for n in ctl.networks.values() if not n.predefined) == ["kept", "used"]


def test_reset_starts_a_fresh_lab(ctl, rec):
    ctl.create_network("net")
    ctl.run_container("web", network="net")
    ctl.kernel.calls.clear()
    ctl.reset()
    assert ctl.kernel.calls[:3] == [("delete_sandbox", "web"), ("unplug_host", "host1"), ("drop_switch",)]
    assert [c.name for c in ctl.containers.values()] == []
    assert sorted(n.name for n in ctl.networks.values()) == ["bridge", "host", "none"]


# -- the driver contract's optional members ------------------------------------------
def test_a_drivers_default_pools_and_reset(ctl, rec):
    assert ctl.create_network("n1", driver="nat").ipam[0].subnet == "172.30.0.0/20"
    assert ctl.create_network("n2", driver="nat").ipam[0].subnet == "172.30.16.0/20"
    assert ctl.create_network("b1").ipam[0].subnet != "172.30.32.0/20"  # other drivers: the IPAM's pools
    ctl.reset()
    assert rec.drivers["nat"].resets == 1


def test_host_and_none_networks_are_network_modes(ctl, rec):
    assert ctl.run_container("hm", network="host").network_mode == "host"
    n = ctl.run_container("nm", network="none")
    assert n.network_mode == "none" and route(ctl, "nm") == (None, None)
    assert [ctl.networks[ctl.endpoints[e].network_id].name for e in n.endpoints] == ["none"]  # no docker_gwbridge
    assert "hm" not in ctl.kernel.sandboxes  # the host's own namespace
    ctl.create_network("net")
    with pytest.raises(Forbidden, match="network mode"):
        ctl.connect("net", "nm")


# -- the sandbox's own decisions (sandbox.py), and the endpoint's join (endpoint.py) ---------------
def networks_of(ctl: Controller, c) -> list[str]:
    return [ctl.networks[ctl.endpoints[e].network_id].name for e in c.endpoints]


def test_without_a_gateway_the_ports_go_on_the_first_endpoint(ctl, rec):
    ctl.create_network("l3", driver="routed")
    c = ctl.run_container("web", network="l3", ports=["8080:80"])
    sb = ctl.sandboxes[c.id]
    assert sb.gateway_endpoint() is None
    assert networks_of(ctl, c) == ["l3"]  # the driver said: no docker_gwbridge
    assert route(ctl, "web") == (None, None)
    assert sb.port_endpoint().id == c.endpoints[0] == sb.ports_on
    assert rec.published["web"] == ("l3", "eth0")


def test_disconnecting_the_first_network_drops_the_ports(ctl, rec):
    ctl.create_network("a-net")
    ctl.create_network("b-net")
    c = ctl.run_container("web", network="b-net", ports=["8080:80"])
    ctl.connect("a-net", "web")
    assert rec.published["web"] == ("a-net", "eth1")  # name order: a-net is the gateway now
    ctl.disconnect("b-net", "web")  # its first network: Docker forgets the ports with it
    assert "web" not in rec.published and c.ports == [] and ctl.sandboxes[c.id].ports_on is None
    assert route(ctl, "web") == (gateway_of(ctl, "a-net"), "eth1")


def test_a_stopped_container_has_no_sandbox_and_starts_with_its_ports_again(ctl, rec):
    ctl.create_network("ov", driver="overlay")
    c = ctl.run_container("svc", network="ov", ports=["8080:80"])
    used = {ctl.endpoints[e].address for e in c.endpoints}
    ctl.main_exited(c.id, None, 0)  # the stand-in services stop: as `docker stop` does
    assert c.state.status == "exited" and c.id not in ctl.sandboxes and not c.endpoints
    assert "svc" not in ctl.kernel.sandboxes and "svc" not in rec.published and not ctl.endpoints
    assert ctl.start_container("svc")
    assert networks_of(ctl, c) == ["ov", GW_NETWORK] and rec.published["svc"] == (GW_NETWORK, "eth1")
    assert {ctl.endpoints[e].address for e in c.endpoints} == used  # the same lowest free addresses


def test_a_failed_docker_gwbridge_join_undoes_the_whole_start(ctl, rec):
    ctl.create_network("ov", driver="overlay")
    ctl.run_container("first", network="ov")  # makes docker_gwbridge
    rec.fail_join_on.add(("svc", GW_NETWORK))
    with pytest.raises(InvalidParameter, match="refused"):
        ctl.run_container("svc", network="ov", ports=["8080:80"])
    assert "svc" not in ctl.containers.by_name and "svc" not in ctl.kernel.sandboxes
    assert len(ctl.sandboxes) == 1 and len(ctl.endpoints) == 2  # first's two endpoints only
    assert ("overlay", "leave", "ov", "svc") in rec.calls and ("overlay", "delete_endpoint", "ov") in rec.calls
    rec.fail_join_on.clear()
    svc = ctl.run_container("svc", network="ov", ports=["8080:80"])  # its addresses and port are free again
    first = ctl.container("first")
    assert [ctl.endpoints[e].ifname for e in svc.endpoints] == ["eth0", "eth1"]
    assert {ctl.endpoints[e].address for e in svc.endpoints}.isdisjoint(
        ctl.endpoints[e].address for e in first.endpoints)


def test_restore_runs_the_join_hooks_in_join_order_before_the_ports(rec, tmp_path):
    store = Store(tmp_path / "lab.db")
    first = controller(store, rec)
    first.create_network("a-net")
    first.create_network("b-net")
    first.run_container("web", network="b-net", ports=["8080:80"])
    first.connect("a-net", "web")
    first.create_container("idle", network="a-net")  # created, never started: no sandbox to restore
    first.close()

    rec.calls.clear()
    second = Controller(store, builtin_services=FakeServices(), kernel=FakeKernel(), driver_class=rec.driver_class)
    second.hooks.joined.append(lambda net, ep, c: rec.calls.append(("hook", "joined", net.name, c.name)))
    second.hooks.sandbox_created.append(lambda c: rec.calls.append(("hook", "sandbox_created", c.name)))
    second.start()
    steps = [c for c in rec.calls if c[0] == "hook" or c[1] in ("join", "publish")]
    assert steps == [("hook", "sandbox_created", "web"),
                     ("bridge", "join", "b-net", "web", "eth0"), ("hook", "joined", "b-net", "web"),
                     ("bridge", "join", "a-net", "web", "eth1"), ("hook", "joined", "a-net", "web"),
                     ("bridge", "publish", "a-net", "web")]  # once, on the gateway endpoint
    assert list(second.sandboxes) == [second.container("web").id]
    assert second.container("idle").state.status == "created" and "idle" not in second.kernel.sandboxes
    second.close()


# -- the declared extension points (hooks.py, the driver contract) ------------------------------
def test_inspect_shows_what_the_driver_and_the_features_add(ctl):
    ctl.create_network("lan1", driver="lan")
    c = ctl.run_container("web", network="lan1")
    ctl.hooks.network_inspect.append(lambda ctl, net, data, verbose: data.update(Verbose=verbose))
    ctl.hooks.container_inspect.append(lambda ctl, c, data: data.update(Feature=c.name))
    lan = docker_views.network(ctl, ctl.network("lan1"), verbose=True)
    assert (lan["Device"], lan["OnUnderlay"], lan["NetworkMode"], lan["Parent"], lan["Verbose"]) == \
        ("eth0", True, "", "eth0", True)
    none = docker_views.network(ctl, ctl.network("none"))
    assert (none["NetworkMode"], none["OnUnderlay"], none["Verbose"]) == ("none", False, False)
    assert "Parent" not in none
    assert docker_views.container(ctl, c)["Feature"] == "web"


# -- simulated hosts (host.py, underlay.py) -------------------------------------------------
def setups(rec: Recorder, host: str) -> list[str]:
    return [c[0] for c in rec.calls if c[1:] == ("setup_host", host)]


def said(events: list, kind: type) -> list[dict]:
    """The events of one kind, without their time."""
    return [{k: v for k, v in dataclasses.asdict(e).items() if k != "time"} for e in events if isinstance(e, kind)]


def test_hosts_take_free_lan_addresses_and_their_own_predefined_networks(ctl, rec):
    ctl.create_network("lan1", driver="lan", subnet="192.168.100.0/24")  # the LAN's own subnet
    ctl.run_container("station", network="lan1", ip="192.168.100.12")
    events = []
    ctl.subscribe(events.append)
    assert ctl.add_host("host2").address == "192.168.100.13"  # .11 is host1's, .12 the station's
    for address, error, words in (("192.168.100.12", Conflict, "already in use"),
                                  ("192.168.100.13", Conflict, "already in use"),
                                  ("192.168.100.1", InvalidParameter, "is its router"),
                                  ("192.168.100.255", InvalidParameter, "underlay LAN is"),
                                  ("10.0.0.5", InvalidParameter, "underlay LAN is")):
        with pytest.raises(error, match=words):
            ctl.add_host("host3", address=address)
    with pytest.raises(Conflict, match="taken by a container"):
        ctl.add_host("station")
    with pytest.raises(Conflict, match="already exists"):
        ctl.add_host("host2")
    assert "host3" not in ctl.hosts and said(events, HostAdded) == [{"host": "host2", "address": "192.168.100.13"}]
    own = {n.name: n for n in ctl.networks.values() if n.host == "host2"}
    assert sorted((n.name, n.driver) for n in own.values()) == [("bridge", "bridge"), ("host", "host"),
                                                                ("none", "null")]
    assert all(n.predefined for n in own.values()) and own["host"].options == own["none"].options == {}
    assert own["bridge"].options["com.docker.network.bridge.name"] == "docker0"  # as on every Docker host
    assert own["bridge"].ipam[0].subnet == "172.17.0.0/16"  # every host's default bridge, as Docker's
    assert ctl.network("bridge", "host2") is own["bridge"] and ctl.network("bridge").host == "host1"
    # every loaded driver set host2 up, once each
    assert sorted(setups(rec, "host2")) == sorted(d.name for d in ctl.loaded_drivers())


def test_a_plain_host_has_no_docker(ctl, rec):
    router = ctl.add_host("router", plain=True)
    assert router.address == "192.168.100.12" and setups(rec, "router") == []
    assert not [n for n in ctl.networks.values() if n.host == "router"]
    assert [h.name for h in ctl.docker_hosts()] == ["host1"] and ctl.default_host() == "host1"
    for make in (lambda: ctl.create_network("x", host="router"), lambda: ctl.run_container("c1", host="router")):
        with pytest.raises(InvalidParameter, match="router is a plain machine"):
            make()
    ctl.create_network("ov", driver="overlay")  # a driver loaded later sets up Docker hosts only
    assert setups(rec, "router") == [] and setups(rec, "host1").count("overlay") == 1


def test_removing_a_host_removes_its_networks_and_frees_its_address(ctl, rec):
    ctl.add_host("host2")
    ctl.create_network("local", host="host2", subnet="10.50.0.0/24")
    ctl.run_container("web", host="host2", network="local")
    with pytest.raises(Forbidden, match="host host2 has containers: web"):
        ctl.remove_host("host2")
    ctl.remove_container("web", force=True)
    events, rec.calls[:] = [], []
    ctl.subscribe(events.append)
    ctl.kernel.calls.clear()
    ctl.remove_host("host2")
    assert "host2" not in ctl.hosts and [h.name for h in ctl.store.load("host")] == ["host1"]
    assert not [n for n in ctl.networks.values() if n.host == "host2"]
    assert sorted(c[2] for c in rec.calls if c[1] == "delete_network") == ["bridge", "host", "local", "none"]
    assert ctl.kernel.calls == [("unplug_host", "host2")]
    assert sorted(e["network"] for e in said(events, NetworkRemoved)) == ["bridge", "host", "local", "none"]
    assert isinstance(events[-1], HostRemoved) and said(events, HostRemoved) == [{"host": "host2"}]
    with pytest.raises(NotFound):
        ctl.network("bridge", "host2")
    again = ctl.add_host("host2")  # the same address, the subnet, and the drivers' setup again
    assert again.address == "192.168.100.12" and setups(rec, "host2").count("bridge") == 1
    assert ctl.create_network("local2", host="host2", subnet="10.50.0.0/24")


def test_a_host_whose_predefined_network_fails_is_not_added(ctl, rec):
    rec.fail_create.add(("none", "bad-host"))
    ctl.kernel.calls.clear()
    with pytest.raises(InvalidParameter, match="cannot create none on bad-host"):
        ctl.add_host("bad-host")
    assert "bad-host" not in ctl.hosts and [h.name for h in ctl.store.load("host")] == ["host1"]
    assert not [n for n in ctl.networks.values() if n.host == "bad-host"]
    assert [c for c in rec.calls if c[1] == "delete_network"] == [("host", "delete_network", "host"),
                                                                   ("bridge", "delete_network", "bridge")]
    assert ctl.kernel.calls == [("plug_host", "bad-host"), ("unplug_host", "bad-host")]
    rec.fail_create.clear()
    assert ctl.add_host("good-host").address == "192.168.100.12"


def test_restored_hosts_are_set_up_again_once(rec, tmp_path):
    store = Store(tmp_path / "lab.db")
    first = controller(store, rec)
    first.add_host("host2")
    first.add_host("router", plain=True)
    first.create_network("ov", driver="overlay")
    first.close()
    rec.calls.clear()
    second = controller(store, rec)
    assert [(h.name, h.address, h.plain) for h in second.hosts.values()] == [
        ("host1", "192.168.100.11", False), ("host2", "192.168.100.12", False), ("router", "192.168.100.13", True)]
    for name in ("host1", "host2"):
        assert sorted(setups(rec, name)) == ["bridge", "host", "null", "overlay"]
    assert setups(rec, "router") == []
    assert second.add_host("host3").address == "192.168.100.14"
    second.close()


# -- networks (network.py) ---------------------------------------------------------------
def test_a_network_makes_itself_and_gives_everything_back(ctl, rec):
    events, order = [], []
    ctl.subscribe(events.append)
    net = ctl.create_network("n1", subnet="10.60.0.0/24", options={"com.docker.network.bridge.name": "br-n1"})
    assert said(events, NetworkCreated) == [{"network": "n1", "id": net.id, "driver": "bridge"}]
    assert ctl.store.load("network")[-1].id == net.id and net.id in ctl.ipam.pools
    ctl.hooks.network_removed.append(lambda n: order.append(("hook", n.name)))
    rec.calls.clear()
    ctl.remove_network("n1")
    assert order == [("hook", "n1")] and rec.calls == [("bridge", "delete_network", "n1")]
    assert net.id not in ctl.ipam.pools and net.id not in ctl.networks 
    assert said(events, NetworkRemoved) == [{"network": "n1", "id": net.id}]
    assert all(n.id != net.id for n in ctl.store.load("network"))
    assert ctl.create_network("n2", subnet="10.60.0.0/24")  # the subnet is free again
    null = ctl.create_network("n3", ipam_driver="null")
    assert null.ipam == [] and null.id not in ctl.ipam.pools
    with pytest.raises(InvalidParameter, match="null IPAM driver"):
        ctl.create_network("n4", ipam_driver="null", subnet="10.61.0.0/24")
    with pytest.raises(InvalidParameter, match=r"unknown option bogus for the nat driver \(known: nat.mode\)"):
        ctl.create_network("n5", driver="nat", options={"bogus": "1"})
    assert [n.name for n in ctl.networks.values() if not n.predefined] == ["n2", "n3"]


# -- the container life cycle (container.py) -------------------------------------------------
def test_a_stopped_container_keeps_its_networks_for_the_next_start(ctl, rec):
    ctl.create_network("a-net")
    ctl.create_network("b-net")
    ctl.add_host("host2")
    ctl.create_network("far", host="host2")
    c = ctl.create_container("web", network="b-net", ports=["8080:80"])
    assert c.state.status == "created" and c.id not in ctl.sandboxes and not ctl.endpoints
    assert ctl.connect("a-net", "web") is None  # recorded, joined at the start
    with pytest.raises(Conflict, match="already exists in network a-net"):
        ctl.connect("a-net", "web")
    with pytest.raises(InvalidParameter, match="local to host host2"):
        ctl.connect("far", "web")
    with pytest.raises(Forbidden, match="network mode"):
        ctl.connect("host", "web")
    ctl.disconnect("b-net", "web")
    with pytest.raises(Forbidden, match="not connected to network b-net"):
        ctl.disconnect("b-net", "web")
    assert [cfg.network for cfg in ctl.store.load("container")[0].networks] == [ctl.network("a-net").id]
    assert ctl.start_container("web") and not ctl.start_container("web")  # the second: already running
    assert networks_of(ctl, c) == ["a-net"] and rec.published["web"] == ("a-net", "eth0")


def test_removing_a_container_ends_its_runtime_and_frees_what_it_held(ctl, rec):
    ctl.create_network("net")
    c = ctl.run_container("web", network="net", ports=["8080:80"])
    rt = ctl.runtime(c.id)
    with pytest.raises(Conflict, match="cannot remove a running container"):
        ctl.remove_container("web")
    ctl.remove_container("web", force=True)
    assert rt.removed and "web" not in ctl.containers.by_name and not ctl.endpoints and not ctl.sandboxes
    assert "web" not in rec.published and "web" not in ctl.kernel.sandboxes and not ctl.store.load("container")
    ctl.run_container("again", network="net", ports=["8080:80"])  # the port and address are free


def test_an_auto_remove_container_goes_when_its_main_process_ends(ctl, rec):
    c = ctl.run_container("once", auto_remove=True)
    ctl.main_exited(c.id, None, 0)
    assert "once" not in ctl.containers.by_name and not ctl.store.load("container")
    kept = ctl.run_container("kept")
    ctl.main_exited(kept.id, None, 3)
    assert (kept.state.status, kept.state.exit_code) == ("exited", 3) and kept.id not in ctl.sandboxes
    ctl.main_exited(kept.id, None, 5)  # an old exit of a container not running: nothing changes
    assert kept.state.exit_code == 3


def test_reset_ends_every_runtime(ctl, rec):
    rt = ctl.runtime(ctl.run_container("web").id)
    ctl.reset()
    assert rt.removed and not ctl.containers


def test_an_in_memory_controller_makes_its_logs_directory_on_first_use_and_removes_it(rec):
    """A store without a directory keeps containers' logs in a temporary one: made only when a log
    is written, and gone with the controller (the suite once left ~700 empty ones in /tmp)."""
    import os

    ctl = controller(Store(":memory:"), rec)
    assert ctl._scratch is None
    logs = ctl.containers_dir
    scratch = ctl._scratch
    assert scratch is not None and logs.startswith(scratch) and os.path.isdir(scratch)
    ctl.close()
    assert not os.path.exists(scratch)
