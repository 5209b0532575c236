"""What each top-level name of a file is bound to, so that ``from metaflow import step as s``,
``import metaflow as mf`` + ``mf.step`` and ``from flowc import *`` + ``step`` all resolve to
the same canonical ``step``, and so that base classes can be followed into local modules."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import libcst as cst

from flowc.analyzer.tree import dotted, flat_statements

FLOW_PACKAGES = ("flowc", "metaflow")


@dataclass(frozen=True)
class Imported:
    """``from module import name`` (``name`` may itself be a submodule)."""

    module: str
    name: str


@dataclass(frozen=True)
class ModuleRef:
    """``import module`` or ``import module as alias``."""

    module: str


@dataclass(frozen=True)
class Local:
    """Defined in the file itself: a class (``node`` is its ClassDef), an alias
    ``X = other.Y`` (``node`` is the aliased expression), or anything else (``node`` None)."""

    kind: str  # "class" | "alias" | "other"
    node: cst.CSTNode | None = None


Binding = Imported | ModuleRef | Local


@dataclass
class Names:
    """The top-level bindings of one module, and the modules it star-imports."""

    bindings: dict[str, Binding] = field(default_factory=dict)
    star: list[str] = field(default_factory=list)

    def resolve(self, node: cst.CSTNode) -> tuple[str, str] | None:
        """``(module, name)`` that ``name``, ``alias.name`` or ``pkg.mod.name`` was imported as;
        None for a local or unknown name."""
        if isinstance(node, cst.Name):
            b = self.bindings.get(node.value)
            return (b.module, b.name) if isinstance(b, Imported) else None
        if not isinstance(node, cst.Attribute):
            return None
        head_path = dotted(node.value)
        if head_path is None:
            return None
        head, _, rest = head_path.partition(".")
        b = self.bindings.get(head)
        if isinstance(b, ModuleRef):
            base = b.module
        elif isinstance(b, Imported):
            base = join(b.module, b.name)
        else:
            return None
        return (join(base, rest) if rest else base), node.attr.value

    def is_api(self, node: cst.CSTNode, name: str) -> bool:
        """Whether ``node`` refers to flowc's (equivalently Metaflow's) ``name``."""
        target = self.resolve(node)
        if target is not None:
            return target[1] == name and is_flow_package(target[0])
        return isinstance(node, cst.Name) and node.value == name and self.star_from_flow(name)

    def star_from_flow(self, name: str) -> bool:
        """Whether an unbound ``name`` can only come from ``from flowc/metaflow import *``."""
        return name not in self.bindings and any(is_flow_package(m) for m in self.star)


def is_flow_package(module: str) -> bool:
    """flowc, metaflow, or any submodule of them."""
    return module.split(".")[0] in FLOW_PACKAGES


def join(module: str, name: str) -> str:
    """``pkg`` + ``mod`` -> ``pkg.mod``; keeps relative dots: ``.`` + ``base`` -> ``.base``."""
    return module + name if module.endswith(".") else f"{module}.{name}"


def module_of(node: cst.ImportFrom) -> str:
    """The module an ``ImportFrom`` names, with its leading dots."""
    dots = "".join("." for _ in node.relative)
    return dots + ((dotted(node.module) or "") if node.module is not None else "")


def collect(module: cst.Module) -> Names:
    """Bindings of the module's top level, later bindings winning as at run time. Statements
    inside top-level ``if``/``try`` blocks count too, but a fallback branch (``except
    ImportError:``, ``else:``) never overrides what the main branch bound."""
    names = Names()

    def bind(name: str, binding: Binding, certain: bool) -> None:
        if certain or name not in names.bindings:
            names.bindings[name] = binding

    for stmt, certain in flat_statements(module.body):
        if isinstance(stmt, cst.Import):
            for alias in stmt.names:
                full = dotted(alias.name) or ""
                local = _asname(alias)
                if local is not None:
                    bind(local, ModuleRef(full), certain)
                else:
                    head = full.partition(".")[0]
                    bind(head, ModuleRef(head), certain)
        elif isinstance(stmt, cst.ImportFrom):
            mod = module_of(stmt)
            if isinstance(stmt.names, cst.ImportStar):
                names.star.append(mod)
                continue
            for alias in stmt.names:
                if isinstance(alias.name, cst.Name):
                    local = _asname(alias) or alias.name.value
                    bind(local, Imported(mod, alias.name.value), certain)
        elif isinstance(stmt, cst.ClassDef):
            bind(stmt.name.value, Local("class", stmt), certain)
        elif isinstance(stmt, cst.FunctionDef):
            bind(stmt.name.value, Local("other"), certain)
        elif isinstance(stmt, (cst.Assign, cst.AnnAssign)):
            targets = (
                [t.target for t in stmt.targets] if isinstance(stmt, cst.Assign) else [stmt.target]
            )
            value = stmt.value
            for target in targets:
                for name in _bound_names(target):
                    aliased = (
                        isinstance(target, cst.Name)
                        and value is not None
                        and dotted(value) is not None
                    )
                    bind(name, Local("alias", value) if aliased else Local("other"), certain)
    return names


def _asname(alias: cst.ImportAlias) -> str | None:
    if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
        return alias.asname.name.value
    return None


def _bound_names(target: cst.CSTNode) -> Iterable[str]:
    if isinstance(target, cst.Name):
        yield target.value
    elif isinstance(target, (cst.Tuple, cst.List)):
        for el in target.elements:
            yield from _bound_names(el.value)
