"""iptables inside a lab namespace: rules are applied as one iptables-restore batch per change.

A batch costs one process (about 2.6 ms) however many rules it holds, and fails as a whole, so a
half-applied rule set never stays behind.
"""

import subprocess

from . import netns, writer

IPTABLES_RESTORE = "iptables-restore"
IPTABLES = "iptables"


class IptablesError(RuntimeError):
    pass


def run_in(ns: str | None, argv: list[str], input: str | None = None) -> subprocess.CompletedProcess:
    """Run a command inside namespace `ns` (None: the world's own).

    The calling thread enters the namespace and the child inherits it (a fork copies the
    calling thread's namespaces): no nsenter in front, which halves the cost of a rule batch
    (measured: 8.3 -> 2.6 ms per iptables-restore)."""
    writer.settle(ns)  # the embedded DNS's rules, if still being written, come first
    try:
        with netns.entered(ns):
            return subprocess.run(argv, input=input, capture_output=True, text=True)
    except OSError as exc:
        raise IptablesError(f"{argv[0]} in {ns or 'world'} failed: {exc}") from None


def restore(ns: str | None, tables: dict[str, list[str]]) -> None:
    """Apply rules without flushing: tables maps 'filter'/'nat' to lines such as '-I FORWARD 1 ...'."""
    text = []
    for table, lines in tables.items():
        if not lines:
            continue
        text.append(f"*{table}")
        text.extend(lines)
        text.append("COMMIT")
    if not text:
        return
    result = run_in(ns, [IPTABLES_RESTORE, "--noflush", "-w"], input="\n".join(text) + "\n")
    if result.returncode != 0:
        raise IptablesError(f"iptables-restore in {ns or 'world'} failed: {result.stderr.strip()}")


def save(ns: str | None, table: str = "filter") -> list[str]:
    """The rules of one table as `iptables -S` prints them."""
    result = run_in(ns, [IPTABLES, "-w", "-t", table, "-S"])
    if result.returncode != 0:
        raise IptablesError(f"iptables -S in {ns or 'world'} failed: {result.stderr.strip()}")
    return result.stdout.splitlines()


def counters(ns: str | None, table: str = "filter") -> str:
    """`iptables -L -v -n -x --line-numbers` output, for comparing per-rule counters."""
    result = run_in(ns, [IPTABLES, "-w", "-t", table, "-L", "-v", "-n", "-x", "--line-numbers"])
    if result.returncode != 0:
        raise IptablesError(result.stderr.strip())
    return result.stdout


def save_with_counters(ns: str | None, table: str = "filter") -> str:
    """`iptables-save -c -t TABLE`: every rule with its [packets:bytes], for before/after comparisons."""
    result = run_in(ns, ["iptables-save", "-c", "-t", table])
    if result.returncode != 0:
        raise IptablesError(f"iptables-save in {ns or 'world'} failed: {result.stderr.strip()}")
    return result.stdout
