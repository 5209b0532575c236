"""flowc's own semantic check of an Argo document: what neither Argo's client models nor hera's
check. Every template a task references exists; every ``depends`` names a task of the same DAG;
every ``{{tasks.X.outputs.parameters.Y}}`` names a task of that DAG whose template declares
output ``Y``; every ``{{inputs.parameters.Z}}`` is declared by the template using it; every
``{{workflow.parameters.P}}`` is a workflow argument; ``{{item}}`` is used only by a fanned-out
task. The emitter runs it on what it writes."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

_REF = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")
_DEPENDS_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]*(?:\.[A-Za-z]+)?")
_RESULTS = {
    "Succeeded",
    "Failed",
    "Errored",
    "Skipped",
    "Omitted",
    "Daemoned",
    "AnySucceeded",
    "AllFailed",
}
_GLOBALS = {"workflow.name", "workflow.namespace", "workflow.uid", "retries", "item"}


def _spec(doc: dict[str, Any]) -> dict[str, Any]:
    spec = doc.get("spec") or {}
    return spec.get("workflowSpec", spec) if doc.get("kind") == "CronWorkflow" else spec


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def _names(items: list[dict[str, Any]] | None) -> set[str]:
    return {x.get("name") for x in items or []}


def semantic_problems(doc: dict[str, Any]) -> list[str]:
    """What is wrong with ``doc`` (empty when nothing is)."""
    spec = _spec(doc)
    if "workflowTemplateRef" in spec:
        return []  # checked with the template it names
    out: list[str] = []
    templates = {t.get("name"): t for t in spec.get("templates") or []}
    params = _names((spec.get("arguments") or {}).get("parameters"))
    entry = spec.get("entrypoint")
    if entry not in templates:
        out.append(f"entrypoint {entry!r} is not a template")
    for tname, t in templates.items():
        inputs = _names((t.get("inputs") or {}).get("parameters"))
        tasks = {x.get("name"): x for x in (t.get("dag") or {}).get("tasks") or []}
        for task in tasks.values():
            where = f"template {tname!r} task {task.get('name')!r}"
            if task.get("template") not in templates:
                out.append(f"{where}: template {task.get('template')!r} does not exist")
            for word in _DEPENDS_WORD.findall(task.get("depends") or ""):
                dep, _, result = word.partition(".")
                if dep not in tasks:
                    out.append(f"{where}: depends on {dep!r}, which is not a task of this DAG")
                elif result and result not in _RESULTS:
                    out.append(f"{where}: depends on {word!r}: unknown result {result!r}")
            uses_item = any("{{item}}" in x for x in _strings(task))
            if uses_item and "withParam" not in task and "withItems" not in task:
                out.append(f"{where}: uses {{{{item}}}} without withParam")
            callee = templates.get(task.get("template")) or {}
            wanted = _names((callee.get("inputs") or {}).get("parameters"))
            given = _names((task.get("arguments") or {}).get("parameters"))
            if wanted - given:
                out.append(f"{where}: inputs {sorted(wanted - given)} are not passed")
            if given - wanted:
                out.append(f"{where}: passes {sorted(given - wanted)}, which are not inputs")
        for text in _strings({k: v for k, v in t.items() if k != "name"}):
            for ref in _REF.findall(text):
                problem = _ref_problem(ref, inputs, tasks, templates, params, t)
                if problem:
                    out.append(f"template {tname!r}: {{{{{ref}}}}} {problem}")
    return out


def _ref_problem(
    ref: str,
    inputs: set[str],
    tasks: dict[str, Any],
    templates: dict[str, Any],
    params: set[str],
    template: dict[str, Any],
) -> str | None:
    parts = ref.split(".")
    if ref in _GLOBALS:
        if ref == "retries" and "retryStrategy" not in template:
            return "is used by a template without a retryStrategy"
        return None
    if parts[:2] == ["inputs", "parameters"] and len(parts) == 3:
        return None if parts[2] in inputs else "is not a declared input"
    if parts[:2] == ["workflow", "parameters"] and len(parts) == 3:
        return None if parts[2] in params else "is not a workflow argument"
    if parts[0] == "tasks" and len(parts) == 5 and parts[2:4] == ["outputs", "parameters"]:
        task = tasks.get(parts[1])
        if task is None:
            return "names no task of this DAG"
        callee = templates.get(task.get("template")) or {}
        outs = _names((callee.get("outputs") or {}).get("parameters"))
        return None if parts[4] in outs else f"is not an output of {task.get('template')!r}"
    return "is not a reference flowc writes"
