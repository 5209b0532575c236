"""Metaflow extension packages (``metaflow_extensions``) loaded into flowc's stand-in for
``metaflow``, so an organisation's extensions work under flowc as they do under Metaflow.

An extension package is the namespace package ``metaflow_extensions`` on ``sys.path``
(installed, or on ``PYTHONPATH``), one folder per organisation, each with extension points
holding ``mfextinit_*.py`` modules:

- ``config``: its names join ``metaflow.metaflow_config``;
- ``exceptions``: its names join ``metaflow.exception``;
- ``toplevel``: the module its ``toplevel`` names joins ``metaflow`` itself;
- ``plugins``: ``STEP_DECORATORS_DESC`` and ``FLOW_DECORATORS_DESC`` (``(name, ".module.Class")``)
  become ``metaflow.<name>`` decorators (see :mod:`flowc.plugin_api`), and the submodules named
  by ``__mf_promote_submodules__`` are importable as ``metaflow.plugins.<name>``; a promoted
  submodule that replaces one flowc provides keeps flowc's under ``<name>._orig``;
- ``plugins/cards``: card types (loaded by :mod:`flowc.cards.custom`).

Other plugin kinds (CLIs, datastores, metadata providers, environments, sidecars...) configure
Metaflow's own services and are ignored. Packages load in the order of their organisation's
name, once per process, when a flow is loaded.
"""

from __future__ import annotations

import glob
import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import os
import sys
import types
from typing import Any

PACKAGE = "metaflow_extensions"

# metaflow module paths that flowc itself provides as real modules (so an extension may
# replace them and reach the original under ``._orig``)
FLOWC_MODULES = {
    "metaflow.plugins.frameworks": "flowc.frameworks",
}


# the step decorators extension packages provide, by name (``--with NAME`` may add them)
STEP_PLUGIN_CLASSES: dict[str, type] = {}


class ExtensionError(Exception):
    """An extension package failed to load; the message names the module and the fix."""


def from_conf(name: str, default: Any = None, validate_fn: Any = None) -> Any:
    """Metaflow's ``metaflow_config_funcs.from_conf`` for extension config modules: the value of
    ``METAFLOW_<name>`` in the environment, else ``default``; a string from the environment is
    read as the default's type (JSON for a list or dict; ``0``/``false``/empty is False)."""
    var = f"METAFLOW_{name}"
    raw = os.environ.get(var)
    if raw is None:
        value = default
    elif isinstance(default, (list, dict)):
        import json

        try:
            value = json.loads(raw)
        except ValueError:
            kind = type(default).__name__
            raise ValueError(f"${var} must be JSON (a {kind}), got {raw!r}") from None
        if type(value) is not type(default):
            raise ValueError(f"${var} must be a JSON {type(default).__name__}, got {raw!r}")
    elif isinstance(default, bool):
        value = raw.lower() not in ("0", "false", "")
    elif isinstance(default, (int, float)):
        try:
            value = type(default)(raw)
        except ValueError:
            raise ValueError(f"${var} must be a {type(default).__name__}, got {raw!r}") from None
    else:
        value = raw
    if validate_fn is not None and value is not None:
        validate_fn(var, value)
    return value


def organisations() -> list[tuple[str, str]]:
    """``(org, folder)`` of every ``metaflow_extensions/<org>`` on ``sys.path``, first wins."""
    spec = importlib.util.find_spec(PACKAGE)  # a namespace package: also editable installs
    if spec is None or not spec.submodule_search_locations:
        return []
    found: dict[str, str] = {}
    for root in spec.submodule_search_locations:
        for folder in sorted(glob.glob(os.path.join(root, "*"))):
            org = os.path.basename(folder)
            if os.path.isdir(folder) and org.isidentifier() and not org.startswith("_"):
                found.setdefault(org, folder)
    return sorted(found.items())


