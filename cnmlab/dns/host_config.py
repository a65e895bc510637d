"""Docker's HostConfig `Dns`, `DnsSearch`, `DnsOptions` and `ExtraHosts` in a sandbox's
resolv.conf and hosts file (in the world's private /etc/netns, bind-mounted by `ip netns exec`).

As in Docker: on a user network resolv.conf keeps `nameserver 127.0.0.11` (the `Dns` servers
would be the embedded DNS's upstreams, and the lab has none) and gains `search`/`options`; on
the default bridge the `Dns` servers are the nameservers. `ExtraHosts` (`--add-host NAME:IP`)
gives the sandbox Docker's /etc/hosts: localhost lines, the extra hosts, its own addresses.
The hooks run after the DNS feature's, which writes the resolv.conf they amend.
"""

from __future__ import annotations

import contextlib
import os

from ..events import LabReset
from . import sandbox as dns_sandbox

KEYS = ("Dns", "DnsSearch", "DnsOptions", "ExtraHosts")
HOSTS_HEAD = ("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\n"
              "ff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n")


def resolv_conf(current: str, cfg: dict) -> str:
    lines = [ln for ln in current.splitlines() if ln.strip()]
    embedded = any(ln.split()[:2] == ["nameserver", dns_sandbox.ADDRESS] for ln in lines)
    servers = [ln for ln in lines if ln.startswith("nameserver")]
    if cfg.get("Dns") and not embedded:
        servers = [f"nameserver {s}" for s in cfg["Dns"]]
    search = [ln for ln in lines if ln.startswith("search")]
    if cfg.get("DnsSearch"):
        search = ["search " + " ".join(cfg["DnsSearch"])]
    options = [w for ln in lines if ln.startswith("options") for w in ln.split()[1:]]
    options += [o for o in cfg.get("DnsOptions") or [] if o not in options]
    comments = [ln for ln in lines if ln.startswith("#")]
    if cfg.get("Dns") and not embedded:
        comments = ["# Written by cnmlab: the container's --dns servers (the lab world cannot reach them)."]
    return "\n".join(comments + servers + search + (["options " + " ".join(options)] if options else [])) + "\n"


def hosts(c, addresses: list[str]) -> str:
    extra = []
    for item in c.host_config.get("ExtraHosts") or []:
        name, _, ip = item.partition(":")  # NAME:IP (Docker also takes NAME=IP)
        if not ip:
            name, _, ip = item.partition("=")
        extra.append(f"{ip}\t{name}\n")
    return HOSTS_HEAD + "".join(extra) + "".join(f"{ip}\t{c.hostname}\n" for ip in addresses)


class HostConfigFiles:
    def __init__(self, ctl):
        self.ctl = ctl

    def _apply(self, c) -> None:
        cfg = getattr(c, "host_config", None) or {}
        if c.network_mode == "host" or not any(cfg.get(k) for k in KEYS) or not dns_sandbox.private_etc():
            return
        directory = os.path.join(dns_sandbox.ETC_NETNS, c.netns)
        path = os.path.join(directory, "resolv.conf")
        if any(cfg.get(k) for k in ("Dns", "DnsSearch", "DnsOptions")):
            try:
                with open(path) as f:
                    current = f.read()
            except FileNotFoundError:
                current = dns_sandbox.default_bridge_resolv_conf()
            dns_sandbox.write_resolv_conf(c.netns, resolv_conf(current, cfg))
        if cfg.get("ExtraHosts"):
            os.makedirs(directory, exist_ok=True)
            ips = [self.ctl.endpoints[e].ip for e in c.endpoints if self.ctl.endpoints[e].ip]
            with open(os.path.join(directory, "hosts"), "w") as f:
                f.write(hosts(c, ips))

    def sandbox_created(self, c) -> None:
        self._apply(c)

    def joined(self, net, ep, c) -> None:
        self._apply(c)

    def sandbox_removed(self, c) -> None:
        # Only ExtraHosts writes a hosts file (`_apply`); most sandboxes have none to remove.
        extra_hosts = (getattr(c, "host_config", None) or {}).get("ExtraHosts")
        if extra_hosts and dns_sandbox.private_etc() and c.network_mode != "host":
            remove_hosts(c.netns)

    def on_event(self, event) -> None:
        if dns_sandbox.private_etc():  # a LabReset
            for name in os.listdir(dns_sandbox.ETC_NETNS):
                remove_hosts(name)


def remove_hosts(sandbox: str) -> None:
    directory = os.path.join(dns_sandbox.ETC_NETNS, sandbox)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(os.path.join(directory, "hosts"))
    with contextlib.suppress(OSError):
        os.rmdir(directory)


def attach(ctl) -> None:
    files = HostConfigFiles(ctl)
    ctl.hooks.sandbox_created.append(files.sandbox_created)
    ctl.hooks.joined.append(files.joined)
    ctl.hooks.sandbox_removed.append(files.sandbox_removed)
    ctl.subscribe(files.on_event, LabReset)
