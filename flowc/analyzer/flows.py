"""Finding the flow classes of a file, following their bases through the same file and local
modules, and assembling each one's IR."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field

import libcst as cst

from flowc import graph
from flowc.analyzer.imports import Names, collect, is_flow_package
from flowc.analyzer.result import Analysis
from flowc.analyzer.source import Parsed, parse
from flowc.analyzer.steps import arguments, build_step, decorators_of, is_step
from flowc.analyzer.values import string_of
from flowc.diagnostics import Diagnostic, error, warning
from flowc.ir import FlowIR, Parameter, ParameterKind, Step, Value

_PARAM_KINDS = {
    "Parameter": ParameterKind.PARAMETER,
    "IncludeFile": ParameterKind.INCLUDE_FILE,
    "Config": ParameterKind.CONFIG,
}
_TYPES = {"int": "int", "float": "float", "str": "str", "bool": "bool"}
_FLOWSPEC = "FlowSpec"
_EXTERNAL = "external"
_MAX_DEPTH = 32


@dataclass
class Module:
    src: Parsed
    names: Names
    classes: dict[str, cst.ClassDef]


@dataclass
class Collected:
    steps: dict[str, Step] = field(default_factory=dict)
    params: dict[str, Parameter] = field(default_factory=dict)
    members: set[str] = field(default_factory=set)


class _Loader:
    """Parses the flow file and, on demand, the local modules its classes come from (each
    once); records every file read and every problem met on the way."""

    def __init__(self, root: Module):
        self.root = root
        self.root_dir = os.path.dirname(root.src.abspath)
        self.modules: dict[str, Module | None] = {root.src.abspath: root}
        self.diagnostics: list[Diagnostic] = []
        self.is_flow_memo: dict[tuple[str, str], bool] = {}

    def sources(self) -> tuple[tuple[str, str], ...]:
        return tuple((p, m.src.sha256) for p, m in self.modules.items() if m is not None)

    def module(self, importer: Module, name: str) -> Module | None:
        for abspath, display in self._candidates(importer, name):
            if abspath in self.modules:
                return self.modules[abspath]
            if not os.path.isfile(abspath):
                continue
            try:
                with open(abspath, "rb") as f:
                    data = f.read()
            except OSError:
                continue
            parsed, _ = parse(data, display)
            mod = _module(parsed) if parsed is not None else None
            self.modules[abspath] = mod
            return mod
        return None

    def _candidates(self, importer: Module, name: str):  # noqa: ANN202
        rest = name.lstrip(".")
        level = len(name) - len(rest)
        rel = rest.replace(".", os.sep)
        if level:
            folders = [os.path.dirname(importer.src.abspath)]
            for _ in range(level - 1):
                folders = [os.path.dirname(folders[0])]
        else:
            folders = list(dict.fromkeys([os.path.dirname(importer.src.abspath), self.root_dir]))
        shown_dir = os.path.dirname(self.root.src.path)
        for folder in folders:
            for tail in (
                (rel + ".py", os.path.join(rel, "__init__.py")) if rel else ("__init__.py",)
            ):
                abspath = os.path.normpath(os.path.join(folder, tail))
                display = abspath
                root_rel = os.path.relpath(abspath, self.root_dir)
                if not root_rel.startswith(".."):
                    display = os.path.join(shown_dir, root_rel) if shown_dir else root_rel
                yield abspath, display

    def resolve_base(self, mod: Module, expr: cst.BaseExpression, depth: int = 0):  # noqa: ANN201
        """FlowSpec, (module, class) for a class found in source, _EXTERNAL for a class from a
        module that is not a local file, or None for a name not imported or defined."""
        if depth > _MAX_DEPTH:
            return None
        if mod.names.is_flow_api(expr, _FLOWSPEC):
            return _FLOWSPEC
        if isinstance(expr, cst.Name) and expr.value in mod.classes:
            return mod, mod.classes[expr.value]
        target = mod.names.resolve(expr)
        if target is None:
            return None
        module_name, attr = target
        if is_flow_package(module_name):
            return _EXTERNAL
        other = self.module(mod, module_name)
        if other is None:
            return _EXTERNAL
        # the class may be defined there, or imported there in turn
        return self.resolve_base(other, cst.Name(attr), depth + 1)

    def is_flow(self, mod: Module, cls: cst.ClassDef, depth: int = 0) -> bool:
        key = (mod.src.abspath, cls.name.value)
        if key in self.is_flow_memo:
            return self.is_flow_memo[key]
        self.is_flow_memo[key] = False  # cycle guard
        result = False
        if depth <= _MAX_DEPTH:
            for base in cls.bases:
                if base.keyword is not None:
                    continue
                found = self.resolve_base(mod, base.value)
                if found == _FLOWSPEC or (
                    isinstance(found, tuple) and self.is_flow(found[0], found[1], depth + 1)
                ):
                    result = True
                    break
            else:
                # an unresolved base (an installed package's flow class): a flow if it has steps
                unresolved = any(
                    self.resolve_base(mod, b.value) == _EXTERNAL
                    for b in cls.bases
                    if b.keyword is None
                )
                result = unresolved and _has_steps(cls, mod.names)
        self.is_flow_memo[key] = result
        return result

    def collect(self, mod: Module, cls: cst.ClassDef, seen: frozenset = frozenset()) -> Collected:
        """Steps, parameters and members of ``cls`` and its bases; a class overrides its bases,
        and an earlier base overrides a later one, as Python's MRO does for these cases."""
        key = (mod.src.abspath, cls.name.value)
        out = Collected()
        if key in seen or len(seen) > _MAX_DEPTH:
            return out
        seen = seen | {key}
        for base in reversed(cls.bases):
            if base.keyword is not None:
                continue
            found = self.resolve_base(mod, base.value)
            if isinstance(found, tuple):
                inherited = self.collect(found[0], found[1], seen)
                out.steps.update(inherited.steps)
                out.params.update(inherited.params)
                out.members |= inherited.members
            elif found == _EXTERNAL and _from_installed_package(mod, base.value):
                self._warn_unresolved(mod, base.value)
        _own(mod, cls, out)
        return out

    def _warn_unresolved(self, mod: Module, expr: cst.BaseExpression) -> None:
        span = mod.src.span(expr)
        self.diagnostics.append(
            warning(
                "unresolved-base",
                f"base class `{mod.src.code(expr)}` comes from a module that is not a local file, "
                "so its steps and parameters are unknown to flowc",
                "define the base flow in this folder (same-folder or relative import) so it can "
                "be analyzed, or ignore this if the flow defines every step itself",
                mod.src.path,
                span.line,
                span.col,
            )
        )


