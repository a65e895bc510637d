"""Markdown tables from a results file, for docs/benchmarks.md:
`python -m benchmarks.report [benchmarks/results/latest.json]`."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from .run import DEFAULT_JSON

LABELS = {"floor": "direct netlink (floor)", "ip": "one `ip` command per step", "engine": "engine, one request each",
          "batch": "engine, one request (`POST /lab/apply`)"}


def markdown(results: dict) -> str:
    m, load = results["machine"], results.get("loadavg", {})
    out = [f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gb']} GB RAM, Linux {m['kernel']}, "
           f"Python {m['python']}, pyroute2 {m['pyroute2']}, {m['ip']}.",
           f"Command: `{results['command']}`, started {results['started']}"
           + (f"; load average {load['start'][0]:.1f} at the start, {load['end'][0]:.1f} at the end." if load else "."),
           ""]
    if results.get("build"):
        out += ["| N | way | runs | total ms | ms / container | × floor | ip-per-step ÷ this | teardown ms / ctr "
                "| freed ms / ctr |", "|---:|---|---:|---:|---:|---:|---:|---:|---:|"]
        for row in results["build"]:
            floor, ip = row["floor"]["per_container_ms"], row["ip"]["per_container_ms"]
            for way in ("floor", "ip", "engine", "batch"):
                s = row[way]
                per = s["per_container_ms"]
                out.append(f"| {row['n']} | {LABELS[way]} | {s['runs']} | {s['build_ms']:.0f} | {per:.2f} | "
                           f"{per / floor:.2f} | {ip / per:.1f} | {s['teardown_per_container_ms']:.3f} | "
                           f"{s['settled_per_container_ms']:.3f} |")
        out.append("")
        out += ["Scale curve (ms per container at each N, and the engine's RSS with the lab built):", "",
                "| N | floor | engine, one request each | engine batch | engine RSS MB |", "|---:|---:|---:|---:|---:|"]
        for row in results["build"]:
            rss = row.get("engine_rss_mb")
            out.append(f"| {row['n']} | {row['floor']['per_container_ms']:.2f} | {row['engine']['per_container_ms']:.2f} | "
                       f"{row['batch']['per_container_ms']:.2f} | {'-' if rss is None else f'{rss:.1f}'} |")
        out.append("")
    rows = []
    for section in ("api", "cli", "probe", "dns", "tui", "rss"):
        for key, value in (results.get(section) or {}).items():
            if not isinstance(value, list):
                rows.append(f"| {section} | {key} | {value:.3f} |" if isinstance(value, float)
                            else f"| {section} | {key} | {value} |")
    if rows:
        out += ["| section | measure | median |", "|---|---|---:|", *rows, ""]
    out += ["| target | wanted | measured | met |", "|---|---|---:|---|"]
    from .run import targets

    for t in targets(results) if results.get("build") else results.get("targets", []):
        met = {True: "yes", False: "**no**", None: "not measured"}[t["met"]]
        out.append(f"| {t['measure']} | {t['target']} | {'-' if t['value'] is None else t['value']} | {met} |")
    for section, text in (results.get("errors") or {}).items():
        out.append(f"Section {section} failed: {text.strip().splitlines()[-1]}")
    return "\n".join(out) + "\n"


def main(argv: list[str]) -> int:
    path = Path(argv[0]) if argv else DEFAULT_JSON
    print(markdown(json.loads(path.read_text())), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
