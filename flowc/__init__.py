"""flowc: write a Metaflow-style flow once; check it, run it locally, compile it for Airflow,
Kubeflow Pipelines or Argo Workflows.

Importing this package has no side effects and loads nothing heavy: the authoring API below is
plain Python, and the analyzer (libcst) loads only when a command needs it.
"""

from flowc.authoring import (
    Config,
    FlowSpec,
    IncludeFile,
    JSONType,
    Parameter,
    card,
    catch,
    current,
    environment,
    project,
    resources,
    retry,
    schedule,
    step,
    timeout,
)

__version__ = "0.1.0"

__all__ = [
    "Config",
    "FlowSpec",
    "IncludeFile",
    "JSONType",
    "Parameter",
    "card",
    "catch",
    "current",
    "environment",
    "project",
    "resources",
    "retry",
    "schedule",
    "step",
    "timeout",
    "__version__",
]
