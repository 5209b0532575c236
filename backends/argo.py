"""The Argo Workflows backend: a flow's IR -> a WorkflowTemplate (or Workflow) YAML document,
plus a CronWorkflow when the flow has ``@schedule``.

The document is built as data and dumped with PyYAML. Each step is a container template
running flowc's task contract through :mod:`flowc.backends.argo_task` (run id
``{{workflow.name}}``, attempt ``{{retries}}``, index path from ``inputs.parameters.index``).
A foreach body is its own DAG template, fanned out with ``withParam`` over the JSON list of index
paths the split task writes as an output parameter; a nested foreach nests those DAG templates,
so the document never grows with the foreach width. A switch's branches carry ``when``; steps
after a branch depend on ``X.Succeeded`` so a skipped branch is omitted, and the merge step
waits for whichever branch ran (``a.Succeeded || b.Succeeded``).

Argo substitutes ``{{...}}`` everywhere in a template and in ``spec.arguments`` and has no
escape for it, so user text never goes there verbatim: parameter values are JSON whose string
``{``, ``}`` and ``$`` are written ``\\u007b``... (Kubernetes would expand ``$(VAR)``; other
values escape ``$`` as ``$$``); an ``@environment`` value holding ``{{`` is left to the task
contract (which sets every ``@environment`` variable itself); docstrings live only in the
top-level metadata, which Argo does not substitute.

Options (``EmitOptions.extra``): ``kind`` (``workflow-template`` or ``workflow``),
``namespace``, ``parallelism``, ``python`` (the interpreter in the image), ``flow_path`` (the
flow file inside the image), ``package`` (a code package id; ``flow_path`` is then the file's
name inside it).
"""

from __future__ import annotations

import json
import math
import os
import re
from typing import Any

import yaml

from flowc import __version__
from flowc.backends.airflow import _k8s_resources
from flowc.backends.base import EmitOptions, EmitResult, Emitter
from flowc.backends.deployment import (
    FINALIZE_NODE,
    USER_VAR,
    container_problems,
    deployer,
    finalize_args,
    target_tag,
)
from flowc.backends.datastore_env import k8s_env_from
from flowc.backends.graphplan import ParamPlan, Plan, StepPlan, plan
from flowc.backends.k8s import FlowPodOptions, PodSettings, merged_resources, pod_settings
from flowc.backends.params import DefaultError, param_default, param_type
from flowc.diagnostics import Diagnostic, error, warning
from flowc.graph import exit_targets, is_foreach, is_recursive, is_switch, join_groups
from flowc.ir import FlowIR, NodeKind, Step

KINDS = ("workflow-template", "workflow")
OUTPUTS_DIR = "/tmp/flowc-outputs"
INDICES = "indices"
BRANCH = "branch"
NEXT = "next"  # a recursive switch's next visit: its index path with the visit number + 1
ENTRY = "main"
# The task contract stops a step at its @timeout; Argo's deadline is the backstop.
TIMEOUT_GRACE_S = 60
_PARAM_NAME = re.compile(r"^[A-Za-z0-9_-]+$")


class ArgoEmitter(Emitter):
    name = "argo"

    def emit(self, ir: FlowIR, options: EmitOptions) -> EmitResult:
        p = plan(ir, "argo")
        pods, pod_problems = pod_settings(ir, options.extra, "argo")
        problems = list(p.diagnostics) + _option_problems(ir, p, options) + pod_problems
        problems += _pod_value_problems(ir, pods, options)
        if any(d.is_error for d in problems):
            return EmitResult({}, tuple(problems))
        try:
            docs = build(ir, p, options, pods)
        except (ValueError, DefaultError) as e:  # a default with no JSON form (a NaN)
            problems.append(_at(ir, "value", f"a value cannot be written: {e}", "use JSON values"))
            return EmitResult({}, tuple(problems))
        from flowc.backends.argo_check import semantic_problems

        for doc in docs:
            for message in semantic_problems(doc):  # a bug in this module, never the user's
                problems.append(_at(ir, "internal", message, "report this as a flowc bug"))
        if any(d.is_error for d in problems):
            return EmitResult({}, tuple(problems))
        return EmitResult({f"{_dns(ir.name)}.yaml": dump(docs)}, tuple(problems))


