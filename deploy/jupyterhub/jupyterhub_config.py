# JupyterHub for a class doing the cnmlab labs on one Linux server (docs/classroom.md).
#
# Every student logs in with their own Unix account; the hub (run as root) starts each student's
# single-user server as that user, and the student's first `Lab()` starts their own rootless
# cnmlab engine in their own user namespace. Nothing is shared between students: the engine's
# socket lives in /run/user/UID (0700), its store in ~/.local/state/cnmlab (0700), and the lab
# world's namespaces belong to the student's user namespace, which no other student may enter.
#
#     sudo /opt/cnmlab/.venv/bin/jupyterhub -f deploy/jupyterhub/jupyterhub_config.py
#
# cnmlab, JupyterHub and the lab notebooks come from the same install (a clone with
# `pip install -e '.[classroom]'` in a venv every user can read), and configurable-http-proxy
# from npm. Users come from PAM (the machine's accounts); see docs/classroom.md for the rest.

import asyncio
import os
import pwd
import shutil
import sys
from pathlib import Path

c = get_config()  # noqa: F821  (JupyterHub's config loader provides it)

PYTHON = sys.executable  # the hub's venv, which has cnmlab in it: students run the same one
VENV_BIN = Path(PYTHON).parent
LABS = Path(__file__).resolve().parents[2] / "labs"  # the repository's generated notebooks
IDLE_TIMEOUT = int(os.environ.get("CNMLAB_IDLE_TIMEOUT", "3600"))  # seconds without activity

c.JupyterHub.bind_url = "http://:8000"
c.JupyterHub.authenticator_class = "pam"
c.Authenticator.allow_all = True  # every account that PAM accepts is a student; narrow with allowed_users

# Each student's server runs as the student (the hub is root; for a non-root hub use SudoSpawner).
c.JupyterHub.spawner_class = "localprocess"
c.Spawner.cmd = [str(VENV_BIN / "jupyterhub-singleuser")]
c.Spawner.default_url = "/lab/tree/cnmlab-labs"
c.Spawner.notebook_dir = "~"
c.Spawner.mem_limit = "1G"  # advisory for LocalProcessSpawner; z2jh enforces it (deploy/kubernetes)
c.Spawner.start_timeout = 120
c.Spawner.http_timeout = 120
if not shutil.which("configurable-http-proxy") and (VENV_BIN.parent / "node/bin/configurable-http-proxy").exists():
    c.ConfigurableHTTPProxy.command = [str(VENV_BIN.parent / "node/bin/configurable-http-proxy")]  # setup.sh's


def student(spawner) -> pwd.struct_passwd:
    return pwd.getpwnam(spawner.user.name)


def runtime_dir(account: pwd.struct_passwd) -> Path:
    """What logind makes at a login, made here (a hub spawn is no login): the student's own 0700
    directory for the engine's socket."""
    return Path("/run/user") / str(account.pw_uid)


def prepare_student(spawner) -> None:
    """Before each start: the private runtime dir, and the lab notebooks copied in once (the
    student's copies are theirs to edit; a newer lab appears, an edited one is kept)."""
    account = student(spawner)
    run = runtime_dir(account)
    run.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chown(run, account.pw_uid, account.pw_gid)
    os.chmod(run, 0o700)
    labs = Path(account.pw_dir) / "cnmlab-labs"
    if not labs.exists():
        labs.mkdir(mode=0o755)
        os.chown(labs, account.pw_uid, account.pw_gid)
    for notebook in sorted(LABS.glob("*.ipynb")):
        copy = labs / notebook.name
        if not copy.exists():
            shutil.copyfile(notebook, copy)
            os.chown(copy, account.pw_uid, account.pw_gid)
    spawner.environment.update({
        "XDG_RUNTIME_DIR": str(run),
        "PATH": f"{VENV_BIN}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    })


async def stop_engine(spawner) -> None:
    """After the server stops (by the student, the admin, or the idle culler): stop the student's
    engine too, as the student, so a culled student holds no lab world and no memory."""
    account = student(spawner)
    env = {"HOME": account.pw_dir, "USER": account.pw_name, "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
           "XDG_RUNTIME_DIR": str(runtime_dir(account))}
    proc = await asyncio.create_subprocess_exec(
        PYTHON, "-m", "cnmlab", "engine", "stop", env=env, cwd=account.pw_dir, user=account.pw_uid,
        group=account.pw_gid, extra_groups=[], stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    out, _ = await proc.communicate()
    spawner.log.info("cnmlab engine of %s: %s", account.pw_name, out.decode(errors="replace").strip())


c.Spawner.pre_spawn_hook = prepare_student
c.Spawner.post_stop_hook = stop_engine

# Idle culling: a server idle for IDLE_TIMEOUT is stopped (and, by stop_engine, its engine).
c.JupyterHub.load_roles = [{
    "name": "jupyterhub-idle-culler-role",
    "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"],
    "services": ["jupyterhub-idle-culler-service"],
}]
c.JupyterHub.services = [{
    "name": "jupyterhub-idle-culler-service",
    "command": [PYTHON, "-m", "jupyterhub_idle_culler", f"--timeout={IDLE_TIMEOUT}", "--cull-every=60"],
}]
