"""A module's constants: top-level names bound exactly once, by ``NAME = expr`` (or
``NAME: T = expr``) where ``expr`` is a literal or an expression of literals and earlier
constants. Parameter defaults and decorator arguments may use them (``DEFAULT_ALPHA = 0.1``
then ``Parameter("alpha", default=DEFAULT_ALPHA)``), as Metaflow allows by importing the file;
flowc computes them from the tree instead, so nothing in the file runs.

A name bound any other way (twice, conditionally, by an import, a loop, ``global`` in a
function, ``+=``) is not a constant: a default that uses it stays unreadable, and the IR's
``Value.unread`` names it."""

from __future__ import annotations

import weakref
from typing import Any

import libcst as cst

from flowc.analyzer.source import SourceFile
from flowc.analyzer.values import _NotLiteral, literal

_CACHE: weakref.WeakKeyDictionary[SourceFile, dict[str, Any]] = weakref.WeakKeyDictionary()


def constants(src: SourceFile) -> dict[str, Any]:
    """The module's constants and their values (computed once per parsed file)."""
    if src.module is None:
        return {}
    found = _CACHE.get(src)
    if found is None:
        found = _CACHE[src] = module_constants(src.module)
    return found


def module_constants(module: cst.Module) -> dict[str, Any]:
    binds = _Bindings()
    module.visit(binds)
    values: dict[str, Any] = {}
    for stmt in module.body:
        if not isinstance(stmt, cst.SimpleStatementLine):
            continue
        for small in stmt.body:
            target, expr = _single_assignment(small)
            if target is None or expr is None or binds.count.get(target, 0) != 1:
                continue
            if target in binds.global_in_function:
                continue
            try:
                values[target] = literal(expr, values)
            except (_NotLiteral, ValueError, TypeError, AttributeError, ArithmeticError):
                continue
            except (SyntaxError, RecursionError):
                continue
    return values


def _single_assignment(small: cst.BaseSmallStatement):  # noqa: ANN202
    if isinstance(small, cst.Assign) and len(small.targets) == 1:
        target = small.targets[0].target
        if isinstance(target, cst.Name):
            return target.value, small.value
    if isinstance(small, cst.AnnAssign) and isinstance(small.target, cst.Name):
        return small.target.value, small.value
    return None, None


class _Bindings(cst.CSTVisitor):
    """How many times each name is bound at module scope, and names some function declares
    ``global`` (it may rebind them at any time)."""

    def __init__(self) -> None:
        self.count: dict[str, int] = {}
        self.global_in_function: set[str] = set()
        self._depth = 0  # inside a function, class or lambda: another scope

    def _bind(self, node: cst.CSTNode | None) -> None:
        if self._depth or node is None:
            return
        if isinstance(node, cst.Name):
            self.count[node.value] = self.count.get(node.value, 0) + 1
        elif isinstance(node, (cst.Tuple, cst.List)):
            for el in node.elements:
                self._bind(el.value)
        elif isinstance(node, cst.StarredElement):
            self._bind(node.value)

    def _scope(self, name: cst.Name) -> bool:
        self._bind(name)
        self._depth += 1
        return True

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return self._scope(node.name)

    def leave_FunctionDef(self, node: cst.FunctionDef) -> None:
        self._depth -= 1

    def visit_ClassDef(self, node: cst.ClassDef) -> bool:
        return self._scope(node.name)

    def leave_ClassDef(self, node: cst.ClassDef) -> None:
        self._depth -= 1

    def visit_Lambda(self, node: cst.Lambda) -> bool:
        self._depth += 1
        return True

    def leave_Lambda(self, node: cst.Lambda) -> None:
        self._depth -= 1

    def visit_Global(self, node: cst.Global) -> None:
        self.global_in_function.update(n.name.value for n in node.names)

    def visit_Assign(self, node: cst.Assign) -> None:
        for t in node.targets:
            self._bind(t.target)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        self._bind(node.target)

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        self._bind(node.target)
        self._bind(node.target)  # a rebinding: never a constant

    def visit_NamedExpr(self, node: cst.NamedExpr) -> None:
        self._bind(node.target)

    def visit_For(self, node: cst.For) -> None:
        self._bind(node.target)

    def visit_WithItem(self, node: cst.WithItem) -> None:
        if node.asname is not None:
            self._bind(node.asname.name)

    def visit_ExceptHandler(self, node: cst.ExceptHandler) -> None:
        if node.name is not None:
            self._bind(node.name.name)

    def visit_Import(self, node: cst.Import) -> None:
        for alias in node.names:
            name = alias.asname.name if alias.asname else alias.name
            while isinstance(name, cst.Attribute):
                name = name.value
            self._bind(name)

    def visit_ImportFrom(self, node: cst.ImportFrom) -> None:
        if isinstance(node.names, cst.ImportStar):
            return
        for alias in node.names:
            self._bind(alias.asname.name if alias.asname else alias.name)

    def visit_Del(self, node: cst.Del) -> None:
        self._bind(node.target)
        self._bind(node.target)
