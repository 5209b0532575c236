"""Flow file -> IR, read with libcst, without importing or running the file.

Importing this package does not import libcst: the CLI loads cached results through
:mod:`flowc.analyzer.result` alone, and libcst loads only when a file is actually parsed.

Modules: ``source`` (bytes -> parsed module or a located diagnostic), ``positions`` (node
ranges), ``imports`` (what names refer to), ``values`` (literals), ``decorators`` (decorators
and call arguments), ``steps`` and ``transitions`` (step bodies), ``params`` (parameters),
``modules`` (local modules of base classes), ``flows`` (flow classes, inheritance, IR),
``analysis`` (one file -> :class:`Analysis`), ``result`` (the answer), ``tree`` (walking).
"""

from __future__ import annotations

from flowc.analyzer.result import Analysis


def analyze_source(source: str | bytes, path: str, flow: str | None = None) -> Analysis:
    """Analyze ``source`` as if it were the file at ``path`` (local imports resolve from its
    folder). ``flow`` selects one flow class by name; by default every leaf flow class is
    analyzed. Never raises: problems come back as located diagnostics."""
    from flowc.analyzer.analysis import analyze

    return analyze(source, path, flow)


def analyze_file(path: str, flow: str | None = None) -> Analysis:
    """Read ``path`` (bytes, so encoding problems become diagnostics) and analyze it."""
    from flowc.analyzer.analysis import analyze, unreadable

    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        return unreadable(path, e)
    return analyze(data, path, flow)


__all__ = ["Analysis", "analyze_file", "analyze_source"]
