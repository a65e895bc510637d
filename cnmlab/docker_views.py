"""Docker-shaped views of the lab: the JSON of `docker network inspect`, `docker inspect`, `ps`.

Field names follow the Docker Engine API, so what a student reads here transfers to Docker.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .container import log_path, main_argv
from .image import default_cmd, environment

if TYPE_CHECKING:
    from .controller import Controller
    from .network import Network
    from .sandbox import Container


def ipam_config(net: Network) -> list[dict]:
    out = []
    for cfg in net.ipam:
        item = {"Subnet": cfg.subnet}
        if cfg.ip_range:
            item["IPRange"] = cfg.ip_range
        if cfg.gateway and (cfg.user_gateway or not cfg.user_subnet):
            item["Gateway"] = cfg.gateway
        if cfg.aux_addresses:
            item["AuxiliaryAddresses"] = dict(cfg.aux_addresses)
        out.append(item)
    return out


def network(ctl: Controller, net: Network, verbose: bool = False) -> dict:
    containers = {}
    for ep in ctl.network_endpoints(net):
        c = ctl.containers[ep.container_id]
        containers[c.id] = {
            "Name": c.name,
            "EndpointID": ep.id,
            "MacAddress": ep.mac,
            "IPv4Address": ep.address,
            "IPv6Address": "",
        }
        if ep.state.get("dns_names"):
            containers[c.id]["DNSNames"] = ep.state["dns_names"]
    data = {
        "Name": net.name,
        "Id": net.id,
        "Created": net.created,
        "Scope": net.scope,
        "Driver": net.driver,
        "EnableIPv6": net.enable_ipv6,
        "IPAM": {
            "Driver": net.ipam_driver,
            "Options": None if net.predefined else {},
            "Config": ipam_config(net),
        },
        "Internal": net.internal,
        "Attachable": net.attachable,
        "Ingress": False,
        "ConfigFrom": {"Network": ""},
        "ConfigOnly": False,
        "Containers": containers,
        "Options": dict(net.options),
        "Labels": dict(net.labels),
        "Host": net.host,  # cnmlab: the simulated Docker host of a local-scope network
    }
    drv = ctl.driver(net.driver)
    # cnmlab: what the driver knows, so no client tests a driver's name
    data["NetworkMode"] = drv.capabilities.network_mode or ""  # "host"/"none": no data plane of its own
    data["OnUnderlay"] = drv.on_underlay  # its containers sit on the LAN itself (macvlan, ipvlan, ...)
    data["Device"] = drv.device(net)  # the bridge or parent interface behind it
    drv.inspect_network(net, data, verbose)
    ctl.hooks.run(ctl.hooks.network_inspect, ctl, net, data, verbose)  # features: DNS names, services
    return data


def container(ctl: Controller, c: Container) -> dict:
    networks = {}
    sb = ctl.sandboxes.get(c.id)
    gw_ep = sb.gateway_endpoint() if sb else None  # the one giving its default route
    for ep_id in c.endpoints:
        ep = ctl.endpoints[ep_id]
        net = ctl.networks[ep.network_id]
        asked = next((cfg for cfg in c.networks if cfg.network == net.id), None)
        if ep.requested_ip:
            ipam_cfg = {"IPv4Address": ep.requested_ip}
        else:
            ipam_cfg = {} if ep.from_connect else None
        networks[net.name] = {
            "IPAMConfig": ipam_cfg,
            "Links": asked.links if asked else None,
            "Aliases": None if net.predefined else list(dict.fromkeys([*ep.aliases, c.short_id])),
            "NetworkID": net.id,
            "EndpointID": ep.id,
            "Gateway": ep.gateway or "",
            "IPAddress": ep.ip,
            "IPPrefixLen": int(ep.address.split("/")[1]) if ep.address else 0,
            "MacAddress": ep.mac,
            "DriverOpts": asked.driver_opts if asked and asked.driver_opts else ({} if ep.from_connect else None),
            "Interface": ep.ifname,  # cnmlab: the interface inside the sandbox
        }
    if not c.running:  # Docker keeps the networks it will join, without addresses
        for cfg in c.networks:
            net = ctl.networks.get(cfg.network)
            if net is not None:
                networks[net.name] = _idle_endpoint(net, c, cfg)
    bridge_ep = next((ctl.endpoints[e] for e in c.endpoints
                      if ctl.networks[ctl.endpoints[e].network_id].name == "bridge"
                      and ctl.networks[ctl.endpoints[e].network_id].predefined), None)
    ports = {}
    for p in c.ports:
        ports.setdefault(f"{p.container_port}/{p.proto}", []).append({"HostIp": p.host_ip or "0.0.0.0",
                                                                      "HostPort": str(p.host_port)})
    ports = dict(sorted(ports.items()))  # Docker's maps come out sorted by key (Go's JSON)
    bindings: dict[str, list] = {}
    for p in sorted(c.ports, key=lambda p: f"{p.container_port}/{p.proto}"):  # as asked: ephemeral ones have no HostPort
        bindings.setdefault(f"{p.container_port}/{p.proto}", []).append(
            {"HostIp": p.host_ip, "HostPort": "" if p.ephemeral else str(p.host_port)})
    argv = main_argv(c) or []
    data = {
        "Id": c.id,
        "Created": c.created,
        "Path": argv[0] if argv else "",  # cnmlab: empty when the test services stand in
        "Args": argv[1:],
        "State": state(c),
        "Image": c.image,
        "LogPath": log_path(ctl, c.id),
        "Name": "/" + c.name,
        "Config": {"Hostname": c.hostname, "Labels": dict(c.labels), "Image": c.image,
                   "Cmd": c.cmd if c.cmd is not None else default_cmd(c.image), "Entrypoint": c.entrypoint,
                   "Env": [f"{k}={v}" for k, v in environment(c.env, c.hostname, c.tty).items() if k != "HOSTNAME"],
                   "Tty": c.tty, "OpenStdin": c.open_stdin, "StdinOnce": c.stdin_once, "WorkingDir": c.working_dir},
        "HostConfig": {"NetworkMode": c.network_mode, "AutoRemove": c.auto_remove, "PortBindings": bindings,
                       "RestartPolicy": {"Name": c.restart_policy, "MaximumRetryCount": c.restart_retries}},
        "RestartCount": c.restart_count,
        "NetworkSettings": {
            "SandboxID": c.id if c.running and not c.shares else "",  # container:NAME: Docker shows none
            "SandboxKey": f"/run/netns/{c.netns}" if c.running else "",
            "UtsKey": f"/run/uts/{c.netns}" if c.netns != c.host and c.running else "",  # cnmlab: the hostname
            "Ports": ports if c.running else {},
            "Gateway": bridge_ep.gateway if bridge_ep else "",
            "IPAddress": bridge_ep.ip if bridge_ep else "",
            "IPPrefixLen": int(bridge_ep.address.split("/")[1]) if bridge_ep else 0,
            "MacAddress": bridge_ep.mac if bridge_ep else "",
            "EndpointID": bridge_ep.id if bridge_ep else "",
            "DefaultGateway": gw_ep.gateway if gw_ep else "",  # cnmlab: the route the sandbox uses
            "Networks": networks,
        },
        "Host": c.host,
    }
    ctl.hooks.run(ctl.hooks.container_inspect, ctl, c, data)  # features: DNS adds DNSNames
    return data


def state(c: Container) -> dict:
    st = c.state
    restarting = st.status == "restarting"  # Docker: still Running while its policy restarts it
    return {"Status": st.status, "Running": st.running or restarting, "Paused": False, "Restarting": restarting,
            "OOMKilled": False, "Dead": False, "Pid": st.pid, "ExitCode": st.exit_code, "Error": st.error,
            "StartedAt": st.started_at, "FinishedAt": st.finished_at}


def status_text(c: Container) -> str:
    """`docker ps`'s STATUS column, without the durations (they would make outputs random)."""
    if c.running:
        return "Up"
    if c.state.status == "created":
        return "Created"
    if c.state.status == "restarting":
        return f"Restarting ({c.state.exit_code})"
    return f"Exited ({c.state.exit_code})"