def dump(docs: list[dict[str, Any]], dumper: Any = None) -> str:
    """Deterministic YAML: insertion order kept, long lines never folded. libyaml's dumper when
    PyYAML has it (several times faster; the tests check it writes the same bytes)."""
    return yaml.dump_all(
        docs,
        Dumper=dumper or getattr(yaml, "CSafeDumper", yaml.SafeDumper),
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
        width=1 << 20,
    )


def _at(ir: FlowIR, rule: str, message: str, fix: str, warn: bool = False) -> Diagnostic:
    make = warning if warn else error
    return make(f"argo-{rule}", message, fix, ir.file, ir.span.line, ir.span.col)


def _option_problems(ir: FlowIR, p: Plan, options: EmitOptions) -> list[Diagnostic]:
    extra = options.extra
    out = []
    kind = extra.get("kind") or KINDS[0]
    if kind not in KINDS:
        out.append(_at(ir, "kind", f"unknown kind {kind!r}", "use workflow-template or workflow"))
    out += container_problems(ir, "argo", options.image, options.datastore, "Argo")
    package = extra.get("package")
    if package is not None and not re.fullmatch(r"[0-9a-f]{64}", str(package)):
        out.append(_at(ir, "package", f"{package!r} is not a code package id", "a sha256 hex"))
    par = extra.get("parallelism")
    if par is not None and (not isinstance(par, int) or par < 1):
        out.append(_at(ir, "parallelism", f"--parallelism {par!r}", "pass a positive integer"))
    for what, value in (
        ("--image", options.image),
        ("--datastore", options.datastore),
        ("--namespace", extra.get("namespace")),
        ("--flow-path", extra.get("flow_path") or os.path.abspath(ir.file)),
        ("--python", extra.get("python")),
    ):
        if value is not None and ("{{" in str(value) or "}}" in str(value)):
            out.append(
                _at(
                    ir,
                    "value",
                    f"{what} {value!r} holds '{{{{' or '}}}}', which Argo would substitute",
                    f"choose a {what} without braces",
                )
            )
    for x in p.params:
        if not _PARAM_NAME.match(x.name):
            out.append(
                _at(
                    ir,
                    "parameter-name",
                    f"parameter {x.name!r} is not a valid Argo parameter name",
                    "use letters, digits, '-' and '_'",
                )
            )
    names = [_task_name(s.name) for s in p.steps]
    names += [_body_name(f.split) for f in p.foreaches]
    seen: set[str] = set()
    for n in names:
        if n in seen:
            out.append(_at(ir, "task-name", f"two tasks would be named {n!r}", "rename a step"))
        seen.add(n)
    steps = ir.step_map()
    for s in ir.steps:
        if is_recursive(s) and len(exit_targets(s)) != 1:
            span = s.transition.span  # type: ignore[union-attr]
            out.append(
                error(
                    "argo-recursive-switch-exits",
                    f"recursive switch {s.name!r} leaves its loop to {len(exit_targets(s))} "
                    "different steps; on Argo a loop has one way out",
                    "let every case but the loop go to one step, and branch there",
                    s.file,
                    span.line,
                    span.col,
                )
            )
        switch_preds = [q for q in s.in_steps if is_switch(steps[q]) and not is_recursive(steps[q])]
        if switch_preds and len(s.in_steps) > 1:
            out.append(
                _at(
                    ir,
                    "switch-merge",
                    f"step {s.name!r} is both a case of switch "
                    f"{switch_preds[0]!r} and a merge point",
                    "add a step between the switch and it",
                )
            )
    return out


