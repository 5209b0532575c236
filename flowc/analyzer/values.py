"""Literal values of expressions, as JSON can hold them, computed from the tree without
evaluating any code: None/True/False, numbers (with a unary sign), strings (implicit
concatenation and placeholder-free f-strings included), lists/tuples and str-keyed dicts."""

from __future__ import annotations

import ast
from typing import Any

import libcst as cst

from flowc.ir import Value


class _NotLiteral(Exception):
    pass


_CONSTANTS = {"True": True, "False": False, "None": None}


def value_of(node: cst.BaseExpression, code: str) -> Value:
    """``Value(code, literal, value)`` for an expression whose source text is ``code``."""
    try:
        return Value(code, True, literal(node))
    except (_NotLiteral, ValueError, TypeError, AttributeError, SyntaxError, RecursionError):
        return Value(code, False, None)


def string_of(node: cst.BaseExpression) -> str | None:
    """The value of a string literal, else None."""
    try:
        v = literal(node)
    except (_NotLiteral, ValueError, TypeError, AttributeError, SyntaxError, RecursionError):
        return None
    return v if isinstance(v, str) else None


def literal(node: cst.BaseExpression) -> Any:
    """The JSON-able value of a literal expression; raises ``_NotLiteral`` for anything else."""
    if isinstance(node, cst.Name):
        if node.value in _CONSTANTS:
            return _CONSTANTS[node.value]
        raise _NotLiteral
    if isinstance(node, (cst.Integer, cst.Float)):
        return node.evaluated_value
    if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, (cst.Minus, cst.Plus)):
        inner = literal(node.expression)
        if isinstance(inner, bool) or not isinstance(inner, (int, float)):
            raise _NotLiteral
        return -inner if isinstance(node.operator, cst.Minus) else inner
    if isinstance(node, cst.SimpleString):
        return _str(node.evaluated_value)
    if isinstance(node, cst.ConcatenatedString):
        return _str(literal(node.left)) + _str(literal(node.right))
    if isinstance(node, cst.FormattedString):
        return _fstring(node)
    if isinstance(node, (cst.List, cst.Tuple)):
        out = []
        for el in node.elements:
            if not isinstance(el, cst.Element):  # *starred
                raise _NotLiteral
            out.append(literal(el.value))
        return out
    if isinstance(node, cst.Dict):
        d = {}
        for el in node.elements:
            if not isinstance(el, cst.DictElement):  # **spread
                raise _NotLiteral
            d[_str(literal(el.key))] = literal(el.value)
        return d
    raise _NotLiteral


def _str(v: Any) -> str:
    if not isinstance(v, str):  # bytes, or a non-string in a concatenation or as a dict key
        raise _NotLiteral
    return v


def _fstring(node: cst.FormattedString) -> str:
    """An f-string without placeholders is a plain string; Python's own parser (which runs
    nothing) resolves its escapes and doubled braces."""
    if not all(isinstance(p, cst.FormattedStringText) for p in node.parts):
        raise _NotLiteral
    text = node.start + "".join(p.value for p in node.parts) + node.end  # type: ignore[union-attr]
    tree = ast.parse(text, mode="eval").body
    if not isinstance(tree, ast.JoinedStr):
        raise _NotLiteral
    parts = [v.value for v in tree.values if isinstance(v, ast.Constant)]
    if len(parts) != len(tree.values):
        raise _NotLiteral
    return _str("".join(parts))
