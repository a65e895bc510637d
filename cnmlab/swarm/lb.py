"""Load balancing for services, written as iptables rules (the kernel here has no IPVS).

Docker balances a VIP with IPVS inside every sandbox on the service's network. Without IPVS we
do the same job in the same place with nat rules: the sandbox's OUTPUT chain sends the VIP to
a per-service chain of `-m statistic --mode nth` DNATs. nat sees only the first packet of a
connection, so each *connection* goes to the next replica in turn: exactly even per client.

    -A OUTPUT -d 10.0.1.2/32 -m comment --comment "service web VIP" -j DOCKER-VIP-<id>
    -A DOCKER-VIP-<id> -m statistic --mode nth --every 3 --packet 0 -j DNAT --to-destination 10.0.1.3
    -A DOCKER-VIP-<id> -m statistic --mode nth --every 2 --packet 0 -j DNAT --to-destination 10.0.1.4
    -A DOCKER-VIP-<id> -j DNAT --to-destination 10.0.1.5

The routing mesh (published ports) is the same chain shape on each Docker host, reached from
PREROUTING/OUTPUT for local addresses, with ACCEPTs for the forwarded traffic in Docker's
filter DOCKER chain. Declaring a chain in iptables-restore flushes it, so an update (scale)
replaces a chain's rules in one atomic batch.
"""

from __future__ import annotations

from ..osl import iptables, iptables_pool, ipvs


def balancer() -> str:
    """What balances VIPs here. Even with IPVS present we use nth DNAT: one rule set to teach."""
    return "iptables nth DNAT" + ("" if ipvs.available() else " (" + ipvs.MISSING + ")")


def vip_chain(service) -> str:
    return f"DOCKER-VIP-{service.short_id}"


def mesh_chain(service) -> str:
    return f"DOCKER-INGRESS-{service.short_id}"


def _comment(service, what: str) -> str:
    return f'-m comment --comment "service {service.name} {what}"'


def _spread(match: str, targets: list[str]) -> list[str]:
    """nth DNATs: rule i takes every (n-i)-th connection that reaches it; the last takes the rest."""
    rules, n = [], len(targets)
    for i, target in enumerate(targets):
        nth = f"-m statistic --mode nth --every {n - i} --packet 0 " if i < n - 1 else ""
        rules.append(f"{match}{nth}-j DNAT --to-destination {target}")
    return rules


# -- the VIP, in a sandbox --------------------------------------------------------------
def vip_rules(service, addresses: list[str], first: bool) -> dict[str, list[str]]:
    chain = vip_chain(service)
    lines = [f":{chain} - [0:0]"]
    if first:
        lines.append(f"-A OUTPUT -d {service.vip}/32 {_comment(service, 'VIP')} -j {chain}")
    lines += _spread(f"-A {chain} ", addresses)
    return {"nat": lines}


def install_vip(sandbox: str, service, addresses: list[str], first: bool) -> None:
    iptables.restore(sandbox, vip_rules(service, addresses, first))


def apply_many(batches: list[tuple[str, dict[str, list[str]]]]) -> list[tuple[str, Exception]]:
    """Many sandboxes' rule sets side by side (one process each); returns the failures."""
    return iptables_pool.restore_many(batches)


def remove_vip(sandbox: str, service) -> None:
    chain = vip_chain(service)
    iptables.restore(sandbox, {"nat": [f"-D OUTPUT -d {service.vip}/32 {_comment(service, 'VIP')} -j {chain}",
                                       f"-F {chain}", f"-X {chain}"]})


# -- the routing mesh, on a Docker host ---------------------------------------------------
# Every host balances a published port over every replica, as Docker's ingress does: its own
# replicas it DNATs to directly (on the service's bridge, or on docker_gwbridge for an overlay);
# a replica on another host it reaches through that host's address and published port,
# masquerading so the answer comes back through it. A connection that arrives from another
# mesh host was balanced there already: it goes to a local replica (INGRESS-LOCAL), so nothing
# loops. Docker does this with an `ingress` overlay and IPVS; without IPVS this is the same promise.
UNDERLAY_IF = "eth0"


def snat_chain(service) -> str:
    return f"INGRESS-SNAT-{service.short_id}"


def local_chain(service) -> str:
    return f"INGRESS-LOCAL-{service.short_id}"


def mesh_rules(service, local: list[str], remote: list[str], peers: list[str], first: bool) -> dict[str, list[str]]:
    """local: this host's replica addresses; remote: another host's address once per replica
    it runs; peers: every other mesh host (their forwarded connections stay here)."""
    chain, snat, mine = mesh_chain(service), snat_chain(service), local_chain(service)
    nat, filt = [f":{chain} - [0:0]", f":{snat} - [0:0]", f":{mine} - [0:0]"], [f":{chain} - [0:0]"]
    if first:
        nat.append(f"-I PREROUTING 1 -m addrtype --dst-type LOCAL -j {chain}")
        nat.append(f"-I OUTPUT 1 ! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL -j {chain}")
        nat.append(f"-I POSTROUTING 1 -j {snat}")
        filt.append(f"-I DOCKER 1 -j {chain}")  # DOCKER is reached from `FORWARD -o BRIDGE`
        filt.append(f"-A FORWARD -j {chain}")  # appended: Docker's own FORWARD order stays intact
    for p in service.ports:
        match = f"-p {p.proto} -m {p.proto}"
        if local:
            nat += [f"-A {chain} -s {h}/32 {match} --dport {p.host_port} -j {mine}" for h in peers]
            nat += _spread(f"-A {mine} {match} --dport {p.host_port} ", [f"{a}:{p.container_port}" for a in local])
            filt += [f"-A {chain} -d {a}/32 {match} --dport {p.container_port} -j ACCEPT" for a in local]
        targets = [f"{a}:{p.container_port}" for a in local] + [f"{h}:{p.host_port}" for h in remote]
        nat += _spread(f"-A {chain} {match} --dport {p.host_port} ", targets)
        for h in dict.fromkeys(remote):
            nat.append(f"-A {snat} -o {UNDERLAY_IF} -d {h}/32 {match} --dport {p.host_port} -j MASQUERADE")
            filt.append(f"-A {chain} -o {UNDERLAY_IF} -d {h}/32 {match} --dport {p.host_port} -j ACCEPT")
            filt.append(f"-A {chain} -i {UNDERLAY_IF} -s {h}/32 {match} --sport {p.host_port} "
                        "-m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT")
    return {"nat": nat, "filter": filt}


def remove_mesh_rules(service) -> dict[str, list[str]]:
    chain, snat, mine = mesh_chain(service), snat_chain(service), local_chain(service)
    return {
        "nat": [f"-D PREROUTING -m addrtype --dst-type LOCAL -j {chain}",
                f"-D OUTPUT ! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL -j {chain}",
                f"-D POSTROUTING -j {snat}",
                f"-F {chain}", f"-X {chain}", f"-F {snat}", f"-X {snat}", f"-F {mine}", f"-X {mine}"],
        "filter": [f"-D DOCKER -j {chain}", f"-D FORWARD -j {chain}", f"-F {chain}", f"-X {chain}"],
    }


def remove_mesh(host_ns: str, service) -> None:
    iptables.restore(host_ns, remove_mesh_rules(service))
