"""The `p2p` driver: no bridge at all; every pair of endpoints gets its own veth.

A network with N containers is a full mesh of N*(N-1)/2 point-to-point links. Each container
keeps its IPAM address and puts it on every one of its links as `ADDR peer PEER/32`, which also
gives it the /32 route to that peer. It is a driver a student can read in one sitting, and it
uses only cnmlab's public driver API (cnmlab.drivers) and the OS layer (cnmlab.osl).

    pip install -e examples/p2p-driver
    cnmlab network create -d p2p mesh
    cnmlab run --name aa --network mesh; cnmlab run --name bb --network mesh
    cnmlab exec aa -- ip addr      # eth0p1: 172.x.0.2 peer 172.x.0.3/32

Interfaces are named after the endpoint's slot: the first network's links are eth0p1, eth0p2 ...
"""

from __future__ import annotations

import contextlib

from cnmlab.drivers import Capabilities, Driver, JoinInfo
from cnmlab.osl import links, wiring

MTU = "com.docker.network.driver.mtu"


class P2PDriver(Driver):
    name = "p2p"
    # No gateway: nothing on the data path owns one. No default route, and the sandbox asks for
    # no gateway service either (DisableGatewayService in Docker's Join reply).
    capabilities = Capabilities(scope="local", needs_ipam=True, has_gateway=False)
    option_keys = (MTU,)

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        # network id -> endpoint id -> (endpoint, container): the members each join wires to.
        # Rebuilt by the joins themselves when the lab is restored (they are replayed in order).
        self.members: dict[str, dict[str, tuple]] = {}

    # -- networks ---------------------------------------------------------------
    def validate(self, network) -> None:
        mtu = network.option(MTU)
        if mtu is not None and (not mtu.isdigit() or not 68 <= int(mtu) <= 65535):
            from cnmlab.errors import InvalidParameter

            raise InvalidParameter(f"invalid MTU {mtu}: use a number from 68 to 65535")

    def create_network(self, network) -> None:
        self.members[network.id] = {}
        self.ctx.step(network.host, f"p2p network {network.name}: nothing to build until endpoints join")

    def delete_network(self, network) -> None:
        self.members.pop(network.id, None)

    # -- join: one veth to every member already there -----------------------------
    def join(self, network, endpoint, container) -> JoinInfo:
        members = self.members.setdefault(network.id, {})
        mtu = int(network.option(MTU, "1500"))
        endpoint.state["links"], endpoint.state["next_link"] = {}, 0
        box = self.ctx.ns.ipr(container.netns)
        with contextlib.ExitStack() as undo:
            for peer_id, (peer_ep, peer_c) in members.items():
                mine, theirs = self._new_name(endpoint), self._new_name(peer_ep)
                wiring.add_pair(box, mine, theirs, peer_c.netns, mtu=mtu)
                undo.callback(wiring.delete_quietly, box, mine)  # deleting one end removes both
                other = self.ctx.ns.ipr(peer_c.netns)
                links.set_up(box, mine)
                links.set_up(other, theirs)
                wiring.add_peer_address(box, mine, endpoint.ip, peer_ep.ip)
                wiring.add_peer_address(other, theirs, peer_ep.ip, endpoint.ip)
                endpoint.state["links"][peer_id] = mine
                peer_ep.state["links"][endpoint.id] = theirs
                undo.callback(peer_ep.state["links"].pop, endpoint.id, None)
                self.ctx.step(container.name, f"veth {mine} ({endpoint.ip}) <-> {theirs} in {peer_c.name} "
                              f"({peer_ep.ip})")
            members[endpoint.id] = (endpoint, container)
            undo.pop_all()
        if not members or len(members) == 1:
            self.ctx.step(container.name, f"first member of {network.name}: no peer to wire yet")
        return JoinInfo(gateway=None, disable_gateway_service=True)

    def leave(self, network, endpoint, container, teardown: bool = False) -> None:
        members = self.members.get(network.id, {})
        members.pop(endpoint.id, None)
        box = None if teardown else self.ctx.ns.ipr(container.netns)
        for peer_id, mine in endpoint.state.get("links", {}).items():
            if box is not None:  # with teardown the namespace goes, and the kernel takes the links
                wiring.delete_quietly(box, mine)
            peer = members.get(peer_id)
            if peer is not None:
                peer[0].state["links"].pop(endpoint.id, None)
        endpoint.state["links"] = {}

    @staticmethod
    def _new_name(endpoint) -> str:
        """eth0p1, eth0p2 ...: unique in the sandbox, because the endpoint's slot (eth0) is."""
        endpoint.state["next_link"] = endpoint.state.get("next_link", 0) + 1
        return f"{endpoint.ifname}p{endpoint.state['next_link']}"
