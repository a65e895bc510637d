"""The check kinds a lab step may name, evaluated against the LIVE lab through the client.

Each check returns a `CheckResult`: ok, a message saying what is (or is wrong), and a hint naming the
command that would fix it. `ok=None` means the check could not be evaluated here (a part of
cnmlab or of the kernel is missing) and says which.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable
from dataclasses import dataclass

from ..api.views import NetworkView
from ..errors import CnmError
from .live import RETRY_TIMEOUT, Live, Missing


@dataclass(frozen=True)
class CheckResult:
    ok: bool | None
    message: str
    hint: str = ""
    missing: tuple[str, str] | None = None  # an object the check needs is absent (see live.Missing)

    def to_json(self) -> dict:
        return {"ok": self.ok, "message": self.message, "hint": self.hint}


KINDS: dict[str, Callable[..., CheckResult]] = {}


def kind(fn: Callable[..., CheckResult]) -> Callable[..., CheckResult]:
    KINDS[fn.__name__] = fn
    return fn


def evaluate(live: Live, name: str, args: dict) -> CheckResult:
    """Run one check; a missing object is a failed check with its hint, never a crash."""
    try:
        return KINDS[name](live, **args)
    except Missing as exc:
        return CheckResult(False, exc.message, exc.hint, exc.missing)
    except CnmError as exc:
        return CheckResult(False, f"{name} could not run: {exc.message}")


def _pass(message: str) -> CheckResult:
    return CheckResult(True, message)


def _fail(message: str, hint: str = "") -> CheckResult:
    return CheckResult(False, message, hint)


def _skip(message: str) -> CheckResult:
    return CheckResult(None, message)


def _traffic(proto: str, port: int | None) -> str:
    return proto if port is None else f"{proto}/{port}"


# -- objects ------------------------------------------------------------------------
@kind
def exists(live: Live, container: str | None = None, network: str | None = None, host: str | None = None) -> CheckResult:
    if container:
        live.container(container)
    if network:
        live.network(network)
    if host and host not in live.hosts:
        raise Missing(f"there is no host {host}", f"add it: `cnmlab host add {host}`", ("host", host))
    return _pass(f"{container or network or host} exists")


@kind
def absent(live: Live, container: str | None = None, network: str | None = None) -> CheckResult:
    if container and container in live.containers:
        return _fail(f"container {container} is still there", f"remove it: `cnmlab rm -f {container}`")
    if network and live.has_network(network):
        return _fail(f"network {network} is still there", f"remove it: `cnmlab network rm {network}`")
    return _pass(f"{container or network} is gone")


@kind
def on_network(live: Live, container: str, network: str) -> CheckResult:
    live.network(network)
    if network not in live.networks_of(container):
        return _fail(f"{container} has no endpoint on {network}", f"try `cnmlab network connect {network} {container}`")
    ep = live.networks_of(container)[network]
    return _pass(f"{container} is on {network} ({ep.interface or '?'} {ep.ip_address})")


@kind
def not_on_network(live: Live, container: str, network: str) -> CheckResult:
    if network in live.networks_of(container):
        return _fail(f"{container} has an endpoint on {network}, and should not",
                     f"try `cnmlab network disconnect {network} {container}`")
    return _pass(f"{container} is not on {network}")


@kind
def endpoints(live: Live, container: str, count: int) -> CheckResult:
    nets = live.networks_of(container)
    if len(nets) != count:
        return _fail(f"{container} has {len(nets)} endpoint(s) ({', '.join(nets) or 'none'}), not {count}",
                     f"connect it to more networks: `cnmlab network connect NET {container}`")
    listing = ", ".join(f"{ep.interface or '?'} on {n}" for n, ep in nets.items())
    return _pass(f"{container} has {count} endpoints: {listing}")


@kind
def driver_is(live: Live, network: str, driver: str) -> CheckResult:
    actual = live.network(network).driver
    if actual != driver:
        return _fail(f"{network} uses the {actual} driver, not {driver}",
                     f"remove it and create it again: `cnmlab network create -d {driver} {network}`")
    return _pass(f"{network} uses the {driver} driver")


@kind
def network_is(live: Live, network: str, internal: bool | None = None, options: dict | None = None) -> CheckResult:
    net = live.network(network)
    if internal is not None and net.internal != internal:
        flag = "with --internal" if internal else "without --internal"
        return _fail(f"{network} is {'' if net.internal else 'not '}internal",
                     f"remove it and create it {flag}: `cnmlab network create {'--internal ' if internal else ''}{network}`")
    for key, want in (options or {}).items():
        have = net.option.get(key)
        if str(have).lower() != str(want).lower():
            return _fail(f"{network} has {key}={have}, not {want}",
                         f"remove it and create it with `-o {key}={want}`")
    return _pass(f"{network} is configured as asked")


def _bridge_of(net: NetworkView) -> tuple[str, str]:
    """(bridge device, host) of a bridge-driver network."""
    name = net.option.get("com.docker.network.bridge.name") or f"br-{net.id[:12]}"
    return name, net.host or "host1"


@kind
def bridge_exists(live: Live, network: str) -> CheckResult:
    """The network's Linux bridge is a real device in its host's namespace."""
    net = live.network(network)
    name, host = _bridge_of(net)
    run = live.client.exec(host, ["ip", "-o", "link", "show", "type", "bridge"])
    if f": {name}:" not in run.stdout and f": {name}@" not in run.stdout:
        return _fail(f"{host} has no bridge {name} for {network}", "create the network with the bridge driver")
    return _pass(f"{network} is the bridge {name} in {host}")


@kind
def veth_on_bridge(live: Live, container: str, network: str) -> CheckResult:
    """The container's endpoint on a bridge network is a veth pair whose other end is a port of
    the network's bridge on the host (the kernel's own view: peer ifindex and master)."""
    ep = live.networks_of(container).get(network)
    if ep is None:
        raise Missing(f"{container} has no endpoint on {network}", f"try `cnmlab network connect {network} {container}`")
    bridge, host = _bridge_of(live.network(network))
    iface = ep.interface or "eth0"
    inside = live.client.exec(container, ["ip", "-o", "link", "show", iface]).stdout
    peer = re.search(rf"^\d+: {re.escape(iface)}@if(\d+):", inside)
    if not peer:
        return _fail(f"{container}'s {iface} is not a veth pair", "create the network with the bridge driver")
    links = live.client.exec(host, ["ip", "-o", "link", "show"]).stdout
    line = next((ln for ln in links.splitlines() if ln.startswith(f"{peer.group(1)}: ")), "")
    if not line:
        return _fail(f"the peer of {container}'s {iface} (ifindex {peer.group(1)}) is not in {host}")
    name = line.split(": ")[1].split("@")[0]
    master = re.search(r" master (\S+)", line)
    if not master or master.group(1) != bridge:
        where = f"on {master.group(1)}" if master else "on no bridge"
        return _fail(f"{container}'s {iface} is a veth pair, but its peer {name} in {host} is {where}, not {bridge}",
                     f"put it back: `cnmlab shell {host}`, then `ip link set {name} master {bridge}`")
    return _pass(f"{container}'s {iface} is a veth pair; its peer {name} is a port of {bridge} in {host}")


@kind
def sysctl_is(live: Live, target: str, key: str, value: str) -> CheckResult:
    have = live.sysctl(target, key)
    if have != str(value):
        return _fail(f"{key} is {have} in {target}, not {value}",
                     f"try `cnmlab exec {target} -- sysctl -w {key}={value}`")
    return _pass(f"{key} = {value} in {target}")


@kind
def command_succeeds(live: Live, target: str, argv: list, contains: str | None = None) -> CheckResult:
    run = live.client.exec(live.endpoint_ref(target), [str(a) for a in argv])
    line = f"`{' '.join(map(str, argv))}` in {target}"
    if run.returncode != 0:
        return _fail(f"{line} failed: {(run.stderr or run.stdout).strip()[:200]}")
    if contains and not re.search(contains, run.stdout):
        return _fail(f"{line} does not show {contains!r}")
    return _pass(f"{line} works")


# -- packets ------------------------------------------------------------------------
def _why_not(live: Live, src: str, dst: str) -> str:
    """A hint for a connection that should work: usually a network the two do not share."""
    name = dst.partition("@")[0]
    if src in live.containers and name in live.containers:
        mine, theirs = set(live.networks_of(src)), set(live.networks_of(name))
        if not mine & theirs:
            net = min(theirs) if theirs else "NET"
            return f"{src} and {name} share no network: try `cnmlab network connect {net} {src}`"
    return f"look at the path: `cnmlab trace {src} {dst}`"


@kind
def reachable(live: Live, src: str, dst: str, proto: str = "icmp", port: int | None = None) -> CheckResult:
    res = live.probe(src, dst, proto, port)
    if res["outcome"] == "timeout":
        res = live.probe(src, dst, proto, port, timeout=RETRY_TIMEOUT)
    what = f"{src} → {dst} ({res.get('dst_ip')}) by {_traffic(proto, port)}"
    if res["outcome"] != "reachable":
        reason = f": {res['reason']}" if res.get("reason") else ""
        return _fail(f"{what}: {res['outcome']}{reason}", _why_not(live, src, dst))
    rtt = f" in {res['rtt_ms']:.2f} ms" if res.get("rtt_ms") is not None else ""
    return _pass(f"{what}: reachable{rtt}")


@kind
def talk_by_name(live: Live, a: str, b: str, proto: str = "icmp", port: int | None = None) -> CheckResult:
    """`a` and `b` reach each other by name, both ways: each one's own resolver finds the other's
    name, and every address it returns is reachable. However the lab was fixed (another network,
    the same one made again, a rule that lets the traffic through), this is what a client sees."""
    said = []
    for src, dst in ((a, b), (b, a)):
        got = live.lookup(src, dst)
        if not got:
            return _no_dns(live, src) or _fail(f"{dst} does not resolve in {src}",
                                               "names resolve only between containers on one user-defined network")
        for ip in got:
            res = live.probe(src, ip, proto, port)
            if res["outcome"] == "timeout":
                res = live.probe(src, ip, proto, port, timeout=RETRY_TIMEOUT)
            if res["outcome"] != "reachable":
                return _fail(f"{src} → {dst} ({ip}, as {src} resolves it) by {_traffic(proto, port)}: "
                             f"{res['outcome']}: {res.get('reason', '')}", f"follow it: `cnmlab trace {src} {ip}`")
        said.append(f"{src} → {dst} ({', '.join(got)})")
    return _pass(f"by name, both ways, by {_traffic(proto, port)}: {'; '.join(said)}")


@kind
def not_reachable(live: Live, src: str, dst: str, proto: str = "icmp", port: int | None = None,
                  because: str | None = None, outcome: str | None = None, dropped_by: str | None = None,
                  reason: str | None = None, size: int | None = None) -> CheckResult:
    """The lesson's cause, as the kernel shows it: `outcome` (filtered, timeout, no route, refused)
    the probe must have; `dropped_by`, the iptables chain whose rule or policy counted the drop;
    `reason`, the engine's reason key (e.g. no-route, neighbour); `because`, words its reason (or
    the rule that dropped it) must contain; `size`, the packet's length with DF set (a path MTU's
    cause). A lab that names a cause therefore fails when the kernel shows another."""
    res = live.probe(src, dst, proto, port, size=size)
    what = f"{src} → {dst} ({res.get('dst_ip')}) by {_traffic(proto, port)}"
    said = f" ({res['reason']})" if res.get("reason") else ""
    if res["outcome"] == "reachable":
        return _fail(f"{what} is reachable, and should not be",
                     f"find what connects them: `cnmlab inspect {src}`, `cnmlab network inspect NET`")
    if outcome and res["outcome"] != outcome:
        return _fail(f"{what}: {res['outcome']}{said}, not {outcome}", f"look at the path: `cnmlab trace {src} {dst}`")
    rule = res.get("rule") or {}
    if dropped_by and rule.get("chain") != dropped_by:
        named = f"{rule.get('table')}/{rule.get('chain')} on {rule.get('namespace')}" if rule else "no iptables rule"
        return _fail(f"{what}: {res['outcome']}, dropped by {named}, not by {dropped_by}{said}",
                     f"look at the path: `cnmlab trace {src} {dst}`")
    if reason and res.get("reason_key") != reason:
        return _fail(f"{what}: {res['outcome']} for reason {res.get('reason_key')}{said}, not {reason}")
    said_all = f"{res.get('reason') or ''} {rule.get('rule') or ''}".lower()
    if because and (res.get("reason") or rule) and because.lower() not in said_all:
        return _fail(f"{what}: {res['outcome']}, but {res['reason']} (expected: {because})")
    by = f", dropped in {rule.get('namespace')} by {rule.get('table')}/{rule.get('chain')}" if rule else ""
    return _pass(f"{what}: {res['outcome']}{by}{said}")


@kind
def full_size_reaches(live: Live, src: str, dst: str) -> CheckResult:
    """A packet as big as `src`'s interface towards `dst` allows (its MTU), with DF set, arrives:
    the path carries full-size packets (an overlay must leave room for VXLAN's 50 bytes)."""
    ip = live.address(dst, via=live.endpoint_ref(src))[0]
    route = live.client.exec(live.endpoint_ref(src), ["ip", "-o", "route", "get", ip]).stdout
    dev = re.search(r" dev (\S+)", route)
    if not dev:
        return _fail(f"{src} has no route to {dst} ({ip})", f"look at `cnmlab exec {src} -- ip route`")
    mtu = live.client.exec(live.endpoint_ref(src), ["cat", f"/sys/class/net/{dev.group(1)}/mtu"]).stdout.strip()
    if not mtu.isdigit():
        return _fail(f"cannot read the MTU of {src}'s {dev.group(1)}")
    res = live.probe(src, dst, "icmp", None, timeout=RETRY_TIMEOUT, size=int(mtu))
    what = f"{src} → {dst} ({ip}): {mtu} bytes (the MTU of its {dev.group(1)}) with DF set"
    if res["outcome"] != "reachable":
        return _fail(f"{what}: {res['outcome']}: {res.get('reason', '')}",
                     f"find the device that is too small: `cnmlab trace {src} {dst} --size {mtu}`")
    return _pass(f"{what}: reachable")


_FORWARDED = re.compile(r"^Ip: .*$", re.M)


def _forwarded(live: Live, router: str) -> int | None:
    """The router kernel's count of forwarded IPv4 packets (Ip ForwDatagrams in /proc/net/snmp)."""
    run = live.client.exec(live.endpoint_ref(router), ["cat", "/proc/net/snmp"])
    lines = _FORWARDED.findall(run.stdout)
    if run.returncode != 0 or len(lines) < 2:
        return None
    fields = dict(zip(lines[0].split()[1:], lines[1].split()[1:]))
    return int(fields["ForwDatagrams"]) if "ForwDatagrams" in fields else None


@kind
def forwarded_by(live: Live, src: str, dst: str, router: str, proto: str = "icmp", port: int | None = None) -> CheckResult:
    """`src` reaches `dst`, and `router`'s kernel forwarded the packets on the way (its
    ForwDatagrams counter moved by the request and the reply): the path really crosses it."""
    before = _forwarded(live, router)
    res = live.probe(src, dst, proto, port, timeout=RETRY_TIMEOUT)
    after = _forwarded(live, router)
    what = f"{src} → {dst} ({res.get('dst_ip')}) by {_traffic(proto, port)}"
    if res["outcome"] != "reachable":
        return _fail(f"{what}: {res['outcome']}: {res.get('reason', '')}",
                     f"check {router}'s forwarding and the routes on both sides: `cnmlab exec {src} -- ip route`")
    if before is None or after is None:
        return _fail(f"cannot read {router}'s forwarding counters (/proc/net/snmp)")
    if after - before < 2:
        return _fail(f"{what} is reachable, but {router} forwarded {after - before} packet(s): the path does not "
                     f"cross {router}", f"route through it: `cnmlab exec {src} -- ip route replace NET/LEN via ROUTER-IP`")
    return _pass(f"{what}: reachable; {router}'s kernel forwarded {after - before} packets (Ip ForwDatagrams)")


@kind
def seen_by(live: Live, machine: str, src: str, address_of: str | None = None, mac_of: str | None = None) -> CheckResult:
    """A ping from `src`, captured on `machine`'s eth0: its source address is `address_of`'s
    (a host's or a container's) and its source MAC is `mac_of`'s."""
    seen = live.seen_by(machine, src)
    if seen is None:
        return _fail(f"nothing from {src} arrived at {machine}", f"look at the path: `cnmlab trace {src} {machine}`")
    mac, ip = seen
    said = f"{machine} sees {src}'s ping from {ip} ({mac})"
    if address_of:
        want = live.address(address_of)[0]
        if ip != want:
            return _fail(f"{said}, not from {address_of}'s address {want}")
    if mac_of:
        want = live.mac(mac_of)
        if mac != want:
            return _fail(f"{said}, not from {mac_of}'s MAC {want}")
    whose = " and ".join(f"{ref}'s {what}" for what, ref in (("address", address_of), ("MAC", mac_of)) if ref)
    return _pass(f"{said}: {whose}")


def _expected(live: Live, to) -> set[str] | None:
    if to is None:
        return None
    return {live.address(t)[0] for t in ([to] if isinstance(to, str) else to)}


def _no_dns(live: Live, container: str) -> CheckResult | None:
    """Why `container` cannot resolve at all, if that is the case: no embedded DNS for it."""
    if "127.0.0.11" in live.resolv_conf(container):
        return None
    user_nets = [n for n in live.networks_of(container) if n not in ("bridge", "host", "none")]
    if not user_nets:
        return _fail(f"{container} is only on the default bridge, which has no embedded DNS",
                     f"put it on a user-defined network: `cnmlab network connect NET {container}`")
    return _skip(f"{container} is on {user_nets[0]} but has no embedded DNS at 127.0.0.11: "
                 "this cnmlab does not serve DNS yet")


@kind
def embedded_dns(live: Live, container: str) -> CheckResult:
    """The container's resolver asks Docker's embedded DNS server at 127.0.0.11."""
    return _no_dns(live, container) or _pass(f"{container}'s resolv.conf names 127.0.0.11")


@kind
def resolves(live: Live, container: str, name: str, to: str | list | None = None,
             includes: str | list | None = None) -> CheckResult:
    """`to`: exactly these containers' (or addresses'); `includes`: at least these."""
    got = live.lookup(container, name)
    want, some = _expected(live, to), _expected(live, includes)
    if not got:
        return _no_dns(live, container) or _fail(
            f"{name} does not resolve in {container}",
            f"names resolve only on a network both share: `cnmlab network connect NET {container}`"
            if name in live.containers else f"give a container that name: `cnmlab network connect --alias {name} NET CTR`")
    if want is not None and set(got) != want:
        return _fail(f"{name} resolves to {', '.join(got)} in {container}, expected {', '.join(sorted(want))}",
                     "check aliases and networks: `cnmlab network inspect NET`")
    if some is not None and not some <= set(got):
        return _fail(f"{name} resolves to {', '.join(got)} in {container}, which lacks {', '.join(sorted(some - set(got)))}",
                     "check aliases and networks: `cnmlab network inspect NET`")
    return _pass(f"{name} → {', '.join(got)} in {container}")


@kind
def not_resolves(live: Live, container: str, name: str) -> CheckResult:
    got = live.lookup(container, name)
    if got:
        return _fail(f"{name} resolves to {', '.join(got)} in {container}, and should not",
                     "names resolve only between containers that share a user-defined network")
    return _pass(f"{name} does not resolve in {container}")


def _trace(live: Live, src: str, dst: str, proto: str, port: int | None) -> dict | CheckResult:
    why = live.missing("trace")
    if why:
        return _skip(why)
    src = live.endpoint_ref(src)
    return live.client.trace(src, live.address(dst, via=src)[0], proto=proto, port=port)


@kind
def trace_dropped_by(live: Live, src: str, dst: str, chain: str, proto: str = "icmp", port: int | None = None) -> CheckResult:
    trace = _trace(live, src, dst, proto, port)
    if isinstance(trace, CheckResult):
        return trace
    rule = trace.get("rule") or {}
    where = f"{src} → {dst} by {_traffic(proto, port)}"
    if trace["verdict"] != "dropped":
        return _fail(f"{where} was {trace['verdict']}, not dropped", "the two must be on different networks")
    if chain not in (rule.get("chain") or ""):
        return _fail(f"{where} was dropped by {rule.get('chain') or 'no known rule'}, not {chain}")
    return _pass(f"{where} dropped in {rule.get('namespace')} by {rule.get('table')}/{rule['chain']}: "
                 f"{rule.get('rule', '')}")


@kind
def trace_encapsulated(live: Live, src: str, dst: str, network: str | None = None) -> CheckResult:
    """The trace shows the packet inside VXLAN on the underlay (and the network's VNI)."""
    trace = _trace(live, src, dst, "icmp", None)
    if isinstance(trace, CheckResult):
        return trace
    outer = [h["outer"] for h in trace["hops"] if h.get("outer")]
    if not outer:
        return _fail(f"no hop of {src} → {dst} was VXLAN-encapsulated", "both must be on one overlay network")
    vni = outer[0].get("vni")
    if network:
        opts = live.network(network).option
        want = str(opts.get("com.docker.network.driver.overlay.vxlanid_list", "")).split(",")[0]
        if want and str(vni) != want:
            return _fail(f"the trace shows VNI {vni}, but {network} has VNI {want}")
    return _pass(f"{src} → {dst} crossed the underlay {outer[0].get('src')} → {outer[0].get('dst')} "
                 f"in UDP/{outer[0].get('udp_port')} with VNI {vni}")


@kind
def fdb_programmed(live: Live, container: str, network: str, on_host: str) -> CheckResult:
    """`on_host`'s VXLAN forwarding database sends the container's MAC to the container's host."""
    ep = live.networks_of(container).get(network)
    if ep is None:
        return _fail(f"{container} has no endpoint on {network}", f"try `cnmlab network connect {network} {container}`")
    home = live.container(container).host
    remote = live.hosts[home].ip
    mac = ep.mac_address.lower()
    script = "for n in $(ip netns list | cut -d' ' -f1); do ip netns exec $n bridge fdb show 2>/dev/null; done"
    in_world = live.client.enter_argv(None, ["sh", "-c", script])
    out = subprocess.run(in_world, capture_output=True, text=True, timeout=30, check=False).stdout
    for line in out.splitlines():
        if line.lower().startswith(mac) and f"dst {remote}" in line:
            return _pass(f"the FDB sends {mac} ({container}) to {remote} ({home}): {line.strip()}")
    return _fail(f"no VXLAN FDB entry sends {container}'s MAC {mac} to {home} ({remote})",
                 f"the control plane programs it when {container} joins {network} on {home}")


@kind
def http_answers(live: Live, src: str, dst: str, port: int = 80, contains: str | None = None) -> CheckResult:
    answers = live.http(src, dst, port)
    answer = answers[0] if answers else "no answer"
    if answer.startswith("ERROR") or answer == "no answer":
        return _fail(f"HTTP from {src} to {dst}:{port}: {answer}", _why_not(live, src, dst))
    if contains and contains not in answer:
        return _fail(f"HTTP from {src} to {dst}:{port} answered {answer!r}, not from {contains}")
    return _pass(f"HTTP from {src} to {dst}:{port} answered {answer!r}")


@kind
def http_spread(live: Live, src: str, dst: str, port: int = 80, requests: int = 9, backends: int = 2) -> CheckResult:
    """`requests` HTTP connections reach at least `backends` different servers."""
    answers = live.http(src, dst, port, requests)
    errors = [a for a in answers if a.startswith("ERROR")]
    if errors:
        return _fail(f"{len(errors)} of {requests} requests from {src} to {dst}:{port} failed: {errors[0]}")
    servers: dict[str, int] = {}
    for a in answers:
        servers[a.split()[0]] = servers.get(a.split()[0], 0) + 1
    spread = ", ".join(f"{k}×{v}" for k, v in sorted(servers.items()))
    if len(servers) < backends:
        return _fail(f"{requests} requests to {dst}:{port} reached only {spread}",
                     f"scale the service: `cnmlab service scale {dst}={backends}`")
    return _pass(f"{requests} requests to {dst}:{port} spread over {spread}")
