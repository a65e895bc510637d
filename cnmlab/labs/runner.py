"""Playing a lab: start it, apply a step's "show me" solution, check steps and grade the lab.

A grading record is plain JSON (`cnmlab lab check N --json`), one entry per step, so a teacher
can collect and compare them:

    {"lab": 1, "name": "01-cnm-building-blocks", "title": ..., "graded_at": ..., "user": ...,
     "passed": 4, "failed": 1, "skipped": 0, "total": 5,
     "steps": [{"step": 1, "title": ..., "status": "passed" | "failed" | "skipped",
                "reason": ..., "checks": [{"kind", "args", "ok", "message", "hint"}]}]}
"""

from __future__ import annotations

import getpass
import shlex
import time
from dataclasses import dataclass, field

from ..client import Client
from ..errors import CnmError, Conflict, KernelUnsupported
from . import checks
from .live import Live, Missing
from .spec import Call, LabSpec, LabSpecError, Step

# Solution calls that may meet their work already done (the student did it by hand).
CREATES = {"network_create", "run", "connect", "host_add", "service_create", "plugin_run"}
# How fixed placeholders read in a command shown to a student (see Live.fill).
SHOWN = {"{python}": "python3", "{repo}/": ""}


@dataclass
class StepRecord:
    step: int
    title: str
    status: str  # passed | failed | skipped
    reason: str = ""
    checks: list[dict] = field(default_factory=list)

    def to_json(self) -> dict:
        return {"step": self.step, "title": self.title, "status": self.status, "reason": self.reason,
                "checks": self.checks}


def lab_missing(client: Client, lab: LabSpec, live: Live | None = None) -> list[str]:
    live = live or Live(client)
    return [why for f in lab.requires if (why := live.missing(f))]


class Untrusted(LabSpecError):
    """A lab file from outside cnmlab's own labs that the user has not agreed to run."""


def require_trust(lab: LabSpec) -> None:
    if not lab.trusted:
        raise Untrusted(f"{lab.path or 'this lab'} is not one of cnmlab's own labs: its setup, solutions and checks "
                        "run commands as root in the lab world; read them and pass --trust to run it")


def commands(lab: LabSpec) -> list[str]:
    """What a lab will run, as the commands a student would type: its setup, every step's
    solution, and the commands its checks run."""
    lines = [f"setup: {cli_line(call)}" for call in lab.setup]
    for step in lab.steps:
        lines += [f"step {step.number} solution: {cli_line(call)}" for call in step.solution]
        lines += [f"step {step.number} check: cnmlab exec {c.args.get('target')} -- "
                  + " ".join(shlex.quote(str(a)) for a in c.args.get("argv", []))
                  for c in step.checks if c.kind == "command_succeeds"]
    return lines


def start(client: Client, lab: LabSpec) -> list[str]:
    """Reset the lab world and make the lab's starting point; refuse a lab this cnmlab cannot play."""
    require_trust(lab)
    missing = lab_missing(client, lab)
    if missing:
        raise LabSpecError(f"lab {lab.number} needs what this cnmlab lacks: {'; '.join(missing)}")
    client.reset()
    return [apply_call(client, Live(client), call) for call in lab.setup]


def solve(client: Client, lab: LabSpec, step: Step) -> list[str]:
    """Apply the step's solution; lines say what each call did. A kernel_optional step whose
    feature the kernel lacks raises KernelUnsupported (and nothing is left half made)."""
    require_trust(lab)
    live = Live(client)
    missing = [why for f in lab.requires + step.requires if (why := live.missing(f))]
    if missing:
        raise LabSpecError(f"step {step.number} needs what this cnmlab lacks: {'; '.join(missing)}")
    return [apply_call(client, live, call) for call in step.solution]


def apply_call(client: Client, live: Live, call: Call) -> str:
    line = cli_line(call)
    try:
        args = live.fill(call.args)
    except Missing as exc:
        raise LabSpecError(f"`{line}`: {exc.message}") from None
    try:
        result = getattr(client, call.call)(**args)
    except Conflict as exc:
        if call.call in CREATES:
            return f"{cli_line(Call(call.call, args))}  # already done: {exc.message}"
        raise
    if call.call == "exec" and result.returncode != 0:
        raise LabSpecError(f"`{cli_line(Call(call.call, args))}` failed: {(result.stderr or result.stdout).strip()}")
    return cli_line(Call(call.call, args))


