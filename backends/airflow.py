"""The Airflow backend: a flow's IR -> one DAG file (``templates/airflow_dag.py.j2``).

Each step becomes one task running flowc's task contract; a foreach body is dynamically mapped
over whole index paths listed by a small helper task (so a nested foreach needs only one mapped
level, which is all Airflow supports); a switch becomes a branch task. The plan comes from
:mod:`flowc.backends.graphplan`, shared with the other backends; this module only chooses
Airflow's words for it. A last task (``trigger_rule="all_done"``) runs ``flowc finalize``, which
records the run as succeeded or failed whatever happened. With the bash operator the tasks run
on this machine's workers, so every path baked in is absolute and named in one warning.

Options (``EmitOptions.extra``): ``operator`` (``bash`` or ``kubernetes``), ``python`` (the
interpreter on the workers), ``flow_path`` (the flow file as the workers see it), ``cwd``,
``user`` (recorded as the runs' user; default: who compiles),
``namespace``, ``dag_id``, ``tags``, ``package`` (a code package id from
:mod:`flowc.backends.package`; ``flow_path`` is then the file's name inside it). ``EmitOptions.datastore`` and ``.image`` as named.
"""

from __future__ import annotations

import os
import re
from functools import lru_cache
from typing import Any

from flowc.backends.base import EmitOptions, EmitResult, Emitter
from flowc.backends.deployment import (
    FINALIZE_NODE,
    USER_VAR,
    baked_in_warning,
    container_problems,
    deployer,
    interpreter,
    local_datastore,
    target_tag,
)
from flowc.backends.datastore_env import secret_name
from flowc.backends.graphplan import Plan, StepPlan, plan
from flowc.backends.k8s import (
    FlowPodOptions,
    PodSettings,
    merged_resources,
    pod_settings,
    unsupported,
)
from flowc.backends.literals import LiteralError, ident, jinja_escape, pyrepr
from flowc.diagnostics import Diagnostic, error, warning
from flowc.graph import join_groups
from flowc.ir import FlowIR, NodeKind

OPERATORS = ("bash", "kubernetes")
PARAMS_TEMPLATE = "{{ params | tojson }}"
_SCHEMA_TYPES = {"int": "integer", "float": "number", "str": "string", "bool": "boolean"}
# Airflow's execution_timeout covers the whole task (start-up, loading inputs, storing outputs);
# the task contract itself stops the step at its @timeout and records the failure. Airflow's
# limit is the backstop, this much later.
TIMEOUT_GRACE_S = 60.0
_DAG_ID = re.compile(r"^[A-Za-z0-9_.-]{1,250}$")


class AirflowEmitter(Emitter):
    name = "airflow"

    def emit(self, ir: FlowIR, options: EmitOptions) -> EmitResult:
        extra = dict(options.extra)
        operator = extra.get("operator") or "bash"
        p = plan(ir, "airflow")
        pods, pod_problems = pod_settings(ir, extra, "airflow")
        problems = list(p.diagnostics) + pod_problems
        problems += _option_problems(ir, options, operator)
        problems += _pod_problems(ir, pods, FlowPodOptions.from_extra(extra), operator)
        if any(d.is_error for d in problems):
            return EmitResult({}, tuple(problems))
        dag_id = extra.get("dag_id") or ir.name
        if operator == "bash":
            options, baked = _baked_in(ir, options)
            problems.append(baked_in_warning(ir, "airflow", baked))
        context = _context(ir, p, options, operator, dag_id, pods)
        try:
            text = _template().render(**context)
        except LiteralError as e:  # a value with no literal form (e.g. a NaN default)
            d = error(
                "airflow-value",
                f"a value cannot be written into the DAG: {e}",
                "use JSON-like literal values",
                ir.file,
                ir.span.line,
                ir.span.col,
            )
            return EmitResult({}, (*problems, d))
        return EmitResult({f"{dag_id}.py": text}, tuple(problems))


def _option_problems(ir: FlowIR, options: EmitOptions, operator: str) -> list[Diagnostic]:
    def bad(rule: str, message: str, fix: str) -> Diagnostic:
        return error(f"airflow-{rule}", message, fix, ir.file, ir.span.line, ir.span.col)

    out = []
    if operator not in OPERATORS:
        out.append(bad("operator", f"unknown operator {operator!r}", "use bash or kubernetes"))
    if operator == "kubernetes":
        what = "--operator kubernetes"
        out += container_problems(ir, "airflow", options.image, options.datastore, what)
    package = options.extra.get("package")
    if package is not None and not re.fullmatch(r"[0-9a-f]{64}", str(package)):
        out.append(bad("package", f"{package!r} is not a code package id", "pass a sha256 hex"))
    dag_id = options.extra.get("dag_id") or ir.name
    if not _DAG_ID.match(dag_id):
        out.append(bad("dag-id", f"{dag_id!r} is not a valid DAG id", "use letters, digits, _ . -"))
    return out


