"""Names and ids: Docker's rules for names, and the 64-hex ids objects carry."""

import os
import re
import secrets
import threading

from .errors import InvalidParameter

# Docker's rules, matched over the whole string (`$` would let a trailing newline through). A
# container needs two characters; a network may have one (as in moby's daemon/names and
# libnetwork's config).
CONTAINER_NAME = re.compile(r"\A[a-zA-Z0-9][a-zA-Z0-9_.-]+\Z")
NETWORK_NAME = re.compile(r"\A[a-zA-Z0-9][a-zA-Z0-9_.-]*\Z")
HOST_NAME = re.compile(r"\A[a-z0-9][a-z0-9-]*\Z")
# A driver or plugin name becomes a file name (/run/docker/plugins/NAME.sock, NAME.spec): no path
# separators, no "..", nothing that could reach outside the plugin directories.
PLUGIN_NAME = re.compile(r"\A[a-zA-Z0-9][a-zA-Z0-9_.:-]*\Z")
IFNAMSIZ = 15  # usable characters in a Linux interface name
RESERVED_NAMESPACES = {"underlay"}


def new_id() -> str:
    return random_hex(64)


def random_hex(digits: int) -> str:
    """Hex digits from the OS's cryptographic source, read 4 KiB at a time (a container takes three
    ids and names: three getrandom calls saved)."""
    global _random
    need = (digits + 1) // 2
    with _random_lock:  # two threads must never get the same bytes
        if len(_random) < need:
            _random = os.urandom(4096)
        chunk, _random = _random[:need], _random[need:]
    return chunk.hex()[:digits]


_random = b""
_random_lock = threading.Lock()


def check_container_name(name: str) -> str:
    if not CONTAINER_NAME.match(name or "") or len(name) > 64:
        raise InvalidParameter(f"Invalid container name ({name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")
    return name


def check_network_name(name: str) -> str:
    if not NETWORK_NAME.match(name or "") or len(name) > 64:
        raise InvalidParameter(f"Invalid network name ({name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")
    return name


def check_host_name(name: str) -> str:
    # A host's name is its namespace name and, prefixed with "u-", its port on the underlay switch.
    if not HOST_NAME.match(name or "") or len(name) > IFNAMSIZ - 2 or name in RESERVED_NAMESPACES:
        raise InvalidParameter(
            f"Invalid host name ({name}): use 1-13 characters of [a-z0-9-], starting with a letter or digit"
        )
    return name


def check_plugin_name(name: str, what: str = "driver") -> str:
    if not isinstance(name, str) or not PLUGIN_NAME.match(name) or ".." in name or len(name) > 64:
        raise InvalidParameter(f"Invalid {what} name ({name}): use letters, digits, \"_\", \".\", \":\" and \"-\" "
                               "(no \"/\" or \"..\")")
    return name


def check_ifname(name: str, what: str = "interface name") -> str:
    if not name or len(name) > IFNAMSIZ or any(c in name for c in "/: \t\n") or name in (".", ".."):
        raise InvalidParameter(f"Invalid {what} ({name}): a Linux interface name has 1-15 characters and no '/', ':' or spaces")
    return name


MAC = re.compile(r"^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$")


def check_mac(mac: str) -> str:
    if not MAC.match(mac or ""):
        raise InvalidParameter(f"invalid MAC address: {mac}")
    return mac.lower()


_ADJECTIVES = ("admiring", "brave", "clever", "dazzling", "eager", "focused", "gallant", "happy", "jolly",
               "keen", "loving", "modest", "nifty", "optimistic", "quirky", "relaxed", "serene", "trusting",
               "upbeat", "vibrant", "wizardly", "youthful", "zealous")
_SCIENTISTS = ("babbage", "cerf", "dijkstra", "engelbart", "hopper", "kahn", "lamport", "liskov", "lovelace",
               "metcalfe", "perlman", "postel", "ritchie", "shannon", "thompson", "torvalds", "turing", "wozniak")


def random_name(taken: set[str]) -> str:
    """A name as Docker makes one when none is given (adjective_scientist), not yet taken."""
    while True:
        name = f"{secrets.choice(_ADJECTIVES)}_{secrets.choice(_SCIENTISTS)}"
        if name not in taken:
            return name
        name += str(secrets.randbelow(10))
        if name not in taken:
            return name
