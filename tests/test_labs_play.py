"""Every lab played end to end on the real kernel: each step's "show me" solution is applied and
all of its checks pass, and so does the final grading. A lab (or step, or check) needing a part
of cnmlab or of the kernel that is missing here is skipped with that reason."""

import json

import pytest

from cnmlab.errors import KernelUnsupported
from cnmlab.labs import find, load_all, runner

pytestmark = pytest.mark.kernel

LABS = load_all()


def failures(record) -> str:
    return "; ".join(f"{c['message']} (hint: {c['hint']})" for c in record.checks if c["ok"] is False)


GUIDED = [lab for lab in LABS if not lab.challenge]  # the troubleshooting labs: test_labs_challenges.py


@pytest.mark.parametrize("number", [lab.number for lab in GUIDED], ids=[lab.name for lab in GUIDED])
def test_lab_plays_end_to_end(lab, number):
    client, spec = lab, find(number)
    missing = runner.lab_missing(client, spec)
    if missing:
        pytest.skip(f"lab {number}: " + "; ".join(missing))
    runner.start(client, spec)
    skipped = []
    try:
        for step in spec.steps:
            try:
                runner.solve(client, spec, step)
            except KernelUnsupported as exc:
                assert step.kernel_optional, f"step {step.number}: {exc.message}"
            record = runner.check_step(client, spec, step)
            assert record.status != "failed", f"step {step.number} ({step.title}): {failures(record)}"
            if record.status == "skipped":
                assert step.kernel_optional or step.requires, record.reason
                skipped.append(f"step {step.number}: {record.reason}")
            skipped += [f"step {step.number}: {c['message']}" for c in record.checks
                        if c["ok"] is None and record.status != "skipped"]
        grade = runner.check(client, spec)
        assert grade["failed"] == 0, json.dumps(grade, indent=1)
        assert grade["passed"] + grade["skipped"] == len(spec.steps)
    finally:
        if any("plugins" in s.requires for s in spec.steps) and runner.Live(client).missing("plugins") is None:
            for plugin in client.plugins()["Remote"]:  # the plugin process this lab started
                if plugin["Pid"]:
                    client.plugin_stop(plugin["Name"], force=True)
        client.reset()
    if skipped:
        pytest.skip(f"lab {number} passed except: " + " | ".join(skipped))


def test_grading_record_before_and_after_solving(lab, cli):
    """What a teacher collects: `lab check --json` fails with hints on an empty lab and passes once
    the student (here `lab solve`) has built it; the exit code says which."""
    assert cli("lab", "start", "1").returncode == 0
    before = cli("lab", "check", "1", "--json")
    record = json.loads(before.stdout)
    assert before.returncode == 1
    assert (record["lab"], record["total"], record["passed"]) == (1, 5, 0)
    first = record["steps"][0]
    assert first["status"] == "failed" and first["checks"][0]["message"] == "there is no network net-a"
    assert first["checks"][0]["hint"] == "try `cnmlab network create net-a`"
    assert {"graded_at", "user", "failed", "skipped"} <= record.keys()

    solved = cli("lab", "solve", "1", "--step", "1")
    assert "$ cnmlab network connect net-b container-b" in solved.stdout
    one = json.loads(cli("lab", "check", "1", "--step", "1", "--json").stdout)
    assert [s["status"] for s in one["steps"]] == ["passed"]

    assert cli("lab", "solve", "1").returncode == 0  # steps already done are reported, not repeated
    after = cli("lab", "check", "1", "--json")
    assert after.returncode == 0, after.stdout
    steps = json.loads(after.stdout)["steps"]
    assert [s["status"] for s in steps] == ["passed"] * 5
    superseded = [c for c in steps[3]["checks"] if c["before_next"]]
    assert superseded and superseded[0]["message"].startswith("superseded by step 5")


def test_a_student_topology_with_other_addresses_passes(lab):
    """Checks look at names and the live lab, not at the solution's addresses: lab 1 built by
    hand with other subnets and a different router address passes; the router's forwarding off
    fails step 5 with the hint."""
    client, spec = lab, find(1)
    client.network_create("net-a", subnet="10.31.0.0/24")
    client.network_create("net-b", subnet="10.32.0.0/24")
    client.run("container-a", network="net-a")
    client.run("container-b", network="net-a")
    client.connect("net-b", "container-b")
    client.run("container-c", network="net-b")
    client.run("router", network="net-a", ip="10.31.0.200")
    client.connect("net-b", "router", ip="10.32.0.200")
    client.exec("container-a", ["ip", "route", "add", "10.32.0.0/24", "via", "10.31.0.200"])
    client.exec("container-c", ["ip", "route", "add", "10.31.0.0/24", "via", "10.32.0.200"])
    step5 = runner.check_step(client, spec, spec.step(5))
    assert step5.status == "failed"
    forward = next(c for c in step5.checks if c["kind"] == "sysctl_is")
    assert forward["message"] == "net.ipv4.ip_forward is 0 in router, not 1"
    client.exec("router", ["sysctl", "-w", "net.ipv4.ip_forward=1"])
    grade = runner.check(client, spec)
    assert [s["status"] for s in grade["steps"]] == ["passed"] * 5, json.dumps(grade, indent=1)


