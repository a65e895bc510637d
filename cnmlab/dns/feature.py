"""The embedded DNS feature: hooks the name table, the server and each sandbox into the lab.

Only sandboxes on user-defined networks get a resolver, as in Docker: a container on the
default bridge keeps the machine's resolv.conf and no lab names. The resolver is started when
the sandbox is made if the container joins a user network (else at its first user-network
connect), and stays until the sandbox goes (Docker keeps it too).
"""

from __future__ import annotations

import contextlib
import sys
import threading
from collections import deque

from ..api.router import Request, router
from ..events import LabReset, StepDone
from ..network import GW_NETWORK
from ..osl import writer
from . import sandbox as dns_sandbox
from .names import NameTable
from .server import DnsServer

LOG_SIZE = 500


def dns_names(container, endpoint) -> list[str]:
    """The names an endpoint answers to on its network (Docker 25's DNSNames order)."""
    return list(dict.fromkeys([container.name, *endpoint.aliases, container.short_id]))


def wants_dns(network, container) -> bool:
    # docker_gwbridge: libnetwork joins it anonymously, so no names there
    return (not network.predefined and network.name != GW_NETWORK
            and container.network_mode not in ("host", "none"))


class EmbeddedDns:
    def __init__(self, engine) -> None:
        self.engine = engine
        self.ctl = engine.controller
        self.names = NameTable()
        self.server = DnsServer(self.names, on_answer=self._answered)
        self.log: deque = deque(maxlen=LOG_SIZE)
        self._log_lock = threading.Lock()  # the DNS thread appends, the kernel thread reads
        # sandbox -> {"resolv_conf": path, "udp": port, "tcp": port}; the ports once it serves
        self.resolvers: dict[str, dict] = {}
        # (sandbox, its record, the start on the writer thread) for resolvers still being started
        self._pending: list[tuple[str, dict, dns_sandbox.Starting]] = []

    # -- controller hooks (kernel thread) ----------------------------------------------
    def joined(self, net, ep, c) -> None:
        if not wants_dns(net, c):
            return
        if not ep.ip:  # no resolver without an address: the default file, if none is there yet
            if c.netns not in self.resolvers:
                dns_sandbox.write_resolv_conf(c.netns, dns_sandbox.default_bridge_resolv_conf())
            return
        self._start_resolver(c)
        self.names.add(net.id, net.name, ep.id, dns_names(c, ep), [ep.ip], ptr_name=c.name, sandbox=c.netns)
        self.names.attach(c.netns, net.id)

    def left(self, net, ep, c, teardown) -> None:
        self.names.remove(ep.id)
        self.names.detach(c.netns, net.id)

    def sandbox_created(self, c) -> None:
        if c.network_mode == "host":
            return
        nets = self.ctl.networks
        if any(cfg.network in nets and wants_dns(nets[cfg.network], c) for cfg in c.networks):
            # It joins a user network: its resolver starts now (lo is up), on the writer thread
            # while the joins go on, and serves behind its rules when the request ends.
            self._start_resolver(c)
        else:
            dns_sandbox.write_resolv_conf(c.netns, dns_sandbox.default_bridge_resolv_conf())

    def process_starting(self, c) -> None:
        """A main process may resolve names at once: its sandbox's DNAT rules must be in first."""
        for ns, _, starting in self._pending:
            if ns == c.netns:
                starting.wait()

    def sandbox_removed(self, c) -> None:
        self._stop_resolver(c.netns)

    def on_event(self, event) -> None:
        if isinstance(event, LabReset):  # the namespaces are gone: close their sockets too
            for name in list(self.resolvers):
                self._stop_resolver(name)
            self.names.clear()
            dns_sandbox.remove_all_resolv_confs()

    # -- resolvers ---------------------------------------------------------------------
    def _start_resolver(self, c) -> None:
        """Write resolv.conf now (host_config's --dns options rewrite it on this thread); the
        sockets and the nat rules follow on the writer thread."""
        if c.netns in self.resolvers:
            return
        resolver = self.resolvers[c.netns] = {"resolv_conf": dns_sandbox.write_resolv_conf(c.netns)}
        self._pending.append((c.netns, resolver, dns_sandbox.start_resolver(c.netns, self.server.serve)))
        if len(self._pending) == 1:
            # A job queued behind the current request on the kernel thread: every later request
            # (`cnmlab exec` asks inspect first) finds the resolver serving behind its rules.
            # Holding nothing: it changes no lab object, so a change parked on a plugin does not hold it up.
            self.engine.kernel.submit(self._install_rules, holds=frozenset())

    def _install_rules(self) -> None:
        pending, self._pending = self._pending, []
        for ns, resolver, starting in pending:
            error = starting.wait()
            if self.resolvers.get(ns) is not resolver:  # stopped meanwhile
                continue
            if not starting.udp:  # no sockets: no resolver
                self.resolvers.pop(ns, None)
                print(f"cnmlab dns: {ns}: {error}", file=sys.stderr)
                self.ctl.emit(StepDone(where=ns, step=f"embedded DNS: could not open the resolver: {error}"))
                continue
            resolver.update(udp=starting.udp, tcp=starting.tcp)
            if error is not None:  # an unexpected kernel error: say so, keep serving
                print(f"cnmlab dns: {ns}: {error}", file=sys.stderr)
                self.ctl.emit(StepDone(where=ns, step=f"embedded DNS: could not write DOCKER_OUTPUT: {error}"))
            else:
                self.ctl.emit(StepDone(where=ns, step=(
                    f"embedded DNS: 127.0.0.11:53 DNATed to udp :{starting.udp} and tcp :{starting.tcp} "
                    "(DOCKER_OUTPUT), " + ("resolv.conf: nameserver 127.0.0.11" if resolver.get("resolv_conf")
                                           else "no private /etc/netns: resolv.conf unchanged"))))

    def _stop_resolver(self, name: str) -> None:
        writer.settle(name)  # sockets still being opened would be served after the stop
        self.server.stop(name)
        self.names.detach(name)
        self.resolvers.pop(name, None)
        dns_sandbox.remove_resolv_conf(name)

    # -- query log (DNS thread) ----------------------------------------------------------
    def _answered(self, event) -> None:
        with self._log_lock:
            self.log.append(event.to_json())
        with contextlib.suppress(RuntimeError):  # the engine is stopping
            self.engine.kernel.submit(self.ctl.emit, event)

    # -- views ---------------------------------------------------------------------------
    def view(self) -> dict:
        nets = {net.name: self.names.names_on(net.id) for net in self.ctl.networks.values() if not net.predefined}
        return {"Resolvers": {n: dict(r) for n, r in sorted(self.resolvers.items())},
                "Names": nets, "Queries": self.queries(100)}

    def queries(self, last: int) -> list[dict]:
        with self._log_lock:
            return list(self.log)[-last:]


