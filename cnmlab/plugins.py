"""Docker's plugin discovery and transport, as seen from inside the lab world.

Docker finds a plugin called NAME in these places (docs: extend/plugin_api.md):

    /run/docker/plugins/NAME.sock  or  /run/docker/plugins/NAME/NAME.sock    a Unix socket
    /etc/docker/plugins/NAME.spec                                          a file holding a URL
    /etc/docker/plugins/NAME.json                                          {"Name": ..., "Addr": URL}

and talks to it with HTTP POST and a JSON body, `Accept: application/vnd.docker.plugins.v1.2+json`.
The lab world mounts private directories on both paths (osl/world.py), so a plugin started in
the world (`cnmlab plugin run`) is visible to the engine and to nothing on the machine.

Every way a call can go wrong becomes one PluginError with a one-line message naming the plugin
and the call: not running, no answer in time (CNMLAB_PLUGIN_TIMEOUT, default 10 s), connection
closed mid-call, a reply that is not JSON, an HTTP error, or the plugin's own {"Err": "..."}.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from .errors import CnmError, Conflict, InvalidParameter
from .names import check_plugin_name

SOCKET_DIR = "/run/docker/plugins"
SPEC_DIRS = ("/etc/docker/plugins", "/usr/lib/docker/plugins")
MEDIA_TYPE = "application/vnd.docker.plugins.v1.2+json"
DEFAULT_TIMEOUT = 10.0


def timeout() -> float:
    """Seconds a plugin gets to answer one call (Docker retries for longer; a lab should not hang)."""
    try:
        return float(os.environ.get("CNMLAB_PLUGIN_TIMEOUT", DEFAULT_TIMEOUT))
    except ValueError:
        return DEFAULT_TIMEOUT


class PluginError(CnmError):
    """A plugin call failed; the message is what the user sees."""

    status = 500


class PluginGone(PluginError):
    """The plugin closed the connection without an answer (it exited, or is no HTTP server)."""


class PluginNotImplemented(PluginError):
    """The plugin answered 404 for a method: optional methods treat this as 'not implemented'."""

    status = 501


@dataclass(frozen=True)
class Plugin:
    name: str
    address: str  # the Unix socket path
    source: str  # where discovery found it: the socket itself, or a .spec/.json file


# -- discovery ------------------------------------------------------------------------------
def discover() -> dict[str, Plugin]:
    """Every plugin visible in the world, by name (sockets first, as Docker looks them up)."""
    found: dict[str, Plugin] = {}
    for entry in _listdir(SOCKET_DIR):
        path = os.path.join(SOCKET_DIR, entry)
        if entry.endswith(".sock"):
            name = entry.removesuffix(".sock")
            found.setdefault(name, Plugin(name, path, path))
        elif os.path.isdir(path) and os.path.exists(os.path.join(path, entry + ".sock")):
            sock = os.path.join(path, entry + ".sock")
            found.setdefault(entry, Plugin(entry, sock, sock))
    for spec_dir in SPEC_DIRS:
        for entry in sorted(_listdir(spec_dir)):
            name, ext = os.path.splitext(entry)
            if ext not in (".spec", ".json") or name in found:
                continue
            path = os.path.join(spec_dir, entry)
            try:
                found[name] = Plugin(name, _spec_address(path), path)
            except (OSError, ValueError, InvalidParameter):
                continue  # a broken spec file is not a plugin; `find` explains it
    return found


def find(name: str) -> Plugin | None:
    check_plugin_name(name, "plugin")
    plugin = discover().get(name)
    if plugin is None:
        for spec_dir in SPEC_DIRS:  # say why a spec that exists was not usable
            for ext in (".spec", ".json"):
                path = os.path.join(spec_dir, name + ext)
                if os.path.exists(path):
                    _spec_address(path)
    return plugin


def _listdir(path: str) -> list[str]:
    try:
        return sorted(os.listdir(path))
    except OSError:
        return []


def _spec_address(path: str) -> str:
    with open(path) as f:
        text = f.read().strip()
    if path.endswith(".json"):
        try:
            text = json.loads(text)["Addr"]
        except (ValueError, KeyError, TypeError):
            raise InvalidParameter(f"plugin spec {path} is not JSON with an \"Addr\" field") from None
    url = urlsplit(text)
    if url.scheme != "unix":
        # The file's content is not echoed: a name must never turn the engine into a file reader.
        raise InvalidParameter(f"plugin spec {path} holds no unix:// address: only unix:// plugins work in the "
                               "lab (a tcp:// plugin would be outside the lab world)")
    return url.path


# -- transport ------------------------------------------------------------------------------
class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float):
        super().__init__("plugin", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self._path)
        except BaseException:
            sock.close()
            raise
        self.sock = sock


def _here(lane: str, exchange, concerns=()):
    return exchange()


# How a call's HTTP exchange is run: the engine sets its kernel thread's `off_thread`, which hands
# it to the plugin's own lane so that a plugin that does not answer holds up only the work that
# needs it (engine/kernel_thread.py). `concerns` names the lab objects the call is about.
off_thread = _here


class PluginClient:
    """Calls one plugin: `call("NetworkDriver.Join", {...})` -> the reply as a dict."""

    def __init__(self, plugin: Plugin, call_timeout: float | None = None, error_key: str = "Err"):
        self.plugin = plugin
        self.timeout = call_timeout if call_timeout is not None else timeout()
        self.error_key = error_key  # network drivers answer {"Err"}, IPAM drivers {"Error"}

    @property
    def name(self) -> str:
        return self.plugin.name

    def call(self, method: str, body: dict | None = None, concerns: tuple[str, ...] = ()) -> dict:
        path = "/" + method
        raw, status = off_thread(self.name, lambda: self._post(path, body), concerns)
        if status == 404:
            raise PluginNotImplemented(f"plugin {self.name} does not implement {path}")
        try:
            reply = json.loads(raw) if raw.strip() else {}
        except ValueError as exc:
            raise PluginError(f"plugin {self.name} sent a malformed reply to {path}: not JSON ({exc})") from None
        if not isinstance(reply, dict):
            raise PluginError(f"plugin {self.name} sent a malformed reply to {path}: "
                              f"a JSON {type(reply).__name__}, not an object")
        error = reply.get(self.error_key) or reply.get("Err") or reply.get("Error")
        if error:
            raise PluginError(str(error))  # the plugin's own words, shown as they are
        if status >= 400:
            raise PluginError(f"plugin {self.name} answered HTTP {status} to {path}")
        return reply

    def _post(self, path: str, body: dict | None) -> tuple[bytes, int]:
        conn = _UnixConnection(self.plugin.address, self.timeout)
        data = b"" if body is None else json.dumps(body).encode()
        where = f"plugin {self.name}"
        try:
            conn.request("POST", path, body=data, headers={"Accept": MEDIA_TYPE, "Content-Type": MEDIA_TYPE})
            resp = conn.getresponse()
            return resp.read(), resp.status
        except TimeoutError:
            raise PluginError(f"{where} did not answer {path} within {self.timeout:g} s "
                              "(the limit is CNMLAB_PLUGIN_TIMEOUT)") from None
        except (FileNotFoundError, ConnectionRefusedError):
            raise PluginError(f"{where} is not running (nothing listens on {self.plugin.address})") from None
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError,
                http.client.IncompleteRead):  # RemoteDisconnected is a BadStatusLine: catch it first
            raise PluginGone(f"{where} closed the connection during {path} (did it exit?)") from None
        except (http.client.BadStatusLine, http.client.LineTooLong) as exc:
            raise PluginError(f"{self.plugin.address} is not a Docker plugin: it does not speak HTTP "
                              f"({type(exc).__name__})") from None
        except OSError as exc:
            raise PluginError(f"{where}: {path} failed: {exc.strerror or exc}") from None
        finally:
            conn.close()


def activate(plugin: Plugin, want: str, call_timeout: float | None = None) -> tuple[PluginClient, list[str]]:
    """/Plugin.Activate: the plugin must say it implements `want` (NetworkDriver, IpamDriver)."""
    client = PluginClient(plugin, call_timeout)
    try:
        reply = client.call("Plugin.Activate")
    except PluginNotImplemented:
        raise PluginError(f"{plugin.address} is not a Docker plugin: it has no /Plugin.Activate") from None
    except PluginGone:
        raise PluginError(f"{plugin.address} is not a Docker plugin: it closed the connection without "
                          "answering /Plugin.Activate") from None
    implements = reply.get("Implements")
    if not isinstance(implements, list) or not all(isinstance(i, str) for i in implements):
        raise PluginError(f"{plugin.address} is not a Docker plugin: /Plugin.Activate gave no \"Implements\" list")
    if want not in implements:
        raise Conflict(f"plugin {plugin.name} implements {', '.join(implements) or 'nothing'}, not {want}")
    return client, implements


def describe(plugin: Plugin, call_timeout: float = 1.0) -> dict:
    """What `cnmlab plugin ls` shows for one remote plugin (it asks the plugin, briefly)."""
    out = {"Name": plugin.name, "Address": plugin.address, "Source": plugin.source, "Implements": None,
           "Error": None}
    try:
        reply = PluginClient(plugin, call_timeout).call("Plugin.Activate")
        implements = reply.get("Implements")
        if isinstance(implements, list):
            out["Implements"] = implements
        else:
            out["Error"] = "not a Docker plugin: no \"Implements\" list"
    except PluginNotImplemented:
        out["Error"] = "not a Docker plugin: no /Plugin.Activate"
    except CnmError as exc:
        out["Error"] = exc.message
    return out
