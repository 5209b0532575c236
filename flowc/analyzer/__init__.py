"""Flow file -> IR, with libcst, without importing or running the file.

This package's top level does not import libcst: the CLI loads cached results through
:mod:`flowc.analyzer.result` alone, and libcst is imported only when a file is parsed."""

from __future__ import annotations

from flowc.analyzer.result import Analysis


def analyze_source(source: str | bytes, path: str, flow: str | None = None) -> Analysis:
    """Analyze ``source`` as if it were the file at ``path`` (local imports resolve from its
    folder). Never raises: problems come back as located diagnostics."""
    from flowc.analyzer.flows import analyze

    return analyze(source, path, flow)


def analyze_file(path: str, flow: str | None = None) -> Analysis:
    from flowc.analyzer.flows import analyze

    with open(path, "rb") as f:
        data = f.read()
    return analyze(data, path, flow)


__all__ = ["Analysis", "analyze_file", "analyze_source"]
