"""Target-independent planning: which orchestrator tasks a flow becomes and how they connect.

Every orchestrator backend (Airflow now, KFP and Argo later) needs the same facts: the steps in
graph order, what each waits for, which foreach's index paths a step fans out over (a nested
foreach is flattened to one fan-out level over whole index paths, so no target needs nested
mapping), where a switch chooses, where its branches meet again, and each step's retry,
timeout, environment and resources as plain numbers. The plan is pure data computed from the IR
alone; backends only translate it.

Two kinds of helper node sit between steps:

* ``<split>__indices`` after every foreach split: reads the split tasks' results (their
  foreach cardinality) and lists the index paths of the next level (``2.0``, ``2.1`` ...);
* ``<switch>__branch`` after every switch: reads the branch the switch task took.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flowc.diagnostics import Diagnostic, error
from flowc.graph import is_foreach, is_recursive, is_switch, order
from flowc.ir import Decorator, FlowIR, NodeKind, Parameter, ParameterKind, Step

INDICES_SUFFIX = "__indices"
BRANCH_SUFFIX = "__branch"

# Metaflow's step decorators a backend can map (the rest run inside the task contract: catch, card;
# @kubernetes is read by flowc.backends.k8s; @pypi/@pypi_base packages go into the image,
# flowc.backends.image).
STEP_DECORATORS = {"retry", "timeout", "environment", "resources", "catch", "card", "kubernetes"}
STEP_DECORATORS |= {"pypi"}
FLOW_DECORATORS = {"schedule", "project", "pypi_base"}
SCHEDULE_PRESETS = ("hourly", "daily", "weekly")
LOOPING_TARGETS = frozenset({"argo"})  # targets that can repeat a step (recursive switch)
SWITCH_IN_FOREACH_TARGETS = frozenset({"kfp", "argo"})  # targets that branch per mapped task


@dataclass(frozen=True)
class StepPlan:
    """One step as one orchestrator task (mapped when ``fan_over`` is set)."""

    name: str
    kind: str
    depth: int
    upstream: tuple[str, ...]  # node names (steps or helper nodes) this task waits for
    fan_over: str | None = None  # the foreach split whose next-level index paths this maps over
    merge: bool = False  # where a switch's branches meet: runs when the branch taken finished
    retries: int = 0
    retry_delay: float = 0.0  # seconds
    timeout: float | None = None  # seconds
    env: tuple[tuple[str, str], ...] = ()
    resources: tuple[tuple[str, Any], ...] = ()
    doc: str | None = None


@dataclass(frozen=True)
class ForeachPlan:
    """A foreach (or num_parallel) split: its helper node lists the next level's index paths."""

    split: str
    node: str  # the helper node's name
    depth: int  # the split's own foreach depth (0: its task id is "0")


@dataclass(frozen=True)
class SwitchPlan:
    split: str
    node: str
    cases: tuple[tuple[str, str], ...]  # (case key, target step)


@dataclass(frozen=True)
class ParamPlan:
    attr: str
    name: str
    kind: str
    type: str | None  # str, int, float, bool, json or None
    default: Any
    has_default: bool
    required: bool
    help: str | None