def _baked_in(ir: FlowIR, options: EmitOptions) -> tuple[EmitOptions, list[tuple[str, str, str]]]:
    """Tasks on this machine's workers: every path absolute, resolved where flowc compiles
    (the interpreter running flowc, the flow file, the datastore, the working directory)."""
    extra = dict(options.extra)
    extra["python"] = extra.get("python") or interpreter()
    extra["flow_path"] = extra.get("flow_path") or os.path.abspath(ir.file)
    extra["cwd"] = os.path.abspath(extra.get("cwd") or os.getcwd())
    datastore = local_datastore(options.datastore)
    baked = [
        ("interpreter", extra["python"], "--python"),
        ("flow file", extra["flow_path"], "--flow-path"),
        ("datastore", datastore, "--datastore"),
        ("working directory", extra["cwd"], "--cwd"),
    ]
    return EmitOptions(datastore=datastore, image=options.image, extra=extra), baked


# KubernetesPodOperator's on_finish_action for Argo-style pod GC strategies it can express
_ON_FINISH = {"OnPodCompletion": "delete_pod", "OnPodSuccess": "delete_succeeded_pod"}


def _pod_problems(
    ir: FlowIR, pods: dict[str, PodSettings], flow: FlowPodOptions, operator: str
) -> list[Diagnostic]:
    """Pod settings only a KubernetesPodOperator can carry; TTL and workflow-level GC none."""
    gc_fix = (
        "use --pod-gc OnPodCompletion or OnPodSuccess (KubernetesPodOperator's on_finish_action)"
    )
    out = []
    if operator != "kubernetes":
        for s in ir.steps:
            d = pods[s.name].decorator
            if d is not None:
                out.append(
                    warning(
                        "airflow-kubernetes",
                        f"@kubernetes on {s.name!r} has no effect with --operator bash",
                        "compile with --operator kubernetes to run the steps in pods",
                        ir.file,
                        d.span.line,
                        d.span.col,
                    )  # fmt: skip
                )
        if flow.any:
            out.append(
                error(
                    "airflow-kubernetes",
                    "pod options (--service-account, --label, --ttl...) need pods",
                    "add --operator kubernetes",
                    ir.file,
                    ir.span.line,
                    ir.span.col,
                )  # fmt: skip
            )
        return out
    fixes = {"ttl": "Airflow keeps task records itself; set the pods' cleanup with --pod-gc"}
    if flow.pod_gc and flow.pod_gc not in _ON_FINISH:
        fixes["pod_gc"] = gc_fix
    return unsupported(ir, pods, "airflow", {}, flow, fixes)


@lru_cache(maxsize=1)
def _template():
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("flowc.templates", "."),
        autoescape=False,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["py"] = pyrepr
    env.filters["tpl"] = lambda v: pyrepr(None if v is None else jinja_escape(str(v)))
    env.filters["ident"] = ident
    return env.get_template("airflow_dag.py.j2")


def _context(
    ir: FlowIR,
    p: Plan,
    options: EmitOptions,
    operator: str,
    dag_id: str,
    pods: dict[str, PodSettings] | None = None,
) -> dict[str, Any]:
    extra = options.extra
    kubernetes = operator == "kubernetes"
    flow_path = extra.get("flow_path") or os.path.abspath(ir.file)
    env: list[tuple[str, str, bool]] = [
        ("FLOWC_PYTHON", extra.get("python") or "python3", False),
        ("FLOWC_FLOW_FILE", flow_path, False),
    ]
    if options.datastore:
        env.append(("FLOWC_DATASTORE", options.datastore, False))
    env.append((USER_VAR, extra.get("user") or deployer(), False))
    env += [
        ("FLOWC_RUN_ID", "{{ run_id }}", True),
        ("FLOWC_ATTEMPT", "{{ ti.try_number - 1 }}", True),
    ]
    doc = ir.doc
    if doc is not None and doc.endswith(".md"):
        doc += "\n"  # Airflow would read a doc_md ending in .md as a file name
    description = doc.strip().splitlines()[0] if doc and doc.strip() else None
    foreach_of = {f.split: f for f in p.foreaches}
    switch_of = {s.split: s for s in p.switches}
    tasks: list[dict[str, Any]] = []
    edges: list[tuple[str, str]] = []
    pods = pods or {}
    case_joins = _joins_after_switch_cases(ir)
    for s in p.steps:
        tasks.append(_task(s, kubernetes, foreach_of, pods.get(s.name, PodSettings())))
        if s.name in case_joins:
            tasks[-1]["merge"] = True
        for u in s.upstream:
            edges.append((u, s.name))
        if s.name in foreach_of:
            f = foreach_of[s.name]
            tasks.append(
                {"what": "indices", "name": f.node, "source": s.name, "nested": f.depth > 0}
            )
            edges.append((s.name, f.node))
        if s.name in switch_of:
            sw = switch_of[s.name]
            tasks.append({"what": "branch", "name": sw.node, "source": s.name})
            edges.append((s.name, sw.node))
    tags = sorted({"flowc", *(extra.get("tags") or ())})
    finalizer = {
        "what": "finalize",
        "name": FINALIZE_NODE,
        "upstream": [s.name for s in p.steps],
        "pod_name": "flowc-finalize",
    }
    return {
        "flow": ir.name,
        "kubernetes": kubernetes,
        "env": env,
        "image": options.image,
        "datastore_secret": secret_name(options.datastore),
        "namespace": extra.get("namespace") or "default",
        "cwd": extra.get("cwd"),
        "package": extra.get("package"),
        "mapped": [s for s in p.steps if s.fan_over],
        "dag_id": dag_id,
        "description": description,
        "doc_md": doc,
        "schedule": p.schedule,
        "tags": tags,
        "params": [_param(x) for x in p.params],
        "params_template": PARAMS_TEMPLATE,
        "tasks": tasks,
        "finalizer": finalizer,
        "run_tag": target_tag("airflow"),
        "edges": edges,
        "uses_secrets": kubernetes and any(p.secrets or p.secret_keys for p in pods.values()),
        "on_finish_action": _ON_FINISH.get(FlowPodOptions.from_extra(extra).pod_gc or "")
        if kubernetes
        else None,
        "foreach": bool(p.foreaches),
        "switch": bool(p.switches),
        "python_operators": [
            name
            for name, used in (
                ("BranchPythonOperator", p.switches),
                ("PythonOperator", p.foreaches),
            )
            if used
        ],
    }


