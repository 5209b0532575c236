"""The front end every command starts with: a flow file in, its IR and all its diagnostics out
(analyzer and lint), through the cache when the file has not changed.

Only this module knows the order analyzer -> graph -> lint; ``show``, ``validate`` and later
``run`` and ``compile`` call :func:`check_file` and read the result.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from flowc import cache
from flowc.analyzer.result import Analysis
from flowc.diagnostics import Diagnostic, Severity
from flowc.ir import FlowIR


@dataclass(frozen=True)
class Checked:
    """One file's analysis plus the lint findings for every flow in it."""

    analysis: Analysis
    lint: tuple[Diagnostic, ...]

    @property
    def flows(self) -> tuple[FlowIR, ...]:
        return self.analysis.flows

    @property
    def diagnostics(self) -> tuple[Diagnostic, ...]:
        return sort_diagnostics(self.analysis.diagnostics + self.lint)

    @property
    def errors(self) -> tuple[Diagnostic, ...]:
        return tuple(d for d in self.diagnostics if d.severity is Severity.ERROR)

    @property
    def warnings(self) -> tuple[Diagnostic, ...]:
        return tuple(d for d in self.diagnostics if d.severity is Severity.WARNING)

    def to_dict(self) -> dict:
        return {"analysis": self.analysis.to_dict(), "lint": [d.to_dict() for d in self.lint]}

    @classmethod
    def from_dict(cls, d: dict) -> Checked:
        return cls(
            Analysis.from_dict(d["analysis"]),
            tuple(Diagnostic.from_dict(x) for x in d["lint"]),
        )


def sort_diagnostics(diags: tuple[Diagnostic, ...] | list[Diagnostic]) -> tuple[Diagnostic, ...]:
    unique = dict.fromkeys(diags)
    return tuple(sorted(unique, key=lambda d: (d.path, d.line, d.col, d.rule, d.message)))


def check_file(path: str, flow: str | None = None, *, use_cache: bool = True) -> Checked:
    """Analyze and lint ``path`` (a readable file; callers check existence first)."""
    with open(path, "rb") as f:
        data = f.read()
    key = cache.key_for(path, data, flow) if use_cache else None
    if key is not None:
        hit = cache.load(key)
        if hit is not None:
            try:
                return Checked.from_dict(hit)
            except (KeyError, TypeError, ValueError):
                pass
    checked = _check(path, flow)
    if key is not None:
        main = os.path.abspath(path)
        deps = [(p, h) for p, h in checked.analysis.sources if p != main]
        cache.store(key, checked.to_dict(), deps)
    return checked


def _check(path: str, flow: str | None) -> Checked:
    from flowc.analyzer import analyze_file
    from flowc.lint import lint

    analysis = analyze_file(path, flow)
    found: list[Diagnostic] = []
    for ir in analysis.flows:
        found.extend(lint(ir))
    return Checked(analysis, sort_diagnostics(found))
