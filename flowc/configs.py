"""Config values as flows read them: ``config_expr("cfg").key`` and ``cfg.key`` in a class body
are deferred until the run knows each Config's value; a Config's value is a read-only mapping
whose keys also read as attributes (``self.cfg.nested.value``)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any


class ConfigValue(dict):
    """A Config's value: a dict, read-only, whose keys are also attributes."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f"config has no key {name!r}") from None

    def __getitem__(self, key: Any) -> Any:
        return _frozen(dict.__getitem__(self, key))

    def get(self, key: Any, default: Any = None) -> Any:
        return self[key] if key in self else default

    def _readonly(self, *args: Any, **kwargs: Any) -> None:
        raise TypeError("a Config's value is read-only")

    __setitem__ = __delitem__ = __setattr__ = __delattr__ = _readonly  # type: ignore[assignment]
    clear = pop = popitem = setdefault = update = _readonly  # type: ignore[assignment]

    def __reduce__(self) -> Any:
        return (ConfigValue, (dict(self),))

    def __deepcopy__(self, memo: dict) -> ConfigValue:
        return self


def _frozen(value: Any) -> Any:
    return ConfigValue(value) if isinstance(value, dict) and not isinstance(value, ConfigValue) else value


def to_value(value: Any) -> Any:
    """A Config's parsed value as steps see it."""
    return _frozen(value)


class Deferred:
    """An expression over the flow's Configs, evaluated when the run starts: ``config_expr("x")``,
    or attribute and item access on a Config in the class body (``cfg.a["b"]``)."""

    def __init__(self, expr: str, path: tuple[tuple[str, Any], ...] = (), unpack: bool = False):
        self._expr = expr
        self._path = path
        self._unpack = unpack  # from ``**cfg``: its items join the call's keyword arguments

    def __getattr__(self, name: str) -> Deferred:
        if name.startswith("__"):
            raise AttributeError(name)
        return Deferred(self._expr, (*self._path, ("attr", name)))

    def __getitem__(self, key: Any) -> Deferred:
        return Deferred(self._expr, (*self._path, ("item", key)))

    def resolve(self, configs: Mapping[str, Any]) -> Any:
        scope = {name: to_value(v) for name, v in configs.items()}
        value = eval(self._expr, {"__builtins__": __builtins__, "json": json}, scope)  # noqa: S307 - the flow author's own expression
        for kind, key in self._path:
            value = getattr(value, key) if kind == "attr" else value[key]
        return value

    def __repr__(self) -> str:
        tail = "".join(f".{k}" if kind == "attr" else f"[{k!r}]" for kind, k in self._path)
        return f"config_expr({self._expr!r}){tail}"


def config_expr(expr: str) -> Deferred:
    """A value computed from the flow's Configs when the run starts, e.g.
    ``@project(name=config_expr("cfg").project)`` or ``Parameter(default=config_expr("cfg.n"))``."""
    return Deferred(expr)


UNPACK = "__flowc_config_unpack__"


def resolve(value: Any, configs: Mapping[str, Any]) -> Any:
    """``value`` with every deferred config expression in it evaluated (through lists, tuples
    and dicts; a ``**cfg`` marker key is replaced by the config's items)."""
    if isinstance(value, Deferred):
        return value.resolve(configs)
    if isinstance(value, dict) and not isinstance(value, ConfigValue):
        out: dict = {}
        for k, v in value.items():
            if isinstance(k, str) and k.startswith(UNPACK):
                out.update(dict(resolve(v, configs)))
            else:
                out[resolve(k, configs)] = resolve(v, configs)
        return out
    if isinstance(value, (list, tuple)):
        return type(value)(resolve(v, configs) for v in value)
    return value