def _idle_endpoint(net: Network, c: Container, cfg) -> dict:
    return {"IPAMConfig": {"IPv4Address": cfg.ip} if cfg.ip else ({} if cfg.from_connect else None),
            "Links": cfg.links, "Aliases": None if net.predefined else list(cfg.aliases) or None,
            "NetworkID": net.id, "EndpointID": "", "Gateway": "", "IPAddress": "", "IPPrefixLen": 0,
            "MacAddress": cfg.mac or "", "DriverOpts": cfg.driver_opts or ({} if cfg.from_connect else None),
            "Interface": ""}


def container_summary(ctl: Controller, c: Container) -> dict:
    """One row of `GET /containers/json` (docker ps)."""
    nets = {}
    for ep_id in c.endpoints:
        ep = ctl.endpoints[ep_id]
        nets[ctl.networks[ep.network_id].name] = {"IPAddress": ep.ip, "MacAddress": ep.mac,
                                                   "Interface": ep.ifname, "EndpointID": ep.id}
    return {
        "Id": c.id,
        "Names": ["/" + c.name],
        "Created": c.created,
        "Image": c.image,
        "Command": " ".join(main_argv(c) or []),
        "State": c.state.status,
        "Status": status_text(c),
        "Labels": dict(c.labels),
        "Ports": [{"PrivatePort": p.container_port, "PublicPort": p.host_port, "Type": p.proto,
                   "IP": p.host_ip or "0.0.0.0"}
                  for p in (c.ports if c.running else [])],
        "HostConfig": {"NetworkMode": c.network_mode},
        "NetworkSettings": {"Networks": nets},
        "Host": c.host,
    }


def host(ctl: Controller, name: str) -> dict:
    h = ctl.hosts[name]
    return {
        "Name": h.name,
        "Address": f"{h.address}/{h.prefixlen}",
        "Plain": h.plain,
        "Interface": "eth0",
        "UnderlayPort": h.underlay_port,
        "Containers": sorted(c.name for c in ctl.containers.values() if c.host == name),
        "Networks": sorted({n.name for n in ctl.networks.values() if n.host == name and not n.predefined}
                           | {ctl.networks[e.network_id].name for e in ctl.endpoints.values()  # global: where used
                              if ctl.networks[e.network_id].host is None and ctl.containers[e.container_id].host == name}),
    }