def _pod_value_problems(
    ir: FlowIR, pods: dict[str, PodSettings], options: EmitOptions
) -> list[Diagnostic]:
    """Pod settings land in templates, where Argo substitutes ``{{...}}``: refuse braces."""
    out = []
    flow = FlowPodOptions.from_extra(options.extra)
    for name, pod in [("", None), *pods.items()]:
        values = _strings(flow if pod is None else pod)
        bad = next((v for v in values if not _safe(v)), None)
        if bad is not None:
            d = pod.decorator if pod is not None else None
            where = f"@kubernetes on {name!r}" if d else "a --label/--annotation/... option"
            line, col = (d.span.line, d.span.col) if d else (ir.span.line, ir.span.col)
            out.append(
                error(
                    "argo-value",
                    f"{where} holds {bad!r}, whose '{{{{' or '}}}}' Argo would substitute",
                    "choose a value without double braces",
                    ir.file,
                    line,
                    col,
                )
            )
    return out


def _strings(obj: Any) -> list[str]:
    if isinstance(obj, str):
        return [obj]
    if isinstance(obj, (tuple, list)):
        return [x for v in obj for x in _strings(v)]
    if hasattr(obj, "__dataclass_fields__"):
        return [
            x
            for f in obj.__dataclass_fields__
            if f != "decorator"
            for x in _strings(getattr(obj, f))
        ]
    return []


# --- names -----------------------------------------------------------------------------------


