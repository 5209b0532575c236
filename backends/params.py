"""Flow parameters as a target sees them: one native type, a default of that type, and the
name the target uses.

The rule for names (the only one: ``flowc compile`` reports it, and anything that starts runs on
a target must use :func:`parameter_name` to address a parameter):

* Airflow and Argo keep the name as written (``max-iter``);
* Kubeflow Pipelines needs a Python identifier: every character that is not a letter, digit or
  ``_`` becomes ``_`` (``max-iter`` -> ``max_iter``), a leading digit gets ``p_`` in front, and a
  Python keyword or a name the generated pipeline module uses itself gets ``_`` appended.
"""

from __future__ import annotations

import json
import keyword
import re
from typing import Any

from flowc.backends.deployment import FINALIZE_NODE
from flowc.backends.graphplan import ParamPlan

TYPES = ("str", "int", "float", "bool", "json")
# names the generated KFP module binds at the top or inside the pipeline function
KFP_RESERVED = frozenset(
    {"sys", "compiler", "dsl", "kubernetes", "pipeline", "compile_to", "FLOW", "IMAGE"}
    | {"COMMAND", "BASE_ARGS", "CACHING", "PARALLELISM", "DESCRIPTION", "DEFAULTS", "yaml"}
    | {"USER", "FINALIZE_COMMAND", "FINALIZE_ARGS", "exit_task", FINALIZE_NODE}
)
KFP_LOCAL_PREFIXES = ("t_", "item_", "step_")


class DefaultError(ValueError):
    """A default that has no value of the parameter's type (a JSON parameter's default that is
    not JSON)."""


def parameter_name(name: str, target: str) -> str:
    """The name ``target`` knows a flow parameter by (see the module docstring)."""
    if target != "kfp":
        return name
    ident = re.sub(r"\W", "_", name, flags=re.ASCII)
    if not ident.isidentifier() or ident[0].isdigit():
        ident = "p_" + ident
    if keyword.iskeyword(ident) or ident in KFP_RESERVED or ident.startswith(KFP_LOCAL_PREFIXES):
        ident += "_"
    return ident


def renamed(names: list[str], target: str) -> list[tuple[str, str]]:
    """``(flow name, target name)`` for every parameter the target spells differently."""
    return [(n, parameter_name(n, target)) for n in names if parameter_name(n, target) != n]


def param_type(x: ParamPlan) -> str:
    """One of :data:`TYPES`: the declared type, else the default's (Metaflow's rule). An
    IncludeFile is the path of the file (text); a Config is JSON when its default is a dict or a
    list, else the path of its JSON file."""
    if x.kind == "include_file":
        return "str"
    if x.kind == "config":
        return "json" if isinstance(x.default, (dict, list)) else "str"
    if x.type in TYPES:
        return str(x.type)
    d = x.default
    if isinstance(d, bool):
        return "bool"
    if isinstance(d, int):
        return "int"
    if isinstance(d, float):
        return "float"
    if isinstance(d, (dict, list)):
        return "json"
    return "str"


def param_default(x: ParamPlan) -> Any:
    """The default as a value of :func:`param_type`: a JSON parameter's text default parsed
    (``'{"a": 1}'`` -> ``{"a": 1}``), an int typed parameter's whole float as an int."""
    kind, d = param_type(x), x.default
    if d is None:
        return None
    if kind == "json" and isinstance(d, str):
        try:
            return json.loads(d)
        except ValueError as e:
            raise DefaultError(
                f"the default of JSON parameter {x.name!r} is not JSON ({e})"
            ) from None
    if kind == "int" and isinstance(d, float) and d.is_integer():
        return int(d)
    if kind == "float" and isinstance(d, int) and not isinstance(d, bool):
        return float(d)
    return d


__all__ = ["DefaultError", "parameter_name", "param_default", "param_type", "renamed"]
