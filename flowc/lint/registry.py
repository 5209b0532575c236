"""The rule registry: each rule is one function over the IR with a stable id and severity.

A rule yields ``(file, span, message, fix)``; the registry turns that into a located
:class:`~flowc.diagnostics.Diagnostic`, so rules never repeat formatting or severity."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

from flowc import graph
from flowc.diagnostics import Diagnostic, Severity
from flowc.ir import FlowIR, Span

if TYPE_CHECKING:
    from flowc.lint.dataflow import Flow


class Context:
    """The IR and the graph analyses rules share, each computed at most once per lint run."""

    def __init__(self, ir: FlowIR):
        self.ir = ir

    @cached_property
    def successors(self) -> dict[str, tuple[str, ...]]:
        return graph.successors(self.ir.steps)

    @cached_property
    def predecessors(self) -> dict[str, tuple[str, ...]]:
        return graph.predecessors(self.ir.steps)

    @cached_property
    def nesting(self) -> graph.Nesting:
        return graph.nesting(self.ir.steps)

    @cached_property
    def order(self) -> tuple[str, ...]:
        return graph.order(self.ir)

    @cached_property
    def cycle(self) -> list[str] | None:
        roots = ["start"] + [s.name for s in self.ir.steps if s.name != "start"]
        return graph.find_cycle(self.successors, [r for r in roots if r in self.successors])

    @cached_property
    def flow(self) -> Flow | None:
        from flowc.lint.dataflow import analyze

        return analyze(self)


Finding = tuple[str, Span, str, str]
Check = Callable[[Context], Iterable[Finding]]


@dataclass(frozen=True)
class Rule:
    id: str
    severity: Severity
    summary: str
    check: Check

    def run(self, ctx: Context) -> Iterator[Diagnostic]:
        for file, span, message, fix in self.check(ctx):
            yield Diagnostic(self.id, self.severity, message, fix, file, span.line, span.col)


_RULES: list[Rule] = []


def rule(rule_id: str, severity: Severity, summary: str) -> Callable[[Check], Check]:
    def register(check: Check) -> Check:
        _RULES.append(Rule(rule_id, severity, summary, check))
        return check

    return register


def registered() -> tuple[Rule, ...]:
    return tuple(_RULES)


ERROR, WARNING = Severity.ERROR, Severity.WARNING
