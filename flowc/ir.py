"""The flow graph IR: plain frozen data, the only thing that crosses from the analyzer to lint,
the executor and the backends.

It round-trips through JSON (``to_json``/``from_json``) with a schema version, so that a cached
analysis or ``flowc show --json`` can be loaded back without the analyzer (and without libcst).
Everything here is cheap to import: no third-party modules.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import types
import typing
from dataclasses import dataclass
from typing import Any

SCHEMA_VERSION = 1


class NodeKind(str, enum.Enum):
    """What a step is in the graph (Metaflow's node types, plus ``switch``)."""

    START = "start"
    LINEAR = "linear"
    SPLIT = "split"
    FOREACH = "foreach"
    JOIN = "join"
    SWITCH = "switch"
    END = "end"


class TransitionKind(str, enum.Enum):
    """The shape of a well-formed ``self.next(...)``."""

    LINEAR = "linear"  # self.next(self.a)
    SPLIT = "split"  # self.next(self.a, self.b)
    FOREACH = "foreach"  # self.next(self.a, foreach="items")
    PARALLEL = "parallel"  # self.next(self.a, num_parallel=4)
    SWITCH = "switch"  # self.next({"x": self.a, "y": self.b}, condition="name")


class ParameterKind(str, enum.Enum):
    PARAMETER = "parameter"
    INCLUDE_FILE = "include_file"
    CONFIG = "config"


@dataclass(frozen=True)
class Span:
    """A source range; lines and columns are 1-based, as editors and compilers print them."""

    line: int
    col: int
    end_line: int
    end_col: int


@dataclass(frozen=True)
class Value:
    """An expression from the flow file: its source text and, when it is a literal that JSON can
    hold (None, bool, int, float, str, lists and str-keyed dicts of those), its value. The
    analyzer folds module-level constants and simple expressions of them into literals; when it
    cannot, ``unread`` names what it could not read (a name, or a kind of expression)."""

    source: str
    literal: bool = False
    value: Any = None
    unread: str | None = None


@dataclass(frozen=True)
class Argument:
    """One argument of a call; ``name`` is None for a positional one."""

    name: str | None
    value: Value


@dataclass(frozen=True)
class Decorator:
    """A step or flow decorator with its arguments.

    ``name`` is the canonical name after resolving import aliases (``from metaflow import
    retry as r`` then ``@r`` gives ``retry``); ``known`` says whether it is one of flowc's
    (equivalently Metaflow's) decorators."""

    name: str
    known: bool
    args: tuple[Argument, ...]
    span: Span

    def kwargs(self) -> dict[str, Value]:
        return {a.name: a.value for a in self.args if a.name is not None}

    def get(self, name: str, default: Any = None) -> Any:
        """The literal value of keyword ``name``, or ``default`` when absent or not literal."""
        v = self.kwargs().get(name)
        return v.value if v is not None and v.literal else default


@dataclass(frozen=True)
class Parameter:
    """A ``Parameter``/``IncludeFile``/``Config`` class attribute.

    ``attr`` is the artifact name steps read (``self.alpha``); ``name`` is the first argument,
    which names the command-line option. ``type`` is one of str, int, float, bool, json, or None
    when it cannot be known without running code."""

    attr: str
    name: str
    kind: ParameterKind
    type: str | None
    default: Value | None
    required: bool
    help: str | None
    extra: tuple[Argument, ...]
    span: Span
    file: str
    defined_in: str


@dataclass(frozen=True)
class Access:
    """A read or an assignment of ``self.<name>`` inside a step body."""

    name: str
    span: Span


@dataclass(frozen=True)
class Target:
    """One destination written in ``self.next``: ``step`` is X for ``self.X``, else None."""

    step: str | None
    source: str
    span: Span


@dataclass(frozen=True)
class Case:
    """One entry of a switch dict: ``{"key": self.step}``."""

    key: Value
    target: Target


@dataclass(frozen=True)
class NextCall:
    """A ``self.next(...)`` call as written. Lint judges whether it is well formed; the analyzer
    derives the step's ``Transition`` only from a well-formed tail call."""

    span: Span
    is_tail: bool
    targets: tuple[Target, ...]
    cases: tuple[Case, ...] | None
    keywords: tuple[Argument, ...]


@dataclass(frozen=True)
class Transition:
    """The out-edges of a step, derived from a well-formed tail ``self.next``."""

    kind: TransitionKind
    targets: tuple[str, ...]
    span: Span
    foreach: str | None = None
    num_parallel: Value | None = None
    condition: str | None = None
    cases: tuple[tuple[str, str], ...] = ()  # (case key, step) for a switch


@dataclass(frozen=True)
class Merge:
    """A ``self.merge_artifacts(inputs, include=..., exclude=...)`` call in a join."""

    span: Span
    include: Value | None = None
    exclude: Value | None = None


@dataclass(frozen=True)
class Step:
    """One ``@step`` method and what the graph pass learnt about it.

    ``args`` are the method's parameters after ``self`` (a join has one, ``inputs``).
    ``assigns``/``reads`` list every ``self.x`` store and load in source order, including
    augmented and tuple targets. The last four fields come from :mod:`flowc.graph`."""

    name: str
    kind: NodeKind
    span: Span
    file: str
    defined_in: str
    doc: str | None
    decorators: tuple[Decorator, ...]
    args: tuple[str, ...]
    next_calls: tuple[NextCall, ...]
    transition: Transition | None
    assigns: tuple[Access, ...]
    reads: tuple[Access, ...]
    merges: tuple[Merge, ...] = ()
    in_steps: tuple[str, ...] = ()
    matching_join: str | None = None
    split_parents: tuple[str, ...] = ()
    foreach_depth: int = 0

    @property
    def out_steps(self) -> tuple[str, ...]:
        return self.transition.targets if self.transition else ()

    def decorator(self, name: str) -> Decorator | None:
        return next((d for d in self.decorators if d.name == name), None)


@dataclass(frozen=True)
class FlowIR:
    """A whole flow. ``steps`` are in source order (inherited steps first); use
    :func:`flowc.graph.order` for graph order. ``members`` are the class's other attribute and
    method names (own and inherited), which are not artifacts. ``sources`` records every file
    read to build this IR with its sha256, so a cache can tell when it went stale."""

    name: str
    file: str
    span: Span
    doc: str | None
    bases: tuple[str, ...]
    decorators: tuple[Decorator, ...]
    parameters: tuple[Parameter, ...]
    steps: tuple[Step, ...]
    members: tuple[str, ...] = ()
    sources: tuple[tuple[str, str], ...] = ()
    schema_version: int = SCHEMA_VERSION

    def step(self, name: str) -> Step | None:
        return self.step_map().get(name)

    def step_map(self) -> dict[str, Step]:
        return {s.name: s for s in self.steps}

    def parameter(self, attr: str) -> Parameter | None:
        return next((p for p in self.parameters if p.attr == attr), None)

    def decorator(self, name: str) -> Decorator | None:
        return next((d for d in self.decorators if d.name == name), None)

    def to_dict(self) -> dict[str, Any]:
        return _encode(self)

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, sort_keys=False, ensure_ascii=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FlowIR:
        version = data.get("schema_version")
        if version != SCHEMA_VERSION:
            raise IRVersionError(
                f"IR schema version {version!r} is not supported (this flowc reads "
                f"version {SCHEMA_VERSION}); re-run `flowc show --json` with this flowc"
            )
        return _decode(cls, data)

    @classmethod
    def from_json(cls, text: str) -> FlowIR:
        return cls.from_dict(json.loads(text))


class IRVersionError(ValueError):
    """Raised when loading IR written with another schema version."""


# --- JSON codec --------------------------------------------------------------------------------
# A tiny generic codec driven by the dataclass type hints, so adding a field needs no codec edit.


def _encode(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj):
        return {f.name: _encode(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, enum.Enum):
        return obj.value
    if isinstance(obj, tuple | list):
        return [_encode(x) for x in obj]
    if isinstance(obj, dict):
        return {k: _encode(v) for k, v in obj.items()}
    return obj


_HINTS: dict[type, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    if cls not in _HINTS:
        _HINTS[cls] = typing.get_type_hints(cls)
    return _HINTS[cls]


def _decode(tp: Any, data: Any) -> Any:
    if tp is Any:
        return data
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(tp) if a is not type(None)]
        if data is None:
            return None
        return _decode(options[0], data) if len(options) == 1 else data
    if origin is tuple:
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_decode(args[0], x) for x in data)
        return tuple(_decode(a, x) for a, x in zip(args, data, strict=False))
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        hints = _hints(tp)
        kwargs = {}
        for f in dataclasses.fields(tp):
            if f.name in data:
                kwargs[f.name] = _decode(hints[f.name], data[f.name])
        return tp(**kwargs)
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return tp(data)
    return data


__all__ = [
    "SCHEMA_VERSION",
    "Access",
    "Argument",
    "Case",
    "Decorator",
    "FlowIR",
    "IRVersionError",
    "Merge",
    "NextCall",
    "NodeKind",
    "Parameter",
    "ParameterKind",
    "Span",
    "Step",
    "Target",
    "Transition",
    "TransitionKind",
    "Value",
]