def _dns(name: str) -> str:
    """A DNS-1123 name for Kubernetes objects and labels."""
    return (re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-") or "flow")[:63].strip("-")


def _task_name(step: str) -> str:
    """DAG task and template names allow letters, digits and '-'."""
    name = step.replace("_", "-")
    return name if name[:1].isalnum() else "s" + name


def _body_name(split: str) -> str:
    return _task_name(split) + "-body"


def _step_template(step: str) -> str:
    return "step-" + _task_name(step)


def _body_template(split: str) -> str:
    return "foreach-" + _task_name(split)


def _loop_template(step: str) -> str:
    return "loop-" + _task_name(step)


def _loop_dag(step: str) -> dict[str, Any]:
    """A recursive switch as a recursive DAG template (as Metaflow's Argo backend does): one
    visit, then, when the visit chose to loop, the same template for the next visit."""
    visit = {
        "name": "visit",
        "template": _step_template(step),
        "arguments": {"parameters": [{"name": "index", "value": "{{inputs.parameters.index}}"}]},
    }
    again = {
        "name": "again",
        "template": _loop_template(step),
        "depends": "visit.Succeeded",
        "when": f"'{{{{tasks.visit.outputs.parameters.{BRANCH}}}}}' == '{step}'",
        "arguments": {
            "parameters": [
                {"name": "index", "value": f"{{{{tasks.visit.outputs.parameters.{NEXT}}}}}"}
            ]
        },
    }
    return {
        "name": _loop_template(step),
        "inputs": {"parameters": [{"name": "index"}]},
        "dag": {"tasks": [visit, again]},
    }


# --- values ----------------------------------------------------------------------------------


def param_value(value: Any) -> str:
    """JSON for a parameter value in which no '{' is literal inside a string, so Argo's
    substitution never sees ``{{`` (structural braces are never adjacent in JSON text)."""
    if isinstance(value, str):
        text = json.dumps(value).replace("{", "\\u007b").replace("}", "\\u007d")
        return text.replace("$", "\\u0024")  # nor Kubernetes' $(VAR) expansion
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(param_value(v) for v in value) + "]"
    if isinstance(value, dict):
        items = (f"{param_value(str(k))}: {param_value(v)}" for k, v in value.items())
        return "{" + ", ".join(items) + "}"
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{value!r} has no JSON form")
    return json.dumps(value)


def display_value(kind: str, value: Any) -> str:
    """A parameter value as the Argo UI should show it: a string as its text, a number as its
    digits, a bool as ``true``/``false``, JSON as JSON. Only a value that Argo would substitute
    into (``{{``/``}}``) or Kubernetes expand (``$(``, ``$$``), or that the start task would read
    back differently (text that is itself a JSON string literal) is written escaped: as a JSON
    string (or JSON) whose braces and dollars are ``\\u007b``-style escapes, which
    :func:`flowc.backends.argo_task.decode` reads back."""
    if kind == "json":
        text = json.dumps(value, ensure_ascii=False)
        return text if _plain(text) else param_value(value)
    if kind == "bool" and isinstance(value, bool):
        return "true" if value else "false"
    if kind in ("int", "float") and isinstance(value, (int, float)) and not isinstance(value, bool):
        return param_value(value)
    text = value if isinstance(value, str) else json.dumps(value)
    from flowc.backends.argo_task import decode

    want = value if isinstance(value, str) else text
    return text if _plain(text) and decode(kind, text) == want else param_value(text)


def _plain(text: str) -> bool:
    return _safe(text) and "$(" not in text and "$$" not in text


def k8s_literal(text: str) -> str:
    """Kubernetes expands ``$(VAR)`` in a container's command, args and env values; ``$$`` is
    its escape for ``$``."""
    return text.replace("$", "$$")


def _safe(text: str) -> bool:
    return "{{" not in text and "}}" not in text


# --- the document ----------------------------------------------------------------------------


def _stacks(ir: FlowIR) -> dict[str, tuple[str, ...]]:
    """Each step's open foreaches, outermost first (a join is outside the foreach it closes)."""
    steps = ir.step_map()
    return {
        s.name: tuple(
            p for p in s.split_parents if is_foreach(steps[p]) and steps[p].matching_join != s.name
        )
        for s in ir.steps
    }


def build(
    ir: FlowIR, p: Plan, options: EmitOptions, pods: dict[str, PodSettings] | None = None
) -> list[dict[str, Any]]:
    """The documents, as data: the workflow (template) and, when scheduled, a CronWorkflow."""
    extra = options.extra
    if pods is None:
        pods = pod_settings(ir, extra, "argo")[0]
    flow_pod = FlowPodOptions.from_extra(extra)
    kind = extra.get("kind") or KINDS[0]
    name = _dns(ir.name)
    steps = ir.step_map()
    stacks = _stacks(ir)
    templates: list[dict[str, Any]] = []
    scopes: dict[tuple[str, ...], list[dict[str, Any]]] = {(): []}
    loops: list[dict[str, Any]] = []
    for f in p.foreaches:
        scopes[stacks[f.split] + (f.split,)] = []
    for sp in p.steps:
        s = steps[sp.name]
        stack = stacks[sp.name]
        scopes[stack].append(_dag_task(s, sp, stack, stacks, steps))
        if is_recursive(s):  # the step's task runs its loop: the first visit is ...0
            scopes[stack][-1]["template"] = _loop_template(s.name)
            first = "{{inputs.parameters.index}}.0" if stack else "0"
            scopes[stack][-1]["arguments"] = {"parameters": [{"name": "index", "value": first}]}
            loops.append(_loop_dag(s.name))
        if is_foreach(s):
            scopes[stack].append(
                {
                    "name": _body_name(s.name),
                    "template": _body_template(s.name),
                    "depends": f"{_task_name(s.name)}.Succeeded",
                    "withParam": f"{{{{tasks.{_task_name(s.name)}.outputs.parameters.{INDICES}}}}}",
                    "arguments": {"parameters": [{"name": "index", "value": "{{item}}"}]},
                }
            )
        templates.append(_container_template(ir, s, sp, p, options, pods[sp.name], flow_pod))
    dags = [{"name": ENTRY, "dag": {"tasks": scopes[()]}}]
    for stack, tasks in scopes.items():
        if stack:
            dags.append(
                {
                    "name": _body_template(stack[-1]),
                    "inputs": {"parameters": [{"name": "index"}]},
                    "dag": {"tasks": tasks},
                }
            )
    templates.append(_finalize_template(ir, options))
    spec: dict[str, Any] = {"entrypoint": ENTRY, "onExit": _dns(FINALIZE_NODE)}
    if p.params:
        spec["arguments"] = {"parameters": [_argument(x) for x in p.params]}
    if extra.get("parallelism"):
        spec["parallelism"] = int(extra["parallelism"])
    spec.update(_workflow_pod_fields(flow_pod, pods))
    spec["templates"] = dags + loops + templates
    metadata: dict[str, Any] = {}
    if kind == "workflow":
        metadata["generateName"] = name + "-"
    else:
        metadata["name"] = name
    if extra.get("namespace"):
        metadata["namespace"] = extra["namespace"]
    metadata["labels"] = {
        **dict(flow_pod.labels),
        "app.kubernetes.io/managed-by": "flowc",
        "flowc.dev/flow": name,
    }
    metadata["annotations"] = {**dict(flow_pod.annotations), **_annotations(ir, p)}
    docs = [
        {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "Workflow" if kind == "workflow" else "WorkflowTemplate",
            "metadata": metadata,
            "spec": spec,
        }
    ]
    if p.schedule:
        cron_meta = {k: v for k, v in metadata.items() if k != "generateName"}
        cron_meta["name"] = name
        if kind == "workflow":
            workflow_spec = spec
        else:
            workflow_spec = {"workflowTemplateRef": {"name": name}}
        docs.append(
            {
                "apiVersion": "argoproj.io/v1alpha1",
                "kind": "CronWorkflow",
                "metadata": cron_meta,
                "spec": {
                    "schedules": [_cron(p.schedule)],
                    "concurrencyPolicy": "Allow",
                    "workflowSpec": workflow_spec,
                },
            }
        )
    return docs


_PRESETS = {"@hourly": "0 * * * *", "@daily": "0 0 * * *", "@weekly": "0 0 * * 0"}


def _cron(schedule: str) -> str:
    return _PRESETS.get(schedule, schedule)


def _annotations(ir: FlowIR, p: Plan) -> dict[str, str]:
    """Metadata Argo shows and never substitutes: the flow, flowc's version, the docstrings."""
    out = {"flowc.dev/flow-name": ir.name, "flowc.dev/version": __version__}
    if ir.doc:
        out["workflows.argoproj.io/description"] = ir.doc
    docs = {s.name: s.doc for s in p.steps if s.doc}
    if docs:
        out["flowc.dev/step-docs"] = json.dumps(docs, sort_keys=True, ensure_ascii=False)
    helps = {x.name: x.help for x in p.params if x.help}
    if helps:
        out["flowc.dev/parameter-help"] = json.dumps(helps, sort_keys=True, ensure_ascii=False)
    return out


def _workflow_pod_fields(flow: FlowPodOptions, pods: dict[str, PodSettings]) -> dict[str, Any]:
    """Workflow-wide pod settings: the service account, image pull secrets (Argo has them only
    per workflow, so every step's are listed), TTL and pod garbage collection."""
    out: dict[str, Any] = {}
    if flow.service_account:
        out["serviceAccountName"] = flow.service_account
    pulls = list(flow.image_pull_secrets)
    for pod in pods.values():
        pulls += [x for x in pod.image_pull_secrets if x not in pulls]
    if pulls:
        out["imagePullSecrets"] = [{"name": x} for x in pulls]
    if flow.ttl is not None:
        out["ttlStrategy"] = {"secondsAfterCompletion": int(flow.ttl)}
    if flow.pod_gc:
        out["podGC"] = {"strategy": flow.pod_gc}
    return out


def _argument(x: ParamPlan) -> dict[str, Any]:
    arg: dict[str, Any] = {"name": x.name}
    if x.has_default:
        arg["value"] = display_value(param_type(x), param_default(x))
    elif not x.required:
        arg["value"] = "null"  # the task contract reads null as "no value"
    if x.help and _safe(x.help):
        arg["description"] = x.help
    return arg


def _dag_task(
    s: Step,
    sp: StepPlan,
    stack: tuple[str, ...],
    stacks: dict[str, tuple[str, ...]],
    steps: dict[str, Step],
) -> dict[str, Any]:
    task: dict[str, Any] = {"name": _task_name(s.name), "template": _step_template(s.name)}
    deps: list[str] = []
    when = None
    for q in s.in_steps:
        qstack = stacks[q]
        if len(qstack) > len(stack):  # the last step of a foreach body: wait for the body
            dep = _body_name(qstack[len(stack)])
        elif len(qstack) < len(stack):
            continue  # first step of a foreach body: the body task already waits for the split
        else:
            dep = _task_name(q)
        if is_switch(steps[q]) and not is_recursive(steps[q]):  # a loop has one way out
            when = f"'{{{{tasks.{dep}.outputs.parameters.{BRANCH}}}}}' == '{s.name}'"
        deps.append(f"{dep}.Succeeded")
    deps = list(dict.fromkeys(deps))
    if deps:
        task["depends"] = (" || " if sp.merge else " && ").join(deps)
        if s.kind is NodeKind.JOIN and all(len(stacks[q]) == len(stack) for q in s.in_steps):
            task["depends"] = _join_depends(s, steps)
    if when:
        task["when"] = when
    if stack:
        task["arguments"] = {
            "parameters": [{"name": "index", "value": "{{inputs.parameters.index}}"}]
        }
    return task


def _join_depends(s: Step, steps: dict[str, Step]) -> str:
    """A static join waits for every branch; a branch through a switch ends in one of its
    cases' steps, whichever ran (the others are skipped)."""
    parts = []
    for group in join_groups(steps, s.name):
        deps = [f"{_task_name(q)}.Succeeded" for q in group]
        parts.append(deps[0] if len(deps) == 1 else "(" + " || ".join(deps) + ")")
    return " && ".join(parts)


def _container_template(
    ir: FlowIR,
    s: Step,
    sp: StepPlan,
    p: Plan,
    options: EmitOptions,
    pod: PodSettings,
    flow_pod: FlowPodOptions,
) -> dict[str, Any]:
    extra = options.extra
    flow_path = extra.get("flow_path") or os.path.abspath(ir.file)
    wrapper = [k8s_literal(extra.get("python") or "python3"), "-m", "flowc.backends.argo_task"]
    outputs = []
    if is_foreach(s):
        outputs.append(INDICES)
    if is_switch(s):
        outputs.append(BRANCH)
    if is_recursive(s):
        outputs.append(NEXT)
    if outputs:
        wrapper += ["--outputs", OUTPUTS_DIR]
    env: list[dict[str, Any]] = []
    task_tag: list[str] = []
    if s.name == "start":
        task_tag = ["--tag", target_tag("argo")]
        # first in the list: Kubernetes expands $(VAR) only of variables defined before
        for i, x in enumerate(p.params):
            wrapper += ["--param", f"{x.name}:{param_type(x)}"]
            env.append(
                {"name": f"FLOWC_PARAM_{i}", "value": f"{{{{workflow.parameters.{x.name}}}}}"}
            )
    env += _run_env(options)  # after the parameters (see above)
    for key, value in sp.env:
        if _safe(key) and _safe(value):  # the task contract sets every @environment var itself
            env.append({"name": key, "value": k8s_literal(value)})
    task = [k8s_literal(flow_path), s.name, "--flow", ir.name, "--run-id", "{{workflow.name}}"]
    task += ["--attempt", "{{retries}}" if sp.retries else "0"]
    if sp.depth or is_recursive(s):
        task += ["--index", "{{inputs.parameters.index}}"]
    if extra.get("package"):
        task += ["--package", str(extra["package"])]
    task += task_tag
    for secret, key, var in pod.secret_keys:  # referenced by name, never inlined
        env.append({"name": var, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}})
    container: dict[str, Any] = {
        "image": pod.image or options.image,
        "command": wrapper[:3],
        "args": [*wrapper[3:], "--", *task],
    }
    if pod.image_pull_policy:
        container["imagePullPolicy"] = pod.image_pull_policy
    if env:
        container["env"] = env
    env_from = k8s_env_from(options.datastore) or []  # the datastore's settings: a secret
    env_from += [{"secretRef": {"name": x}} for x in pod.secrets]
    if env_from:
        container["envFrom"] = env_from
    requests, limits = _k8s_resources(merged_resources(sp.resources, pod))
    if pod.gpu_vendor != "nvidia" and "nvidia.com/gpu" in limits:
        limits[pod.gpu_resource] = limits.pop("nvidia.com/gpu")
    if requests or limits:
        container["resources"] = {
            k: v for k, v in (("requests", requests), ("limits", limits)) if v
        }
    t: dict[str, Any] = {"name": _step_template(s.name)}
    # the pods' labels: kubectl get pods -l flowc.dev/flow=...,flowc.dev/step=...
    labels = {
        **dict(pod.labels),
        "flowc.dev/flow": _dns(ir.name),
        "flowc.dev/step": s.name[:63].strip("_"),
    }
    t["metadata"] = {"labels": labels}
    if pod.annotations:
        t["metadata"]["annotations"] = dict(pod.annotations)
    if sp.depth or is_recursive(s):
        t["inputs"] = {"parameters": [{"name": "index"}]}
    t["container"] = container
    if pod.node_selector:
        t["nodeSelector"] = dict(pod.node_selector)
    if pod.tolerations:
        t["tolerations"] = [_toleration(x) for x in pod.tolerations]
    if pod.service_account and pod.service_account != flow_pod.service_account:
        t["serviceAccountName"] = pod.service_account
    if outputs:
        t["outputs"] = {
            "parameters": [
                {"name": o, "valueFrom": {"path": f"{OUTPUTS_DIR}/{_output_file(o)}"}}
                for o in outputs
            ]
        }
    if sp.retries:
        retry: dict[str, Any] = {"limit": str(sp.retries), "retryPolicy": "Always"}
        if sp.retry_delay:
            retry["backoff"] = {"duration": f"{int(math.ceil(sp.retry_delay))}s"}
        t["retryStrategy"] = retry
    if sp.timeout:
        t["activeDeadlineSeconds"] = str(int(math.ceil(sp.timeout)) + TIMEOUT_GRACE_S)
    return t


