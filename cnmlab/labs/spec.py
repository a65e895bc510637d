"""A guided lab as plain data: loaded from YAML and validated without root or an engine.

One file per lab (`labs/NN-slug.yaml`). A lab has ordered steps; each step has Markdown text, a
"show me" solution (a list of client calls as data) and declarative checks. The same definition
is played by the CLI (`cnmlab lab`), the TUI's lab pane and the generated notebooks.

    steps:
      - title: Two networks
        text: |
          Markdown the student reads.
        solution:
          - {call: network_create, args: {name: net-a}}
          - {call: exec, args: {ref: r1, argv: [sysctl, -w, net.ipv4.ip_forward=1]}}
        checks:
          - {on_network: {container: bb, network: net-a}}
          - {not_reachable: {src: aa, dst: cc}, before_next: true, hint: "..."}

A troubleshooting lab (`challenge: true`) starts broken: its `setup` builds the broken lab, its
`symptom` is what the learner is told ("web can't reach db"), and each step carries `hints` that
escalate from the symptom, to the tool that shows it, to the cause. The checks grade the fixed
lab, never the command typed; the step's solution is one fix that passes them. Its `cause` is a
list of checks that hold on the broken lab: the cause the last hint states, as the kernel shows
it (the probe's outcome and the rule, policy or lookup named), so a hint cannot teach a wrong one.
"""

from __future__ import annotations

import dataclasses
import inspect
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from ..errors import InvalidParameter

# The client calls a solution may make (Client method names), and the CLI line each teaches.
CALLS = ("host_add", "host_rm", "network_create", "network_rm", "connect", "disconnect", "run", "rm",
         "exec", "service_create", "service_scale", "service_rm", "plugin_run", "plugin_stop")
# What a lab, step or check may require (`requires:`); each is detected on the live engine
# (labs/requirements.py).
REQUIREMENT_RE = re.compile(r"^(probe|trace|services|plugins|driver:[\w.-]+)$")
CHECK_KEYS = {"hint", "before_next", "requires"}


class LabSpecError(InvalidParameter):
    """A lab definition that does not validate, or a lab that cannot be found."""


@dataclass(frozen=True)
class Call:
    call: str
    args: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return {"call": self.call, "args": dict(self.args)}


@dataclass(frozen=True)
class CheckSpec:
    kind: str
    args: dict
    hint: str | None = None  # replaces the check's own hint
    before_next: bool = False  # true of the lab only until the next step changes it
    requires: tuple[str, ...] = ()

    def to_json(self) -> dict:
        return {"kind": self.kind, "args": dict(self.args)}

    def describe(self) -> str:
        args = ", ".join(f"{k}={v}" for k, v in self.args.items())
        return f"{self.kind}({args})"


@dataclass(frozen=True)
class Step:
    number: int
    title: str
    text: str
    solution: tuple[Call, ...] = ()
    checks: tuple[CheckSpec, ...] = ()
    requires: tuple[str, ...] = ()
    # A kernel feature the step may lack (e.g. "vlan"); when the engine answers "the kernel lacks
    # ...", the step is skipped and `skipped_text` explains what would have happened.
    kernel_optional: str | None = None
    skipped_text: str = ""
    hints: tuple[str, ...] = ()  # escalating: the symptom, the tool, the cause


@dataclass(frozen=True)
class LabSpec:
    number: int
    slug: str
    title: str
    intro: str
    steps: tuple[Step, ...]
    setup: tuple[Call, ...] = ()
    requires: tuple[str, ...] = ()
    path: Path | None = None
    # A lab's setup and solutions run as root in the lab world: like a notebook, a lab file is
    # code. cnmlab's own labs (and those in $CNMLAB_LABS_DIR, a directory the user chose) are
    # trusted; any other file only once the user says so (`--trust`, or yes at the prompt).
    trusted: bool = True  # load() decides for a file
    challenge: bool = False  # a troubleshooting lab: setup builds it broken
    symptom: str = ""  # what the learner of a challenge is told is wrong
    cause: tuple[CheckSpec, ...] = ()  # a challenge's cause, checked on the broken lab

    @property
    def name(self) -> str:
        return f"{self.number:02d}-{self.slug}"

    def step(self, number: int) -> Step:
        if not 1 <= number <= len(self.steps):
            raise LabSpecError(f"lab {self.number} has steps 1..{len(self.steps)}, not {number}")
        return self.steps[number - 1]


def labs_dir() -> Path:
    """Where the lab files live: $CNMLAB_LABS_DIR, else the repository's `labs/`."""
    env = os.environ.get("CNMLAB_LABS_DIR")
    return Path(env) if env else Path(__file__).resolve().parent.parent.parent / "labs"


