"""What the lab does not have, answered as a Docker engine without the feature answers, so a
client that tidies up (`docker system prune`, `swarm leave`) carries on."""

from __future__ import annotations

from ...errors import CnmError, NotFound
from ..router import Request
from .api import router


class NotAvailable(CnmError):
    status = 503


class NotImplementedHere(CnmError):
    status = 501


NOT_A_MANAGER = ('This node is not a swarm manager. Use "docker swarm init" or "docker swarm join" to '
                 'connect this node to swarm and try again.')


def _swarm(req: Request):
    raise NotAvailable(NOT_A_MANAGER)


for _method, _path in (("GET", "/swarm"), ("POST", "/swarm/update"), ("GET", "/swarm/unlockkey"),
                       ("GET", "/nodes"), ("GET", "/nodes/{id}"), ("GET", "/services"), ("GET", "/services/{id}"),
                       ("POST", "/services/create"), ("GET", "/tasks"), ("GET", "/secrets"),
                       ("POST", "/secrets/create"), ("GET", "/configs"), ("POST", "/configs/create")):
    router.route(_method, _path, kernel=False)(_swarm)


@router.route("POST", "/swarm/leave", kernel=False)
def swarm_leave(req: Request):
    raise NotAvailable("This node is not part of a swarm")


@router.route("POST", "/swarm/init", kernel=False)
@router.route("POST", "/swarm/join", kernel=False)
def swarm_init(req: Request):
    raise NotImplementedHere("swarm mode is not part of the lab's Docker API: overlays need no swarm here "
                             "(docker network create -d overlay), and `cnmlab service` makes services")


@router.route("GET", "/volumes", kernel=False)
def volumes(req: Request) -> dict:
    return {"Volumes": [], "Warnings": []}


@router.route("POST", "/volumes/create", kernel=False)
def volume_create(req: Request):
    raise NotImplementedHere("volumes are not part of the lab: its containers are network sandboxes")


@router.route("GET", "/volumes/{name}", kernel=False)
@router.route("DELETE", "/volumes/{name}", kernel=False)
def volume(req: Request):
    raise NotFound(f"get {req.params['name']}: no such volume")


@router.route("POST", "/volumes/prune", kernel=False)
def volume_prune(req: Request) -> dict:
    return {"VolumesDeleted": None, "SpaceReclaimed": 0}


@router.route("POST", "/build", kernel=False)
@router.route("POST", "/session", kernel=False)
def build(req: Request):
    raise NotImplementedHere("building images is not part of the lab: lab containers run the lab's own userland")


@router.route("POST", "/build/prune", kernel=False)
def build_prune(req: Request) -> dict:
    return {"CachesDeleted": None, "SpaceReclaimed": 0}


@router.route("GET", "/plugins", kernel=False)
def plugins(req: Request) -> list:
    return []  # managed plugins; the lab's remote drivers are listed by `cnmlab plugin ls`


@router.route("GET", "/plugins/privileges", kernel=False)
@router.route("POST", "/plugins/pull", kernel=False)
@router.route("POST", "/plugins/create", kernel=False)
def plugin_install(req: Request):
    raise NotImplementedHere("installing plugins is not part of the lab: start a remote driver with "
                             "`cnmlab plugin run`")


@router.route("GET", "/system/df", kernel=False)
def disk_usage(req: Request) -> dict:
    return {"LayersSize": 0, "Images": [], "Containers": [], "Volumes": [], "BuildCache": []}


SHARED_FILES = "lab containers share the machine's file system"
FILE_SYSTEM = {"/containers/{id}/changes": ("GET", f"docker diff: {SHARED_FILES}: there are no changes of their own"),
               "/containers/{id}/export": ("GET", f"docker export: {SHARED_FILES}: there is no image to export"),
               "/containers/{id}/archive": ("GET", f"docker cp: {SHARED_FILES}: copy with cp on the machine"),
               "/commit": ("POST", f"docker commit: {SHARED_FILES} and images are never stored")}
for _path, (_method, _text) in FILE_SYSTEM.items():
    router.route(_method, _path, kernel=False)(lambda req, text=_text: _refuse(text))
router.route("PUT", "/containers/{id}/archive", kernel=False)(lambda req: _refuse(FILE_SYSTEM["/containers/{id}/archive"][1]))
router.route("HEAD", "/containers/{id}/archive", kernel=False)(lambda req: _refuse(FILE_SYSTEM["/containers/{id}/archive"][1]))
for _verb in ("pause", "unpause"):
    router.route("POST", f"/containers/{{id}}/{_verb}", kernel=False)(
        lambda req, verb=_verb: _refuse(f"docker {verb}: the lab has no cgroup freezer; a sandbox's network answers "
                                        "whatever its processes do (stop or kill the container instead)"))
router.route("POST", "/containers/{id}/rename", kernel=False)(
    lambda req: _refuse("docker rename: a lab container's name is its sandbox's namespace name and cannot change; "
                        "make a new container with the name"))


def _refuse(text: str):
    raise NotImplementedHere(text)