def test_lab1_checks_the_causes_the_kernel_shows(lab):
    """Step 4 names the isolation drop (filtered by DOCKER-ISOLATION-STAGE-2 on host1), not a
    missing route; step 5 needs the router's kernel to forward: a shortcut that connects A to net-b
    reaches C too, but fails the step."""
    client, spec = lab, find(1)
    runner.start(client, spec)
    for step in spec.steps[:4]:
        runner.solve(client, spec, step)
    step4 = runner.check_step(client, spec, spec.step(4))
    drops = [c for c in step4.checks if c["kind"] == "not_reachable"]
    assert step4.status == "passed" and len(drops) == 2
    assert all("dropped in host1 by filter/DOCKER-ISOLATION-STAGE-2" in c["message"] for c in drops), drops
    client.run("router", network="net-a")
    client.connect("net-b", "router")
    client.exec("router", ["sysctl", "-w", "net.ipv4.ip_forward=1"])
    client.connect("net-b", "container-a")  # no route through the router: a direct leg instead
    step5 = runner.check_step(client, spec, spec.step(5))
    forwarded = [c for c in step5.checks if c["kind"] == "forwarded_by"]
    assert step5.status == "failed" and forwarded[0]["ok"] is False
    assert "router forwarded 0 packet(s): the path does not cross router" in forwarded[0]["message"]


def test_hints_name_the_labs_own_command_or_the_authors_hint(lab):
    """A missing object: the hint is the lab's command that makes it, flags included. A check that
    ran and failed: the lab author's hint."""
    spec = find(2)
    runner.start(lab, spec)
    step3 = runner.check_step(lab, spec, spec.step(3))
    hints = {c["message"]: c["hint"] for c in step3.checks if c["ok"] is False}
    assert hints["there is no network backend"] == "try `cnmlab network create --internal backend`"
    assert hints["there is no container db"] == "try `cnmlab run --name db --network backend`"
    lab.network_create("backend")  # the student forgot --internal
    lab.run("db", network="backend")
    lab.run("u1", network="backend")
    step3 = runner.check_step(lab, spec, spec.step(3))
    failed = {c["kind"]: c for c in step3.checks if c["ok"] is False}
    assert failed["network_is"]["message"] == "backend is not internal"
    assert failed["not_reachable"]["message"].startswith("db → 192.168.100.1 (192.168.100.1) by icmp is reachable")
    assert failed["not_reachable"]["hint"] == "an internal network has no way out: create backend with `--internal`"


def test_start_refuses_a_lab_this_cnmlab_cannot_play(lab, tmp_path, cli):
    path = tmp_path / "09-future.yaml"
    path.write_text("number: 9\nslug: future\ntitle: F\nrequires: [driver:warp]\n"
                    "steps: [{title: s, text: t, checks: [{exists: {network: w}}]}]\n")
    out = cli("lab", "start", "--trust", str(path))
    assert out.returncode == 1
    assert out.stderr.splitlines()[-1].startswith("Error: lab 9 needs what this cnmlab lacks: this cnmlab has no warp driver")
    record = json.loads(cli("lab", "check", "--trust", str(path), "--json").stdout)
    assert record["steps"][0]["status"] == "skipped"


def test_lab_ls_lists_the_labs(cli):
    out = cli("lab", "ls", "--json")
    listed = json.loads(out.stdout)
    assert [lab["number"] for lab in listed if not lab["challenge"]][:7] == [1, 2, 3, 4, 5, 6, 7]
    assert [lab["number"] for lab in listed if lab["challenge"]] == list(range(8, 18))
    text = cli("lab", "ls").stdout
    assert "cnm-building-blocks" in text and "troubleshoot: " in text


def test_lab_hint_escalates_from_symptom_to_tool_to_cause(cli):
    spec = find(8)
    first = cli("lab", "hint", "8")
    assert first.returncode == 0 and spec.steps[0].hints[0][:40] in " ".join(first.stdout.split())
    assert "hint 1/3" in first.stdout and "--level 2" in first.stdout and "hint 2/3" not in first.stdout
    every = " ".join(cli("lab", "hint", "8", "--level", "3").stdout.split())
    assert "hint 3/3" in every and "share no network" in every and "more:" not in every
    shown = " ".join(cli("lab", "show", "8").stdout.split())
    assert "Symptom: `web` cannot reach `db`" in shown or "Symptom: web cannot reach db" in shown


def test_a_lab_file_from_elsewhere_shows_its_commands_and_runs_only_when_trusted(lab, tmp_path, cli):
    path, marker = tmp_path / "08-elsewhere.yaml", tmp_path / "was-run"  # the world sees the test's tmp dir
    path.write_text("number: 8\nslug: elsewhere\ntitle: E\n"
                    "setup: [{call: network_create, args: {name: net-x}}, {call: run, args: {name: cx, network: net-x}},"
                    f" {{call: exec, args: {{ref: cx, argv: [touch, {marker}]}}}}]\n"
                    "steps: [{title: s, text: t, checks: [{exists: {network: net-x}}]}]\n")
    refused = cli("lab", "start", str(path), input="")
    assert refused.returncode == 1
    assert "08-elsewhere.yaml is not one of cnmlab's own labs. It will run, as root in the lab world:" in refused.stderr
    assert f"setup: cnmlab exec cx -- touch {marker}" in refused.stderr
    assert refused.stderr.splitlines()[-1].startswith(f"Error: {path} is not one of cnmlab's own labs")
    assert "net-x" not in [n["Name"] for n in lab.networks()] and not marker.exists()  # nothing ran
    ran = cli("lab", "start", "--trust", str(path))
    assert ran.returncode == 0, ran.stderr
    assert [c["Names"] for c in lab.containers()] == [["/cx"]] and marker.exists()
    own = cli("lab", "start", "1")  # cnmlab's own labs run as before, without a question
    assert own.returncode == 0 and "not one of cnmlab's own labs" not in own.stderr
