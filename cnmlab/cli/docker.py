"""`cnmlab docker-env` and `cnmlab context`: point Docker's own tools at the engine's socket."""

from __future__ import annotations

import shutil
import subprocess

from ..client import Client
from ..errors import CnmError

CONTEXT = "cnmlab"


def register(sub) -> None:
    p = sub.add_parser("docker-env", help="print the DOCKER_HOST line that points docker at the lab's engine")
    p.set_defaults(func=docker_env)
    p = sub.add_parser("context", help=f"create or update the docker context '{CONTEXT}' for the lab's engine")
    p.add_argument("--use", action="store_true", help=f"also make '{CONTEXT}' docker's current context")
    p.set_defaults(func=context)


def _docker_host() -> str:
    return f"unix://{Client().status()['socket']}"  # starts the engine when none runs


def docker_env(args) -> int:
    print(f"export DOCKER_HOST={_docker_host()}")
    return 0


def context(args) -> int:
    docker = shutil.which("docker")
    if docker is None:
        raise CnmError("the docker CLI is not installed (Debian: apt-get install docker.io; "
                       "never start its dockerd), or use `eval $(cnmlab docker-env)`")
    endpoint = f"host={_docker_host()}"
    exists = subprocess.run([docker, "context", "inspect", CONTEXT], capture_output=True).returncode == 0
    verb = ["update"] if exists else ["create"]
    done = subprocess.run([docker, "context", *verb, CONTEXT, "--description", "the cnmlab lab's engine",
                           "--docker", endpoint], capture_output=True, text=True)
    if done.returncode != 0:
        raise CnmError(f"docker context {verb[0]} {CONTEXT} failed: {done.stderr.strip()}")
    print(f"docker context {CONTEXT} {'updated' if exists else 'created'}: {endpoint}")
    if args.use:
        subprocess.run([docker, "context", "use", CONTEXT], capture_output=True, check=False)
        print(f"current docker context: {CONTEXT}")
    else:
        print(f"use it: docker --context {CONTEXT} ...  or  docker context use {CONTEXT}")
    return 0