def trusted_dirs() -> list[Path]:
    """The directories whose lab files run without asking: cnmlab's own and $CNMLAB_LABS_DIR."""
    own = Path(__file__).resolve().parent.parent.parent / "labs"
    return [own.resolve(), labs_dir().resolve()]


def is_trusted(path: Path) -> bool:
    return path.resolve().parent in trusted_dirs()


def load_all(directory: Path | None = None) -> list[LabSpec]:
    directory = directory or labs_dir()
    labs = [load(p) for p in sorted(directory.glob("[0-9][0-9]-*.yaml"))]
    numbers = [lab.number for lab in labs]
    if len(set(numbers)) != len(numbers):
        raise LabSpecError(f"two labs in {directory} share a number: {numbers}")
    return labs


def find(ref: str | int, directory: Path | None = None) -> LabSpec:
    """A lab by number ("1", "01"), name ("01-cnm-building-blocks"), slug, or a path to a file."""
    text = str(ref)
    if text.endswith((".yaml", ".yml")) and Path(text).exists():
        return load(Path(text))
    labs = load_all(directory)
    for lab in labs:
        if text.isdigit() and int(text) == lab.number or text in (lab.name, lab.slug):
            return lab
    known = ", ".join(f"{lab.number} ({lab.slug})" for lab in labs)
    raise LabSpecError(f"no lab {text}: the labs are {known}")


def load(path: Path) -> LabSpec:
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise LabSpecError(f"{path.name}: cannot read the lab: {' '.join(str(exc).split())}") from None
    return dataclasses.replace(parse(data, source=path.name, path=path), trusted=is_trusted(path))


def parse(data, source: str = "lab", path: Path | None = None) -> LabSpec:
    where = source
    d = _mapping(data, where, required={"number", "slug", "title", "steps"},
                 optional={"intro", "setup", "requires", "challenge", "symptom", "cause"})
    number, slug = d["number"], d["slug"]
    if not isinstance(number, int) or number < 0:
        raise LabSpecError(f"{where}: number must be a non-negative integer")
    if not isinstance(slug, str) or not re.fullmatch(r"[a-z0-9][a-z0-9-]*", slug):
        raise LabSpecError(f"{where}: slug must be lower-case words joined by '-'")
    if not isinstance(d["steps"], list) or not d["steps"]:
        raise LabSpecError(f"{where}: a lab needs at least one step")
    steps = tuple(_step(s, i + 1, f"{where} step {i + 1}") for i, s in enumerate(d["steps"]))
    challenge = d.get("challenge", False)
    if not isinstance(challenge, bool):
        raise LabSpecError(f"{where}: challenge must be true or false")
    lab = LabSpec(number=number, slug=slug, title=_text(d["title"], f"{where}: title"),
              intro=_text(d.get("intro", ""), f"{where}: intro"), steps=steps,
              setup=_calls(d.get("setup", []), f"{where} setup"),
              requires=_requirements(d.get("requires", []), where), path=path, challenge=challenge,
              symptom=_text(d.get("symptom", ""), f"{where}: symptom"), cause=_causes(d.get("cause", []), where))
    if challenge:
        _check_challenge(lab, where)
    return lab


def _check_challenge(lab: LabSpec, where: str) -> None:
    """A troubleshooting lab starts broken, says what is wrong, and grades the fix step by step."""
    if not lab.symptom:
        raise LabSpecError(f"{where}: a challenge lab needs a symptom (what the learner is told is wrong)")
    if not lab.setup:
        raise LabSpecError(f"{where}: a challenge lab needs a setup that builds the broken lab")
    for step in lab.steps:
        if len(step.hints) < 3:
            raise LabSpecError(f"{where} step {step.number}: a challenge step needs at least 3 hints "
                           "(the symptom, the tool, the cause)")
        if not step.checks or not step.solution:
            raise LabSpecError(f"{where} step {step.number}: a challenge step needs checks and a solution (the fix)")
    if not lab.cause:
        raise LabSpecError(f"{where}: a challenge lab needs a cause: checks that hold on the broken lab, "
                           "naming what its last hint says is wrong")


