"""The rough edges a newcomer hit in the first hour with the CLI: `-d ?` without a name, whole
table rows in a pipe, `engine status` that starts nothing, exec's exit codes, prune's question."""

import re

import pytest

from cnmlab.client import Client

pytestmark = pytest.mark.kernel

LONG = "a-network-whose-name-makes-its-row-longer-than-eighty-columns"


@pytest.fixture(scope="module")
def small_lab(engine):
    engine.reset()
    engine.network_create(LONG, subnet="10.77.9.0/24")
    engine.network_create("net-b")
    engine.run("aa", network=LONG)
    engine.run("bb", network="net-b")
    return engine


def test_dash_d_question_mark_lists_drivers_without_a_name(cli):
    listed = cli("network", "create", "-d", "?")
    assert listed.returncode == 0 and {"bridge", "overlay", "macvlan", "null"} <= set(listed.stdout.split())
    unnamed = cli("network", "create")
    assert unnamed.returncode == 1
    assert unnamed.stderr.startswith('Error: "cnmlab network create" requires exactly 1 argument'), unnamed.stderr


def test_tables_print_whole_rows_into_a_pipe(small_lab, cli):
    rows = cli("network", "ls").stdout.splitlines()  # stdout is a pipe here
    (row,) = [r for r in rows if LONG in r]
    assert row.split()[1:] == [LONG, "bridge", "local", "host1", "10.77.9.0/24"]
    assert len(row) > 80
    ps = cli("ps").stdout.splitlines()
    assert any(line.split()[1] == "aa" and f"host1 {LONG} 10.77.9.2" in " ".join(line.split()) for line in ps), ps


def test_exec_exit_codes_follow_docker(small_lab, cli):
    missing = cli("exec", "aa", "--", "no-such-command", "x")
    assert missing.returncode == 127
    assert missing.stderr.strip() == 'Error: exec: "no-such-command": executable file not found in $PATH'
    not_executable = cli("exec", "aa", "--", "/etc/passwd")
    assert not_executable.returncode == 126
    assert not_executable.stderr.strip() == 'Error: exec: "/etc/passwd": permission denied'
    assert cli("exec", "aa", "--", "sh", "-c", "exit 3").returncode == 3, "a command's own code passes through"


def test_network_prune_asks_first(small_lab, cli):
    small_lab.network_create("spare")
    warning = ("WARNING! This will remove all custom networks not used by at least one container.\n"
               "Are you sure you want to continue? [y/N] ")
    declined = cli("network", "prune", input="n\n")
    assert declined.returncode == 0 and declined.stdout == warning
    no_input = cli("network", "prune", input="")
    assert no_input.returncode == 0 and no_input.stdout.startswith(warning)
    assert "spare" in {n["Name"] for n in small_lab.networks()}
    accepted = cli("network", "prune", input="y\n")
    assert accepted.stdout == warning + "Deleted Networks:\nspare\n"
    assert "spare" not in {n["Name"] for n in small_lab.networks()}


def test_engine_status_after_stop_starts_nothing(small_lab, cli):
    assert cli("engine", "stop").returncode == 0
    status = cli("engine", "status")
    assert status.returncode == 1 and "engine not running" in status.stdout
    assert cli("engine", "status", "--json").stdout.count('"running": false') == 1
    assert not Client(autostart=False).running(), "a status query must not start an engine"
    small_lab.status()  # the next command starts one again
    running = cli("engine", "status")
    assert running.returncode == 0 and re.search(r"^\d+ ", running.stdout.splitlines()[1])
