"""The Kubernetes files cannot run here: they are checked against what runs here instead
(scripts/setup.sh, pyproject.toml, the JupyterHub config, the capacity figures)."""

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
KUBE = ROOT / "deploy" / "kubernetes"


def setup_packages(profile: str = "run") -> set[str]:
    """The Debian packages scripts/setup.sh installs for a profile."""
    text = (ROOT / "scripts" / "setup.sh").read_text()
    run_part, test_part = text.split('if [ "$PROFILE" = test ]; then', 1)
    wanted = run_part if profile == "run" else run_part + test_part.split("\nfi", 1)[0]
    return {pkg for line in re.findall(r"need_pkgs\+=\(([^)]*)\)", wanted) for pkg in line.split()}


def dockerfile() -> str:
    return (KUBE / "Dockerfile").read_text()


def test_values_parse_and_size_the_pods():
    values = yaml.safe_load((KUBE / "values.yaml").read_text())
    single = values["singleuser"]
    assert single["image"]["name"] and single["uid"] == 1000
    assert single["memory"]["guarantee"] and single["memory"]["limit"] and single["cpu"]["guarantee"] > 0
    assert values["cull"]["enabled"] is True and values["cull"]["timeout"] > 0
    context = values["hub"]["config"]["KubeSpawner"]["container_security_context"]
    assert context["runAsNonRoot"] and context["capabilities"]["drop"] == ["ALL"]
    assert not context["allowPrivilegeEscalation"] and "privileged" not in context
    assert context["seccompProfile"]["type"] == "Unconfined"  # unshare(CLONE_NEWUSER)
    assert "/opt/cnmlab/labs/" in " ".join(single["lifecycleHooks"]["postStart"]["exec"]["command"])


def test_memory_guarantee_covers_the_measured_student():
    values = yaml.safe_load((KUBE / "values.yaml").read_text())
    guarantee_mib = int(values["singleuser"]["memory"]["guarantee"].rstrip("M"))
    doc = (ROOT / "docs" / "classroom.md").read_text()
    engine_mib = float(re.search(r"engine RSS per student: \*\*(\d+(?:\.\d+)?) MiB\*\*", doc).group(1))
    assert guarantee_mib > engine_mib + 200, "an engine plus a Jupyter server and kernel"


def test_image_matches_setup_sh():
    text = dockerfile()
    base = re.search(r"^FROM (\S+)", text, re.M).group(1)
    assert re.fullmatch(r"python:3\.(1[1-9])-slim-bookworm", base), base  # setup.sh: Debian, Python >= 3.11
    installed = set(re.search(r"apt-get install -y --no-install-recommends ([^\\&]+)", text).group(1).split())
    # python3-venv is for a venv made with the distribution's python3 (setup.sh's pick_python);
    # the image's python is the image's own (python:3.x-slim), which makes venvs without it
    assert installed == setup_packages("run") - {"python3-venv"}
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert "'/opt/cnmlab[classroom]'" in text and "classroom" in extras
    assert {"jupyterhub", "nbgrader", "jupyterhub-idle-culler"} <= {re.split(r"[<>=]", r)[0] for r in extras["classroom"]}
    assert ".venv" in (KUBE / "Dockerfile.dockerignore").read_text().split()
    assert re.search(r"^USER 1000$", text, re.M), "the student's engine runs unprivileged, as on one machine"


def test_the_jupyterhub_config_compiles():
    compile((ROOT / "deploy" / "jupyterhub" / "jupyterhub_config.py").read_text(), "jupyterhub_config.py", "exec")
