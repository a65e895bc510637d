"""`/_ping`, `/version` and `/info`: what `docker version` and `docker info` print, for the lab."""

from __future__ import annotations

import datetime
import os
import platform
import threading

from ... import __version__
from ...drivers import installed
from ..router import Reply, Request
from .api import API_VERSION, MIN_API_VERSION, router

NAME = "cnmlab"


@router.route("GET", "/_ping", kernel=False)
@router.route("HEAD", "/_ping", kernel=False)
def ping(req: Request) -> Reply:
    return Reply(b"OK", headers={"Cache-Control": "no-cache, no-store, must-revalidate", "Pragma": "no-cache",
                                 "Builder-Version": "", "Swarm": "inactive"})


def version() -> dict:
    details = {"ApiVersion": API_VERSION, "Arch": _arch(), "BuildTime": "", "Experimental": "false",
               "GitCommit": "", "GoVersion": "", "KernelVersion": platform.release(),
               "MinAPIVersion": MIN_API_VERSION, "Os": "linux"}
    return {
        "Platform": {"Name": f"{NAME} engine (the lab's Docker Engine API)"},
        "Components": [{"Name": "Engine", "Version": __version__, "Details": details}],
        "Version": __version__, "ApiVersion": API_VERSION, "MinAPIVersion": MIN_API_VERSION,
        "GitCommit": "", "GoVersion": "", "Os": "linux", "Arch": _arch(),
        "KernelVersion": platform.release(), "BuildTime": "",
    }


@router.route("GET", "/version", kernel=False)
def version_route(req: Request) -> dict:
    return version()


@router.route("GET", "/info")
def info(req: Request) -> dict:
    ctl = req.engine.controller
    states = [_state(c) for c in ctl.containers.values()]
    return {
        "ID": f"cnmlab-{os.getpid()}", "Name": NAME,
        "Containers": len(states), "ContainersRunning": states.count("running"),
        "ContainersPaused": 0, "ContainersStopped": len(states) - states.count("running"),
        "Images": 0, "Driver": "none", "DriverStatus": [],
        "Plugins": {"Volume": [], "Network": sorted(installed()), "Authorization": None,
                    "Log": []},
        "MemoryLimit": False, "SwapLimit": False, "KernelMemory": False, "KernelMemoryTCP": False,
        "CpuCfsPeriod": False, "CpuCfsQuota": False, "CPUShares": False, "CPUSet": False, "PidsLimit": False,
        "IPv4Forwarding": True, "BridgeNfIptables": False, "BridgeNfIp6tables": False, "Debug": False,
        "NFd": len(os.listdir("/proc/self/fd")), "OomKillDisable": False, "NGoroutines": threading.active_count(),
        "SystemTime": datetime.datetime.now(datetime.timezone.utc).isoformat(),
        "LoggingDriver": "", "CgroupDriver": "none", "CgroupVersion": "2",
        "NEventsListener": len(req.engine._subscribers),
        "KernelVersion": platform.release(),
        "OperatingSystem": f"{NAME} lab world: simulated Docker hosts {', '.join(sorted(ctl.hosts))}",
        "OSVersion": "", "OSType": "linux", "Architecture": platform.machine(),
        "IndexServerAddress": "", "RegistryConfig": {"AllowNondistributableArtifactsCIDRs": [],
                                                     "AllowNondistributableArtifactsHostnames": [],
                                                     "InsecureRegistryCIDRs": [], "IndexConfigs": {},
                                                     "Mirrors": []},
        "NCPU": os.cpu_count() or 1, "MemTotal": os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"),
        "GenericResources": None, "DockerRootDir": "", "HttpProxy": "", "HttpsProxy": "", "NoProxy": "",
        "Labels": [f"cnmlab.hosts={','.join(sorted(ctl.hosts))}"], "ExperimentalBuild": False,
        "ServerVersion": __version__, "Runtimes": {}, "DefaultRuntime": "",
        "Swarm": {"NodeID": "", "NodeAddr": "", "LocalNodeState": "inactive", "ControlAvailable": False,
                  "Error": "", "RemoteManagers": None},
        "LiveRestoreEnabled": False, "Isolation": "", "InitBinary": "",
        "ContainerdCommit": {"ID": "", "Expected": ""}, "RuncCommit": {"ID": "", "Expected": ""},
        "InitCommit": {"ID": "", "Expected": ""}, "SecurityOptions": [],
        "Warnings": ["cnmlab: containers are network sandboxes running the lab's own userland; "
                     "no images, volumes, builds or swarm"],
    }


def _state(c) -> str:
    state = getattr(c, "state", None)  # the container life cycle's state, where the core keeps one
    return getattr(state, "status", state) if state else "running"


def _arch() -> str:
    return {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
