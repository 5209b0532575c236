"""The analyzer's answer for one file. Importable without libcst, so a cached answer loads fast."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flowc.diagnostics import Diagnostic
from flowc.ir import FlowIR


@dataclass(frozen=True)
class Analysis:
    """What one flow file holds.

    ``flows`` are the analyzed flow classes (the selected one, or every candidate);
    ``candidates`` every leaf FlowSpec subclass in the file (not used as a base there);
    ``main_flow`` the class instantiated under ``if __name__ == "__main__":``;
    ``sources`` (absolute path, sha256) of every file read, for cache validation."""

    path: str
    flows: tuple[FlowIR, ...]
    candidates: tuple[str, ...]
    main_flow: str | None
    diagnostics: tuple[Diagnostic, ...]
    sources: tuple[tuple[str, str], ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "flows": [f.to_dict() for f in self.flows],
            "candidates": list(self.candidates),
            "main_flow": self.main_flow,
            "diagnostics": [d.to_dict() for d in self.diagnostics],
            "sources": [list(s) for s in self.sources],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Analysis:
        return cls(
            path=d["path"],
            flows=tuple(FlowIR.from_dict(f) for f in d["flows"]),
            candidates=tuple(d["candidates"]),
            main_flow=d["main_flow"],
            diagnostics=tuple(Diagnostic.from_dict(x) for x in d["diagnostics"]),
            sources=tuple((p, h) for p, h in d["sources"]),
        )