def _module(src: Parsed) -> Module:
    classes = {}
    for stmt in src.module.body:
        if isinstance(stmt, cst.ClassDef):
            classes[stmt.name.value] = stmt
    return Module(src, collect(src.module), classes)


def _has_steps(cls: cst.ClassDef, names: Names) -> bool:
    body = cls.body.body if isinstance(cls.body, cst.IndentedBlock) else ()
    return any(isinstance(s, cst.FunctionDef) and is_step(s, names) for s in body)


def _own(mod: Module, cls: cst.ClassDef, out: Collected) -> None:
    body = cls.body.body if isinstance(cls.body, cst.IndentedBlock) else ()
    owner = cls.name.value
    for stmt in body:
        if isinstance(stmt, cst.FunctionDef):
            name = stmt.name.value
            if is_step(stmt, mod.names):
                out.members.discard(name)
                out.params.pop(name, None)
                out.steps.pop(name, None)
                out.steps[name] = build_step(stmt, mod.src, mod.names, owner)
            else:
                out.steps.pop(name, None)
                out.members.add(name)
        elif isinstance(stmt, cst.ClassDef):
            out.members.add(stmt.name.value)
        elif isinstance(stmt, cst.SimpleStatementLine):
            for small in stmt.body:
                _own_statement(mod, small, owner, out)


