"""Driver discovery through the `cnmlab.drivers` entry-point group.

Listing the installed drivers reads only package metadata; a driver's module is imported the
first time a network uses it. Built-in drivers register exactly as third-party ones do.
"""

from importlib.metadata import entry_points

from ..errors import NotFound
from .base import Capabilities, Driver, DriverContext, JoinInfo

GROUP = "cnmlab.drivers"

__all__ = ["Capabilities", "Driver", "DriverContext", "JoinInfo", "installed", "load_class"]


def installed() -> dict[str, str]:
    """Driver name -> 'module:Class', without importing anything."""
    return {ep.name: ep.value for ep in entry_points(group=GROUP)}


def load_class(name: str) -> type[Driver]:
    for ep in entry_points(group=GROUP):
        if ep.name == name:
            return ep.load()
    names = ", ".join(sorted(installed())) or "none"
    raise NotFound(f'plugin "{name}" not found (installed drivers: {names})')
