"""The emitter interface every backend implements: IR + options -> files.

Emitters are pure and deterministic: they never import the user's module, and the same IR and
options give byte-identical files. Targets register by name so ``flowc compile --target NAME``
finds them without importing the others (kfp or Airflow load only when their target is asked
for)."""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from flowc.diagnostics import Diagnostic
from flowc.ir import FlowIR


@dataclass(frozen=True)
class EmitOptions:
    """Options common to every target; target-specific ones travel in ``extra``."""

    datastore: str | None = None
    image: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class EmitResult:
    """Files to write (relative path -> content) and what the target could not express."""

    files: Mapping[str, str]
    diagnostics: tuple[Diagnostic, ...] = ()


class Emitter(ABC):
    """One orchestrator target."""

    name: str = ""

    @abstractmethod
    def emit(self, ir: FlowIR, options: EmitOptions) -> EmitResult:
        """Translate one checked flow into the target's files."""


# target name -> "module:Class", imported only when that target is requested
_REGISTRY: dict[str, str] = {}


def register(name: str, path: str) -> None:
    _REGISTRY[name] = path


def targets() -> tuple[str, ...]:
    return tuple(sorted(_REGISTRY))


def get_emitter(name: str) -> Emitter:
    if name not in _REGISTRY:
        known = ", ".join(targets()) or "none yet"
        raise KeyError(f"unknown target {name!r} (known targets: {known})")
    module, _, cls = _REGISTRY[name].partition(":")
    return getattr(importlib.import_module(module), cls)()