def _step(data, number: int, where: str) -> Step:
    d = _mapping(data, where, required={"title", "text"},
                 optional={"solution", "checks", "requires", "kernel_optional", "skipped_text", "hints"})
    checks = d.get("checks", [])
    if not isinstance(checks, list):
        raise LabSpecError(f"{where}: checks must be a list")
    kernel_optional = d.get("kernel_optional")
    if kernel_optional is not None and not d.get("skipped_text"):
        raise LabSpecError(f"{where}: a kernel_optional step needs skipped_text explaining what would happen")
    return Step(number=number, title=_text(d["title"], f"{where}: title"), text=_text(d["text"], f"{where}: text"),
                solution=_calls(d.get("solution", []), f"{where} solution"),
                checks=tuple(_check(c, f"{where} check {i + 1}") for i, c in enumerate(checks)),
                requires=_requirements(d.get("requires", []), where), kernel_optional=kernel_optional,
                skipped_text=_text(d.get("skipped_text", ""), f"{where}: skipped_text"),
                hints=_hints(d.get("hints", []), where))


def _causes(data, where: str) -> tuple[CheckSpec, ...]:
    if not isinstance(data, list):
        raise LabSpecError(f"{where}: cause must be a list of checks")
    return tuple(_check(c, f"{where} cause {i + 1}") for i, c in enumerate(data))


def _hints(data, where: str) -> tuple[str, ...]:
    if not isinstance(data, list) or not all(isinstance(h, str) and h.strip() for h in data):
        raise LabSpecError(f"{where}: hints must be a list of texts")
    return tuple(h.strip() for h in data)


def _calls(data, where: str) -> tuple[Call, ...]:
    if not isinstance(data, list):
        raise LabSpecError(f"{where}: must be a list of calls")
    from ..client import Client

    out = []
    for i, item in enumerate(data):
        here = f"{where} call {i + 1}"
        d = _mapping(item, here, required={"call"}, optional={"args"})
        name, args = d["call"], d.get("args") or {}
        if name not in CALLS:
            raise LabSpecError(f"{here}: unknown call {name!r}; a solution may call {', '.join(CALLS)}")
        if not isinstance(args, dict):
            raise LabSpecError(f"{here}: args must be a mapping")
        method = getattr(Client, name, None)  # None: a part of cnmlab not here yet (the step requires it)
        if method is not None:
            _bind(method, args, f"{here} ({name})", skip_self=True)
        out.append(Call(name, dict(args)))
    return tuple(out)


def _check(data, where: str) -> CheckSpec:
    from .checks import KINDS

    if not isinstance(data, dict):
        raise LabSpecError(f"{where}: a check is a mapping like {{reachable: {{src: a, dst: b}}}}")
    kinds = [k for k in data if k not in CHECK_KEYS]
    if len(kinds) != 1:
        raise LabSpecError(f"{where}: name exactly one check kind, got {kinds or 'none'}")
    kind = kinds[0]
    if kind not in KINDS:
        raise LabSpecError(f"{where}: unknown check {kind!r}; the kinds are {', '.join(sorted(KINDS))}")
    args = data[kind] or {}
    if not isinstance(args, dict):
        raise LabSpecError(f"{where}: the arguments of {kind} must be a mapping")
    _bind(KINDS[kind], args, f"{where} ({kind})", skip_self=True)
    hint = data.get("hint")
    if hint is not None and not isinstance(hint, str):
        raise LabSpecError(f"{where}: hint must be text")
    return CheckSpec(kind, dict(args), hint=hint, before_next=bool(data.get("before_next", False)),
                     requires=_requirements(data.get("requires", []), where))


def _bind(fn, args: dict, where: str, skip_self: bool) -> None:
    """The arguments must fit the function's signature (first positional = self or client)."""
    sig = inspect.signature(fn)
    params = list(sig.parameters.values())[1:] if skip_self else list(sig.parameters.values())
    try:
        inspect.Signature(params).bind(**args)
    except TypeError as exc:
        names = ", ".join(p.name for p in params)
        raise LabSpecError(f"{where}: {exc} (arguments: {names})") from None


def _requirements(data, where: str) -> tuple[str, ...]:
    items = [data] if isinstance(data, str) else data
    if not isinstance(items, list) or not all(isinstance(f, str) and REQUIREMENT_RE.match(f) for f in items):
        raise LabSpecError(f"{where}: requires names features: probe, trace, services, plugins, driver:NAME")
    return tuple(items)


def _mapping(data, where: str, required: set[str], optional: set[str]) -> dict:
    if not isinstance(data, dict):
        raise LabSpecError(f"{where}: expected a mapping")
    missing = sorted(required - data.keys())
    if missing:
        raise LabSpecError(f"{where}: missing {', '.join(missing)}")
    unknown = sorted(data.keys() - required - optional)
    if unknown:
        raise LabSpecError(f"{where}: unknown key {', '.join(unknown)}")
    return data


def _text(value, where: str) -> str:
    if not isinstance(value, str):
        raise LabSpecError(f"{where} must be text")
    return value.strip()
