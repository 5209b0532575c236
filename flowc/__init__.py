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
    kubernetes,
    project,
    resources,
    retry,
    schedule,
    step,
    timeout,
)

__version__ = "0.1.0"

# The client API loads on first use, so `import flowc` stays as light as the CLI needs.
_CLIENT = frozenset(
    (
        "Flow",
        "Run",
        "Step",
        "Task",
        "DataArtifact",
        "namespace",
        "get_namespace",
        "default_namespace",
    )
)


def __getattr__(name: str):  # noqa: ANN202 - module attribute hook
    if name in _CLIENT:
        import flowc.client

        return getattr(flowc.client, name)
    raise AttributeError(f"module 'flowc' has no attribute {name!r}")


__all__ = [
    "Config",
    "FlowSpec",
    "IncludeFile",
    "JSONType",
    "Parameter",
    "card",
    "catch",
    "current",
    "DataArtifact",
    "Flow",
    "Run",
    "Step",
    "Task",
    "default_namespace",
    "get_namespace",
    "namespace",
    "environment",
    "kubernetes",
    "project",
    "resources",
    "retry",
    "schedule",
    "step",
    "timeout",
    "__version__",
]
