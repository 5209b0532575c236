"""Flow classes: which classes are FlowSpec subclasses (directly, through a base in the same
file, or through one in a local module), their method resolution order, and the IR of each
flow with its own and inherited steps, parameters and members."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field

import libcst as cst

from flowc import graph
from flowc.analyzer.decorators import decorator, is_step
from flowc.analyzer.imports import Local, ModuleRef, is_flow_package
from flowc.analyzer.modules import Loader, Module
from flowc.analyzer.params import build_parameter, parameter_kind
from flowc.analyzer.steps import build_step, docstring
from flowc.analyzer.tree import flat_statements, statements
from flowc.diagnostics import Diagnostic, warning
from flowc.ir import FlowIR, Parameter, Step

_MAX_DEPTH = 50  # base-class chains and alias hops followed; deeper is surely a cycle


@dataclass(frozen=True, eq=False)
class ClassRef:
    """A class found in source."""

    module: Module
    node: cst.ClassDef

    @property
    def name(self) -> str:
        return self.node.name.value

    @property
    def key(self) -> tuple[str, int]:
        return self.module.src.abspath, id(self.node)


class FlowSpecBase:
    """The base is flowc's or Metaflow's ``FlowSpec``."""


@dataclass(frozen=True)
class External:
    """The base comes from code flowc cannot read; ``why`` says where it was looked for."""

    why: str


@dataclass(frozen=True)
class Broken:
    """The base comes from a local module that does not parse (reported on its own)."""


class Unknown:
    """Not a class flowc can identify (``object``, a name bound by an assignment, ...)."""


FLOWSPEC = FlowSpecBase()
UNKNOWN = Unknown()
Resolved = ClassRef | FlowSpecBase | External | Broken | Unknown


@dataclass
class Members:
    """What a class and its bases define, by name, in the order the IR lists them."""

    steps: dict[str, Step] = field(default_factory=dict)
    params: dict[str, Parameter] = field(default_factory=dict)
    other: set[str] = field(default_factory=set)


class Classes:
    """Base-class resolution over the flow file and the local modules it imports from."""

    def __init__(self, loader: Loader) -> None:
        self.loader = loader
        self._bases: dict[tuple[str, int], list[tuple[cst.Arg, Resolved]]] = {}
        self._is_flow: dict[tuple[str, int], bool] = {}
        self._mro: dict[tuple[str, int], list[ClassRef]] = {}

    # --- resolution ----------------------------------------------------------------------------

    def resolve(self, mod: Module, expr: cst.BaseExpression, depth: int = 0) -> Resolved:
        """What a base-class expression written in ``mod`` refers to."""
        if depth > _MAX_DEPTH:
            return UNKNOWN
        names = mod.names
        if names.is_api(expr, "FlowSpec"):
            return FLOWSPEC
        if isinstance(expr, cst.Name):
            binding = names.bindings.get(expr.value)
            if isinstance(binding, Local):
                if binding.kind == "class" and isinstance(binding.node, cst.ClassDef):
                    return ClassRef(mod, binding.node)
                if binding.kind == "alias" and isinstance(binding.node, cst.BaseExpression):
                    return self.resolve(mod, binding.node, depth + 1)
                return UNKNOWN
            if isinstance(binding, ModuleRef):
                return UNKNOWN
            if binding is None:
                return self._from_star_imports(mod, expr.value, depth)
        target = names.resolve(expr)
        if target is None:
            return UNKNOWN
        return self._imported(mod, target[0], target[1], depth)

    def _imported(self, mod: Module, module: str, name: str, depth: int) -> Resolved:
        if is_flow_package(module):
            return External(f"it comes from `{module}`, which flowc does not read")
        found, other = self.loader.find(mod, module)
        if not found:
            return External(f"it comes from `{module}`, which is not a local file")
        if other is None:
            return Broken()
        inner = self.resolve(other, cst.Name(name), depth + 1)
        if inner is UNKNOWN:
            return External(f"it is not a class defined in {os.path.basename(other.src.path)}")
        return inner

    def _from_star_imports(self, mod: Module, name: str, depth: int) -> Resolved:
        unreadable = []
        for module in mod.names.star:
            if is_flow_package(module):
                continue
            found, other = self.loader.find(mod, module)
            if not found:
                unreadable.append(module)
            elif other is not None:
                inner = self.resolve(other, cst.Name(name), depth + 1)
                if inner is not UNKNOWN:
                    return inner
        if unreadable:
            return External(f"it may come from `from {unreadable[0]} import *`, not a local file")
        return UNKNOWN

    def bases(self, ref: ClassRef) -> list[tuple[cst.Arg, Resolved]]:
        """Each positional base of the class with what it resolves to."""
        if ref.key not in self._bases:
            self._bases[ref.key] = [
                (b, self.resolve(ref.module, b.value)) for b in ref.node.bases if b.keyword is None
            ]
        return self._bases[ref.key]

    # --- flow-ness and MRO ---------------------------------------------------------------------

    def is_flow(self, ref: ClassRef, depth: int = 0) -> bool:
        """A FlowSpec subclass; also a class with steps whose base flowc cannot read (an
        installed package's flow class), since that is how such a flow looks from outside."""
        if ref.key in self._is_flow:
            return self._is_flow[ref.key]
        self._is_flow[ref.key] = False  # guards against class cycles
        result = False
        if depth <= _MAX_DEPTH:
            bases = self.bases(ref)
            result = any(
                r is FLOWSPEC or (isinstance(r, ClassRef) and self.is_flow(r, depth + 1))
                for _, r in bases
            )
            if not result and any(isinstance(r, (External, Broken)) for _, r in bases):
                result = any(self._has_steps(c) for c in self.mro(ref))
        self._is_flow[ref.key] = result
        return result

    def _has_steps(self, ref: ClassRef) -> bool:
        names = ref.module.names
        return any(
            isinstance(s, cst.FunctionDef) and is_step(s, names)
            for s, _ in flat_statements(statements(ref.node.body))
        )

    def mro(self, ref: ClassRef, depth: int = 0) -> list[ClassRef]:
        """C3 linearization over the classes found in source, as Python computes ``__mro__``
        (FlowSpec and unreadable bases drop out); a depth-first order if C3 fails."""
        if ref.key in self._mro:
            return self._mro[ref.key]
        self._mro[ref.key] = [ref]  # guards against class cycles
        parents = []
        if depth <= _MAX_DEPTH:
            parents = [r for _, r in self.bases(ref) if isinstance(r, ClassRef)]
        seqs = [list(self.mro(p, depth + 1)) for p in parents] + [list(parents)]
        merged = _c3(seqs)
        if merged is None:  # inconsistent hierarchy: depth-first, left to right, first wins
            merged = _first_seen(c for seq in seqs for c in seq)
        result = [ref] + [c for c in merged if c.key != ref.key]
        self._mro[ref.key] = result
        return result

    # --- what a flow holds ---------------------------------------------------------------------

    def members(self, ref: ClassRef) -> Members:
        """Own and inherited steps, parameters and other members. Classes are applied from the
        most basic to the flow itself, so a definition overrides its bases' (as in the MRO) and
        inherited names come first."""
        out = Members()
        for cls in reversed(self.mro(ref)):
            _apply_own(cls, out)
        return out

    def unresolved(self, ref: ClassRef) -> list[Diagnostic]:
        """An ``unresolved-base`` warning for each base in the flow's MRO flowc cannot read."""
        out = []
        for cls in self.mro(ref):
            src = cls.module.src
            for arg, r in self.bases(cls):
                if isinstance(r, External):
                    span = src.span(arg.value)
                    out.append(
                        warning(
                            "unresolved-base",
                            f"base class `{src.code(arg.value)}` of {cls.name} cannot be read: "
                            f"{r.why}, so its steps and parameters are unknown to flowc",
                            "define the base flow in a local module (next to the flow file, or "
                            "imported relatively) so flowc can read it, or ignore this if the "
                            "flow defines every step itself",
                            src.path,
                            span.line,
                            span.col,
                        )
                    )
        return out

    def flow_ir(self, ref: ClassRef, sources: tuple[tuple[str, str], ...], got: Members) -> FlowIR:
        """The flow's IR from what :meth:`members` found, its graph annotated."""
        src, names, node = ref.module.src, ref.module.names, ref.node
        return FlowIR(
            name=ref.name,
            file=src.path,
            span=src.span(node),
            doc=docstring(node.body),
            bases=tuple(src.code(b.value) for b in node.bases if b.keyword is None),
            decorators=tuple(decorator(d, src, names) for d in node.decorators),
            parameters=tuple(got.params.values()),
            steps=graph.annotate(list(got.steps.values())),
            members=tuple(sorted(got.other)),
            sources=sources,
        )


def _first_seen(classes: Iterable[ClassRef]) -> list[ClassRef]:
    seen: dict[tuple[str, int], ClassRef] = {}
    for c in classes:
        seen.setdefault(c.key, c)
    return list(seen.values())


def _c3(seqs: list[list[ClassRef]]) -> list[ClassRef] | None:
    seqs = [s for s in seqs if s]
    out: list[ClassRef] = []
    while seqs:
        for seq in seqs:
            head = seq[0]
            if not any(head.key in {c.key for c in s[1:]} for s in seqs):
                break
        else:
            return None  # inconsistent hierarchy
        out.append(head)
        seqs = [[c for c in s if c.key != head.key] for s in seqs]
        seqs = [s for s in seqs if s]
    return out


def _apply_own(cls: ClassRef, out: Members) -> None:
    """Overlay the class's own definitions, in source order, on what its bases defined."""
    src, names, owner = cls.module.src, cls.module.names, cls.name
    for stmt, _ in flat_statements(statements(cls.node.body)):
        if isinstance(stmt, cst.FunctionDef):
            name = stmt.name.value
            _forget(out, name)
            if is_step(stmt, names):
                out.steps[name] = build_step(stmt, src, names, owner)
            else:
                out.other.add(name)
        elif isinstance(stmt, cst.ClassDef):
            _forget(out, stmt.name.value)
            out.other.add(stmt.name.value)
        elif isinstance(stmt, (cst.Assign, cst.AnnAssign, cst.AugAssign)):
            if isinstance(stmt, cst.AnnAssign) and stmt.value is None:
                continue  # `x: int` alone creates no attribute
            targets = (
                [t.target for t in stmt.targets] if isinstance(stmt, cst.Assign) else [stmt.target]
            )
            call = stmt.value if not isinstance(stmt, cst.AugAssign) else None
            kind = parameter_kind(call, names)
            if (
                isinstance(call, cst.Call)
                and kind is not None
                and len(targets) == 1
                and isinstance(targets[0], cst.Name)
            ):
                attr = targets[0].value
                _forget(out, attr)
                out.params[attr] = build_parameter(attr, kind, call, stmt, src, names, owner)
                continue
            for target in targets:
                for name in _target_names(target):
                    _forget(out, name)
                    out.other.add(name)


def _forget(out: Members, name: str) -> None:
    """A redefinition replaces whatever the name was, and moves it to its new place."""
    out.steps.pop(name, None)
    out.params.pop(name, None)
    out.other.discard(name)


def _target_names(target: cst.CSTNode) -> list[str]:
    stack, names = [target], []
    while stack:
        t = stack.pop()
        if isinstance(t, cst.Name):
            names.append(t.value)
        elif isinstance(t, (cst.Tuple, cst.List)):
            stack.extend(el.value for el in t.elements)
        elif isinstance(t, cst.StarredElement):
            stack.append(t.value)
    return names
