"""One Python file: bytes -> text -> libcst module with node positions, or a located
``not-python`` / ``syntax-error`` diagnostic. Nothing here imports or runs the file."""

from __future__ import annotations

import ast
import hashlib
import io
import os
import re
import tokenize
import warnings
from dataclasses import dataclass

import libcst as cst

from flowc.analyzer.positions import Range, positions
from flowc.diagnostics import Diagnostic, error
from flowc.ir import Span

_NOWHERE: Range = (1, 0, 1, 0)


@dataclass(frozen=True, eq=False)
class SourceFile:
    """A file as read: ``module`` is None when it could not be parsed, and ``problem`` says why.
    ``path`` is how diagnostics and the IR name it; ``abspath`` and ``sha256`` go to
    ``sources`` so a cache can tell when the file changed."""

    path: str
    abspath: str
    sha256: str
    module: cst.Module | None
    problem: Diagnostic | None
    ranges: dict[cst.CSTNode, Range]

    def span(self, node: cst.CSTNode) -> Span:
        """1-based span of ``node`` (libcst columns are 0-based)."""
        line, col, end_line, end_col = self.ranges.get(node, _NOWHERE)
        return Span(line, col + 1, end_line, end_col + 1)

    def code(self, node: cst.CSTNode) -> str:
        """The node's source text as written (without surrounding whitespace it does not own)."""
        assert self.module is not None
        return self.module.code_for_node(node)


def load(data: bytes | str, path: str, abspath: str | None = None) -> SourceFile:
    """Decode and parse ``data``; never raises."""
    raw = data if isinstance(data, bytes) else data.encode("utf-8", "surrogatepass")
    digest = hashlib.sha256(raw).hexdigest()
    abspath = abspath or os.path.abspath(path)
    text, problem = decode(data, path)
    if text is None:
        return SourceFile(path, abspath, digest, None, problem, {})
    # CPython's parser goes first: it reports syntax errors sharply, and it refuses nesting too
    # deep to compile, which libcst's native parser may crash the process on (a thousand
    # nested parentheses segfault it). Parsing to an AST runs nothing.
    problem = _python_rejects(text, path)
    if problem is not None:
        return SourceFile(path, abspath, digest, None, problem, {})
    try:
        module = cst.parse_module(text)
        ranges = positions(module)
    except cst.ParserSyntaxError as e:
        return SourceFile(path, abspath, digest, None, _libcst_error(text, path, e), {})
    except RecursionError:
        problem = _parser_failure(path, "the code is nested too deeply to analyze")
        return SourceFile(path, abspath, digest, None, problem, {})
    except Exception as e:  # noqa: BLE001 - any parser failure is the file's problem, not ours
        problem = _parser_failure(path, f"the parser failed ({type(e).__name__}: {_first_line(e)})")
        return SourceFile(path, abspath, digest, None, problem, {})
    return SourceFile(path, abspath, digest, module, None, ranges)


def decode(data: bytes | str, path: str) -> tuple[str | None, Diagnostic | None]:
    """Source text, honouring a UTF-8 BOM or a PEP 263 ``coding:`` line as Python does."""
    if isinstance(data, str):
        text = data
    elif b"\0" in data:
        return None, _not_python(path, "it contains NUL bytes (a binary file?)")
    else:
        try:
            encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
        except SyntaxError as e:  # undecodable first lines, or an unknown declared codec
            why = _first_line(e)
            if why.startswith("invalid or missing encoding declaration"):
                why = "it is not valid UTF-8 text"
            else:
                why = f"its encoding declaration cannot be used ({why})"
            return None, _not_python(path, why)
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError as e:
            why = f"it is not valid {e.encoding.upper()} text (byte {e.start})"
            return None, _not_python(path, why)
        except Exception as e:  # noqa: BLE001 - a declared codec that does not decode bytes
            return None, _not_python(path, f"its encoding cannot be read ({_first_line(e)})")
    if text.startswith("\ufeff"):
        text = text[1:]
    if "\0" in text:
        return None, _not_python(path, "it contains NUL characters (a binary file?)")
    return text, None


def _not_python(path: str, why: str) -> Diagnostic:
    return error(
        "not-python",
        f"cannot read {os.path.basename(path) or path} as Python source: {why}",
        "pass the .py file that defines the flow",
        path,
        1,
        1,
    )


def _python_rejects(text: str, path: str) -> Diagnostic | None:
    """A ``syntax-error`` where CPython's parser stops, or None when it accepts the code."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. invalid escape sequences: not our business
            ast.parse(text, filename=path)
    except SyntaxError as e:
        return _syntax_error(text, path, e.lineno or 1, e.offset or 1, e.msg or "invalid syntax")
    except (RecursionError, MemoryError):
        return _parser_failure(path, "the code is nested too deeply for Python's parser")
    except (ValueError, OverflowError) as e:
        return _parser_failure(path, _first_line(e))
    return None


_LIBCST_AT = re.compile(r"error at (\d+):(\d+)")


def _libcst_error(text: str, path: str, e: cst.ParserSyntaxError) -> Diagnostic:
    """For code CPython accepts but libcst does not (newer syntax than libcst knows). libcst's
    message carries a sharper position than its ``raw_line``/``raw_column``."""
    line, col = e.raw_line, e.raw_column + 1
    found = _LIBCST_AT.search(e.message)
    if found:
        line, col = int(found.group(1)), int(found.group(2)) + 1
    detail = _first_line(e.message).replace("parser error: ", "").replace("tokenizer error: ", "")
    detail = _LIBCST_AT.sub("", detail).strip(" :") or "invalid syntax"
    return _syntax_error(text, path, line, col, f"{detail} (libcst cannot parse this code)")


def _syntax_error(text: str, path: str, line: int, col: int, detail: str) -> Diagnostic:
    last = text.count("\n") + 1
    return error(
        "syntax-error",
        f"invalid Python syntax: {detail}",
        "fix the syntax here; the flow cannot be analyzed until the file parses",
        path,
        min(max(line, 1), last),
        max(col, 1),
    )


def _parser_failure(path: str, why: str) -> Diagnostic:
    return error(
        "syntax-error",
        f"cannot parse the file: {why}",
        "simplify the code (split deeply nested expressions) so that it parses",
        path,
        1,
        1,
    )


def _first_line(e: object) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__