def _own_statement(mod: Module, small: cst.BaseSmallStatement, owner: str, out: Collected) -> None:
    if isinstance(small, cst.Assign):
        targets = [t.target for t in small.targets]
        value = small.value
    elif isinstance(small, cst.AnnAssign):
        targets, value = [small.target], small.value
    else:
        return
    names = [t.value for t in targets if isinstance(t, cst.Name)]
    kind = _param_kind(mod.names, value) if value is not None else None
    if kind is not None and len(names) == 1 and len(targets) == 1:
        attr = names[0]
        out.members.discard(attr)
        out.steps.pop(attr, None)
        out.params.pop(attr, None)
        out.params[attr] = _parameter(mod, attr, kind, value, owner, small)  # type: ignore[arg-type]
        return
    for name in names:
        out.params.pop(name, None)
        out.members.add(name)


def _param_kind(names: Names, value: cst.BaseExpression) -> ParameterKind | None:
    if not isinstance(value, cst.Call):
        return None
    for api, kind in _PARAM_KINDS.items():
        if names.is_flow_api(value.func, api):
            return kind
    return None


def _parameter(
    mod: Module, attr: str, kind: ParameterKind, call: cst.Call, owner: str, stmt: cst.CSTNode
) -> Parameter:
    args = arguments(call.args, mod.src)
    positional = [a for a in args if a.name is None]
    kw = {a.name: a for a in args if a.name is not None}
    name_value = kw["name"].value if "name" in kw else (positional[0].value if positional else None)
    name = (
        name_value.value
        if name_value is not None and name_value.literal and isinstance(name_value.value, str)
        else attr
    )
    default_arg = kw.get("default") or (
        kw.get("default_value") if kind is ParameterKind.CONFIG else None
    )
    default = default_arg.value if default_arg is not None else None
    type_name = None
    type_call = next(
        (a for a in call.args if a.keyword is not None and a.keyword.value == "type"), None
    )
    if type_call is not None:
        expr = type_call.value
        if isinstance(expr, cst.Name) and expr.value in _TYPES and mod.names.resolve(expr) is None:
            type_name = _TYPES[expr.value]
        elif mod.names.is_flow_api(expr, "JSONType"):
            type_name = "json"
    elif kind is ParameterKind.CONFIG:
        type_name = "json"
    elif kind is ParameterKind.INCLUDE_FILE:
        type_name = "str"
    else:
        type_name = _type_of_default(default)
    required = kw.get("required")
    help_arg = kw.get("help")
    skip = {"name", "default", "type", "help", "required"} | (
        {"default_value"} if kind is ParameterKind.CONFIG else set()
    )
    extra = tuple(
        a
        for a in args
        if a.name not in skip
        and a is not (positional[0] if positional and "name" not in kw else None)
    )
    span = mod.src.span(stmt)
    return Parameter(
        attr=attr,
        name=name,
        kind=kind,
        type=type_name,
        default=default,
        required=bool(required.value.value)
        if required is not None and required.value.literal
        else False,
        help=help_arg.value.value
        if help_arg is not None and help_arg.value.literal and isinstance(help_arg.value.value, str)
        else None,
        extra=extra,
        span=span,
        file=mod.src.path,
        defined_in=owner,
    )


def _type_of_default(default: Value | None) -> str | None:
    if default is None:
        return "str"
    if not default.literal:
        return None
    v = default.value
    if v is None:
        return "str"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "float"
    if isinstance(v, str):
        return "str"
    return "json"


def _main_flow(module: cst.Module) -> str | None:
    """The class instantiated under ``if __name__ == "__main__":``."""
    for stmt in module.body:
        if not isinstance(stmt, cst.If) or not _is_main_test(stmt.test):
            continue
        finder = _CallFinder()
        stmt.body.visit(finder)
        if finder.names:
            return finder.names[0]
    return None


