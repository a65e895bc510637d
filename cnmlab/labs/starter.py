"""The starter topology: the chapter's first picture, built on an empty lab by plain `cnmlab`
(the terminal app) and by `cnmlab demo`.

It is a lab's setup, plain data (labs/spec.py's calls), that both fronts apply through the
client, so neither front imports the other.
"""

from __future__ import annotations

from ..client import Client
from .spec import Call

TITLE = "The chapter's first example: Container A on Network A; Container B on Networks A and B."
SETUP = (
    Call("network_create", {"name": "net-a"}),
    Call("network_create", {"name": "net-b"}),
    Call("run", {"name": "container-a", "network": "net-a"}),
    Call("run", {"name": "container-b", "network": "net-a"}),
    Call("connect", {"network": "net-b", "container": "container-b"}),
)
PREDEFINED = ("bridge", "host", "none")


def build_starter(client: Client) -> bool:
    """Build the starter topology on an empty lab; return False when the lab was not empty."""
    if client.containers() or any(n["Name"] not in PREDEFINED for n in client.networks()):
        return False
    for call in SETUP:
        getattr(client, call.call)(**call.args)
    return True