def check(client: Client, lab: LabSpec, numbers: list[int] | None = None) -> dict:
    """The grading record of the live lab, for every step (or the ones named)."""
    require_trust(lab)
    live = Live(client)
    lab_why = lab_missing(client, lab, live)
    records = []
    for step in lab.steps:
        if numbers and step.number not in numbers:
            continue
        records.append(check_step(client, lab, step, live, lab_why))
    _forgive_superseded(records)
    counts = {s: sum(r.status == s for r in records) for s in ("passed", "failed", "skipped")}
    return {"lab": lab.number, "name": lab.name, "title": lab.title,
            "graded_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "user": _user(),
            **counts, "total": len(records), "steps": [r.to_json() for r in records]}


def cause(client: Client, lab: LabSpec) -> list[dict]:
    """A challenge's cause checks on the live (broken) lab: each holds when the kernel shows the
    cause its last hint states."""
    require_trust(lab)
    live = Live(client)
    out = []
    for spec in lab.cause:
        res = _evaluate(live, spec)
        out.append({**spec.to_json(), **res.to_json()})
    return out


def check_step(client: Client, lab: LabSpec, step: Step, live: Live | None = None,
               lab_why: list[str] | None = None) -> StepRecord:
    require_trust(lab)
    live = live or Live(client)
    live.refresh()
    why = (lab_why if lab_why is not None else lab_missing(client, lab, live)) + \
        [w for f in step.requires if (w := live.missing(f))]
    if why:
        return StepRecord(step.number, step.title, "skipped", "; ".join(why))
    results = []
    for spec in step.checks:
        need = [w for f in spec.requires if (w := live.missing(f))]
        res = checks.CheckResult(None, "; ".join(need)) if need else _evaluate(live, spec)
        if res.ok is False:
            res = checks.CheckResult(False, res.message, _hint(lab, spec, res))
        results.append({**spec.to_json(), **res.to_json(), "before_next": spec.before_next})
    record = StepRecord(step.number, step.title, _status(results), checks=results)
    if record.status == "failed" and step.kernel_optional:
        lacking = kernel_lacks(client, step)
        if lacking:
            record.status, record.reason = "skipped", f"{lacking}. {' '.join(step.skipped_text.split())}"
            for c in record.checks:  # not the student's fault: nothing to grade here
                c["ok"], c["hint"] = None, ""
    if record.status == "skipped" and not record.reason:
        record.reason = "; ".join(sorted({r["message"] for r in results if r["ok"] is None}))
    return record


def _evaluate(live: Live, spec) -> checks.CheckResult:
    """A check with its placeholders ({ip:web@app} ...) filled from the live lab."""
    try:
        args = live.fill(spec.args)
    except Missing as exc:
        return checks.CheckResult(False, exc.message, exc.hint, exc.missing)
    return checks.evaluate(live, spec.kind, args)


def distinct(results: list[dict]) -> list[dict]:
    """Check results to show a person: several checks meeting one missing object say it once."""
    seen, out = set(), []
    for c in results:
        if (c["ok"], c["message"]) not in seen:
            seen.add((c["ok"], c["message"]))
            out.append(c)
    return out


def _hint(lab: LabSpec, spec, res: checks.CheckResult) -> str:
    """A missing object: the lab's own command that makes it (with the right flags); a check that
    ran and failed: the lab author's hint when there is one, else the check's."""
    if res.missing:
        maker = creator(lab, *res.missing)
        return f"try `{maker}`" if maker else res.hint
    return spec.hint or res.hint


def creator(lab: LabSpec, kind: str, name: str) -> str | None:
    """The command in the lab's setup or solutions that creates the container/network/host."""
    call_of = {"container": "run", "network": "network_create", "host": "host_add"}[kind]
    for call in lab.setup + tuple(c for s in lab.steps for c in s.solution):
        if call.call == call_of and call.args.get("name") == name:
            return cli_line(call)
    return None


def _status(results: list[dict]) -> str:
    if any(r["ok"] is False for r in results):
        return "failed"
    if results and all(r["ok"] is None for r in results):
        return "skipped"
    return "passed"


