"""The embedded DNS nat rules written over nf_tables netlink (osl/nftables.py) are iptables-nft's own.

Each side runs in a throwaway network namespace (`unshare -n`): one written by cnmlab in-process,
one by `iptables-restore` from Docker's text. iptables must print Docker's lines, and the kernel
must hold the same expressions, rule for rule and handle for handle.
"""

import subprocess
import sys
from pathlib import Path

import pytest

from cnmlab.dns import sandbox as dns_sandbox
from cnmlab.osl import nftables

pytestmark = pytest.mark.kernel

# ../shared/DOCKER-REFERENCE.md, "In the container netns": what Docker 20.10 writes.
REFERENCE = """\
-A OUTPUT -d 127.0.0.11/32 -j DOCKER_OUTPUT
-A POSTROUTING -d 127.0.0.11/32 -j DOCKER_POSTROUTING
-A DOCKER_OUTPUT -d 127.0.0.11/32 -p tcp -m tcp --dport 53 -j DNAT --to-destination 127.0.0.11:46871
-A DOCKER_OUTPUT -d 127.0.0.11/32 -p udp -m udp --dport 53 -j DNAT --to-destination 127.0.0.11:52098
-A DOCKER_POSTROUTING -s 127.0.0.11/32 -p tcp -m tcp --sport 46871 -j SNAT --to-source :53
-A DOCKER_POSTROUTING -s 127.0.0.11/32 -p udp -m udp --sport 52098 -j SNAT --to-source :53
"""
UDP, TCP = 52098, 46871
SHOW = "iptables -t nat -S; echo ---; iptables-save -t nat | grep -v '^#'; echo ---; nft --debug=netlink list table ip nat"
WRITE = f"from cnmlab.osl import nftables; nftables.send_batch(nftables.dns_messages('127.0.0.11', {UDP}, {TCP}))"


def in_scratch_netns(script: str, stdin: str | None = None) -> list[str]:
    result = subprocess.run(["unshare", "--net", "sh", "-ec", script], input=stdin, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout.split("---\n")


@pytest.fixture(scope="module")
def both():
    if not nftables.iptables_is_nft():
        pytest.skip("iptables here is not iptables-nft: the engine runs iptables-restore instead")
    ours = in_scratch_netns(f"{sys.executable} -c \"{WRITE}\"; {SHOW}")
    text = "\n".join(["*nat", *dns_sandbox.nat_rules(UDP, TCP)["nat"], "COMMIT", ""])
    theirs = in_scratch_netns(f"iptables-restore < /dev/stdin; {SHOW}", stdin=text)
    return ours, theirs


def test_iptables_prints_dockers_lines(both):
    ours, _ = both
    rules = [line for line in ours[0].splitlines() if line.startswith("-A")]
    assert "\n".join(rules) + "\n" == REFERENCE
    reference = Path(__file__).resolve().parents[2] / "shared" / "DOCKER-REFERENCE.md"
    if reference.exists():  # the copy above is the reference's own text
        assert REFERENCE in reference.read_text()


def test_the_kernel_holds_what_iptables_restore_writes(both):
    ours, theirs = both
    assert ours[1] == theirs[1], "iptables-save"
    assert ours[2] == theirs[2], "nf_tables expressions, chains and handles"


def test_iptables_nft_extends_and_deletes_in_our_table():
    if not nftables.iptables_is_nft():
        pytest.skip("not iptables-nft")
    out = in_scratch_netns(f"{sys.executable} -c \"{WRITE}\"; "
                           "iptables -t nat -N SVC; iptables -t nat -A OUTPUT -d 10.0.9.9/32 -j SVC; "
                           "iptables -t nat -D OUTPUT -d 127.0.0.11/32 -j DOCKER_OUTPUT; iptables -t nat -S OUTPUT")
    assert out[0].splitlines() == ["-P OUTPUT ACCEPT", "-A OUTPUT -d 10.0.9.9/32 -j SVC"]


@pytest.mark.parametrize("where", ["last", "middle"])  # only the last message asks for an ack
def test_a_refused_batch_leaves_nothing(where):
    at = "len(m)" if where == "last" else "3"
    script = (f"{sys.executable} -c \"import sys; from cnmlab.osl import nftables as n; "
              f"m = n.dns_messages('127.0.0.11', {UDP}, {TCP}); m.insert({at}, n._rule('nat', 'NO_SUCH_CHAIN', []))\n"
              "try: n.send_batch(m)\nexcept OSError as e: print(e.errno)\"; echo ---; nft list ruleset")
    out = in_scratch_netns(script)
    assert out[0].strip() == "2", "ENOENT: no such chain"
    assert out[1].strip() == "", "the whole transaction was aborted"
