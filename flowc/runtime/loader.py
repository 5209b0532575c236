"""Importing a flow file to run it.

Inside flowc's process ``import metaflow`` gets flowc's own API, so a flow written against
Metaflow runs unchanged. The flow's folder goes on ``sys.path`` so its local imports work, and
the module is imported under its file's name so artifacts of classes it defines unpickle in the
next task.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import traceback
import types
from dataclasses import dataclass
from typing import Any

SHIM_NAMES = (
    "FlowSpec",
    "step",
    "Parameter",
    "JSONType",
    "IncludeFile",
    "Config",
    "current",
    "card",
    "retry",
    "catch",
    "timeout",
    "resources",
    "environment",
    "kubernetes",
    "schedule",
    "project",
    "parallel",
    "secrets",
    "config_expr",
    "FlowMutator",
    "StepMutator",
    "UserStepDecorator",
    "user_step_decorator",
)


importing = False  # True while a flow module executes: a bare ``MyFlow()`` must not start a CLI


class FlowImportError(Exception):
    """Importing the user's flow file failed; the message points at the line."""


@dataclass
class LoadedFlow:
    path: str
    module: types.ModuleType
    cls: type


def install_metaflow_shim() -> None:
    existing = sys.modules.get("metaflow")
    if existing is not None and getattr(existing, "__flowc_shim__", False):
        return
    import flowc

    shim = types.ModuleType("metaflow", "flowc standing in for metaflow inside flowc's process")
    for name in SHIM_NAMES:
        setattr(shim, name, getattr(flowc, name))
    shim.__getattr__ = _client_names  # type: ignore[attr-defined] - Flow, Run, ... on first use
    shim.__flowc_shim__ = True  # type: ignore[attr-defined]
    shim.__path__ = []  # type: ignore[attr-defined] - a package, for metaflow.* submodules
    sys.modules["metaflow"] = shim
    # from metaflow.cards import Markdown, ...: flowc.cards, loaded on first use
    cards = _submodule(shim, "cards", "flowc.cards standing in for metaflow.cards")
    cards.__getattr__ = _card_names  # type: ignore[attr-defined]
    # Metaflow's other public module paths that flows and notebooks import from
    _submodule(shim, "metaflow_current").current = flowc.current  # type: ignore[attr-defined]
    exception = _submodule(shim, "exception")
    import flowc.errors

    for name in dir(flowc.errors):
        if not name.startswith("_"):
            setattr(exception, name, getattr(flowc.errors, name))
    client = _submodule(shim, "client")
    client.__getattr__ = _client_names  # type: ignore[attr-defined]
    plugins = _submodule(shim, "plugins")
    card_plugins = _submodule(plugins, "cards")
    card_exc = _submodule(card_plugins, "exception")
    card_exc.__getattr__ = _card_names  # type: ignore[attr-defined]
    card_plugins.__getattr__ = _card_names  # type: ignore[attr-defined]
    card_modules = _submodule(card_plugins, "card_modules")
    card_modules.__getattr__ = _card_names  # type: ignore[attr-defined]
    for name in ("card", "components", "basic"):
        _submodule(card_modules, name).__getattr__ = _card_names  # type: ignore[attr-defined]
    test_cards = _submodule(card_modules, "test_cards")
    test_cards.__getattr__ = _test_card_names  # type: ignore[attr-defined]
    # what metaflow_extensions packages build on: plugin decorator classes, config values
    decorators = _submodule(shim, "decorators")
    import flowc.plugin_api

    for name in ("Decorator", "StepDecorator", "FlowDecorator"):
        setattr(decorators, name, getattr(flowc.plugin_api, name))
    _submodule(shim, "metaflow_config")
    from flowc.extensions import from_conf, load_into

    _submodule(shim, "metaflow_config_funcs").from_conf = from_conf  # type: ignore[attr-defined]

    load_into(shim)


def _submodule(parent: types.ModuleType, name: str, doc: str | None = None) -> types.ModuleType:
    full = f"{parent.__name__}.{name}"
    module = types.ModuleType(full, doc or f"flowc standing in for {full}")
    module.__path__ = []  # type: ignore[attr-defined]
    sys.modules[full] = module
    setattr(parent, name, module)
    return module


def _card_names(name: str):  # noqa: ANN202 - a module __getattr__
    import flowc.cards

    return getattr(flowc.cards, name)


def _test_card_names(name: str):  # noqa: ANN202 - a module __getattr__
    import flowc.cards.testing

    return getattr(flowc.cards.testing, name)


def _client_names(name: str):  # noqa: ANN202 - a module __getattr__
    import flowc

    if name in flowc._CLIENT or name in flowc._LAZY:
        return getattr(flowc, name)
    raise AttributeError(f"flowc's stand-in for metaflow has no {name!r}")


def load_flow(path: str, flow_name: str) -> LoadedFlow:
    path = os.path.abspath(path)
    main = sys.modules.get("__main__")
    main_file = getattr(main, "__file__", None)
    if main_file and _same(main_file, path) and isinstance(getattr(main, flow_name, None), type):
        return LoadedFlow(path, main, getattr(main, flow_name))  # python flow.py run
    from flowc.extensions import ExtensionError

    try:
        install_metaflow_shim()
    except ExtensionError as e:
        raise FlowImportError(str(e)) from e
    folder = os.path.dirname(path)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    name = _module_name(path)
    module = sys.modules.get(name)
    if module is None or not _same(getattr(module, "__file__", "") or "", path):
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        global importing
        importing = True
        try:
            spec.loader.exec_module(module)
        except BaseException as e:
            del sys.modules[name]
            if isinstance(e, KeyboardInterrupt):
                raise
            raise FlowImportError(_import_failure(path, e)) from e
        finally:
            importing = False
    cls = getattr(module, flow_name, None)
    if not isinstance(cls, type):
        raise FlowImportError(f"{path}: importing it defined no class {flow_name}")
    from flowc.extend import apply_mutators

    try:
        apply_mutators(cls)  # once per process, before any task reads a decorator
    except Exception as e:  # noqa: BLE001 - the flow's own mutator code
        raise FlowImportError(_import_failure(path, e)) from e
    return LoadedFlow(path, module, cls)


def _same(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _module_name(path: str) -> str:
    stem = os.path.splitext(os.path.basename(path))[0]
    mine = stem in sys.modules and _same(getattr(sys.modules[stem], "__file__", "") or "", path)
    if mine:
        return stem
    taken = stem in sys.modules or stem in sys.stdlib_module_names or not stem.isidentifier()
    return f"_flowc_flow_{stem if stem.isidentifier() else 'main'}" if taken else stem


def _import_failure(path: str, e: BaseException) -> str:
    frames = [f for f in traceback.extract_tb(e.__traceback__) if _same(f.filename, path)]
    where = f"{path}:{frames[-1].lineno}" if frames else path
    if isinstance(e, SyntaxError) and e.lineno:
        where = f"{e.filename or path}:{e.lineno}"
    return (
        f"{where}: importing the flow failed: {type(e).__name__}: {e}. Fix the error (or "
        "install what it imports) and run again"
    )


def find_function(cls: type, step: str) -> Any:
    func = getattr(cls, step, None)
    if func is None or not getattr(func, "is_step", False):
        raise FlowImportError(f"{cls.__name__} has no step named {step!r}")
    return func
