"""Exception classes a flow may raise or catch by Metaflow's names (``metaflow.exception``)."""

from __future__ import annotations


class MetaflowException(Exception):
    """Base of the errors a flow raises on purpose; its ``headline`` names the kind."""

    headline = "Flow failed"

    def __init__(self, msg: str = "", lineno: int | None = None, source_file: str | None = None):
        self.message = msg
        self.line_no = lineno
        self.source_file = source_file
        super().__init__(msg)

    def __str__(self) -> str:
        where = f"line {self.line_no}" if self.line_no else (self.source_file or "")
        return f"{where}: {self.message}" if where else self.message


class MetaflowNotFound(MetaflowException):
    headline = "Object not found"


class UnhandledInMergeArtifactsException(MetaflowException):
    """``merge_artifacts`` met an artifact whose value differs across the join's inputs."""

    headline = "Unhandled artifacts in merge"


class MissingInMergeArtifactsException(MetaflowException):
    """``merge_artifacts(include=...)`` named an artifact no input has."""

    headline = "Missing artifacts in merge"


class ExternalCommandFailed(MetaflowException):
    """A command the flow ran failed."""

    headline = "External command failed"
