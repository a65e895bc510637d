"""Lab definitions are plain data: every lab in labs/ loads and validates without root or an
engine, and a broken definition gets a one-line error naming the problem."""

import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from cnmlab.cli import build_parser
from cnmlab.labs import LabSpecError, find, load_all
from cnmlab.labs.runner import cli_line
from cnmlab.labs.spec import parse

LABS = load_all()


def test_the_labs_load_in_order():
    numbers = [lab.number for lab in LABS]
    assert numbers == sorted(numbers) and {1, 2, 3, 4, 5, 6, 7} <= set(numbers)
    assert all(lab.number >= 8 for lab in LABS if lab.challenge), "troubleshooting labs are numbered from 08"
    for lab in LABS:
        assert lab.intro and lab.steps
        for step in lab.steps:
            assert step.title and step.text, f"{lab.name} step {step.number}"
            assert step.checks, f"{lab.name} step {step.number} checks nothing"


def test_loading_labs_needs_no_kernel_library():
    code = "import sys, cnmlab.labs.spec as s; s.load_all(); print(' '.join(sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert not {"pyroute2", "scapy"} & {m.split(".")[0] for m in out}


def test_find_by_number_name_slug_and_path():
    lab = LABS[0]
    assert find("1") == find("01") == find(lab.name) == find(lab.slug) == lab
    assert find(str(lab.path)).title == lab.title
    with pytest.raises(LabSpecError, match=r"no lab 42: the labs are 1 \(cnm-building-blocks\)"):
        find("42")
    with pytest.raises(LabSpecError, match="has steps 1..5, not 9"):
        lab.step(9)


@pytest.mark.parametrize("lab", LABS, ids=lambda lab: lab.name)
def test_every_show_me_line_is_a_real_cnmlab_command(lab):
    """What `lab solve` prints is what a student could type: the CLI's own parser accepts it."""
    parser = build_parser()
    groups = set(parser._subparsers._group_actions[0].choices)
    for step in lab.steps:
        for call in lab.setup + step.solution:
            argv = shlex.split(cli_line(call))[1:]
            if argv[0] not in groups:
                pytest.skip(f"`cnmlab {argv[0]}` is not in this cnmlab yet")
            parser.parse_args(argv)  # exits (SystemExit) on a line the CLI would refuse


@pytest.mark.parametrize("lab", LABS, ids=lambda lab: lab.name)
def test_show_me_execs_run_in_containers_the_lab_creates(lab):
    """`cnmlab exec` runs in containers the lab creates, or in a Docker host (host1, or one it adds)."""
    calls = [c for s in lab.steps for c in lab.setup + s.solution]
    containers = {c.args["name"] for c in calls if c.call in ("run", "host_add")} | {"host1"}
    services = {c.args["name"] for c in calls if c.call == "service_create"}
    for call in calls:
        if call.call == "exec":
            ref = call.args["ref"]
            assert ref in containers or ref.split(".")[0] in services, cli_line(call)


GOOD = {"number": 9, "slug": "x", "title": "X", "steps": [
    {"title": "s", "text": "t", "solution": [{"call": "network_create", "args": {"name": "n1"}}],
     "checks": [{"on_network": {"container": "aa", "network": "n1"}}]}]}


def broken(**change) -> dict:
    import copy

    data = copy.deepcopy(GOOD)
    step = data["steps"][0]
    for key, value in change.items():
        (step if key in ("solution", "checks", "kernel_optional", "title", "requires", "hints") else data)[key] = value
    return data


@pytest.mark.parametrize("data, message", [
    (broken(solution=[{"call": "format_disk"}]), "step 1 solution call 1: unknown call 'format_disk'; a solution may call"),
    (broken(solution=[{"call": "run", "args": {"nam": "a"}}]), "call 1 (run): missing a required argument: 'name'"),
    (broken(solution=[{"call": "run", "args": {"name": "a", "colour": 1}}]),
     "unexpected keyword argument 'colour'"),
    (broken(checks=[{"pingable": {"a": 1}}]), "check 1: unknown check 'pingable'; the kinds are"),
    (broken(checks=[{"reachable": {"src": "a"}}]), "check 1 (reachable): missing a required argument: 'dst'"),
    (broken(checks=[{"reachable": {"src": "a", "dst": "b"}, "exists": {"container": "a"}}]),
     "name exactly one check kind"),
    (broken(checks=[{"reachable": ["a", "b"]}]), "the arguments of reachable must be a mapping"),
    (broken(kernel_optional="vlan"), "a kernel_optional step needs skipped_text"),
    (broken(requires=["teleport"]), "requires names features"),
    (broken(steps=[]), "a lab needs at least one step"),
    (broken(slug="Has Spaces"), "slug must be lower-case words"),
    (broken(colour="red"), "unknown key colour"),
    (broken(challenge=True), "a challenge lab needs a symptom"),
    (broken(challenge=True, symptom="web can't reach db"), "a challenge lab needs a setup that builds the broken lab"),
    (broken(challenge=True, symptom="s", setup=[{"call": "network_create", "args": {"name": "n1"}}]),
     "step 1: a challenge step needs at least 3 hints (the symptom, the tool, the cause)"),
    (broken(challenge=True, symptom="s", setup=[{"call": "network_create", "args": {"name": "n1"}}],
            hints=["the symptom", "the tool", "the cause"]),
     "a challenge lab needs a cause: checks that hold on the broken lab"),
    (broken(challenge="yes"), "challenge must be true or false"),
    ({"number": 1, "slug": "x", "steps": []}, "missing title"),
    ("just text", "expected a mapping"),
])
def test_a_broken_definition_names_its_problem(data, message):
    with pytest.raises(LabSpecError) as err:
        parse(data, source="bad.yaml")
    assert message in err.value.message
    assert "\n" not in err.value.message and err.value.message.startswith("bad.yaml")


def test_unreadable_yaml_is_one_line(tmp_path: Path):
    path = tmp_path / "07-bad.yaml"
    path.write_text("number: [unclosed\n")
    with pytest.raises(LabSpecError, match="07-bad.yaml: cannot read the lab") as err:
        find(str(path))
    assert "\n" not in err.value.message


def test_cli_lines_teach_docker_verbs():
    steps = find(1).steps
    assert cli_line(steps[0].solution[4]) == "cnmlab network connect net-b container-b"
    assert cli_line(steps[4].solution[2]) == "cnmlab exec router -- sysctl -w net.ipv4.ip_forward=1"
    assert "ip route replace '{subnet:net-b}' via '{ip:router@net-a}'" in cli_line(steps[4].solution[3])