def load_into(shim: types.ModuleType) -> None:
    """Load every extension package into the stand-in ``shim``."""
    from flowc.plugin_api import flow_decorator_function, step_decorator_function

    aliases = _install_aliases()
    for org, folder in organisations():
        base = f"{PACKAGE}.{org}"
        for mod in _init_modules(folder, base, "config"):
            _copy_globals(mod, sys.modules["metaflow.metaflow_config"])
        for mod in _init_modules(folder, base, "exceptions"):
            _copy_globals(mod, sys.modules["metaflow.exception"])
        for mod in _init_modules(folder, base, "toplevel"):
            name = getattr(mod, "toplevel", None)
            if name:
                top = _import(f"{base}.toplevel.{name}")
                _copy_globals(top, shim)
                for sub in getattr(top, "__mf_promote_submodules__", ()) or ():
                    aliases.add(f"metaflow.{sub}", f"{base}.{sub}")
        for mod in _init_modules(folder, base, "plugins"):
            for sub in getattr(mod, "__mf_promote_submodules__", ()) or ():
                aliases.add(f"metaflow.plugins.{sub}", f"{base}.plugins.{sub}")
            for name, path in getattr(mod, "STEP_DECORATORS_DESC", ()) or ():
                STEP_PLUGIN_CLASSES[name] = _resolve(f"{base}.plugins", path)
                setattr(shim, name, step_decorator_function(STEP_PLUGIN_CLASSES[name]))
            for name, path in getattr(mod, "FLOW_DECORATORS_DESC", ()) or ():
                setattr(shim, name, flow_decorator_function(_resolve(f"{base}.plugins", path)))


def _init_modules(folder: str, base: str, point: str) -> list[types.ModuleType]:
    files = sorted(glob.glob(os.path.join(folder, point, "mfextinit_*.py")))
    return [_import(f"{base}.{point}.{os.path.basename(f)[:-3]}") for f in files]


def _copy_globals(src: types.ModuleType, dst: types.ModuleType) -> None:
    for name, value in vars(src).items():
        if not name.startswith("__") and not isinstance(value, types.ModuleType):
            setattr(dst, name, value)


def _resolve(package: str, path: str) -> Any:
    """``".test_step_decorator.TestStepDecorator"`` relative to ``package`` -> the class."""
    module_path, _, attr = path.rpartition(".")
    module = _import(
        importlib.util.resolve_name(module_path, package)
        if module_path.startswith(".")
        else module_path
    )
    try:
        return getattr(module, attr)
    except AttributeError:
        raise ExtensionError(
            f"{module.__file__}: the extension names {attr!r} in {path!r} but the module has no "
            "such name; fix the extension's mfextinit descriptor"
        ) from None


def _import(name: str) -> types.ModuleType:
    try:
        return importlib.import_module(name)
    except Exception as e:  # noqa: BLE001 - the extension's own code
        where = name
        spec = None
        try:
            spec = importlib.util.find_spec(name)
        except Exception:  # noqa: BLE001 - its parent failed to import
            pass
        if spec is not None and spec.origin:
            where = spec.origin
        raise ExtensionError(
            f"{where}: loading the Metaflow extension {name} failed: {type(e).__name__}: {e}. "
            "Fix or uninstall the extension package"
        ) from e


# ------------------------------------------------------------------ module aliases ---


class _Aliases(importlib.abc.MetaPathFinder):
    """``metaflow.X[.rest]`` imported as the real module ``Y[.rest]`` (longest prefix wins)."""

    def __init__(self) -> None:
        self.table: dict[str, str] = dict(FLOWC_MODULES)

    def add(self, alias: str, real: str) -> None:
        previous = self.table.get(alias)
        if previous is not None and not previous.startswith(PACKAGE):
            self.table[alias + "._orig"] = previous  # what the extension replaces
        self.table[alias] = real
        sys.modules.pop(alias, None)

    def real_name(self, fullname: str) -> str | None:
        best = None
        for alias in self.table:
            if fullname == alias or fullname.startswith(alias + "."):
                if best is None or len(alias) > len(best):
                    best = alias
        return None if best is None else self.table[best] + fullname[len(best) :]

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        if not fullname.startswith("metaflow."):
            return None
        real = self.real_name(fullname)
        if real is None:
            return None
        return importlib.machinery.ModuleSpec(fullname, _AliasLoader(real))


class _AliasLoader(importlib.abc.Loader):
    def __init__(self, real: str):
        self.real = real
        self.spec: Any = None

    def create_module(self, spec: Any) -> types.ModuleType:
        module = importlib.import_module(self.real)
        self.spec = module.__spec__
        return module

    def exec_module(self, module: types.ModuleType) -> None:
        module.__spec__ = self.spec  # the module keeps its own identity


def _install_aliases() -> _Aliases:
    for finder in sys.meta_path:
        if isinstance(finder, _Aliases):
            return finder
    finder = _Aliases()
    sys.meta_path.insert(0, finder)
    return finder
