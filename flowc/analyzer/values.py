"""Literal values of expressions, as JSON can hold them, computed from the tree without
evaluating any code: None/True/False, numbers (with a unary sign), strings (implicit
concatenation and f-strings included), lists/tuples and str-keyed dicts, and, given the
module's constants (:mod:`flowc.analyzer.constants`), names of those constants and arithmetic
over all of these. Nothing is ever run: each operation is computed here, within size bounds."""

from __future__ import annotations

import ast
import copy
import math
import operator
from collections.abc import Mapping
from typing import Any

import libcst as cst

from flowc.ir import Value


class _NotLiteral(Exception):
    """Not computable statically; ``what`` names the name or construct that stopped it."""

    def __init__(self, what: str | None = None):
        super().__init__(what)
        self.what = what


_CONSTANTS = {"True": True, "False": False, "None": None}
_MAX_SIZE = 100_000  # longest string or list an operation may build
_ERRORS = (_NotLiteral, ValueError, TypeError, AttributeError, SyntaxError, RecursionError)


def value_of(node: cst.BaseExpression, code: str, env: Mapping[str, Any] | None = None) -> Value:
    """``Value(code, literal, value)`` for an expression whose source text is ``code``; names
    in ``env`` (the module's constants) are read as their values."""
    try:
        return Value(code, True, literal(node, env))
    except _NotLiteral as e:
        return Value(code, False, None, e.what)
    except (*_ERRORS, ArithmeticError):
        return Value(code, False, None)


def string_of(node: cst.BaseExpression) -> str | None:
    """The value of a string literal, else None."""
    try:
        v = literal(node)
    except (*_ERRORS, ArithmeticError):
        return None
    return v if isinstance(v, str) else None


def literal(node: cst.BaseExpression, env: Mapping[str, Any] | None = None) -> Any:
    """The JSON-able value of a literal expression; raises ``_NotLiteral`` for anything else."""
    if isinstance(node, cst.Name):
        if node.value in _CONSTANTS:
            return _CONSTANTS[node.value]
        if env is not None and node.value in env:
            return copy.deepcopy(env[node.value])  # a list or dict is never shared
        raise _NotLiteral(node.value)
    if isinstance(node, (cst.Integer, cst.Float)):
        return node.evaluated_value
    if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, (cst.Minus, cst.Plus)):
        inner = literal(node.expression, env)
        if isinstance(inner, bool) or not isinstance(inner, (int, float)):
            raise _NotLiteral
        return -inner if isinstance(node.operator, cst.Minus) else inner
    if isinstance(node, cst.BinaryOperation):
        return _binary(node, env)
    if isinstance(node, cst.SimpleString):
        return _str(node.evaluated_value)
    if isinstance(node, cst.ConcatenatedString):
        return _str(literal(node.left, env)) + _str(literal(node.right, env))
    if isinstance(node, cst.FormattedString):
        return _fstring(node, env)
    if isinstance(node, (cst.List, cst.Tuple)):
        out = []
        for el in node.elements:
            if not isinstance(el, cst.Element):  # *starred
                raise _NotLiteral
            out.append(literal(el.value, env))
        return out
    if isinstance(node, cst.Dict):
        d = {}
        for el in node.elements:
            if not isinstance(el, cst.DictElement):  # **spread
                raise _NotLiteral
            d[_str(literal(el.key, env))] = literal(el.value, env)
        return d
    if isinstance(node, cst.Call) and isinstance(node.func, cst.Name):
        raise _NotLiteral(f"{node.func.value}(...)")
    raise _NotLiteral


_OPERATORS = {
    cst.Add: operator.add,
    cst.Subtract: operator.sub,
    cst.Multiply: operator.mul,
    cst.Divide: operator.truediv,
    cst.FloorDivide: operator.floordiv,
    cst.Modulo: operator.mod,
    cst.Power: operator.pow,
}


def _binary(node: cst.BinaryOperation, env: Mapping[str, Any] | None) -> Any:
    """Arithmetic on numbers, ``+`` on strings and lists, ``*`` of a string or list by an int;
    bounded, so a constant like ``"x" * 10**12`` is refused rather than built."""
    op = _OPERATORS.get(type(node.operator))
    if op is None:
        raise _NotLiteral
    a, b = literal(node.left, env), literal(node.right, env)
    numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (a, b))
    if numbers:
        if op is operator.pow and (abs(b) > 256 or (isinstance(a, int) and abs(a) > 2**64)):
            raise _NotLiteral
        out = op(a, b)
        if isinstance(out, complex) or (isinstance(out, float) and not math.isfinite(out)):
            raise _NotLiteral
        return out
    if op is operator.add and type(a) is type(b) and isinstance(a, (str, list)):
        out = a + b
    elif op is operator.mul and isinstance(a, (str, list)) and type(b) is int:
        out = a * b if len(a) * max(b, 0) <= _MAX_SIZE else None
    elif op is operator.mul and isinstance(b, (str, list)) and type(a) is int:
        out = b * a if len(b) * max(a, 0) <= _MAX_SIZE else None
    else:
        raise _NotLiteral
    if out is None or len(out) > _MAX_SIZE:
        raise _NotLiteral
    return out


def _str(v: Any) -> str:
    if not isinstance(v, str):  # bytes, or a non-string in a concatenation or as a dict key
        raise _NotLiteral
    return v


def _fstring(node: cst.FormattedString, env: Mapping[str, Any] | None = None) -> str:
    """An f-string whose placeholders are literals or constants (numbers, strings, bools,
    None) with plain format specs. Python's own parser (which runs nothing) resolves the
    escapes and doubled braces of the text parts."""
    out = []
    for part in node.parts:
        if isinstance(part, cst.FormattedStringText):
            out.append(_fstring_text(node, part.value))
            continue
        if not isinstance(part, cst.FormattedStringExpression) or part.equal is not None:
            raise _NotLiteral
        v = literal(part.expression, env)
        if not (v is None or isinstance(v, (str, int, float))):
            raise _NotLiteral  # a list came from a tuple or a list: its text is ambiguous
        spec = ""
        for s in part.format_spec or ():
            if not isinstance(s, cst.FormattedStringText):
                raise _NotLiteral
            spec += _fstring_text(node, s.value)
        if part.conversion is not None:
            v = {"r": repr, "s": str, "a": ascii}[part.conversion](v)
        out.append(format(v, spec))
    return _str("".join(out))


def _fstring_text(node: cst.FormattedString, text: str) -> str:
    tree = ast.parse(node.start + text + node.end, mode="eval").body
    if isinstance(tree, ast.Constant) and isinstance(tree.value, str):
        return tree.value
    if isinstance(tree, ast.JoinedStr):
        parts = [v.value for v in tree.values if isinstance(v, ast.Constant)]
        if len(parts) == len(tree.values):
            return "".join(parts)
    raise _NotLiteral
