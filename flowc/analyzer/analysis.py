"""One flow file -> :class:`Analysis`: parse it, find its flow classes, pick the ones asked
for, build their IR, and turn every problem into a located diagnostic. Never raises."""

from __future__ import annotations

import hashlib
import os
import warnings

import libcst as cst

from flowc.analyzer.flows import Classes, ClassRef
from flowc.analyzer.imports import Local
from flowc.analyzer.modules import Loader
from flowc.analyzer.result import Analysis
from flowc.analyzer.source import load
from flowc.analyzer.tree import flat_statements, walk
from flowc.analyzer.values import string_of
from flowc.diagnostics import Diagnostic, error


def analyze(data: bytes | str, path: str, flow: str | None = None) -> Analysis:
    """The analysis of ``data`` as the file at ``path`` (local modules resolve from its
    folder); only flow ``flow`` when given, else every leaf flow class."""
    try:
        with warnings.catch_warnings():
            # evaluating literals such as "\d" must not print SyntaxWarnings mid-command
            warnings.simplefilter("ignore")
            return _analyze(data, path, flow)
    except RecursionError:
        problem = error(
            "syntax-error",
            "cannot analyze the file: the code is nested too deeply",
            "simplify the code (split deeply nested expressions or class chains)",
            path,
            1,
            1,
        )
    except Exception as e:  # noqa: BLE001 - a bug here must not take the command down
        if os.environ.get("FLOWC_DEBUG", "") not in ("", "0"):
            raise
        problem = error(
            "internal-error",
            f"flowc could not analyze this file ({type(e).__name__}: {str(e)[:200]})",
            "please report this with the file; meanwhile check it with Metaflow itself",
            path,
            1,
            1,
        )
    return Analysis(path, (), (), None, (problem,), (_source_of(data, path),))


def unreadable(path: str, e: OSError) -> Analysis:
    """The answer for a file that cannot be read at all (missing, a folder, no permission)."""
    problem = error(
        "not-python",
        f"cannot read {path}: {e.strerror or type(e).__name__}",
        "pass the path of a readable .py file that defines the flow",
        path,
        1,
        1,
    )
    return Analysis(path, (), (), None, (problem,), ())


def _source_of(data: bytes | str, path: str) -> tuple[str, str]:
    raw = data if isinstance(data, bytes) else data.encode("utf-8", "surrogatepass")
    return os.path.abspath(path), hashlib.sha256(raw).hexdigest()


def _analyze(data: bytes | str, path: str, flow: str | None) -> Analysis:
    src = load(data, path)
    if src.module is None:
        problems = (src.problem,) if src.problem is not None else ()
        return Analysis(path, (), (), None, problems, ((src.abspath, src.sha256),))
    loader = Loader(src)
    classes = Classes(loader)
    root = loader.root
    defined = [
        ClassRef(root, stmt)
        for stmt, _ in flat_statements(src.module.body)
        if isinstance(stmt, cst.ClassDef) and _final_binding(root.names.bindings, stmt)
    ]
    flows = [c for c in defined if classes.is_flow(c)]
    # Only a class defined earlier can be a base when the file runs, so even a (broken) cycle
    # of classes leaves the last flow as a leaf.
    order = {c.key: i for i, c in enumerate(defined)}
    used_as_base = {
        r.key
        for i, c in enumerate(defined)
        for _, r in classes.bases(c)
        if isinstance(r, ClassRef) and order.get(r.key, i) < i
    }
    candidates = [c for c in flows if c.key not in used_as_base]
    diagnostics: list[Diagnostic] = []
    if not flows:
        diagnostics.append(
            error(
                "no-flow",
                f"no flow in {os.path.basename(path) or path}: no class derives from FlowSpec",
                "define `class MyFlow(FlowSpec)` with `@step` methods, importing them with "
                "`from flowc import FlowSpec, step` (or `from metaflow import FlowSpec, step`)",
                path,
                1,
                1,
            )
        )
        selected: list[ClassRef] = []
    elif flow is not None:
        selected = [c for c in flows if c.name == flow]
        if not selected:
            diagnostics.append(
                error(
                    "unknown-flow",
                    f"{os.path.basename(path) or path} has no flow class named `{flow}`; "
                    f"its flows are: {', '.join(c.name for c in flows)}",
                    "pass one of those names to --flow",
                    path,
                    1,
                    1,
                )
            )
    else:
        selected = candidates
    for c in selected:
        diagnostics.extend(classes.unresolved(c))
    # build every IR before reading `sources`: building may read more local modules
    members = {c.key: classes.members(c) for c in selected}
    diagnostics.extend(loader.problems)
    sources = loader.sources()
    irs = tuple(classes.flow_ir(c, sources, members[c.key]) for c in selected)
    return Analysis(
        path=path,
        flows=irs,
        candidates=tuple(c.name for c in candidates),
        main_flow=_main_flow(src.module, {c.name for c in flows}),
        diagnostics=tuple(dict.fromkeys(diagnostics)),
        sources=sources,
    )


def _final_binding(bindings: dict, stmt: cst.ClassDef) -> bool:
    """Whether this definition is the one the class name ends up bound to (a later class of
    the same name replaces it)."""
    b = bindings.get(stmt.name.value)
    return isinstance(b, Local) and b.node is stmt


def _main_flow(module: cst.Module, flow_names: set[str]) -> str | None:
    """The flow class instantiated under ``if __name__ == "__main__":``."""
    for stmt in module.body:
        if isinstance(stmt, cst.If) and _is_main_test(stmt.test):
            found = next((n for n in _called_names(stmt.body) if n in flow_names), None)
            if found is not None:
                return found
    return None


def _called_names(block: cst.CSTNode) -> list[str]:
    """``X`` of every call ``X(...)`` in the block, in source order."""
    called: list[str] = []

    def on_call(node: cst.CSTNode) -> None:
        if isinstance(node, cst.Call) and isinstance(node.func, cst.Name):
            called.append(node.func.value)

    walk(block, {cst.Call: on_call})
    return called


def _is_main_test(test: cst.BaseExpression) -> bool:
    if not isinstance(test, cst.Comparison) or len(test.comparisons) != 1:
        return False
    if not isinstance(test.comparisons[0].operator, cst.Equal):
        return False
    sides = [test.left, test.comparisons[0].comparator]
    names = [s.value for s in sides if isinstance(s, cst.Name)]
    return names == ["__name__"] and "__main__" in [string_of(s) for s in sides]
