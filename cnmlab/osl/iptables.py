"""iptables inside a lab namespace: rules are applied as one iptables-restore batch per change.

A batch costs one process (about 4 ms) however many rules it holds, and fails as a whole, so a
half-applied rule set never stays behind.
"""

import subprocess

from . import netns

IPTABLES_RESTORE = "iptables-restore"
IPTABLES = "iptables"


class IptablesError(RuntimeError):
    pass


def _prefix(ns: str | None) -> list[str]:
    return ["nsenter", f"--net={netns.path(ns)}"] if ns else []


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
    result = subprocess.run(
        _prefix(ns) + [IPTABLES_RESTORE, "--noflush", "-w"],
        input="\n".join(text) + "\n",
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise IptablesError(f"iptables-restore in {ns or 'world'} failed: {result.stderr.strip()}")


def save(ns: str | None, table: str = "filter") -> list[str]:
    """The rules of one table as `iptables -S` prints them."""
    result = subprocess.run(_prefix(ns) + [IPTABLES, "-w", "-t", table, "-S"], capture_output=True, text=True)
    if result.returncode != 0:
        raise IptablesError(f"iptables -S in {ns or 'world'} failed: {result.stderr.strip()}")
    return result.stdout.splitlines()


def counters(ns: str | None, table: str = "filter") -> str:
    """`iptables -L -v -n -x --line-numbers` output, for comparing per-rule counters."""
    result = subprocess.run(
        _prefix(ns) + [IPTABLES, "-w", "-t", table, "-L", "-v", "-n", "-x", "--line-numbers"],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise IptablesError(result.stderr.strip())
    return result.stdout


def save_with_counters(ns: str | None, table: str = "filter") -> str:
    """`iptables-save -c -t TABLE`: every rule with its [packets:bytes], for before/after comparisons."""
    result = subprocess.run(_prefix(ns) + ["iptables-save", "-c", "-t", table], capture_output=True, text=True)
    if result.returncode != 0:
        raise IptablesError(f"iptables-save in {ns or 'world'} failed: {result.stderr.strip()}")
    return result.stdout
