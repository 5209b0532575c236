"""The rule registry: each rule is one function over the IR with a stable id and severity.

A rule yields ``(file, span, message, fix)``; the registry turns that into a located
:class:`~flowc.diagnostics.Diagnostic`, so rules never repeat formatting or severity."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from flowc.diagnostics import Diagnostic, Severity
from flowc.ir import FlowIR, Span

Finding = tuple[str, Span, str, str]
Check = Callable[[FlowIR], Iterable[Finding]]


@dataclass(frozen=True)
class Rule:
    id: str
    severity: Severity
    summary: str
    check: Check

    def run(self, ir: FlowIR) -> Iterator[Diagnostic]:
        for file, span, message, fix in self.check(ir):
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
