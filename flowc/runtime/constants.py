"""Class-level constants of a flow (``LEARNING_RATE = 0.1`` in the class body): as in Metaflow,
every step reads them as artifacts, they are stored with every task, and they are read-only."""

from __future__ import annotations

import inspect
from typing import Any


def flow_constants(cls: type) -> dict[str, Any]:
    """Public, non-callable class attributes of the flow and its bases (FlowSpec's own and
    Parameters/Configs excluded), computed once per class."""
    cached = cls.__dict__.get("__flowc_constants__")
    if cached is not None:
        return cached
    from flowc.authoring import FlowSpec, Parameter
    from flowc.configs import Deferred

    out: dict[str, Any] = {}
    for klass in reversed(cls.__mro__):
        if klass is object or klass is FlowSpec or not issubclass(klass, FlowSpec):
            continue
        for name, value in vars(klass).items():
            if name.startswith("_") or name in out:
                continue
            if isinstance(value, (Parameter, Deferred, property, staticmethod, classmethod)):
                continue
            if callable(value) or inspect.isclass(value) or inspect.ismodule(value):
                continue
            out[name] = value
    cls.__flowc_constants__ = out
    return out
