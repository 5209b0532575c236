"""Located diagnostics, shared by the analyzer (syntax, missing flow) and lint (graph rules).

Every diagnostic prints as ``path:line:col: severity[rule-id]: what is wrong. how to fix it.``
so editors and CI annotate it like a compiler error."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Severity(str, enum.Enum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Diagnostic:
    rule: str
    severity: Severity
    message: str  # what is wrong, without a final period
    fix: str  # how to fix it, without a final period
    path: str
    line: int
    col: int

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def format(self) -> str:
        return (
            f"{self.path}:{self.line}:{self.col}: {self.severity.value}[{self.rule}]: "
            f"{_sentence(self.message)} {_sentence(self.fix)}"
        ).rstrip()

    def to_dict(self) -> dict:
        return {
            "rule": self.rule,
            "severity": self.severity.value,
            "message": self.message,
            "fix": self.fix,
            "path": self.path,
            "line": self.line,
            "col": self.col,
        }

    @classmethod
    def from_dict(cls, d: dict) -> Diagnostic:
        return cls(
            rule=d["rule"],
            severity=Severity(d["severity"]),
            message=d["message"],
            fix=d["fix"],
            path=d["path"],
            line=d["line"],
            col=d["col"],
        )


def _sentence(text: str) -> str:
    text = text.strip()
    if not text:
        return ""
    text = text[0].upper() + text[1:]
    return text if text[-1] in ".!?" else text + "."


def error(rule: str, message: str, fix: str, path: str, line: int, col: int) -> Diagnostic:
    return Diagnostic(rule, Severity.ERROR, message, fix, path, line, col)


def warning(rule: str, message: str, fix: str, path: str, line: int, col: int) -> Diagnostic:
    return Diagnostic(rule, Severity.WARNING, message, fix, path, line, col)
