"""Which module each name in a file comes from, so ``from metaflow import step as s`` and
``import flowc as fc`` resolve to the same canonical names as ``from flowc import step``."""

from __future__ import annotations

from dataclasses import dataclass, field

import libcst as cst

FLOW_PACKAGES = ("flowc", "metaflow")


@dataclass
class Names:
    """Import bindings of one module: ``names`` maps a local name to (module, attribute);
    ``modules`` maps a local name to a module; ``star`` lists modules imported with ``*``."""

    names: dict[str, tuple[str, str]] = field(default_factory=dict)
    modules: dict[str, str] = field(default_factory=dict)
    star: list[str] = field(default_factory=list)

    def resolve(self, node: cst.BaseExpression) -> tuple[str, str] | None:
        """(module, name) for ``name`` or ``alias.name``/``pkg.mod.name``; None when the name
        was not imported (a local definition, or unknown)."""
        if isinstance(node, cst.Name):
            if node.value in self.names:
                return self.names[node.value]
            return None
        if isinstance(node, cst.Attribute):
            dotted = _dotted(node.value)
            if dotted is None:
                return None
            head, _, rest = dotted.partition(".")
            if head in self.modules:
                module = self.modules[head] + ("." + rest if rest else "")
                return module, node.attr.value
            if head in self.names:  # from pkg import mod; mod.X
                m, n = self.names[head]
                return f"{m}.{n}" + ("." + rest if rest else ""), node.attr.value
        return None

    def is_flow_api(self, node: cst.BaseExpression, name: str) -> bool:
        """Whether ``node`` refers to flowc's (or Metaflow's) ``name``."""
        target = self.resolve(node)
        if target is not None:
            return is_flow_package(target[0]) and target[1] == name
        if isinstance(node, cst.Name) and node.value == name:
            return any(is_flow_package(m) for m in self.star)
        return False


def is_flow_package(module: str) -> bool:
    return module.split(".")[0] in FLOW_PACKAGES


def _dotted(node: cst.BaseExpression) -> str | None:
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        head = _dotted(node.value)
        return None if head is None else f"{head}.{node.attr.value}"
    return None


def module_name(node: cst.ImportFrom) -> str:
    dots = "".join("." for _ in node.relative)
    return dots + (_dotted(node.module) or "" if node.module is not None else "")


def collect(module: cst.Module) -> Names:
    """Imports at module level, including inside top-level ``if``/``try`` blocks (the usual
    ``try: from metaflow import ... except ImportError: from flowc import ...``)."""
    names = Names()
    for stmt in _top_level(module.body):
        if not isinstance(stmt, cst.SimpleStatementLine):
            continue
        for small in stmt.body:
            if isinstance(small, cst.Import):
                for alias in small.names:
                    full = _dotted(alias.name) or ""
                    if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
                        names.modules[alias.asname.name.value] = full
                    else:
                        head = full.split(".")[0]
                        names.modules[head] = head
            elif isinstance(small, cst.ImportFrom):
                mod = module_name(small)
                if isinstance(small.names, cst.ImportStar):
                    names.star.append(mod)
                    continue
                for alias in small.names:
                    if not isinstance(alias.name, cst.Name):
                        continue
                    local = alias.name.value
                    if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
                        local = alias.asname.name.value
                    names.names[local] = (mod, alias.name.value)
    return names


def _top_level(body):  # noqa: ANN001, ANN202
    for stmt in body:
        yield stmt
        if isinstance(stmt, cst.If):
            yield from _block(stmt.body)
            orelse = stmt.orelse
            while orelse is not None:
                yield from _block(orelse.body)
                orelse = getattr(orelse, "orelse", None)
        elif isinstance(stmt, cst.Try):
            yield from _block(stmt.body)
            for h in stmt.handlers:
                yield from _block(h.body)


def _block(block):  # noqa: ANN001, ANN202
    if isinstance(block, cst.IndentedBlock):
        yield from _top_level(block.body)
    elif isinstance(block, cst.SimpleStatementSuite):
        yield cst.SimpleStatementLine(body=block.body)