def network_dns_names(ctl, net, data: dict, verbose: bool) -> None:
    """network inspect: the DNS names of each endpoint on a user-defined network."""
    for ep in ctl.network_endpoints(net):
        c = ctl.containers.get(ep.container_id)
        if c is not None and wants_dns(net, c) and c.id in data["Containers"]:
            data["Containers"][c.id]["DNSNames"] = dns_names(c, ep)


def container_dns_names(ctl, c, data: dict) -> None:
    """docker inspect (Docker 25+): NetworkSettings.Networks.<net>.DNSNames, on user-defined networks."""
    networks = data["NetworkSettings"]["Networks"]
    for ep_id in c.endpoints:
        ep = ctl.endpoints.get(ep_id)
        net = ctl.networks.get(ep.network_id) if ep else None
        if net is not None and net.name in networks:
            networks[net.name]["DNSNames"] = dns_names(c, ep) if wants_dns(net, c) else None


def attach(engine) -> None:
    ctl = engine.controller
    dns = engine.extensions.provide(EmbeddedDns(engine))  # the services feature adds its names through it
    ctl.hooks.joined.append(dns.joined)
    ctl.hooks.left.append(dns.left)
    ctl.hooks.sandbox_created.append(dns.sandbox_created)
    ctl.hooks.sandbox_removed.append(dns.sandbox_removed)
    ctl.hooks.process_starting.append(dns.process_starting)
    ctl.subscribe(dns.on_event, LabReset)
    ctl.hooks.network_inspect.append(network_dns_names)
    ctl.hooks.container_inspect.append(container_dns_names)


@router.route("GET", "/dns")
def dns_view(req: Request):
    """The resolvers (ports per sandbox), every user network's names, and the latest queries."""
    return req.engine.extensions.get(EmbeddedDns).view()
