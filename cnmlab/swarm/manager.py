"""Services made real: replicas through the controller, a VIP from IPAM, names, balancing rules.

Every change runs on the kernel thread, as steps undone in reverse when one fails. After any
change of a service's tasks, `_wire` brings the three views of it up to date: DNS names
(`web` -> VIP, `tasks.web` -> replicas), the VIP chain in every sandbox on the network, and the
routing mesh on every Docker host that carries the network.
"""

from __future__ import annotations

import contextlib
import sys

from ..dns.feature import EmbeddedDns
from ..errors import Conflict, Forbidden, InvalidParameter, NotFound
from ..events import ContainerRemoved, HostAdded, HostRemoved, LabReset, LabRestored, StepDone
from ..ipam import parse_address
from ..names import new_id
from ..network import GW_NETWORK  # an overlay replica's way to and from its host
from ..osl.iptables import IptablesError
from ..sandbox import PortBinding, parse_port
from ..store import KEYS, LOADERS
from . import lb
from .service import (
    Service,
    ServiceCreated,
    ServiceRemoved,
    ServiceScaled,
    Task,
    TaskReplaced,
    check_endpoint_mode,
    check_name,
    check_replicas,
    load,
)

# Services are kept in the store's objects table, next to the networks and containers.
LOADERS.setdefault("service", load)
KEYS.setdefault("service", "id")

SERVICE_LABEL = "com.docker.swarm.service.name"


def _now() -> str:
    from ..clock import now

    return now()


