"""A snapshot of the machine's root network namespace, to prove cnmlab never changes it."""

import re
import subprocess


def _run(argv: list[str]) -> str:
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=30).stdout
    except FileNotFoundError:
        return f"({argv[0]} not installed)"


def snapshot() -> dict[str, str]:
    links = _run(["ip", "-o", "link", "show"])
    links = "\n".join(re.sub(r"^\d+: ", "", line).split(" link/")[0] for line in links.splitlines())
    iptables = "\n".join(
        re.sub(r"\[\d+:\d+\]", "", line)
        for line in _run(["iptables-save"]).splitlines()
        if not line.startswith("#")
    )
    return {
        "links": links,
        "addresses": _run(["ip", "-o", "addr", "show"]),
        "routes": _run(["ip", "route", "show", "table", "all"]),
        "iptables": iptables,
        "nft": _run(["nft", "list", "ruleset"]),
        "netns": _run(["ip", "netns", "list"]),
    }


def differences(before: dict[str, str], after: dict[str, str]) -> list[str]:
    out = []
    for key in before:
        if before[key] != after.get(key):
            out.append(f"{key} changed:\n--- before\n{before[key]}\n--- after\n{after.get(key)}")
    return out
