"""Read-only helpers over libcst trees: an iterative walk, dotted names, block bodies.

libcst's own ``node.visit(visitor)`` rebuilds every node it passes (it is built for
transformers) and recurses; the walk here only reads, and uses an explicit stack so deeply
nested code cannot exhaust Python's recursion limit."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Sequence

import libcst as cst

_FIELDS: dict[type, tuple[str, ...]] = {}

# Fields that only ever hold whitespace, comments or punctuation: no names, calls or
# attributes below them. Skipping them halves the nodes a walk visits.
_TRIVIA = frozenset(
    {
        "asynchronous",
        "colon",
        "comma",
        "comment",
        "dot",
        "empty_lines",
        "equal",
        "first_colon",
        "first_line",
        "footer",
        "header",
        "last_line",
        "lbrace",
        "lbracket",
        "leading_lines",
        "lines_after_decorators",
        "lpar",
        "newline",
        "operator",
        "posonly_ind",
        "rbrace",
        "rbracket",
        "relative",
        "rpar",
        "second_colon",
        "semicolon",
        "separator",
        "trailing_comma",
        "trailing_whitespace",
    }
)


def children(node: cst.CSTNode) -> list[cst.CSTNode]:
    """Direct child nodes in source order, leaving out whitespace and punctuation."""
    tp = type(node)
    names = _FIELDS.get(tp)
    if names is None:
        names = _FIELDS[tp] = tuple(
            f.name
            for f in dataclasses.fields(tp)
            if f.name not in _TRIVIA and not f.name.startswith("whitespace")
        )
    out: list[cst.CSTNode] = []
    for name in names:
        v = getattr(node, name)
        if isinstance(v, cst.CSTNode):
            out.append(v)
        elif isinstance(v, (list, tuple)):
            out.extend(x for x in v if isinstance(x, cst.CSTNode))
    return out


def walk(node: cst.CSTNode, hooks: dict[type, Callable[[cst.CSTNode], None]]) -> None:
    """Pre-order (source order) walk calling ``hooks[type(node)](node)`` where given."""
    stack = [node]
    while stack:
        n = stack.pop()
        hook = hooks.get(type(n))
        if hook is not None:
            hook(n)
        stack.extend(reversed(children(n)))


def dotted(node: cst.CSTNode) -> str | None:
    """``a.b.c`` for a Name or a chain of attributes on a Name, else None."""
    parts: list[str] = []
    while isinstance(node, cst.Attribute):
        parts.append(node.attr.value)
        node = node.value
    if not isinstance(node, cst.Name):
        return None
    parts.append(node.value)
    return ".".join(reversed(parts))


def statements(block: cst.BaseSuite) -> Sequence[cst.CSTNode]:
    """The statements of a block: an indented body, or the small statements after ``:``."""
    if isinstance(block, cst.IndentedBlock):
        return block.body
    if isinstance(block, cst.SimpleStatementSuite):
        return block.body
    return ()


def flat_statements(
    body: Sequence[cst.CSTNode], depth: int = 0
) -> Iterator[tuple[cst.CSTNode, bool]]:
    """Small and compound statements of a module or class body, in source order, including
    those inside top-level ``if``/``try``/``with`` blocks (conditional imports and definitions).
    Each comes with whether it is certain to run (False inside ``else``/``except`` branches, so
    a fallback never hides what the main branch bound)."""
    for stmt in body:
        yield from _flat(stmt, True, depth)


def _flat(stmt: cst.CSTNode, certain: bool, depth: int) -> Iterator[tuple[cst.CSTNode, bool]]:
    if isinstance(stmt, (cst.SimpleStatementLine, cst.SimpleStatementSuite)):
        for small in stmt.body:
            yield small, certain
        return
    yield stmt, certain
    if depth > 8:
        return
    if isinstance(stmt, cst.If):
        for s in statements(stmt.body):
            yield from _flat(s, certain, depth + 1)
        orelse = stmt.orelse
        while orelse is not None:
            for s in statements(orelse.body):
                yield from _flat(s, False, depth + 1)
            orelse = orelse.orelse if isinstance(orelse, cst.If) else None
    elif isinstance(stmt, (cst.Try, cst.TryStar)):
        for s in statements(stmt.body):
            yield from _flat(s, certain, depth + 1)
        for handler in stmt.handlers:
            for s in statements(handler.body):
                yield from _flat(s, False, depth + 1)
        for extra in (stmt.orelse, stmt.finalbody):
            if extra is not None:
                for s in statements(extra.body):
                    yield from _flat(s, certain, depth + 1)
    elif isinstance(stmt, cst.With):
        for s in statements(stmt.body):
            yield from _flat(s, certain, depth + 1)