class ServiceManager:
    def __init__(self, engine) -> None:
        self.engine = engine
        self.ctl = engine.controller
        self.dns = engine.extensions.find(EmbeddedDns)  # None without the DNS feature: no service names
        self.services: dict[str, Service] = {}
        self._vip_chains: dict[str, set[str]] = {}  # sandbox -> ids of services whose VIP chain it has
        self._mesh: set[tuple[str, str]] = set()  # (host, service id) with mesh rules
        self._ours: set[str] = set()  # containers we are removing ourselves
        self._lost: dict[str, tuple[str, int]] = {}  # container id -> (service id, slot) lost by hand

    # -- lookups ----------------------------------------------------------------------
    def service(self, ref: str) -> Service:
        for svc in self.services.values():
            if ref in (svc.name, svc.id):
                return svc
        matches = [s for s in self.services.values() if ref and s.id.startswith(ref)]
        if len(matches) == 1:
            return matches[0]
        raise NotFound(f"service {ref} not found")

    def on_network(self, network_id: str) -> list[Service]:
        return [s for s in self.services.values() if s.network_id == network_id]

    def task_addresses(self, svc: Service) -> list[str]:
        out = []
        for task in svc.tasks:
            c = self.ctl.containers.get(task.container_id)
            ep = self._endpoint(c, svc.network_id) if c else None
            if ep is not None and ep.ip:
                out.append(ep.ip)
        return out

    def _endpoint(self, c, network_id: str):
        for ep_id in c.endpoints:
            ep = self.ctl.endpoints.get(ep_id)
            if ep is not None and ep.network_id == network_id:
                return ep
        return None

    # -- create / scale / remove ---------------------------------------------------------
    def create(self, name: str, network: str, replicas: int = 1, ports: list[str] | None = None,
               endpoint_mode: str = "vip", host: str | None = None) -> Service:
        check_name(name)
        replicas = check_replicas(replicas)
        endpoint_mode = check_endpoint_mode(endpoint_mode or "vip")
        if any(s.name == name for s in self.services.values()):
            raise Conflict(f"name conflicts with an existing object: service {name} already exists")
        if not network:
            raise InvalidParameter("a service needs a network: --network NET (a user-defined network)")
        net = self.ctl.network(network, host)
        if net.predefined or self.ctl.driver(net.driver).capabilities.network_mode:
            raise InvalidParameter(f"network {net.name} cannot be used with services: use a user-defined network")
        if net.id not in self.ctl.ipam.pools:
            raise InvalidParameter(f"network {net.name} has no IPAM pool to take a virtual IP from")
        if host is not None:
            self.ctl.host(host)
            if net.host is not None and net.host != host:
                raise InvalidParameter(f"network {net.name} is local to host {net.host}, not {host}")
        bindings = [parse_port(p) if not isinstance(p, PortBinding) else p for p in ports or []]
        for b in bindings:
            if b.ephemeral or b.host_ip:  # the routing mesh publishes one port on every address of every host
                raise InvalidParameter(f"invalid port specification: \"{b}\" (a service publishes HOSTPORT:PORT)")
        if bindings and endpoint_mode == "dnsrr":
            raise InvalidParameter("port published with ingress mode can't be used with dnsrr mode")
        if bindings and net.internal:
            raise InvalidParameter(f"cannot publish ports on internal network {net.name}")
        svc = Service(id=new_id(), name=name, network_id=net.id, replicas=replicas, created=_now(),
                      endpoint_mode=endpoint_mode, ports=bindings, host=host or net.host)
        self._check_ports_free(svc)
        pool = self.ctl.ipam.pool(net.id)
        with contextlib.ExitStack() as undo:
            if endpoint_mode == "vip":
                vip = pool.allocate(f"service {name} ({net.name})")
                undo.callback(pool.release, vip)
                svc.vip = str(vip)
            self._start_tasks(svc, replicas, undo)
            self.services[svc.id] = svc
            undo.callback(self.services.pop, svc.id, None)
            undo.callback(self._unwire, svc)  # before: a half-done _wire is undone too
            self._wire(svc)
            self.ctl.store.put(svc)
            undo.pop_all()
        self.ctl.emit(ServiceCreated(service=name, id=svc.id, network=net.name, replicas=replicas, vip=svc.vip))
        return svc

    def scale(self, ref: str, replicas: int) -> Service:
        svc = self.service(ref)
        replicas = check_replicas(replicas)
        with contextlib.ExitStack() as undo:
            if replicas > len(svc.tasks):
                self._start_tasks(svc, replicas - len(svc.tasks), undo)
            svc.replicas = replicas
            self._wire(svc)
            undo.pop_all()
        for task in sorted(svc.tasks, key=lambda t: t.slot, reverse=True)[:max(0, len(svc.tasks) - replicas)]:
            self._stop_task(svc, task)
        self._wire(svc)
        self.ctl.store.put(svc)
        self.ctl.emit(ServiceScaled(service=svc.name, replicas=replicas, running=len(svc.tasks)))
        return svc

    def remove(self, ref: str) -> None:
        svc = self.service(ref)
        self._unwire(svc)
        for task in list(svc.tasks):
            self._stop_task(svc, task)
        if svc.vip and svc.network_id in self.ctl.ipam.pools:
            self.ctl.ipam.pool(svc.network_id).release(parse_address(svc.vip))
        self.services.pop(svc.id, None)
        self.ctl.store.delete(svc)
        self.ctl.emit(ServiceRemoved(service=svc.name, id=svc.id))

    def _start_tasks(self, svc: Service, count: int, undo: contextlib.ExitStack) -> None:
        for slot in svc.free_slots(count):
            task = self._start_task(svc, slot)
            undo.callback(self._stop_task, svc, task)

    def _start_task(self, svc: Service, slot: int) -> Task:
        """One replica in its slot, on the host the slot maps to (round robin over the hosts)."""
        net = self.ctl.networks[svc.network_id]
        hosts = [svc.host] if svc.host else [h.name for h in self.ctl.docker_hosts()]
        c = self.ctl.run_container(f"{svc.name}.{slot}", network=net.id, host=hosts[(slot - 1) % len(hosts)],
                                      labels={SERVICE_LABEL: svc.name, "com.docker.swarm.service.id": svc.id,
                                              "com.docker.swarm.task.slot": str(slot)})
        task = Task(slot=slot, name=c.name, container_id=c.id)
        svc.tasks.append(task)
        svc.tasks.sort(key=lambda t: t.slot)
        return task

    def _stop_task(self, svc: Service, task: Task) -> None:
        if task in svc.tasks:
            svc.tasks.remove(task)
        if task.container_id in self.ctl.containers:
            self._ours.add(task.container_id)
            try:
                self.ctl.remove_container(task.container_id, force=True)
            finally:
                self._ours.discard(task.container_id)

    def _check_ports_free(self, svc: Service) -> None:
        hosts = set(self._mesh_hosts(svc))
        for p in svc.ports:
            for other in self.services.values():
                if any((q.host_port, q.proto) == (p.host_port, p.proto) for q in other.ports) \
                        and hosts & set(self._mesh_hosts(other)):
                    raise Conflict(f"port '{p.host_port}' is already in use by service '{other.name}'")
            for c in self.ctl.containers.values():
                if c.host in hosts and c.running and any((q.host_port, q.proto) == (p.host_port, p.proto) for q in c.ports):
                    raise Conflict(f"Bind for 0.0.0.0:{p.host_port} failed: port is already allocated "
                                   f"(container {c.name} on {c.host})")

    # -- wiring: names, VIP chains, mesh -----------------------------------------------------
    def _mesh_hosts(self, svc: Service) -> list[str]:
        net = self.ctl.networks.get(svc.network_id)
        if net is None:
            return []
        return [net.host] if net.host else [h.name for h in self.ctl.docker_hosts()]

    def _sandboxes(self, network_id: str, skip: str | None = None) -> list:
        """Every sandbox with an endpoint on the network: each balances the VIP for itself."""
        out = []
        for ep in self.ctl.endpoints.values():
            c = self.ctl.containers.get(ep.container_id)
            if ep.network_id == network_id and c is not None and c.network_mode != "host" and c.id != skip:
                out.append(c)
        return out

    def _wire(self, svc: Service, skip: str | None = None) -> None:
        """Names, VIP chains and mesh rules from the service's tasks now (skip: a leaving sandbox)."""
        net = self.ctl.networks[svc.network_id]
        addresses = self.task_addresses(svc)
        if self.dns is not None:
            names = self.dns.names
            front = [svc.vip] if svc.vip else addresses
            if front:
                names.add(net.id, net.name, f"svc:{svc.id}", [svc.name], front)
            else:
                names.remove(f"svc:{svc.id}")
            if addresses:
                names.add(net.id, net.name, f"tasks:{svc.id}", [f"tasks.{svc.name}"], addresses)
            else:
                names.remove(f"tasks:{svc.id}")
        if svc.vip:
            batches = [(c.netns, lb.vip_rules(svc, addresses, first=svc.id not in self._vip_chains.get(c.netns, ())))
                       for c in self._sandboxes(net.id, skip)]
            failed = dict(lb.apply_many(batches))
            for sandbox, _ in batches:
                if sandbox not in failed:
                    self._vip_chains.setdefault(sandbox, set()).add(svc.id)
            if failed:
                sandbox, error = next(iter(failed.items()))
                raise IptablesError(f"service {svc.name}: VIP rules in {sandbox}: {error}")
        if svc.ports:
            self._wire_mesh(svc, skip)
        self.ctl.emit(StepDone(where=net.host or net.name, step=(
            f"service {svc.name}: " + (f"VIP {svc.vip} balanced over " if svc.vip else "DNS round robin over ")
            + (", ".join(addresses) or "no replicas"))))

    def _mesh_targets(self, svc: Service, skip: str | None) -> dict[str, list[str]]:
        """host -> the addresses that host reaches its own replicas at: on the service's network
        when it is the host's bridge, on docker_gwbridge for an overlay (the host's way in)."""
        net = self.ctl.networks[svc.network_id]
        out: dict[str, list[str]] = {}
        for task in svc.tasks:
            c = self.ctl.containers.get(task.container_id)
            if c is None or c.id == skip:
                continue
            ep = self._endpoint(c, net.id) if net.host else next(
                (self.ctl.endpoints[e] for e in c.endpoints
                 if self.ctl.networks[self.ctl.endpoints[e].network_id].name == GW_NETWORK), None)
            if ep is not None and ep.ip:
                out.setdefault(c.host, []).append(ep.ip)
        return out

    def _wire_mesh(self, svc: Service, skip: str | None) -> None:
        """Each mesh host balances over every replica: its own at their addresses, another host's
        at that host's address (once per replica there, so the spread stays even per replica)."""
        local = self._mesh_targets(svc, skip)
        mesh = [h for h in self._mesh_hosts(svc) if h in self.ctl.hosts]
        batches = []
        for host in mesh:
            remote = [self.ctl.hosts[h].address for h in sorted(local) if h != host and h in self.ctl.hosts
                      for _ in local[h]]
            peers = [self.ctl.hosts[h].address for h in mesh if h != host]
            batches.append((host, lb.mesh_rules(svc, local.get(host, []), remote, peers,
                                                first=(host, svc.id) not in self._mesh)))
        failed = dict(lb.apply_many(batches))
        self._mesh |= {(host, svc.id) for host, _ in batches if host not in failed}
        if failed:
            host, error = next(iter(failed.items()))
            raise IptablesError(f"service {svc.name}: routing mesh on {host}: {error}")

    def _install_vip(self, sandbox: str, svc: Service, addresses: list[str]) -> None:
        chains = self._vip_chains.setdefault(sandbox, set())
        lb.install_vip(sandbox, svc, addresses, first=svc.id not in chains)
        chains.add(svc.id)

    def _remove_vip(self, sandbox: str, svc: Service) -> None:
        chains = self._vip_chains.get(sandbox, set())
        if svc.id in chains:
            chains.discard(svc.id)
            lb.remove_vip(sandbox, svc)

    def _unwire(self, svc: Service) -> None:
        if self.dns is not None:
            self.dns.names.remove(f"svc:{svc.id}")
            self.dns.names.remove(f"tasks:{svc.id}")
        for sandbox in [s for s, ids in self._vip_chains.items() if svc.id in ids]:
            self._remove_vip(sandbox, svc)
        for host, sid in list(self._mesh):
            if sid == svc.id:
                self._mesh.discard((host, sid))
                if host in self.ctl.hosts:
                    lb.remove_mesh(host, svc)

    # -- controller hooks ---------------------------------------------------------------------
    def joined(self, net, ep, c) -> None:
        """A sandbox joined a network with VIP services: it balances them too."""
        if c.network_mode == "host":
            return
        for svc in self.on_network(net.id):
            if svc.vip:
                self._install_vip(c.netns, svc, self.task_addresses(svc))

    def sandbox_created(self, c) -> None:
        """`run -p` on a port a service's routing mesh holds on that host: refused, as Docker does
        (here, before the sandbox joins anything, so nothing is left to undo)."""
        for p in c.ports:
            for svc in self.services.values():
                if c.host in self._mesh_hosts(svc) and any(
                        (q.host_port, q.proto) == (p.host_port, p.proto) for q in svc.ports):
                    raise Conflict(f"Bind for 0.0.0.0:{p.host_port} failed: port is already allocated "
                                   f"(the routing mesh of service {svc.name})")

    def left(self, net, ep, c, teardown) -> None:
        for svc in self.on_network(net.id):
            if teardown:
                self._vip_chains.get(c.netns, set()).discard(svc.id)
            else:
                self._quietly(self._remove_vip, c.netns, svc)
            self._lose_task(svc, c)

    def sandbox_removed(self, c) -> None:
        self._vip_chains.pop(c.netns, None)

    def network_removed(self, net) -> None:
        self.refuse_if_in_use(net)

    def refuse_if_in_use(self, net) -> None:
        """Docker refuses to remove a network while a service uses it, even at 0 replicas."""
        users = sorted(s.name for s in self.on_network(net.id))
        if users:
            which = f"service {users[0]}" if len(users) == 1 else f"services {', '.join(users)}"
            raise Forbidden(f"network {net.name} is in use by {which}: "
                            f"remove {'it' if len(users) == 1 else 'them'} first (cnmlab service rm)")

    def _lose_task(self, svc: Service, c) -> None:
        """A replica went without us (`cnmlab rm web.2`): the service runs one task fewer until
        `_replace` puts one back (once the container is gone: see on_event)."""
        task = next((t for t in svc.tasks if t.container_id == c.id), None)
        if task is None or c.id in self._ours:
            return
        svc.tasks.remove(task)
        self._lost[c.id] = (svc.id, task.slot)
        self._quietly(self._wire, svc, c.id)  # its endpoint is still listed while left hooks run
        self.ctl.store.put(svc)

    def _quietly(self, fn, *args) -> None:
        """Leave hooks must not fail; a rule that could not be changed is reported, not raised."""
        try:
            fn(*args)
        except Exception as exc:  # noqa: BLE001
            print(f"cnmlab services: {fn.__name__}: {exc}", file=sys.stderr)

    def _replace(self, service_id: str, slot: int, old_id: str, old_name: str) -> None:
        """Swarm's reconciliation: a service below its replica count starts a new task in the
        lost slot (same name, new container id). Runs as its own job on the kernel thread, after
        the removal that lost the task has finished."""
        svc = self.services.get(service_id)
        if svc is None or len(svc.tasks) >= svc.replicas or any(t.slot == slot for t in svc.tasks) \
                or svc.network_id not in self.ctl.networks:
            return
        try:
            task = self._start_task(svc, slot)
        except Exception as exc:  # noqa: BLE001 - e.g. the pool is full: the service stays one short
            self.ctl.emit(StepDone(where=svc.name, step=f"service {svc.name}: could not replace {old_name}: {exc}"))
            return
        try:
            self._wire(svc)
        except Exception as exc:  # noqa: BLE001 - the replica runs; say which rule could not be written
            print(f"cnmlab services: _replace: {exc}", file=sys.stderr)
        self.ctl.store.put(svc)
        c = self.ctl.containers[task.container_id]
        self.ctl.emit(TaskReplaced(service=svc.name, slot=slot, task=task.name, old_id=old_id,
                                   new_id=c.id, host=c.host))

    # -- reset and restore -------------------------------------------------------------------
    EVENTS = (ContainerRemoved, LabReset, LabRestored, HostRemoved, HostAdded)  # what on_event acts on

    def on_event(self, event) -> None:
        if isinstance(event, ContainerRemoved) and event.id in self._lost:
            service_id, slot = self._lost.pop(event.id)
            with contextlib.suppress(RuntimeError):  # the engine is stopping: nothing to reconcile
                self.engine.kernel.submit(self._replace, service_id, slot, event.id, event.container)
        elif isinstance(event, LabReset):
            self.services.clear()
            self._lost.clear()
            self._vip_chains.clear()
            self._mesh.clear()
        elif isinstance(event, LabRestored):
            self.restore()
        elif isinstance(event, HostRemoved):  # its rules went with its namespace
            self._mesh = {(h, sid) for h, sid in self._mesh if h != event.host}
        elif isinstance(event, HostAdded):  # a new host joins the mesh of lab-wide networks
            for svc in self.services.values():
                net = self.ctl.networks.get(svc.network_id)
                if svc.ports and net is not None and net.host is None:
                    self._quietly(self._wire_mesh, svc, None)

    def restore(self) -> None:
        """After the controller rebuilt the replicas: take the VIPs back and rewire."""
        for svc in self.ctl.store.load("service"):
            if svc.network_id not in self.ctl.networks:
                continue
            svc.tasks = [t for t in svc.tasks if t.container_id in self.ctl.containers]
            if svc.vip and svc.network_id in self.ctl.ipam.pools:
                with contextlib.suppress(Exception):
                    self.ctl.ipam.pool(svc.network_id).claim(parse_address(svc.vip))
            self.services[svc.id] = svc
            self._wire(svc)
