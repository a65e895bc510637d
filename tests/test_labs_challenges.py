"""The troubleshooting labs: each starts broken (its check fails, with the symptom true on the
kernel), and passes once its solution, one fix among those its checks accept, is applied."""

import json

import pytest

from cnmlab.labs import load_all, runner

pytestmark = pytest.mark.kernel

CHALLENGES = [lab for lab in load_all() if lab.challenge]


def test_there_are_at_least_eight_challenges_numbered_from_8():
    assert len(CHALLENGES) >= 8 and min(lab.number for lab in CHALLENGES) >= 8
    for lab in CHALLENGES:
        assert lab.symptom and lab.setup and all(len(s.hints) >= 3 for s in lab.steps), lab.name


@pytest.mark.parametrize("lab_spec", CHALLENGES, ids=[lab.name for lab in CHALLENGES])
def test_challenge_is_broken_then_fixed(lab, lab_spec):
    missing = runner.lab_missing(lab, lab_spec)
    if missing:
        pytest.skip(f"lab {lab_spec.number}: " + "; ".join(missing))
    try:
        runner.start(lab, lab_spec)
        before = runner.check(lab, lab_spec)
        assert before["failed"] == len(lab_spec.steps), json.dumps(before, indent=1)
        cause = runner.cause(lab, lab_spec)  # what the last hint says is wrong, as the kernel shows it
        assert all(c["ok"] for c in cause), json.dumps(cause, indent=1)
        for step in lab_spec.steps:
            runner.solve(lab, lab_spec, step)
        after = runner.check(lab, lab_spec)
        assert after["passed"] == len(lab_spec.steps), json.dumps(after, indent=1)
    finally:
        if "plugins" in lab_spec.requires:
            for plugin in lab.plugins()["Remote"]:
                if plugin["Pid"]:
                    lab.plugin_stop(plugin["Name"], force=True)
        lab.reset()


def test_the_icc_lab_grades_the_fix_not_the_command(lab):
    """Lab 12 fixed another way than its solution: a DOCKER-USER rule that accepts the bridge's
    own traffic (FORWARD consults DOCKER-USER before the ICC drop). The check passes: it asks each
    container's resolver for the other's name and probes what it returns."""
    spec = next(s for s in CHALLENGES if s.number == 12)
    try:
        runner.start(lab, spec)
        bridge = "br-" + lab.network_inspect("quiet")["Id"][:12]
        lab.exec("host1", ["iptables", "-I", "DOCKER-USER", "-i", bridge, "-o", bridge, "-j", "ACCEPT"])
        after = runner.check(lab, spec)
        assert after["passed"] == 1, json.dumps(after, indent=1)
    finally:
        lab.reset()
