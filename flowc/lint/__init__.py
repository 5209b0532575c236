"""Lint: rules over the IR, each one function with a stable id (see :mod:`flowc.lint.registry`).

Errors stop ``run`` and ``compile``; warnings do not. Every finding prints as
``path:line:col: severity[rule-id]: what is wrong. how to fix it.``"""

from __future__ import annotations

from flowc.diagnostics import Diagnostic
from flowc.ir import FlowIR
from flowc.lint import dataflow, names, structure, transitions  # noqa: F401 - they register rules
from flowc.lint.registry import Context, Rule, registered

RULES: tuple[Rule, ...] = registered()


def lint(ir: FlowIR) -> list[Diagnostic]:
    ctx = Context(ir)
    found = [d for r in RULES for d in r.run(ctx)]
    return sorted(set(found), key=lambda d: (d.path, d.line, d.col, d.rule, d.message))


__all__ = ["RULES", "Rule", "lint"]
