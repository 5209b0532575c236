"""Rules about the graph's shape: one start and one end, step arguments, cycles, reachability,
balanced splits and joins, foreach, num_parallel and switch shapes."""

from __future__ import annotations

from flowc import graph
from flowc.ir import NodeKind, Step, TransitionKind
from flowc.lint.registry import Context, ERROR, rule


@rule("missing-start", ERROR, "every flow needs a step named start")
def missing_start(ctx: Context):
    ir = ctx.ir
    if ir.step("start") is None:
        yield (
            ir.file,
            ir.span,
            f"flow `{ir.name}` has no `start` step",
            "add a `@step` method named `start`: every flow begins there",
        )


@rule("missing-end", ERROR, "every flow needs a step named end")
def missing_end(ctx: Context):
    ir = ctx.ir
    if ir.step("end") is None:
        yield (
            ir.file,
            ir.span,
            f"flow `{ir.name}` has no `end` step",
            "add a `@step` method named `end` (with no `self.next`): every flow finishes there",
        )


@rule("step-arguments", ERROR, "steps take only self; joins take self and inputs")
def step_arguments(ctx: Context):
    ir = ctx.ir
    for s in ir.steps:
        if len(s.args) > 1 or any(a.startswith("*") for a in s.args):
            yield (
                s.file,
                s.span,
                f"step `{s.name}` takes {len(s.args) + 1} arguments",
                "a step takes only `self`; a join step takes `self, inputs`",
            )
        elif s.args and s.name == "start":
            yield (
                s.file,
                s.span,
                "step `start` takes an `inputs` argument, but nothing comes before it",
                "remove the argument: `def start(self):`",
            )


@rule("join-also-split", ERROR, "a join step cannot split again in the same step")
def join_also_split(ctx: Context):
    ir = ctx.ir
    for s in ir.steps:
        if s.kind is NodeKind.JOIN and graph.opens_split(s):
            yield (
                s.file,
                s.transition.span,  # type: ignore[union-attr]
                f"join step `{s.name}` also splits",
                f"let `{s.name}` go to one step (`self.next(self.<step>)`) and split from there",
            )


@rule("cycle", ERROR, "the graph must not loop, except a switch case back to its own step")
def cycle(ctx: Context):
    ir = ctx.ir
    loop = ctx.cycle
    if loop:
        closing = ir.step(loop[-2])
        assert closing is not None and closing.transition is not None
        yield (
            closing.file,
            closing.transition.span,
            f"the flow loops: {' -> '.join(loop)}",
            f"break the loop: `{loop[-2]}` must not go back to `{loop[-1]}`",
        )


@rule("unreachable-step", ERROR, "every step must be reachable from start")
def unreachable_step(ctx: Context):
    ir = ctx.ir
    if ir.step("start") is None:
        return
    live = graph.reachable(ctx.successors, "start")
    for s in ir.steps:
        if s.name not in live:
            yield (
                s.file,
                s.span,
                f"step `{s.name}` is never reached from `start`",
                f"add a transition to `self.{s.name}`, or delete the step",
            )


def _nesting_problems(ctx: Context, kind: str):
    for p in ctx.nesting.problems:
        if p.kind == kind:
            yield p, ctx.ir.step(p.step)


@rule("unjoined-split", ERROR, "every split must be joined before the flow goes on as one")
def unjoined_split(ctx: Context):
    for p, s in _nesting_problems(ctx, "unjoined-split"):
        splits = ", ".join(f"`{x}`" for x in p.splits)
        if s.name == "end":
            msg = f"`end` is reached while the split at {splits} is not joined"
        else:
            msg = f"branches of the split at {splits} meet in `{s.name}`, which is not a join"
        yield (
            s.file,
            s.span,
            msg,
            "add a join step (`def join(self, inputs):`) that every branch goes to",
        )


@rule("join-without-split", ERROR, "a join step needs a split before it")
def join_without_split(ctx: Context):
    for _, s in _nesting_problems(ctx, "join-without-split"):
        yield (
            s.file,
            s.span,
            f"step `{s.name}` takes `inputs` like a join, but no split comes before it",
            "remove the `inputs` argument, or add a split that this step joins",
        )


@rule("switch-into-join", ERROR, "a switch case cannot go straight to a join")
def switch_into_join(ctx: Context):
    ir = ctx.ir
    for s in ir.steps:
        if not graph.is_switch(s):
            continue
        for key, target in s.transition.cases:  # type: ignore[union-attr]
            t = ir.step(target)
            if t is not None and t.kind is NodeKind.JOIN:
                yield (
                    s.file,
                    s.transition.span,  # type: ignore[union-attr]
                    f"case {key!r} of the switch in `{s.name}` goes straight to the join "
                    f"`{target}`, which then cannot know which inputs to wait for",
                    f"add a plain step between the switch and `{target}` on that case",
                )


