"""A real JupyterHub with deploy/jupyterhub/jupyterhub_config.py, and three real Unix users.

The hub (root) starts each student's server as the student, through its REST API; in each server
a kernel plays lab 1 through `cnmlab.notebook`, which starts the student's own rootless engine.
Each student sees only their own containers and cannot reach another's socket, store or lab
world. Stopping the servers stops the engines (the config's post-stop hook, which the idle culler
goes through too), stopping the hub stops the proxy, and nothing of the students is left.
"""

import asyncio
import contextlib
import json
import os
import pwd
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from test_notebook_browser import free_port
from test_rootless import visible_to_others

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "deploy" / "jupyterhub" / "jupyterhub_config.py"
PROXY = ROOT / ".venv" / "node" / "bin" / "configurable-http-proxy"
STUDENTS = ("cnmlabstu1", "cnmlabstu2", "cnmlabstu3")

TEST_CONFIG = """
c = get_config()
load_subconfig({config!r})
c.JupyterHub.authenticator_class = "dummy"
c.JupyterHub.bind_url = "http://127.0.0.1:{port}"
c.JupyterHub.hub_port = {hub_port}
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{proxy_port}"
c.ConfigurableHTTPProxy.command = [{proxy!r}]
c.Spawner.args = ["--ServerApp.ip=127.0.0.1"]
c.JupyterHub.services.append({{"name": "cnmlab-test", "api_token": {token!r}}})
c.JupyterHub.load_roles.append({{"name": "cnmlab-test", "services": ["cnmlab-test"],
                                 "scopes": ["admin:users", "admin:servers", "access:servers"]}})
"""

# Phase 1, in each student's kernel: play lab 1, add a container of one's own, say what one sees.
PLAY = textwrap.dedent("""
    import json, os
    from cnmlab.notebook import Lab
    from cnmlab.notebook.guide import Guide
    lab = Lab()
    guide = Guide(1, lab)
    for step in guide.spec.steps:
        guide.show_me(step.number)
    grade = guide.grade()
    lab.run("own-" + os.environ["USER"])
    status = lab.client.status()
    print(json.dumps({"passed": grade["passed"], "total": grade["total"], "user": grade["user"],
                      "containers": lab.containers(), "socket": status["socket"], "pid": status["pid"],
                      "rootless": status["rootless"], "store": status["store"], "uid": os.getuid()}))
""")

# Phase 2: try everything another student's lab offers; every answer must be a refusal.
PEEK = textwrap.dedent("""
    import json, os, socket, subprocess
    from cnmlab.client import Client
    other = {other}
    seen = {{}}
    s = socket.socket(socket.AF_UNIX)
    try:
        s.connect(other["socket"]); seen["connect"] = "connected"
    except OSError as exc:
        seen["connect"] = type(exc).__name__
    try:
        Client(other["socket"], autostart=False).containers(); seen["client"] = "answered"
    except Exception as exc:
        seen["client"] = type(exc).__name__
    try:
        open(other["store"], "rb").read(16); seen["store"] = "read"
    except OSError as exc:
        seen["store"] = type(exc).__name__
    try:
        os.listdir(os.path.dirname(other["store"])); seen["state_dir"] = "listed"
    except OSError as exc:
        seen["state_dir"] = type(exc).__name__
    enter = subprocess.run(["nsenter", "-t", str(other["pid"]), "-n", "-m", "ip", "link"], capture_output=True)
    seen["nsenter"] = enter.returncode
    print(json.dumps(seen))
""")


