"""The front end every command starts with: a flow file in, its IR and all its diagnostics out
(analyzer and lint), through the cache when the file has not changed.

Only this module knows the order analyzer -> graph -> lint; ``show``, ``validate`` and later
``run`` and ``compile`` call :func:`check_file` and read the result. A cached result keeps the
findings apart from the IR, so ``validate`` never decodes the IR of a large flow just to say
that it is clean.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import cached_property

from flowc import cache
from flowc.diagnostics import Diagnostic, Severity
from flowc.ir import FlowIR


class Checked:
    """One file's analysis plus the lint findings for every flow in it."""

    def __init__(
        self,
        meta: dict,
        flows: tuple[FlowIR, ...] | None = None,
        load_flows: Callable[[], tuple[FlowIR, ...]] | None = None,
    ):
        self.path: str = meta["path"]
        self.flow_names: tuple[str, ...] = tuple(meta["flow_names"])
        self.candidates: tuple[str, ...] = tuple(meta["candidates"])
        self.main_flow: str | None = meta["main_flow"]
        self.sources: tuple[tuple[str, str], ...] = tuple((p, h) for p, h in meta["sources"])
        self.analyzer_diagnostics = tuple(Diagnostic.from_dict(d) for d in meta["analyzer"])
        self.lint_by_flow = {
            name: tuple(Diagnostic.from_dict(d) for d in found)
            for name, found in meta["lint"].items()
        }
        self.lint = sort_diagnostics([d for found in self.lint_by_flow.values() for d in found])
        self._meta = meta
        if flows is not None:
            self.__dict__["flows"] = flows
        self._load_flows = load_flows

    @cached_property
    def flows(self) -> tuple[FlowIR, ...]:
        assert self._load_flows is not None
        return self._load_flows()

    @cached_property
    def diagnostics(self) -> tuple[Diagnostic, ...]:
        return sort_diagnostics(self.analyzer_diagnostics + self.lint)

    @property
    def errors(self) -> tuple[Diagnostic, ...]:
        return tuple(d for d in self.diagnostics if d.severity is Severity.ERROR)

    def chosen_flow(self) -> FlowIR | None:
        """The flow a command is about: the only one, or the one run under ``__main__``;
        ``None`` when the file holds several and none is the main one (pick with --flow)."""
        flows = {ir.name: ir for ir in self.flows}
        if len(flows) == 1:
            return next(iter(flows.values()))
        return flows.get(self.main_flow) if self.main_flow else None

    def diagnostics_for(self, flow_name: str) -> tuple[Diagnostic, ...]:
        """The file's analyzer findings plus the lint findings of one of its flows."""
        return sort_diagnostics(self.analyzer_diagnostics + self.lint_by_flow.get(flow_name, ()))


def sort_diagnostics(diags: tuple[Diagnostic, ...] | list[Diagnostic]) -> tuple[Diagnostic, ...]:
    unique = dict.fromkeys(diags)
    return tuple(sorted(unique, key=lambda d: (d.path, d.line, d.col, d.rule, d.message)))


def check_file(path: str, flow: str | None = None, *, use_cache: bool = True) -> Checked:
    """Analyze and lint ``path`` (a readable file; callers check existence first)."""
    with open(path, "rb") as f:
        data = f.read()
    key = cache.key_for(path, data, flow) if use_cache else None
    if key is not None:
        meta = cache.load(key, "meta")
        if meta is not None:
            try:
                return Checked(meta, load_flows=lambda: _cached_flows(key, path, flow))
            except (KeyError, TypeError, ValueError):
                pass
    meta, flows = _check(path, flow)
    if key is not None:
        main = os.path.abspath(path)
        deps = [(p, h) for p, h in meta["sources"] if p != main]
        cache.store(key, {"ir": {"flows": [ir.to_dict() for ir in flows]}, "meta": meta}, deps)
    return Checked(meta, flows=flows)


def is_cached(path: str, flow: str | None = None) -> bool:
    """Whether :func:`check_file` would answer from the cache (without analysing)."""
    with open(path, "rb") as f:
        data = f.read()
    key = cache.key_for(path, data, flow)
    return key is not None and cache.load(key, "meta") is not None


def _cached_flows(key: str, path: str, flow: str | None) -> tuple[FlowIR, ...]:
    part = cache.load(key, "ir")
    if part is not None:
        try:
            return tuple(FlowIR.from_dict(d) for d in part["flows"])
        except (KeyError, TypeError, ValueError):
            pass
    return _check(path, flow)[1]


def _check(path: str, flow: str | None) -> tuple[dict, tuple[FlowIR, ...]]:
    from flowc.analyzer import analyze_file
    from flowc.lint import lint

    analysis = analyze_file(path, flow)
    meta = {
        "path": analysis.path,
        "flow_names": [ir.name for ir in analysis.flows],
        "candidates": list(analysis.candidates),
        "main_flow": analysis.main_flow,
        "sources": [list(s) for s in analysis.sources],
        "analyzer": [d.to_dict() for d in analysis.diagnostics],
        "lint": {ir.name: [d.to_dict() for d in lint(ir)] for ir in analysis.flows},
    }
    return meta, analysis.flows
