"""Filters that turn values into text a generated file can hold without changing its meaning.

``pyrepr`` makes a Python literal (the DAG file's code never contains user text outside a
literal). ``jinja_escape`` makes a string that Airflow's template rendering turns back into the
original: Airflow renders every string in an operator's templated fields (``bash_command``,
``env``, ``cwd``, a pod's ``cmds``/``arguments``/``env_vars``...) with Jinja, so a path or an
environment value holding ``{{ x }}`` would otherwise be evaluated, a trailing newline dropped,
and a value ending in ``.sh`` or ``.json`` read as a template file name.
"""

from __future__ import annotations

import math
from typing import Any

# File name endings Airflow treats as "load this template file" in templated fields
# (BashOperator: .sh/.bash; KubernetesPodOperator: .yaml/.yml/.json).
_TEMPLATE_EXTS = (".sh", ".bash", ".yaml", ".yml", ".json")


class LiteralError(ValueError):
    """A value with no faithful Python literal (an object, a NaN, a non-str dict key)."""


def pyrepr(value: Any) -> str:
    """A Python literal for a JSON-like value: None, bool, int, float, str, list, tuple, dict
    with str keys. Deterministic (dicts keep their order; callers sort where order is free)."""
    if value is None or isinstance(value, bool):
        return repr(value)
    if isinstance(value, int):
        return repr(int(value))
    if isinstance(value, float):
        if not math.isfinite(value):
            raise LiteralError(f"{value!r} has no Python literal")
        return repr(value)
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, tuple):
        inner = ", ".join(pyrepr(v) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    if isinstance(value, list):
        return "[" + ", ".join(pyrepr(v) for v in value) + "]"
    if isinstance(value, dict):
        items = []
        for k, v in value.items():
            if not isinstance(k, str):
                raise LiteralError(f"dict key {k!r} is not a str")
            items.append(f"{pyrepr(k)}: {pyrepr(v)}")
        return "{" + ", ".join(items) + "}"
    raise LiteralError(f"a {type(value).__name__} has no Python literal")


def jinja_escape(text: str) -> str:
    """A Jinja template that renders to exactly ``text``.

    Every ``{`` becomes an expression printing ``{`` (so no ``{{``, ``{%`` or ``{#`` survives),
    and a value that ends in whitespace or a template file extension gets an empty expression
    appended, so Jinja keeps the trailing newline and Airflow does not look for a file."""
    out = text.replace("{", "{{ '{' }}")
    if text.endswith(_TEMPLATE_EXTS) or (text and text[-1].isspace()):
        out += "{{ '' }}"
    return out


def ident(name: str) -> str:
    """A name used as a Python identifier in generated code; anything else is a bug upstream."""
    if not name.isidentifier():
        raise LiteralError(f"{name!r} is not a Python identifier")
    return name
