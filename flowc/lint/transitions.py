"""Rules about each step's ``self.next(...)``: present, last, well formed, and pointing at
steps that exist."""

from __future__ import annotations

import difflib

from flowc.ir import NextCall, Step
from flowc.lint.registry import Context, ERROR, rule

KEYWORDS = ("foreach", "num_parallel", "condition")


def tail(step: Step) -> NextCall | None:
    return next((c for c in step.next_calls if c.is_tail), None)


@rule("missing-next", ERROR, "a step other than end must end with self.next(...)")
def missing_next(ctx: Context):
    ir = ctx.ir
    for s in ir.steps:
        if s.name == "end" or tail(s) is not None:
            continue
        if s.next_calls:
            call = s.next_calls[-1]
            yield (
                s.file,
                call.span,
                f"`self.next(...)` in step `{s.name}` is not its last statement",
                "move the `self.next(...)` call to the end of the step, outside any if/for/with",
            )
        else:
            yield (
                s.file,
                s.span,
                f"step `{s.name}` does not end with `self.next(...)`, so the flow stops there",
                f"add `self.next(self.<next step>)` as the last statement of `{s.name}` "
                "(only `end` has no transition)",
            )


@rule("end-has-next", ERROR, "the end step must not call self.next")
def end_has_next(ctx: Context):
    ir = ctx.ir
    end = ir.step("end")
    if end is not None and end.next_calls:
        yield (
            end.file,
            end.next_calls[0].span,
            "step `end` calls `self.next(...)`, but `end` is the last step of every flow",
            "remove the call, or rename this step and add a separate `end` step",
        )


@rule("start-has-input", ERROR, "no transition may lead back to start")
def start_has_input(ctx: Context):
    ir = ctx.ir
    for s in ir.steps:
        call = tail(s)
        if call is None:
            continue
        for t in _all_targets(call):
            if t.step == "start":
                yield (
                    s.file,
                    t.span,
                    f"step `{s.name}` goes to `start`, but `start` must be the first step, with no inputs",
                    "point the transition at another step",
                )


@rule("malformed-next", ERROR, "self.next(...) must take one of the forms Metaflow accepts")
def malformed_next(ctx: Context):
    ir = ctx.ir
    for s in ir.steps:
        if s.name == "end":
            continue
        tails = [c for c in s.next_calls if c.is_tail]
        others = [c for c in s.next_calls if not c.is_tail]
        if tails and others:
            yield (
                s.file,
                others[0].span,
                f"step `{s.name}` calls `self.next(...)` more than once",
                "keep a single `self.next(...)` as the step's last statement; to choose a branch "
                "at run time use a switch: `self.next({'a': self.a, 'b': self.b}, condition='name')`",
            )
        if not tails or s.transition is not None:
            continue
        problem = _what_is_wrong(tails[0])
        if problem is not None:
            yield (s.file, tails[0].span, f"in step `{s.name}`: {problem[0]}", problem[1])


def _what_is_wrong(call: NextCall) -> tuple[str, str] | None:
    kw = {a.name: a.value for a in call.keywords}
    unknown = [k for k in kw if k not in KEYWORDS]
    if unknown:
        return (
            f"`self.next` got an unknown keyword `{unknown[0]}=`",
            "use only `foreach=`, `num_parallel=` or `condition=`",
        )
    bad = next((t for t in call.targets if t.step is None), None)
    if bad is not None:
        return (
            f"`{bad.source}` is not a step reference",
            "name steps as attributes of self, e.g. `self.next(self.train)`",
        )
    if call.cases is not None:
        if "condition" not in kw:
            return None  # switch-cases reports a switch without a condition
        if call.targets:
            return ("a switch takes only the dict of cases", "remove the other arguments")
        for c in call.cases:
            if c.target.step is None:
                return (
                    f"switch case `{c.target.source}` is not a step reference",
                    "map each case to `self.<step>`",
                )
            if not (c.key.literal and isinstance(c.key.value, str)):
                return (
                    f"switch key `{c.key.source}` is not a string literal",
                    "use string keys, matched against the value of the condition artifact",
                )
        keys = [c.key.value for c in call.cases]
        if len(set(keys)) != len(keys):
            return ("a switch lists the same key twice", "give every case its own key")
        cond = kw["condition"]
        if not (cond.literal and isinstance(cond.value, str)):
            return (
                f"condition={cond.source} is not a string",
                "name the artifact that holds the branch, e.g. condition='route'",
            )
        return None
    if "condition" in kw:
        return (
            "condition= needs a dict of cases as the first argument",
            "write `self.next({'a': self.a, 'b': self.b}, condition='name')`",
        )
    if not call.targets:
        return ("`self.next()` names no step", "pass the next step, e.g. `self.next(self.end)`")
    names = [t.step for t in call.targets]
    if len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        return (f"`self.{dup}` appears twice in one transition", "name each target once")
    if len(kw) > 1:
        return (
            f"`{'=, '.join(sorted(kw))}=` cannot be combined",
            "use exactly one of foreach=, num_parallel= or condition=",
        )
    if "foreach" in kw:
        if len(call.targets) != 1:
            return (
                "a foreach goes to exactly one step",
                "keep one target: `self.next(self.body, foreach='items')`",
            )
        v = kw["foreach"]
        return (
            f"foreach={v.source} must be the name of an artifact, as a string",
            "assign the list to an artifact and name it: `self.items = [...]` then "
            "`self.next(self.body, foreach='items')`",
        )
    if "num_parallel" in kw and len(call.targets) != 1:
        return ("num_parallel= goes to exactly one step", "keep one target")
    return None


def _all_targets(call: NextCall):  # noqa: ANN202
    yield from call.targets
    for c in call.cases or ():
        yield c.target


@rule("unknown-step", ERROR, "a transition names a step that does not exist")
def unknown_step(ctx: Context):
    ir = ctx.ir
    steps = [s.name for s in ir.steps]
    members = set(ir.members)
    for s in ir.steps:
        call = tail(s)
        if call is None or s.name == "end":
            continue
        for t in _all_targets(call):
            if t.step is None or t.step in steps:
                continue
            if t.step in members:
                yield (
                    s.file,
                    t.span,
                    f"step `{s.name}` goes to `{t.step}`, a method without `@step`",
                    f"decorate `{t.step}` with `@step`",
                )
                continue
            close = difflib.get_close_matches(t.step, steps, n=1, cutoff=0.6)
            fix = (
                f"did you mean `self.{close[0]}`?"
                if close
                else f"define a `@step` named `{t.step}`, or point at one of: {', '.join(steps)}"
            )
            yield (s.file, t.span, f"step `{s.name}` goes to `{t.step}`, which is not a step", fix)