def _forgive_superseded(records: list[StepRecord]) -> None:
    """A `before_next` check describes the lab before a later step changed it (no route, then a
    router): once that later step passes, its failure no longer counts."""
    by_number = {r.step: r for r in records}
    for record in records:
        later = by_number.get(record.step + 1)
        if later is None or later.status != "passed":
            continue
        for c in record.checks:
            if c["before_next"] and c["ok"] is False:
                c["ok"], c["message"] = True, f"superseded by step {later.step}: {c['message']}"
                c["hint"] = ""
        record.status = _status(record.checks) if record.checks else record.status


def kernel_lacks(client: Client, step: Step) -> str | None:
    """Whether the kernel lacks the step's optional feature: try its first network_create under a
    scratch name (removed again at once); the engine refuses before making anything."""
    for call in step.solution:
        if call.call != "network_create":
            continue
        args = {k: v for k, v in call.args.items() if k not in ("subnet", "gateway", "ip_range", "aux_addresses")}
        args["name"] = "lab-kernel-probe"
        try:
            client.network_create(**args)
        except KernelUnsupported as exc:
            return exc.message
        except CnmError:
            return None
        client.network_rm("lab-kernel-probe")
        return None
    return None


def cli_line(call: Call) -> str:
    """The `cnmlab` command a student would type for a solution call."""
    a = {k: _shown(v) for k, v in call.args.items()}
    q = shlex.quote

    def flags(*pairs) -> str:
        out = []
        for flag, value in pairs:
            if value in (None, False, [], {}):
                continue
            if value is True:
                out.append(flag)
            elif isinstance(value, list):
                out += [f"{flag} {q(str(v))}" for v in value]
            elif isinstance(value, dict):
                out += [f"{flag} {q(f'{k}={v}')}" for k, v in value.items()]
            else:
                out.append(f"{flag} {q(str(value))}")
        return "".join(" " + o for o in out)

    name = call.call
    if name == "network_create":
        driver = a.get("driver", "bridge")
        return "cnmlab network create" + flags(("-d", None if driver == "bridge" else driver), ("--subnet", a.get("subnet")),
                                               ("--gateway", a.get("gateway")), ("--ip-range", a.get("ip_range")),
                                               ("--internal", a.get("internal")), ("--attachable", a.get("attachable")),
                                               ("-o", a.get("options")), ("--host", a.get("host"))) + f" {a['name']}"
    if name == "run":
        return "cnmlab run" + flags(("--name", a["name"]), ("--network", a.get("network")), ("--ip", a.get("ip")),
                                    ("--alias", a.get("aliases")), ("-p", a.get("ports")), ("--host", a.get("host")))
    if name == "connect":
        return "cnmlab network connect" + flags(("--ip", a.get("ip")), ("--alias", a.get("aliases"))) + \
            f" {a['network']} {a['container']}"
    if name == "disconnect":
        return f"cnmlab network disconnect {a['network']} {a['container']}"
    if name == "exec":
        return f"cnmlab exec {a['ref']} -- " + " ".join(q(str(x)) for x in a["argv"])
    if name == "host_add":
        return "cnmlab host add" + flags(("--address", a.get("address")), ("--plain", a.get("plain"))) + f" {a['name']}"
    if name == "service_create":
        return "cnmlab service create" + flags(("--name", a["name"]), ("--network", a["network"]),
                                               ("--replicas", a.get("replicas")), ("-p", a.get("ports")),
                                               ("--endpoint-mode", a.get("endpoint_mode")))
    if name == "plugin_run":
        return "cnmlab plugin run" + flags(("--host", a.get("host"))) + " -- " + " ".join(q(str(x)) for x in a["argv"])
    if name == "service_scale":
        return f"cnmlab service scale {a['ref']}={a['replicas']}"
    simple = {"network_rm": "cnmlab network rm", "rm": "cnmlab rm -f", "host_rm": "cnmlab host rm",
              "service_rm": "cnmlab service rm", "plugin_stop": "cnmlab plugin rm -f"}
    return f"{simple[name]} {next(iter(a.values()))}"


def _shown(value):
    if isinstance(value, str):
        for key, text in SHOWN.items():
            value = value.replace(key, text)
        return value
    if isinstance(value, list):
        return [_shown(v) for v in value]
    return value


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
