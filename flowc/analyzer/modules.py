"""Local modules a flow's base classes come from: found next to the flow file (``from base
import X``, ``import base``, ``from pkg.mod import X``) or relative to the importing module
(``from .base import X``), parsed with libcst (never imported), each file once."""

from __future__ import annotations

import os
from dataclasses import dataclass

from flowc.analyzer.imports import Names, collect
from flowc.analyzer.source import SourceFile, load
from flowc.diagnostics import Diagnostic

_MAX_MODULES = 200  # a flow's base classes never need more; bounds pathological import webs


@dataclass(eq=False)
class Module:
    """A parsed file and its top-level bindings."""

    src: SourceFile
    names: Names


class Loader:
    """Reads the local modules that base classes are imported from, on demand; remembers every
    file read (for ``sources``) and the problems of those that do not parse."""

    def __init__(self, root: SourceFile) -> None:
        assert root.module is not None
        self.root = Module(root, collect(root.module))
        self.root_dir = os.path.dirname(root.abspath)
        self._shown_dir = os.path.dirname(root.path)
        self._files: dict[str, SourceFile] = {root.abspath: root}
        self._modules: dict[str, Module | None] = {root.abspath: self.root}
        self.problems: list[Diagnostic] = []

    def sources(self) -> tuple[tuple[str, str], ...]:
        """(absolute path, sha256) of every file read, the flow file first."""
        return tuple((p, f.sha256) for p, f in self._files.items())

    def find(self, importer: Module, name: str) -> tuple[bool, Module | None]:
        """``(found, module)`` for module ``name`` as imported from ``importer``: found is
        whether a local file exists; module is None when that file does not parse."""
        for abspath in self._candidates(importer, name):
            if abspath in self._modules:
                return True, self._modules[abspath]
            if len(self._modules) >= _MAX_MODULES or not os.path.isfile(abspath):
                continue
            try:
                with open(abspath, "rb") as f:
                    data = f.read()
            except OSError:
                continue
            src = load(data, self._shown(abspath), abspath)
            self._files[abspath] = src
            if src.module is None:
                self._modules[abspath] = None
                if src.problem is not None:
                    self.problems.append(src.problem)
                return True, None
            mod = Module(src, collect(src.module))
            self._modules[abspath] = mod
            return True, mod
        return False, None

    def _candidates(self, importer: Module, name: str) -> list[str]:
        """Files that could hold module ``name``: relative names from the importer's package;
        absolute ones from the flow file's folder (``sys.path[0]`` when it runs), then the
        importer's own folder."""
        rest = name.lstrip(".")
        level = len(name) - len(rest)
        if level:
            folder = os.path.dirname(importer.src.abspath)
            for _ in range(level - 1):
                folder = os.path.dirname(folder)
            folders = [folder]
        else:
            folders = list(dict.fromkeys([self.root_dir, os.path.dirname(importer.src.abspath)]))
        rel = rest.replace(".", os.sep)
        tails = [rel + ".py", os.path.join(rel, "__init__.py")] if rel else ["__init__.py"]
        return [
            os.path.normpath(os.path.join(folder, tail)) for folder in folders for tail in tails
        ]

    def _shown(self, abspath: str) -> str:
        """How diagnostics and the IR name a module: relative to the flow file as it was given."""
        rel = os.path.relpath(abspath, self.root_dir)
        return os.path.normpath(os.path.join(self._shown_dir, rel)) if self._shown_dir else rel
