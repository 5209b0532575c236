"""Flow parameters: class attributes assigned ``Parameter(...)``, ``IncludeFile(...)`` or
``Config(...)``, read from the call's arguments as Metaflow would interpret them."""

from __future__ import annotations

import libcst as cst

from flowc.analyzer.decorators import arguments
from flowc.analyzer.imports import Names
from flowc.analyzer.source import SourceFile
from flowc.ir import Argument, Parameter, ParameterKind, Value

KINDS = {
    "Parameter": ParameterKind.PARAMETER,
    "IncludeFile": ParameterKind.INCLUDE_FILE,
    "Config": ParameterKind.CONFIG,
}

# Metaflow's positional order for each class; later positionals are kept in ``extra``.
_SLOTS = {
    ParameterKind.PARAMETER: ("name", "default", "type", "help", "required"),
    ParameterKind.INCLUDE_FILE: ("name",),  # flowc's and Metaflow's signatures differ after it
    ParameterKind.CONFIG: ("name", "default", "default_value", "help", "required"),
}
_OWN = frozenset({"name", "default", "default_value", "type", "help", "required"})
_SIMPLE_TYPES = ("int", "float", "str", "bool")


def parameter_kind(value: cst.BaseExpression | None, names: Names) -> ParameterKind | None:
    """Which parameter class ``value`` instantiates, if it is a call to one of flowc's."""
    if not isinstance(value, cst.Call):
        return None
    for api, kind in KINDS.items():
        if names.is_api(value.func, api):
            return kind
    return None


def build_parameter(
    attr: str,
    kind: ParameterKind,
    call: cst.Call,
    stmt: cst.CSTNode,
    src: SourceFile,
    names: Names,
    owner: str,
) -> Parameter:
    """The parameter ``attr = Kind(...)`` (statement ``stmt``) of class ``owner``."""
    given: dict[str, tuple[Argument, cst.BaseExpression]] = {}
    extra: list[Argument] = []
    slots = _SLOTS[kind]
    own = _OWN if kind is ParameterKind.CONFIG else _OWN - {"default_value"}
    position = 0
    for arg, node in zip(arguments(call.args, src), call.args, strict=True):
        if node.star:
            extra.append(arg)
        elif arg.name is None:
            if position < len(slots):
                given.setdefault(slots[position], (arg, node.value))
            else:
                extra.append(arg)
            position += 1
        elif arg.name in own:
            given[arg.name] = (arg, node.value)
        else:
            extra.append(arg)

    def value(key: str) -> Value | None:
        return given[key][0].value if key in given else None

    name = value("name")
    default = value("default")
    if default is None and kind is ParameterKind.CONFIG:
        default = value("default_value")
    required, help_ = value("required"), value("help")
    return Parameter(
        attr=attr,
        name=name.value
        if name is not None and name.literal and isinstance(name.value, str)
        else attr,
        kind=kind,
        type=_type(given["type"][1], names) if "type" in given else _type_of_default(default),
        default=default,
        required=bool(required is not None and required.literal and required.value),
        help=help_.value
        if help_ is not None and help_.literal and isinstance(help_.value, str)
        else None,
        extra=tuple(extra),
        span=src.span(stmt),
        file=src.path,
        defined_in=owner,
    )


def _type(expr: cst.BaseExpression, names: Names) -> str | None:
    """``type=int`` (the builtin, not a shadowing import) -> "int"; ``JSONType`` -> "json"."""
    if (
        isinstance(expr, cst.Name)
        and expr.value in _SIMPLE_TYPES
        and expr.value not in names.bindings
    ):
        return expr.value
    if names.is_api(expr, "JSONType"):
        return "json"
    return None


def _type_of_default(default: Value | None) -> str | None:
    """Metaflow's rule: the default's type, and ``str`` when there is no default (or it is None).
    A non-literal default (a function, a name) cannot be typed without running code."""
    if default is None:
        return "str"
    if not default.literal:
        return None
    v = default.value
    if v is None or isinstance(v, str):
        return "str"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "float"
    return "json"
