"""Data-flow rules: artifacts read where no step on the way assigned them.

One forward pass in graph order computes, for every step, the artifacts available on every
path into it (``must``) and on some path (``may``). Artifacts do not pass through a join unless
it merges them (``self.merge_artifacts(inputs, ...)``) or assigns them, as in Metaflow. Witness
paths are rebuilt only for the diagnostics that are reported."""

from __future__ import annotations

from dataclasses import dataclass

from flowc import graph
from flowc.ir import Access, FlowIR, Merge, NodeKind, Step, TransitionKind
from flowc.lint.names import FLOWSPEC_ATTRIBUTES
from flowc.lint.registry import Context, ERROR, WARNING, rule

ANY = None  # a merge whose include/exclude is not a literal: it may bring any artifact


@dataclass(frozen=True)
class Flow:
    """Available artifacts at the entry and exit of each reachable step."""

    must_in: dict[str, frozenset[str]]
    may_in: dict[str, frozenset[str] | None]
    must_out: dict[str, frozenset[str]]
    may_out: dict[str, frozenset[str] | None]


def _merged(step: Step, may: frozenset[str] | None, must: frozenset[str]):  # noqa: ANN202
    """What a join's merges bring in: (must, may); ANY for may when it cannot be known."""
    merged: set[str] = set()
    for m in step.merges:
        got = _covered(m, may)
        if got is ANY:
            return must, ANY
        merged |= got
    # merge_artifacts takes each artifact from whichever inputs have it, so what it merges is
    # there afterwards whichever branch produced it
    return frozenset(merged), frozenset(merged)


def _covered(m: Merge, available: frozenset[str] | None):  # noqa: ANN202
    if m.include is not None:
        if not (m.include.literal and isinstance(m.include.value, list)):
            return ANY
        return {x for x in m.include.value if isinstance(x, str)}
    if available is ANY:
        return ANY
    if m.exclude is not None:
        if not (m.exclude.literal and isinstance(m.exclude.value, list)):
            return ANY
        return set(available) - set(m.exclude.value)
    return set(available)


def analyze(ctx: Context) -> Flow | None:
    """None when the graph has a cycle or no start (other rules report those)."""
    ir, succ, preds = ctx.ir, ctx.successors, ctx.predecessors
    if "start" not in succ or ctx.cycle:
        return None
    steps = ir.step_map()
    live = graph.reachable(succ, "start")
    must_in: dict[str, frozenset[str]] = {}
    may_in: dict[str, frozenset[str] | None] = {}
    must_out: dict[str, frozenset[str]] = {}
    may_out: dict[str, frozenset[str] | None] = {}
    for name in ctx.order:
        if name not in live:
            continue
        step = steps[name]
        ps = [p for p in preds[name] if p in must_out]
        if ps:
            must = frozenset.intersection(*(must_out[p] for p in ps))
            mays = [may_out[p] for p in ps]
            may = ANY if any(m is ANY for m in mays) else frozenset().union(*mays)  # type: ignore[arg-type]
        else:
            must, may = frozenset(), frozenset()
        if step.kind is NodeKind.JOIN:
            must, may = _merged(step, may, must)
        must_in[name], may_in[name] = must, may
        assigned = frozenset(a.name for a in step.assigns) | _catch_var(step)
        must_out[name] = must | assigned
        may_out[name] = ANY if may is ANY else may | assigned
    return Flow(must_in, may_in, must_out, may_out)


def _catch_var(step: Step) -> frozenset[str]:
    """``@catch(var="x")`` sets ``self.x`` on every way out of the step (None on success)."""
    deco = step.decorator("catch")
    for arg in deco.args if deco is not None else ():
        if arg.name == "var" and arg.value.literal and isinstance(arg.value.value, str):
            return frozenset({arg.value.value})
    return frozenset()


def _ignored(ir: FlowIR) -> set[str]:
    return (
        {p.attr for p in ir.parameters}
        | set(ir.members)
        | {s.name for s in ir.steps}
        | FLOWSPEC_ATTRIBUTES
    )


def _local(step: Step, read: Access) -> bool:
    """Assigned earlier in the same step (an assignment that ends before the read starts)."""
    at = (read.span.line, read.span.col)
    return any(
        a.name == read.name and (a.span.end_line, a.span.end_col) <= at and a.span != read.span
        for a in step.assigns
    )


def _merged_before(step: Step, read: Access) -> bool:
    at = (read.span.line, read.span.col)
    for m in step.merges:
        if (m.span.end_line, m.span.end_col) <= at:
            got = _covered(m, ANY)
            if got is ANY or read.name in got:
                return True
    return False


