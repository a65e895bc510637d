"""Docker-shaped views of the lab: the JSON of `docker network inspect`, `docker inspect`, `ps`.

Field names follow the Docker Engine API, so what a student reads here transfers to Docker.
"""

from __future__ import annotations

from typing import TYPE_CHECKING


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
    for hook in NETWORK_HOOKS:
        hook(ctl, net, data, verbose)
    return data


# Features (DNS, services, overlay) add their fields here: hook(ctl, net, data, verbose).
NETWORK_HOOKS: list = []


def container(ctl: Controller, c: Container) -> dict:
    networks = {}
    gw_ep = ctl.gateway_endpoint(c)
    for ep_id in c.endpoints:
        ep = ctl.endpoints[ep_id]
        net = ctl.networks[ep.network_id]
        if ep.requested_ip:
            ipam_cfg = {"IPv4Address": ep.requested_ip}
        else:
            ipam_cfg = {} if ep.from_connect else None
        networks[net.name] = {
            "IPAMConfig": ipam_cfg,
            "Links": ep.state.get("links"),
            "Aliases": None if net.predefined else list(dict.fromkeys([*ep.aliases, c.short_id])),
            "NetworkID": net.id,
            "EndpointID": ep.id,
            "Gateway": ep.gateway or "",
            "IPAddress": ep.ip,
            "IPPrefixLen": int(ep.address.split("/")[1]) if ep.address else 0,
            "MacAddress": ep.mac,
            "DriverOpts": ep.state.get("driver_opts", {} if ep.from_connect else None),
            "Interface": ep.ifname,  # cnmlab: the interface inside the sandbox
        }
    bridge_ep = next((ctl.endpoints[e] for e in c.endpoints
                      if ctl.networks[ctl.endpoints[e].network_id].name == "bridge"
                      and ctl.networks[ctl.endpoints[e].network_id].predefined), None)
    ports = {}
    for p in c.ports:
        ports.setdefault(f"{p.container_port}/{p.proto}", []).append({"HostIp": "0.0.0.0", "HostPort": str(p.host_port)})
    data = {
        "Id": c.id,
        "Name": "/" + c.name,
        "Created": c.created,
        "State": {"Status": "running", "Running": True},
        "Config": {"Hostname": c.hostname, "Labels": dict(c.labels)},
        "HostConfig": {"NetworkMode": c.network_mode, "PortBindings": {
            k: [{"HostIp": "", "HostPort": b["HostPort"]} for b in v] for k, v in ports.items()}},
        "NetworkSettings": {
            "SandboxID": c.id,
            "SandboxKey": f"/run/netns/{c.netns}",
            "UtsKey": f"/run/uts/{c.netns}" if c.network_mode != "host" else "",  # cnmlab: holds the hostname
            "Ports": ports,
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
    for hook in CONTAINER_HOOKS:
        hook(ctl, c, data)
    return data


# Features add their fields to `docker inspect` here: hook(ctl, container, data).
CONTAINER_HOOKS: list = []


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
        "State": "running",
        "Status": "Up",
        "Ports": [{"PrivatePort": p.container_port, "PublicPort": p.host_port, "Type": p.proto, "IP": "0.0.0.0"}
                  for p in c.ports],
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