@dataclass(frozen=True)
class Plan:
    flow: str
    doc: str | None
    steps: tuple[StepPlan, ...]
    foreaches: tuple[ForeachPlan, ...]
    switches: tuple[SwitchPlan, ...]
    params: tuple[ParamPlan, ...]
    schedule: str | None
    diagnostics: tuple[Diagnostic, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return not any(d.is_error for d in self.diagnostics)


class _Problems:
    """Collects ``error[<target>-<rule>]`` diagnostics located in the flow file."""

    def __init__(self, target: str):
        self.target = target
        self.found: list[Diagnostic] = []

    def add(self, rule: str, message: str, fix: str, path: str, span: Any) -> None:
        self.found.append(error(f"{self.target}-{rule}", message, fix, path, span.line, span.col))


def plan(ir: FlowIR, target: str) -> Plan:
    """The task graph for ``ir``; what ``target`` cannot express comes back as diagnostics."""
    problems = _Problems(target)
    steps = ir.step_map()
    names = order(ir)
    step_plans = []
    foreaches = []
    switches = []
    merges = _merge_points(ir)
    taken = set(names)
    for name in names:
        s = steps[name]
        for suffix in (INDICES_SUFFIX, BRANCH_SUFFIX):
            if name.endswith(suffix) and name[: -len(suffix)] in taken:
                problems.add(
                    "task-name",
                    f"step {name!r} clashes with the helper task flowc adds after step "
                    f"{name[: -len(suffix)]!r}",
                    "rename the step",
                    s.file,
                    s.span,
                )
        if is_foreach(s):
            foreaches.append(ForeachPlan(name, name + INDICES_SUFFIX, s.foreach_depth))
        if is_recursive(s) and target not in LOOPING_TARGETS:
            problems.add(
                "recursive-switch",
                f"switch step {name!r} loops back to itself (a recursive switch); {target} "
                "runs a fixed graph of tasks and cannot repeat a step",
                "compile this flow for argo or run it with flowc run, or unroll the loop into "
                "a fixed number of steps",
                s.file,
                s.transition.span if s.transition else s.span,
            )
        if is_switch(s):
            if s.foreach_depth and target not in SWITCH_IN_FOREACH_TARGETS:
                problems.add(
                    "switch-in-foreach",
                    f"switch step {name!r} is inside a foreach; {target} cannot choose a branch "
                    "per mapped task",
                    "compile for argo or kfp (they branch per foreach item), move the switch out "
                    "of the foreach, or branch inside the step's code",
                    s.file,
                    s.transition.span if s.transition else s.span,
                )
            assert s.transition is not None
            switches.append(SwitchPlan(name, name + BRANCH_SUFFIX, tuple(s.transition.cases)))
        step_plans.append(_step_plan(s, steps, name in merges, problems))
    params = tuple(_param_plan(p, problems) for p in ir.parameters)
    schedule = _schedule(ir, problems)
    for d in ir.decorators:
        if d.name not in FLOW_DECORATORS and _metaflow_builtin(d):
            problems.add(
                "flow-decorator",
                f"flow decorator @{d.name} has no {target} equivalent",
                "remove it for this target",
                ir.file,
                d.span,
            )
    return Plan(
        flow=ir.name,
        doc=ir.doc,
        steps=tuple(step_plans),
        foreaches=tuple(foreaches),
        switches=tuple(switches),
        params=params,
        schedule=schedule,
        diagnostics=tuple(problems.found),
    )


def _metaflow_builtin(d: Decorator) -> bool:
    """One of Metaflow's own decorators (``@batch``, ``@trigger``...): a target that does not
    map it cannot honour it. Any other decorator (a user's ``UserStepDecorator``, an extension
    package's plugin) acts inside ``flowc task``, which every target runs."""
    from flowc.analyzer.decorators import KNOWN_DECORATORS

    return d.known and d.name in KNOWN_DECORATORS


def _merge_points(ir: FlowIR) -> set[str]:
    """Non-join steps with several predecessors: where a switch's branches meet."""
    return {s.name for s in ir.steps if s.kind is not NodeKind.JOIN and len(s.in_steps) > 1}


def _fan_over(s: Step, steps: dict[str, Step]) -> str | None:
    """The innermost foreach enclosing ``s`` (a join is outside the foreach it closes)."""
    inner = [
        p for p in s.split_parents if is_foreach(steps[p]) and steps[p].matching_join != s.name
    ]
    return inner[-1] if inner else None


def _upstream(s: Step, steps: dict[str, Step]) -> tuple[str, ...]:
    out = []
    for p in s.in_steps:
        ps = steps[p]
        if is_foreach(ps):
            out.append(p + INDICES_SUFFIX)
        elif is_switch(ps):
            out.append(p + BRANCH_SUFFIX)
        else:
            out.append(p)
    return tuple(dict.fromkeys(out))


def _step_plan(s: Step, steps: dict[str, Step], merge: bool, problems: _Problems) -> StepPlan:
    retries, delay, timeout, env, resources = 0, 0.0, None, (), ()
    for d in s.decorators:
        if d.name not in STEP_DECORATORS:
            if not _metaflow_builtin(d):
                continue  # a user's or an extension's decorator: it runs in the task contract
            problems.add(
                "step-decorator",
                f"step decorator @{d.name} on {s.name!r} has no {problems.target} equivalent",
                "remove it for this target",
                s.file,
                d.span,
            )
            continue
        args = _literal_kwargs(d, s, problems)
        if args is None:
            continue
        if d.name == "retry":
            retries = int(args.get("times", 3))
            delay = float(args.get("minutes_between_retries", 2)) * 60
        elif d.name == "timeout":
            total = (
                float(args.get("seconds", 0) or 0)
                + 60 * float(args.get("minutes", 0) or 0)
                + 3600 * float(args.get("hours", 0) or 0)
            )
            timeout = total if total > 0 else None
        elif d.name == "environment":
            env = tuple(sorted((str(k), str(v)) for k, v in (args.get("vars") or {}).items()))
        elif d.name == "resources":
            resources = tuple(sorted(args.items()))
    return StepPlan(
        name=s.name,
        kind=s.kind.value,
        depth=s.foreach_depth,
        upstream=_upstream(s, steps),
        fan_over=_fan_over(s, steps),
        merge=merge,
        retries=max(0, retries),
        retry_delay=max(0.0, delay),
        timeout=timeout,
        env=env,
        resources=resources,
        doc=s.doc,
    )


def _literal_kwargs(d: Decorator, s: Step, problems: _Problems) -> dict[str, Any] | None:
    out = {}
    for a in d.args:
        if a.name is None or not a.value.literal:
            what = "a positional argument" if a.name is None else f"{a.name}={a.value.source}"
            problems.add(
                "decorator-argument",
                f"@{d.name} on {s.name!r} has {what}, which is not a literal the compiler can read"
                + _unread(a.value),
                "write the value as a literal keyword argument (e.g. times=2), or a module-level "
                "constant assigned once from literals",
                s.file,
                d.span,
            )
            return None
        out[a.name] = a.value.value
    return out


def _unread(v) -> str:  # noqa: ANN001 - an ir.Value
    """What stopped the analyzer reading a value, for the end of a message."""
    if not v.unread:
        return ""
    if v.unread.endswith("(...)"):
        return f" (it calls {v.unread[:-5]}, and the compiler runs nothing)"
    return (
        f" ({v.unread!r} is not a module-level constant assigned once from literals, so its "
        "value is not known without running the file)"
    )


def _param_plan(p: Parameter, problems: _Problems) -> ParamPlan:
    has_default = p.default is not None
    default = None
    if p.default is not None:
        if not p.default.literal:
            problems.add(
                "parameter-default",
                f"parameter {p.name!r} has the default {p.default.source}, which is not a "
                "literal the compiler can read" + _unread(p.default),
                "use a literal default (a number, string, bool, list or dict), or a "
                "module-level constant assigned once from literals",
                p.file,
                p.span,
            )
        default = p.default.value
        has_default = default is not None
    return ParamPlan(
        attr=p.attr,
        name=p.name,
        kind=p.kind.value if isinstance(p.kind, ParameterKind) else str(p.kind),
        type=p.type,
        default=default,
        has_default=has_default,
        required=p.required,
        help=p.help,
    )


def _schedule(ir: FlowIR, problems: _Problems) -> str | None:
    d = ir.decorator("schedule")
    if d is None:
        return None
    cron = d.get("cron")
    if isinstance(cron, str) and cron.strip():
        return cron.strip()
    for preset in SCHEDULE_PRESETS:
        if d.get(preset) is True:
            return "@" + preset
    problems.add(
        "schedule",
        "@schedule needs cron='...' or one of hourly=True, daily=True, weekly=True as literals",
        "write e.g. @schedule(daily=True) or @schedule(cron='0 3 * * *')",
        ir.file,
        d.span,
    )
    return None
