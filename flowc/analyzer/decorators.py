"""Decorators and call arguments as the IR records them: canonical names after resolving import
aliases, whether flowc/Metaflow provides them, and each argument's source and literal value."""

from __future__ import annotations

from collections.abc import Sequence

import libcst as cst

from flowc.analyzer.imports import Names, is_flow_package
from flowc.analyzer.source import SourceFile
from flowc.analyzer.values import value_of
from flowc.ir import Argument, Decorator, Value

# Metaflow 2.19's built-in step and flow decorators (flowc provides the common ones).
STEP_DECORATORS = frozenset(
    {
        "step",
        "batch",
        "card",
        "catch",
        "conda",
        "environment",
        "kubernetes",
        "parallel",
        "pypi",
        "pytorch_parallel",
        "resources",
        "retry",
        "secrets",
        "timeout",
    }
)
FLOW_DECORATORS = frozenset(
    {"conda_base", "exit_hook", "project", "pypi_base", "schedule", "trigger", "trigger_on_finish"}
)
KNOWN_DECORATORS = STEP_DECORATORS | FLOW_DECORATORS


def arguments(args: Sequence[cst.Arg], src: SourceFile) -> tuple[Argument, ...]:
    """Each argument of a call; ``*xs`` and ``**kw`` are positional-looking, non-literal. The
    module's constants are read as their values (``times=RETRIES``)."""
    from flowc.analyzer.constants import constants

    env = constants(src)
    out = []
    for a in args:
        if a.star:
            out.append(Argument(None, Value(a.star + src.code(a.value))))
        else:
            name = a.keyword.value if a.keyword is not None else None
            out.append(Argument(name, value_of(a.value, src.code(a.value), env)))
    return tuple(out)


def canonical(expr: cst.BaseExpression, src: SourceFile, names: Names) -> tuple[str, bool]:
    """``(name, known)`` of a decorator or callee: the name it was imported as (``retry`` for
    ``from metaflow import retry as r`` then ``r``), known when it comes from flowc/Metaflow."""
    target = names.resolve(expr)
    if target is not None:
        return target[1], is_flow_package(target[0])
    if isinstance(expr, cst.Name):
        return expr.value, expr.value in KNOWN_DECORATORS and names.star_from_flow(expr.value)
    return src.code(expr), False


def decorator(node: cst.Decorator, src: SourceFile, names: Names) -> Decorator:
    """``@name`` or ``@name(args)``."""
    expr = node.decorator
    args: tuple[Argument, ...] = ()
    if isinstance(expr, cst.Call):
        args = arguments(expr.args, src)
        expr = expr.func
    name, known = canonical(expr, src, names)
    return Decorator(name, known, args, src.span(node))


def is_step_decorator(node: cst.Decorator, names: Names) -> bool:
    expr = node.decorator
    if isinstance(expr, cst.Call):
        expr = expr.func
    return names.is_api(expr, "step")


def is_step(func: cst.FunctionDef, names: Names) -> bool:
    """A method decorated with flowc's/Metaflow's ``step``, however it was imported."""
    return any(is_step_decorator(d, names) for d in func.decorators)
