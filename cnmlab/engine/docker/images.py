"""Images: any name answers and none is pulled. Lab containers run the lab's own userland
(busybox applets and the test services) whatever image they name, so `docker run` never pulls.
What an image does by default is the core's (cnmlab/image.py)."""

from __future__ import annotations

import hashlib
import json

from ... import image
from ..router import Reply, Request
from .api import router

CREATED = "2024-01-01T00:00:00Z"


def reference(name: str) -> str:
    """`alpine` -> `alpine:latest`, as Docker shows a tag (a digest reference stays as it is)."""
    last = name.rsplit("/", 1)[-1]
    return name if ":" in last or "@" in name else f"{name}:latest"


def image_id(name: str) -> str:
    return "sha256:" + hashlib.sha256(reference(name).encode()).hexdigest()


def config(name: str) -> dict:
    """The image's config as Docker shows it; its CMD and ports are those the life cycle honours."""
    exposed = {port: {} for port in image.exposed_ports(name)} or None
    return {"Hostname": "", "Domainname": "", "User": "", "AttachStdin": False, "AttachStdout": False,
            "AttachStderr": False, "ExposedPorts": exposed, "Tty": False, "OpenStdin": False,
            "StdinOnce": False, "Env": [f"PATH={image.DOCKER_PATH}"], "Cmd": image.default_cmd(name), "Image": "",
            "Volumes": None, "WorkingDir": "", "Entrypoint": None, "OnBuild": None, "Labels": None}


@router.route("GET", "/images/{name:path}/json", kernel=False)
def inspect(req: Request) -> dict:
    name = req.params["name"]
    return {
        "Id": image_id(name), "RepoTags": [reference(name)], "RepoDigests": [], "Parent": "", "Comment":
        "cnmlab: not pulled; lab containers run the lab's own userland", "Created": CREATED,
        "Container": "", "ContainerConfig": config(name), "DockerVersion": "", "Author": "",
        "Config": config(name), "Architecture": "amd64", "Os": "linux", "Size": 0, "VirtualSize": 0,
        "GraphDriver": {"Name": "cnmlab", "Data": None}, "RootFS": {"Type": "layers", "Layers": []},
        "Metadata": {"LastTagTime": "0001-01-01T00:00:00Z"},
    }


@router.route("POST", "/images/create", kernel=False)
def pull(req: Request) -> Reply:
    name = req.query.get("fromImage", "") + (":" + req.query["tag"] if req.query.get("tag") else "")
    lines = [{"status": f"cnmlab: {reference(name)} is not pulled: lab containers run the lab's own userland "
                        "(busybox applets and the test services), whatever image they name"}]
    return Reply(b"".join(json.dumps(line).encode() + b"\r\n" for line in lines), "application/json")


@router.route("GET", "/images/json", kernel=False)
def listing(req: Request) -> list:
    return []


@router.route("POST", "/images/prune", kernel=False)
def prune(req: Request) -> dict:
    return {"ImagesDeleted": None, "SpaceReclaimed": 0}