def _witness(ctx: Context, flow: Flow, target: str, name: str) -> list[str]:
    """A path from start to ``target`` along which no step makes ``name`` available."""
    preds = ctx.predecessors
    path = [target]
    cur = target
    seen = {target}
    while cur != "start":
        options = [p for p in preds[cur] if p in flow.must_out and p not in seen]
        if not options:
            break
        missing = [p for p in options if name not in flow.must_out[p]]
        cur = (missing or options)[0]
        seen.add(cur)
        path.append(cur)
    return path[::-1]


def _first_read(step: Step, name: str) -> Access | None:
    return next((r for r in step.reads if r.name == name and not _local(step, r)), None)


def _upstream_reads(ctx: Context):  # noqa: ANN202
    """(step, first read of each artifact not assigned earlier in the step); nothing when the
    graph is too broken for data flow (a cycle, no start)."""
    ir, flow = ctx.ir, ctx.flow
    if flow is None:
        return
    ignored = _ignored(ir)
    for step in ir.steps:
        if step.name not in flow.must_in:
            continue
        seen: set[str] = set()
        for r in step.reads:
            if r.name in seen or r.name in ignored or r.name.startswith("_") or _local(step, r):
                continue
            seen.add(r.name)
            yield step, r


@rule("join-unmerged-read", WARNING, "a join reads an artifact it did not merge from its inputs")
def join_unmerged_read(ctx: Context):
    flow = ctx.flow
    for step, r in _upstream_reads(ctx):
        if step.kind is not NodeKind.JOIN or _merged_before(step, r):
            continue
        having = [
            p
            for p in step.in_steps
            if p in flow.may_out and (flow.may_out[p] is ANY or r.name in flow.may_out[p])
        ]
        if len(having) > 1:
            why = f"it is ambiguous across its inputs {', '.join(having)}"
        elif having:
            why = f"only input `{having[0]}` has it, and artifacts do not pass through a join by themselves"
        else:
            why = "artifacts do not pass through a join by themselves"
        first = step.in_steps[0] if step.in_steps else "a"
        yield (
            step.file,
            r.span,
            f"join `{step.name}` reads `self.{r.name}`, but {why}",
            f"pick a value, e.g. `self.{r.name} = inputs.{first}.{r.name}`, or merge it first with "
            f"`self.merge_artifacts(inputs, include=['{r.name}'])`",
        )


@rule("maybe-undefined", WARNING, "an artifact is read on a path where no step assigned it")
def maybe_undefined(ctx: Context):
    flow = ctx.flow
    for step, r in _upstream_reads(ctx):
        if step.kind is NodeKind.JOIN:
            continue  # join-unmerged-read says it better
        may = flow.may_in[step.name]
        if r.name in flow.must_in[step.name] or may is ANY:
            continue
        path = " -> ".join(_witness(ctx, flow, step.name, r.name))
        if r.name in may:
            msg = f"`self.{r.name}` may be unassigned in `{step.name}`: on the path {path} no step assigns it"
        else:
            msg = f"`self.{r.name}` is read in `{step.name}`, but no step before it assigns it (path {path})"
        yield (
            step.file,
            r.span,
            msg,
            f"assign `self.{r.name}` on every path into `{step.name}` (after a join, merge it), "
            "or check the name for a typo",
        )


def _selector(ctx: Context, kind: TransitionKind, rule_word: str):  # noqa: ANN202
    ir, flow = ctx.ir, ctx.flow
    if flow is None:
        return
    for step in ir.steps:
        t = step.transition
        if t is None or t.kind is not kind or step.name not in flow.may_out:
            continue
        name = t.foreach if kind is TransitionKind.FOREACH else t.condition
        if name is None:
            continue
        if name in {p.attr for p in ir.parameters}:
            continue
        may = flow.may_out[step.name]
        if may is ANY or name in may:
            continue
        yield (
            step.file,
            t.span,
            f"{rule_word}='{name}' in `{step.name}` names an artifact that no step before it assigns",
            f"assign `self.{name}` in `{step.name}` (or a step before it) before `self.next(...)`",
        )


@rule("foreach-undefined", ERROR, "foreach= names an artifact that is never assigned")
def foreach_undefined(ctx: Context):
    return _selector(ctx, TransitionKind.FOREACH, "foreach")


@rule("condition-undefined", ERROR, "condition= names an artifact that is never assigned")
def condition_undefined(ctx: Context):
    return _selector(ctx, TransitionKind.SWITCH, "condition")
