"""Strict checks of a compiled KFP pipeline file, beyond what loading it in the SDK does.

Four independent checks, each catching what the others let through: the whole document parsed
into ``PipelineSpec`` (unknown fields, bad enums, wrong types), every executor parsed into
``ExecutorSpec`` (they are an untyped Struct in the document), the SDK's own loader, and a walk
of the references none of those resolve (componentRef, dependentTasks, producerTask,
producerSubtask, executorLabel). A pipeline with Kubernetes settings carries a second document,
the platform spec: it is parsed into ``PlatformSpec``, each executor's settings into
kfp-kubernetes' ``KubernetesExecutorConfig``, and each must name an executor of the pipeline.
"""

from __future__ import annotations

from typing import Any


class KfpInvalid(ValueError):
    """The document failed one check; the message names which and where."""


def load(text: str) -> dict[str, Any]:
    """The pipeline spec (the first document)."""
    return load_all(text)[0]


def load_all(text: str) -> list[dict[str, Any]]:
    """The pipeline spec and, when the pipeline has one, the platform spec."""
    import yaml

    docs = list(yaml.safe_load_all(text))
    if not docs or len(docs) > 2 or not all(isinstance(d, dict) for d in docs):
        raise KfpInvalid("yaml: not one or two mappings")
    return docs


def check_platform(doc: dict[str, Any], platform: dict[str, Any]) -> None:
    from google.protobuf import json_format
    from kfp.kubernetes import kubernetes_executor_config_pb2 as k8s
    from kfp.pipeline_spec import pipeline_spec_pb2 as pb

    try:
        json_format.ParseDict(platform, pb.PlatformSpec())
    except json_format.ParseError as e:
        raise KfpInvalid(f"PlatformSpec: {e}") from None
    executors = doc.get("deploymentSpec", {}).get("executors", {})
    kube = platform.get("platforms", {}).get("kubernetes", {})
    for label, config in kube.get("deploymentSpec", {}).get("executors", {}).items():
        if label not in executors:
            raise KfpInvalid(f"PlatformSpec: executor {label!r} is not in the pipeline")
        try:
            json_format.ParseDict(config, k8s.KubernetesExecutorConfig())
        except json_format.ParseError as e:
            raise KfpInvalid(f"KubernetesExecutorConfig {label}: {e}") from None


def check_proto(doc: dict[str, Any]) -> None:
    from google.protobuf import json_format
    from kfp.pipeline_spec import pipeline_spec_pb2 as pb

    try:
        json_format.ParseDict(doc, pb.PipelineSpec())
    except json_format.ParseError as e:
        raise KfpInvalid(f"PipelineSpec: {e}") from None
    executors = doc.get("deploymentSpec", {}).get("executors", {})
    for label, spec in executors.items():
        try:
            json_format.ParseDict(spec, pb.PipelineDeploymentConfig.ExecutorSpec())
        except json_format.ParseError as e:
            raise KfpInvalid(f"ExecutorSpec {label}: {e}") from None


def check_loads(path: str) -> None:
    from kfp import components

    try:
        components.load_component_from_file(path)
    except Exception as e:  # noqa: BLE001 - any failure of the SDK's loader is the finding
        raise KfpInvalid(f"load_component_from_file: {type(e).__name__}: {e}") from None


def check_references(doc: dict[str, Any]) -> None:
    comps = doc.get("components", {})
    executors = doc.get("deploymentSpec", {}).get("executors", {})
    for name, comp in comps.items():
        label = comp.get("executorLabel")
        if label is not None and label not in executors:
            raise KfpInvalid(f"{name}: executorLabel {label!r} has no executor")
    dags = [("root", doc.get("root", {}))] + list(comps.items())
    for where, comp in dags:
        dag = comp.get("dag")
        if dag is None:
            continue
        tasks = dag.get("tasks", {})
        for tname, task in tasks.items():
            ref = task.get("componentRef", {}).get("name")
            if ref not in comps:
                raise KfpInvalid(f"{where}/{tname}: componentRef {ref!r} is not a component")
            for dep in task.get("dependentTasks", []):
                if dep not in tasks:
                    raise KfpInvalid(f"{where}/{tname}: dependentTasks {dep!r} is not a sibling")
            for pname, p in task.get("inputs", {}).get("parameters", {}).items():
                producer = p.get("taskOutputParameter", {}).get("producerTask")
                if producer is not None and producer not in tasks:
                    raise KfpInvalid(f"{where}/{tname}/{pname}: producerTask {producer!r}")
        for oname, out in dag.get("outputs", {}).get("parameters", {}).items():
            selectors = out.get("valueFromOneof", {}).get("parameterSelectors", [])
            selectors += out.get("valueFromParameter", {}) and [out["valueFromParameter"]]
            for sel in selectors:
                if sel.get("producerSubtask") not in tasks:
                    raise KfpInvalid(f"{where}/outputs/{oname}: producerSubtask {sel}")


def validate_file(path: str) -> dict[str, Any]:
    """All four checks; the parsed document when it passes."""
    with open(path, encoding="utf-8") as f:
        docs = load_all(f.read())
    doc = docs[0]
    check_proto(doc)
    if len(docs) == 2:
        check_platform(doc, docs[1])
    check_loads(path)
    check_references(doc)
    return doc


__all__ = [
    "KfpInvalid",
    "check_loads",
    "check_platform",
    "load_all",
    "check_proto",
    "check_references",
    "validate_file",
]