def _run_env(options: EmitOptions) -> list[dict[str, str]]:
    """What every pod of the run shares: the datastore, and the deployer as the runs' user."""
    env = []
    if options.datastore:
        env.append({"name": "FLOWC_DATASTORE", "value": k8s_literal(options.datastore)})
    user = options.extra.get("user") or deployer()
    env.append({"name": USER_VAR, "value": k8s_literal(user)})
    return env


def _finalize_template(ir: FlowIR, options: EmitOptions) -> dict[str, Any]:
    """The ``onExit`` handler: runs whatever happened and records the run as succeeded or
    failed (``flowc finalize``); it fails when the run failed, as the workflow does."""
    python = k8s_literal(options.extra.get("python") or "python3")
    return {
        "name": _dns(FINALIZE_NODE),
        "container": {
            "image": options.image,
            "command": [python, "-m", "flowc"],
            "args": finalize_args(ir.name, "{{workflow.name}}", None),
            "env": _run_env(options),
            **({"envFrom": env_from} if (env_from := k8s_env_from(options.datastore)) else {}),
        },
    }


def _toleration(pairs: tuple[tuple[str, Any], ...]) -> dict[str, Any]:
    t = dict(pairs)
    if "tolerationSeconds" in t:
        t["tolerationSeconds"] = int(t["tolerationSeconds"])
    return {k: (v if k == "tolerationSeconds" else str(v)) for k, v in t.items()}


def _output_file(output: str) -> str:
    from flowc.backends.argo_task import BRANCH_FILE, INDICES_FILE, NEXT_FILE

    return {INDICES: INDICES_FILE, BRANCH: BRANCH_FILE, NEXT: NEXT_FILE}[output]


__all__ = ["ArgoEmitter", "build", "dump", "param_value"]
