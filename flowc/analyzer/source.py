"""Reading and parsing one Python file: bytes -> libcst module with positions, or a located
``not-python`` / ``syntax-error`` diagnostic."""

from __future__ import annotations

import ast
import hashlib
import os
from dataclasses import dataclass
from typing import Any

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider

from flowc.diagnostics import Diagnostic, error
from flowc.ir import Span


@dataclass
class Parsed:
    """A parsed module and what is needed to point into it."""

    path: str  # as given (diagnostics and IR use it)
    abspath: str
    sha256: str
    module: cst.Module
    positions: Any  # Mapping[CSTNode, CodeRange]

    def span(self, node: cst.CSTNode) -> Span:
        r = self.positions[node]
        return Span(r.start.line, r.start.column + 1, r.end.line, r.end.column + 1)

    def code(self, node: cst.CSTNode) -> str:
        return self.module.code_for_node(node)


def decode(data: bytes | str, path: str) -> tuple[str | None, Diagnostic | None]:
    if isinstance(data, str):
        text = data
    else:
        if b"\0" in data:
            return None, _not_python(path, "it contains NUL bytes (a binary file?)")
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as e:
            return None, _not_python(path, f"it is not valid UTF-8 (byte {e.start})")
    if "\0" in text:
        return None, _not_python(path, "it contains NUL characters (a binary file?)")
    return text, None


def _not_python(path: str, why: str) -> Diagnostic:
    return error(
        "not-python",
        f"cannot read {os.path.basename(path)} as Python source: {why}",
        "pass the .py file that defines the flow",
        path,
        1,
        1,
    )


def parse(data: bytes | str, path: str) -> tuple[Parsed | None, Diagnostic | None]:
    text, problem = decode(data, path)
    if text is None:
        return None, problem
    raw = data if isinstance(data, bytes) else text.encode("utf-8", "surrogatepass")
    try:
        module = cst.parse_module(text)
        positions = MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)
    except cst.ParserSyntaxError as e:
        return None, _syntax_error(text, path, e.raw_line, e.raw_column + 1, e.message)
    except (RecursionError, MemoryError, ValueError, TypeError, IndexError) as e:
        return None, _syntax_error(text, path, 1, 1, f"{type(e).__name__}: {e}")
    except Exception as e:  # noqa: BLE001 - the parser must never take the command down
        return None, _syntax_error(text, path, 1, 1, f"{type(e).__name__}: {e}")
    return (
        Parsed(path, os.path.abspath(path), hashlib.sha256(raw).hexdigest(), module, positions),
        None,
    )


def _syntax_error(text: str, path: str, line: int, col: int, detail: str) -> Diagnostic:
    """Prefer CPython's own message and position (clearer: "expected ':'"); compiling to an AST
    runs nothing. Fall back to the libcst parser's."""
    try:
        ast.parse(text, filename=path)
    except SyntaxError as e:
        if e.lineno:
            line, col, detail = e.lineno, max(e.offset or 1, 1), e.msg
    except (RecursionError, MemoryError, ValueError):
        pass
    lines = text.count("\n") + 1
    line = min(max(line, 1), lines + 1)
    detail = detail.replace("parser error: ", "").splitlines()[0] if detail else "invalid syntax"
    return error(
        "syntax-error",
        f"invalid Python syntax: {detail}",
        "fix the syntax at this position (the flow cannot be analyzed until the file parses)",
        path,
        line,
        max(col, 1),
    )
