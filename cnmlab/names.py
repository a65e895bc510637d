"""Names and ids: Docker's rules for names, and the 64-hex ids objects carry."""

import re
import secrets

from .errors import InvalidParameter

CONTAINER_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]+$")
NETWORK_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")
HOST_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*$")
IFNAMSIZ = 15  # usable characters in a Linux interface name
RESERVED_NAMESPACES = {"underlay"}


def new_id() -> str:
    return secrets.token_hex(32)


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


def check_ifname(name: str, what: str = "interface name") -> str:
    if not name or len(name) > IFNAMSIZ or any(c in name for c in "/: \t\n") or name in (".", ".."):
        raise InvalidParameter(f"Invalid {what} ({name}): a Linux interface name has 1-15 characters and no '/', ':' or spaces")
    return name


MAC = re.compile(r"^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$")


def check_mac(mac: str) -> str:
    if not MAC.match(mac or ""):
        raise InvalidParameter(f"invalid MAC address: {mac}")
    return mac.lower()


# Docker's namesgenerator names an unnamed container ADJECTIVE_SCIENTIST; a few of each suffice.
_ADJECTIVES = ("admiring", "brave", "clever", "eager", "focused", "gifted", "happy", "jolly", "keen",
               "lucid", "modest", "nifty", "quirky", "serene", "trusting", "vibrant", "wizardly", "zen")
_SCIENTISTS = ("bardeen", "cerf", "engelbart", "hamilton", "hopper", "kahn", "lamport", "liskov",
               "lovelace", "metcalfe", "perlman", "pike", "postel", "ritchie", "shannon", "thompson", "turing")


def random_container_name(taken) -> str:
    while True:
        name = f"{secrets.choice(_ADJECTIVES)}_{secrets.choice(_SCIENTISTS)}"
        if name not in taken:
            return name