def _is_main_test(test: cst.BaseExpression) -> bool:
    if not isinstance(test, cst.Comparison) or len(test.comparisons) != 1:
        return False
    sides = [test.left, test.comparisons[0].comparator]
    names = [s.value for s in sides if isinstance(s, cst.Name)]
    strings = [string_of(s) for s in sides]
    return names == ["__name__"] and "__main__" in strings


class _CallFinder(cst.CSTVisitor):
    def __init__(self) -> None:
        self.names: list[str] = []

    def visit_Call(self, node: cst.Call) -> None:
        if isinstance(node.func, cst.Name):
            self.names.append(node.func.value)


def analyze(data: bytes | str, path: str, flow: str | None) -> Analysis:
    src, problem = parse(data, path)
    if src is None:
        return Analysis(path, (), (), None, (problem,) if problem else (), ())
    root = _module(src)
    loader = _Loader(root)
    flows = [c for c in root.classes.values() if loader.is_flow(root, c)]
    used_as_base = set()
    for c in flows:
        for b in c.bases:
            if isinstance(b.value, cst.Name) and b.value.value in root.classes:
                used_as_base.add(b.value.value)
    candidates = tuple(c.name.value for c in flows if c.name.value not in used_as_base)
    main = _main_flow(src.module)
    diagnostics: list[Diagnostic] = []
    if not flows:
        diagnostics.append(
            error(
                "no-flow",
                f"{os.path.basename(path)} defines no FlowSpec subclass",
                "define `class MyFlow(FlowSpec)` with `@step` methods, importing them with "
                "`from flowc import FlowSpec, step` (or `from metaflow import FlowSpec, step`)",
                path,
                1,
                1,
            )
        )
        selected: list[cst.ClassDef] = []
    elif flow is not None:
        selected = [c for c in flows if c.name.value == flow]
        if not selected:
            names = ", ".join(c.name.value for c in flows)
            diagnostics.append(
                error(
                    "unknown-flow",
                    f"{os.path.basename(path)} has no flow class named {flow!r}; its flows are: {names}",
                    "pass one of those names to --flow",
                    path,
                    1,
                    1,
                )
            )
    else:
        selected = [c for c in flows if c.name.value in candidates]
    irs = [_flow_ir(loader, root, c) for c in selected]
    diagnostics.extend(loader.diagnostics)
    sources = loader.sources()
    irs = [_with_sources(ir, sources) for ir in irs]
    return Analysis(
        path=path,
        flows=tuple(irs),
        candidates=candidates,
        main_flow=main if main in candidates else None,
        diagnostics=tuple(dict.fromkeys(diagnostics)),
        sources=sources,
    )


def _flow_ir(loader: _Loader, mod: Module, cls: cst.ClassDef) -> FlowIR:
    got = loader.collect(mod, cls)
    steps = graph.annotate(list(got.steps.values()))
    return FlowIR(
        name=cls.name.value,
        file=mod.src.path,
        span=mod.src.span(cls),
        doc=cls.get_docstring(clean=True),
        bases=tuple(mod.src.code(b.value) for b in cls.bases if b.keyword is None),
        decorators=tuple(decorators_of(cls, mod.src, mod.names)),
        parameters=tuple(got.params.values()),
        steps=steps,
        members=tuple(sorted(got.members)),
    )


def _with_sources(ir: FlowIR, sources: tuple[tuple[str, str], ...]) -> FlowIR:
    return dataclasses.replace(ir, sources=sources)


def _from_installed_package(mod: Module, expr: cst.BaseExpression) -> bool:
    """A base imported from a module that is neither a local file nor flowc/Metaflow."""
    target = mod.names.resolve(expr)
    return target is not None and not is_flow_package(target[0])


__all__ = ["analyze"]
