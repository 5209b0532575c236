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
    parallel,
    project,
    resources,
    retry,
    schedule,
    secrets,
    step,
    timeout,
)
from flowc.configs import config_expr
from flowc.extend import FlowMutator, StepMutator, UserStepDecorator, user_step_decorator

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


# Other names loaded on first use: name -> module that defines it.
_LAZY = {
    "get_metadata": "flowc.client.scope",
    "metadata": "flowc.client.scope",
    "Runner": "flowc.runner",
    "NBRunner": "flowc.runner",
}


def __getattr__(name: str):  # noqa: ANN202 - module attribute hook
    if name in _CLIENT:
        import flowc.client

        return getattr(flowc.client, name)
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
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
    "config_expr",
    "FlowMutator",
    "StepMutator",
    "UserStepDecorator",
    "user_step_decorator",
    "parallel",
    "project",
    "resources",
    "retry",
    "schedule",
    "secrets",
    "step",
    "timeout",
    "__version__",
]
