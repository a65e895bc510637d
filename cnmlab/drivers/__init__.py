"""Driver discovery through the `cnmlab.drivers` entry-point group.

Listing the installed drivers reads only package metadata; a driver's module is imported the
first time a network uses it. Built-in drivers register exactly as third-party ones do. A name
no entry point has is looked up among the remote plugins in the lab world (cnmlab.plugins), as
Docker falls back to plugin discovery for a driver it does not know.
"""

from importlib.metadata import entry_points

from ..errors import NotFound
from .base import Capabilities, Driver, DriverContext, JoinInfo

GROUP = "cnmlab.drivers"

__all__ = ["Capabilities", "Driver", "DriverContext", "JoinInfo", "installed", "load_class"]


def installed() -> dict[str, str]:
    """Driver name -> 'module:Class', without importing anything (read afresh: a listing)."""
    return {name: ep.value for name, ep in _entry_points(fresh=True).items()}


_found: dict = {}  # driver name -> its entry point, as last read


def _entry_points(fresh: bool = False) -> dict:
    """Reading every installed distribution's metadata takes 5-50 ms, and a lab's reset loads
    its drivers again: the names are kept, and read again only for a name they lack (a driver
    installed since) or a listing. Replaced whole, so a reader on another thread sees the old
    names or the new ones."""
    global _found
    if fresh or not _found:
        _found = {ep.name: ep for ep in entry_points(group=GROUP)}
    return _found


def load_class(name: str) -> type[Driver]:
    ep = _entry_points().get(name) or _entry_points(fresh=True).get(name)
    if ep is not None:
        return ep.load()
    from .. import plugins

    plugin = plugins.find(name)
    if plugin is not None:
        from .remote import driver_class

        return driver_class(plugin)
    names = ", ".join(sorted(installed())) or "none"
    remote = ", ".join(sorted(plugins.discover())) or "none"
    raise NotFound(f'plugin "{name}" not found (installed drivers: {names}; remote plugins: {remote})')