@rule("join-input-count", ERROR, "a join must take every branch of its split")
def join_input_count(ctx: Context):
    ir = ctx.ir
    for p, s in _nesting_problems(ctx, "join-input-count"):
        split = ir.step(p.splits[0])
        expected = split.out_steps if split is not None else ()
        arrived = ", ".join(p.inputs) or "nothing"
        yield (
            s.file,
            s.span,
            f"join `{s.name}` gets inputs from {arrived}, but the split at `{p.splits[0]}` has "
            f"{len(expected)} branch{'es' if len(expected) != 1 else ''} ({', '.join(expected)})",
            f"make every branch of `{p.splits[0]}` end in `self.next(self.{s.name})`",
        )


@rule("join-unrelated-splits", ERROR, "a join must close one split, not merge different ones")
def join_unrelated_splits(ctx: Context):
    for p, s in _nesting_problems(ctx, "join-unrelated-splits"):
        yield (
            s.file,
            s.span,
            f"join `{s.name}` merges branches of different splits ({', '.join(p.splits) or 'unknown'})",
            "give each split its own join, nested inside one another",
        )


@rule("foreach-into-join", ERROR, "a foreach needs a step between it and its join")
def foreach_into_join(ctx: Context):
    ir = ctx.ir
    for s in ir.steps:
        t = s.transition
        if t is None or t.kind is not TransitionKind.FOREACH:
            continue
        target = ir.step(t.targets[0])
        if target is not None and target.kind is NodeKind.JOIN:
            yield (
                s.file,
                t.span,
                f"foreach in `{s.name}` goes straight to the join `{target.name}`",
                "add a step that processes one item (`self.input`) between the foreach and the join",
            )


def _is_parallel(step: Step) -> bool:
    return step.decorator("parallel") is not None


@rule("num-parallel", ERROR, "num_parallel goes to one @parallel step that is followed by a join")
def num_parallel(ctx: Context):
    ir = ctx.ir
    for s in ir.steps:
        t = s.transition
        if t is None or t.kind is not TransitionKind.PARALLEL:
            continue
        n = t.num_parallel
        if (
            n is not None
            and n.literal
            and not (isinstance(n.value, int) and not isinstance(n.value, bool) and n.value >= 1)
        ):
            yield (
                s.file,
                t.span,
                f"num_parallel={n.source} is not a positive whole number",
                "pass the number of parallel tasks, e.g. num_parallel=4",
            )
        target = ir.step(t.targets[0])
        if target is None:
            continue
        if not _is_parallel(target):
            yield (
                target.file,
                target.span,
                f"step `{target.name}` runs with num_parallel but is not decorated with @parallel",
                f"add `@parallel` above `@step` on `{target.name}`",
            )
        after = ir.step(target.out_steps[0]) if len(target.out_steps) == 1 else None
        if target.transition is not None and (after is None or after.kind is not NodeKind.JOIN):
            yield (
                target.file,
                target.transition.span,
                f"@parallel step `{target.name}` must go straight to a join",
                f"make `{target.name}` end with `self.next(self.<join>)` where the join takes `inputs`",
            )
    reached = {
        s.transition.targets[0]
        for s in ir.steps
        if s.transition is not None and s.transition.kind is TransitionKind.PARALLEL
    }
    for s in ir.steps:
        if _is_parallel(s) and s.name not in reached:
            yield (
                s.file,
                s.span,
                f"@parallel step `{s.name}` is not reached through num_parallel",
                f"call it with `self.next(self.{s.name}, num_parallel=N)`",
            )


@rule("switch-cases", ERROR, "a switch needs a condition and at least two cases")
def switch_cases(ctx: Context):
    ir = ctx.ir
    for s in ir.steps:
        call = next((c for c in s.next_calls if c.is_tail), None)
        if call is None or call.cases is None:
            continue
        if not any(a.name == "condition" for a in call.keywords):
            yield (
                s.file,
                call.span,
                f"step `{s.name}` passes a dict of cases to `self.next` without `condition=`",
                "name the artifact that selects the case: `self.next({...}, condition='route')`",
            )
        elif len(call.cases) < 2:
            yield (
                s.file,
                call.span,
                f"the switch in `{s.name}` has {len(call.cases)} case{'s' if len(call.cases) != 1 else ''}",
                "give it at least two cases, or use a plain `self.next(self.<step>)`",
            )