def _joins_after_switch_cases(ir: FlowIR) -> set[str]:
    """Joins with a branch that ends in one of several switch cases: the cases not taken are
    skipped, so the join runs once none failed and one succeeded, not only after all did."""
    steps = ir.step_map()
    return {
        s.name
        for s in ir.steps
        if s.kind is NodeKind.JOIN and any(len(g) > 1 for g in join_groups(steps, s.name))
    }


def _task(s: StepPlan, kubernetes: bool, foreach_of: dict, pod: PodSettings) -> dict[str, Any]:
    t: dict[str, Any] = {
        "what": "step",
        "name": s.name,
        "start": s.name == "start",
        "fan_over": foreach_of[s.fan_over].node if s.fan_over else None,
        "env": list(s.env),
        "retries": s.retries,
        "retry_delay": s.retry_delay,
        "timeout": s.timeout + TIMEOUT_GRACE_S if s.timeout else None,
        "merge": s.merge,
        "doc": s.doc,
    }
    if kubernetes:
        t["pod_name"] = _pod_name(s.name)
        t["requests"], t["limits"] = _k8s_resources(merged_resources(s.resources, pod))
        if pod.gpu_vendor != "nvidia" and "nvidia.com/gpu" in t["limits"]:
            t["limits"][pod.gpu_resource] = t["limits"].pop("nvidia.com/gpu")
        t["pod"] = pod
        t["tolerations"] = [
            [("toleration_seconds" if k == "tolerationSeconds" else k, v) for k, v in x]
            for x in pod.tolerations
        ]
        # referenced by name: the whole secret as env, or one key as one variable
        t["secrets"] = [(None, x, None) for x in pod.secrets]
        t["secrets"] += [(var, name, key) for name, key, var in pod.secret_keys]
    return t


def _pod_name(step: str) -> str:
    """A DNS-1123 name (lowercase letters, digits, '-'); Airflow adds a random suffix."""
    name = re.sub(r"[^a-z0-9-]+", "-", step.lower()).strip("-")
    return name[:50] or "step"


def _k8s_resources(res: dict[str, Any]) -> tuple[dict[str, str], dict[str, str]]:
    """``@resources(cpu=, memory= MB, gpu=, disk= MB)`` -> container requests and limits.
    Memory is requested and limited (a pod over it is killed, as on Metaflow's Kubernetes);
    a GPU is a limit, as Kubernetes requires."""
    requests: dict[str, str] = {}
    limits: dict[str, str] = {}
    if res.get("cpu") is not None:
        requests["cpu"] = str(res["cpu"])
    if res.get("memory") is not None:
        requests["memory"] = limits["memory"] = f"{int(res['memory'])}Mi"
    if res.get("disk") is not None:
        requests["ephemeral-storage"] = f"{int(res['disk'])}Mi"
    if res.get("gpu"):
        limits["nvidia.com/gpu"] = str(res["gpu"])
    return requests, limits


def _param(x) -> dict[str, Any]:  # noqa: ANN001
    schema = _SCHEMA_TYPES.get(x.type or "")
    if x.kind != "parameter":  # IncludeFile / Config: a path on the worker
        schema = "string"
    if schema and x.has_default is False and not x.required:
        schema = [schema, "null"]
    return {
        "name": x.name,
        "has_default": x.has_default or not x.required,
        "default": x.default,
        "schema_type": schema,
        "help": x.help,
    }


__all__ = ["AirflowEmitter", "ident"]