def api(base: str, token: str, method: str, path: str, body=None):
    request = urllib.request.Request(base + path, method=method, data=None if body is None else json.dumps(body).encode(),
                                     headers={"Authorization": f"token {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as answer:
        raw = answer.read()
    return json.loads(raw) if raw else None


class Kernel:
    """A kernel in a user's server, started through the server's REST API and driven over its
    websocket with Jupyter's messaging protocol."""

    def __init__(self, base: str, token: str, user: str):
        self.base, self.token, self.user = base, token, user

    async def __aenter__(self):
        from tornado.httpclient import HTTPRequest
        from tornado.websocket import websocket_connect

        self.id = (await asyncio.to_thread(api, self.base, self.token, "POST", f"/user/{self.user}/api/kernels",
                                           {"name": "python3"}))["id"]
        url = self.base.replace("http://", "ws://") + f"/user/{self.user}/api/kernels/{self.id}/channels"
        self.ws = await websocket_connect(HTTPRequest(url, headers={"Authorization": f"token {self.token}"}))
        return self

    async def __aexit__(self, *exc):
        self.ws.close()
        await asyncio.to_thread(api, self.base, self.token, "DELETE", f"/user/{self.user}/api/kernels/{self.id}")

    async def run(self, code: str, timeout: float = 240) -> str:
        """Run `code`; return what it printed (the kernel's error fails the test)."""
        msg_id = uuid.uuid4().hex
        self.ws.write_message(json.dumps({
            "header": {"msg_id": msg_id, "msg_type": "execute_request", "username": self.user,
                       "session": uuid.uuid4().hex, "version": "5.3"},
            "parent_header": {}, "metadata": {}, "channel": "shell",
            "content": {"code": code, "silent": False, "store_history": False, "user_expressions": {},
                        "allow_stdin": False, "stop_on_error": True}}))
        out, error = [], None
        async with asyncio.timeout(timeout):
            while True:
                msg = json.loads(await self.ws.read_message())
                if msg.get("parent_header", {}).get("msg_id") != msg_id:
                    continue
                kind, content = msg["msg_type"], msg["content"]
                if kind == "stream":
                    out.append(content["text"])
                elif kind == "error":
                    error = "\n".join(content["traceback"])
                elif kind == "status" and content["execution_state"] == "idle":
                    break
        assert error is None, f"{self.user}'s kernel failed:\n{error}"
        return json.loads("".join(out).strip().splitlines()[-1])


def processes_of(uids: set[int]) -> list[str]:
    out = subprocess.run(["ps", "-e", "-o", "uid=,pid=,args="], capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if int(line.split()[0]) in uids]


def remove_user(name: str) -> None:
    try:
        account = pwd.getpwnam(name)
    except KeyError:
        return
    for line in processes_of({account.pw_uid}):  # a failed run may leave some: ours, ended by pid
        os.kill(int(line.split()[1]), signal.SIGKILL)
    subprocess.run(["userdel", name], capture_output=True)
    shutil.rmtree(f"/run/user/{account.pw_uid}", ignore_errors=True)


def wait_for(what, predicate, timeout: float = 180, every: float = 0.5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def students():
    """Three Unix accounts (homes readable by all, as on many servers), removed afterwards."""
    if not shutil.which("useradd"):
        pytest.skip("useradd (passwd) is missing")
    homes = Path(tempfile.mkdtemp(prefix="cnmlab-homes-"))
    os.chmod(homes, 0o755)
    for name in STUDENTS:
        remove_user(name)
        subprocess.run(["useradd", "--create-home", "--home-dir", str(homes / name), "--shell", "/bin/bash",
                        "--user-group", name], check=True, capture_output=True)
        os.chmod(homes / name, 0o755)
    try:
        yield {name: pwd.getpwnam(name) for name in STUDENTS}
    finally:
        for name in STUDENTS:
            remove_user(name)
        shutil.rmtree(homes, ignore_errors=True)


@pytest.fixture
def hub(students, tmp_path):
    """The hub, run as root in a private mount namespace that shows the interpreter (under a 0700
    /root here) to the students, as a classroom install under /opt would be."""
    if not PROXY.exists():
        pytest.fail("configurable-http-proxy is missing: run `bash scripts/setup.sh test`")
    base = Path(tempfile.mkdtemp(prefix="cnmlab-hub-"))
    os.chmod(base, 0o755)
    port, token = free_port(), secrets.token_hex(16)
    (base / "test_config.py").write_text(TEST_CONFIG.format(
        config=str(CONFIG), port=port, hub_port=free_port(), proxy_port=free_port(), proxy=str(PROXY), token=token))
    real_python = Path(sys.executable).resolve()
    hidden = [p for p in (real_python.parents[2], ROOT) if not visible_to_others(p)]
    mounts = []
    for i, path in enumerate(hidden):
        (base / f"keep{i}").mkdir()
        mounts.append(f"mount --bind {path} {base / f'keep{i}'}")
    if hidden:
        mounts.append("mount -t tmpfs -o mode=755 tmpfs /root")
    mounts += [f"mkdir -p {path} && mount --bind {base / f'keep{i}'} {path}" for i, path in enumerate(hidden)]
    hub_cmd = f"exec {Path(sys.executable).parent / 'jupyterhub'} -f {base / 'test_config.py'}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CNMLAB_")}  # students' own dirs, not the suite's
    env["PATH"] = f"{Path(sys.executable).parent}:{env.get('PATH', '/usr/bin:/bin')}"
    with open(base / "hub.log", "wb") as log:
        proc = subprocess.Popen(["unshare", "--mount", "--propagation", "private", "sh", "-c",
                                 " && ".join(mounts + [hub_cmd])], cwd=base, env=env, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for("the hub", lambda: proc.poll() is not None or _answers(url + "/hub/api/"), timeout=90)
        assert proc.poll() is None, (base / "hub.log").read_text()
        yield proc, url, token, base
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        shutil.rmtree(base, ignore_errors=True)


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2):
            return True
    except OSError:
        return False


@pytest.mark.kernel
@pytest.mark.slow
def test_three_students_each_their_own_lab(hub, students):
    proc, url, token, base = hub
    api(url, token, "POST", "/hub/api/users", {"usernames": list(STUDENTS)})
    with ThreadPoolExecutor(len(STUDENTS)) as pool:  # the hub answers a slow spawn only after 10 s
        list(pool.map(lambda name: api(url, token, "POST", f"/hub/api/users/{name}/server"), STUDENTS))
    for name in STUDENTS:
        wait_for(f"{name}'s server", lambda: api(url, token, "GET", f"/hub/api/users/{name}")["servers"]
                 .get("", {}).get("ready"))


    async def classroom():
        async with contextlib.AsyncExitStack() as stack:
            kernels = [Kernel(url, token, name) for name in STUDENTS]
            for kernel in await asyncio.gather(*(k.__aenter__() for k in kernels)):  # started side by side
                stack.push_async_exit(kernel)
            played = await asyncio.gather(*(k.run(PLAY) for k in kernels))
            seen = dict(zip(STUDENTS, played))
            # then each student tries the next one's socket, store and lab world
            others = STUDENTS[1:] + STUDENTS[:1]
            peeks = await asyncio.gather(*(k.run(PEEK.format(other=seen[o])) for k, o in zip(kernels, others)))
            return seen, dict(zip(STUDENTS, peeks))

    seen, peeks = asyncio.run(classroom())
    for name, lab in seen.items():
        account = students[name]
        assert lab["uid"] == account.pw_uid and lab["user"] == name and lab["rootless"] is True
        assert lab["passed"] == lab["total"], lab
        assert f"own-{name}" in lab["containers"]
        assert not [c for c in lab["containers"] if c.startswith("own-") and c != f"own-{name}"], lab["containers"]
        assert lab["socket"] == f"/run/user/{account.pw_uid}/cnmlab/engine.sock"
        assert lab["store"].startswith(account.pw_dir + "/")
        assert os.stat(f"/proc/{lab['pid']}").st_uid == account.pw_uid
        assert os.stat(Path(lab["store"]).parent).st_mode & 0o077 == 0, "the store is the student's alone"
    for name, refused in peeks.items():
        assert refused["connect"] == "PermissionError", (name, refused)
        assert refused["client"] in ("PermissionError", "EngineUnavailable"), (name, refused)
        assert refused["store"] == "PermissionError" and refused["state_dir"] == "PermissionError", (name, refused)
        assert refused["nsenter"] != 0, (name, refused)

    # stopping a server (what the idle culler does) stops the student's engine
    engines = {seen[name]["pid"] for name in STUDENTS}
    with ThreadPoolExecutor(len(STUDENTS)) as pool:
        list(pool.map(lambda name: api(url, token, "DELETE", f"/hub/api/users/{name}/server"), STUDENTS))
    for name in STUDENTS:
        wait_for(f"{name}'s server to stop",
                 lambda: "" not in api(url, token, "GET", f"/hub/api/users/{name}")["servers"])
    uids = {account.pw_uid for account in students.values()}
    wait_for("every student process to end", lambda: not processes_of(uids), timeout=60)
    assert not [pid for pid in engines if Path(f"/proc/{pid}").exists()]
    log = (base / "hub.log").read_text()
    assert all(f"cnmlab engine of {name}: stopped engine" in log for name in STUDENTS), log[-3000:]

    os.killpg(proc.pid, signal.SIGTERM)  # the hub stops, and the proxy it started with it
    proc.wait(60)
    wait_for("the proxy to stop", lambda: not _ours_running(base), timeout=30)


def _ours_running(base: Path) -> list[str]:
    out = subprocess.run(["ps", "-e", "-o", "pid=,args="], capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if str(base) in line or "configurable-http-proxy" in line
            and str(PROXY) in line]


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to make a directory of another user")
def test_the_store_and_socket_directories_are_the_users_alone(tmp_path):
    from cnmlab import paths
    from cnmlab.errors import CnmError

    mine = tmp_path / "mine"
    mine.mkdir(mode=0o755)
    assert paths.private_dir(mine).stat().st_mode & 0o777 == 0o700
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    os.chown(theirs, 65534, 65534)
    with pytest.raises(CnmError, match="belongs to another user"):
        paths.private_dir(theirs)
    assert paths.foreign_owner(theirs / "engine.sock") is None  # (nothing there yet)
    assert paths.foreign_owner(theirs) == 65534
