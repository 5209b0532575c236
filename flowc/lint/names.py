"""Naming rules: step and parameter names that Metaflow (and flowc's command line) reserve or
cannot express."""

from __future__ import annotations

import re

from flowc.lint.registry import Context, ERROR, WARNING, rule

# FlowSpec attributes a step or parameter would shadow
FLOWSPEC_ATTRIBUTES = frozenset(
    {"next", "name", "input", "index", "foreach_stack", "merge_artifacts", "cmd", "script_name"}
)
# options of `run`/`resume` that a parameter must not take over
RESERVED_OPTIONS = frozenset(
    {
        "params",
        "with",
        "tag",
        "tags",
        "namespace",
        "obj",
        "decospecs",
        "run-id-file",
        "max-num-splits",
        "max-workers",
        "max-log-size",
        "user-namespace",
        "run-id",
        "task-id",
        "runner-attribute-file",
        "origin-run-id",
        "datastore",
        "debug",
        "help",
        "flow",
    }
)
STEP_NAME = re.compile(r"[a-z0-9_]+")


def _option(name: str) -> str:
    return name.replace("_", "-").lower()


@rule("reserved-name", ERROR, "a step or parameter uses a name flowc reserves")
def reserved_name(ctx: Context):
    ir = ctx.ir
    for s in ir.steps:
        if s.name in FLOWSPEC_ATTRIBUTES:
            yield (
                s.file,
                s.span,
                f"step `{s.name}` shadows the FlowSpec attribute `{s.name}`",
                f"rename the step (for example `{s.name}_step`) and the `self.next` calls that name it",
            )
    for p in ir.parameters:
        if p.attr in FLOWSPEC_ATTRIBUTES:
            yield (
                p.file,
                p.span,
                f"parameter attribute `{p.attr}` shadows the FlowSpec attribute `{p.attr}`",
                "rename the class attribute",
            )
        elif _option(p.name) in RESERVED_OPTIONS:
            yield (
                p.file,
                p.span,
                f"parameter `{p.name}` would take over the command-line option `--{_option(p.name)}`",
                "give the parameter another name",
            )


@rule("step-name", ERROR, "step names are lower-case letters, digits and _, not starting with _")
def step_name(ctx: Context):
    ir = ctx.ir
    for s in ir.steps:
        if not STEP_NAME.fullmatch(s.name) or s.name.startswith("_"):
            suggestion = re.sub(r"[^a-z0-9_]", "_", s.name.lower()).lstrip("_") or "step"
            yield (
                s.file,
                s.span,
                f"step name `{s.name}` is not allowed: use only a-z, 0-9 and _, not starting with _",
                f"rename it, for example to `{suggestion}`",
            )


@rule("duplicate-parameter", ERROR, "two parameters, or a parameter and a step, share a name")
def duplicate_parameter(ctx: Context):
    ir = ctx.ir
    steps = {s.name for s in ir.steps}
    seen: dict[str, str] = {}
    for p in ir.parameters:
        opt = _option(p.name)
        if opt in seen:
            yield (
                p.file,
                p.span,
                f"parameters `{seen[opt]}` and `{p.attr}` both make the option `--{opt}`",
                "give one of them another name",
            )
        seen.setdefault(opt, p.attr)
        if p.attr in steps:
            yield (
                p.file,
                p.span,
                f"parameter `{p.attr}` has the same name as a step",
                "rename the parameter or the step",
            )


@rule(
    "artifact-name",
    ERROR,
    "an artifact must not take the name of a step, parameter or FlowSpec attribute",
)
def artifact_name(ctx: Context):
    ir = ctx.ir
    steps = {s.name for s in ir.steps}
    for s in ir.steps:
        for a in s.assigns:
            if a.name in steps:
                what = f"the step `{a.name}`, so `self.{a.name}` no longer refers to the step"
            elif a.name in FLOWSPEC_ATTRIBUTES:
                what = f"the FlowSpec attribute `{a.name}`"
            else:
                continue
            yield (
                s.file,
                a.span,
                f"step `{s.name}` assigns `self.{a.name}`, which is {what}",
                f"store the value under another name, e.g. `self.{a.name}_value`",
            )


@rule(
    "parameter-assign",
    WARNING,
    "assigning to a parameter raises AttributeError when the step runs",
)
def parameter_assign(ctx: Context):
    """A warning, not an error: the assignment fails only when it runs, and a flow may mean it
    to (Metaflow runs such a file and raises there, which ``try/except AttributeError`` catches)."""
    params = {p.attr for p in ctx.ir.parameters}
    for s in ctx.ir.steps:
        for a in s.assigns:
            if a.name in params:
                yield (
                    s.file,
                    a.span,
                    f"step `{s.name}` assigns `self.{a.name}`, which is the parameter "
                    f"`{a.name}`; parameters are read-only, so this raises AttributeError",
                    f"store the value under another name, e.g. `self.{a.name}_value`",
                )
