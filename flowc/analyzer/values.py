"""Literal values of expressions, as JSON can hold them, without evaluating any code."""

from __future__ import annotations

from typing import Any

import libcst as cst

from flowc.ir import Value


class _NotLiteral(Exception):
    pass


def value_of(node: cst.BaseExpression, code: str) -> Value:
    try:
        return Value(code, True, _literal(node))
    except (_NotLiteral, ValueError, TypeError, AttributeError, RecursionError):
        return Value(code, False, None)


def _literal(node: cst.BaseExpression) -> Any:
    if isinstance(node, cst.Name):
        if node.value in ("True", "False", "None"):
            return {"True": True, "False": False, "None": None}[node.value]
        raise _NotLiteral
    if isinstance(node, (cst.Integer, cst.Float)):
        return node.evaluated_value
    if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, (cst.Minus, cst.Plus)):
        inner = _literal(node.expression)
        if isinstance(inner, bool) or not isinstance(inner, (int, float)):
            raise _NotLiteral
        return -inner if isinstance(node.operator, cst.Minus) else inner
    if isinstance(node, cst.SimpleString):
        v = node.evaluated_value
        if not isinstance(v, str):
            raise _NotLiteral
        return v
    if isinstance(node, cst.ConcatenatedString):
        left, right = _literal(node.left), _literal(node.right)
        if not isinstance(left, str) or not isinstance(right, str):
            raise _NotLiteral
        return left + right
    if isinstance(node, cst.FormattedString):
        if all(isinstance(p, cst.FormattedStringText) for p in node.parts):
            return "".join(p.value for p in node.parts)  # type: ignore[union-attr]
        raise _NotLiteral
    if isinstance(node, (cst.List, cst.Tuple)):
        out = []
        for el in node.elements:
            if not isinstance(el, cst.Element):
                raise _NotLiteral
            out.append(_literal(el.value))
        return out
    if isinstance(node, cst.Dict):
        d = {}
        for el in node.elements:
            if not isinstance(el, cst.DictElement):
                raise _NotLiteral
            key = _literal(el.key)
            if not isinstance(key, str):
                raise _NotLiteral
            d[key] = _literal(el.value)
        return d
    raise _NotLiteral


def string_of(node: cst.BaseExpression) -> str | None:
    """The value of a plain string literal, else None."""
    try:
        v = _literal(node)
    except (_NotLiteral, ValueError, TypeError, AttributeError, RecursionError):
        return None
    return v if isinstance(v, str) else None
