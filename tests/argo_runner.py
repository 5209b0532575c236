"""A small interpreter of the Argo documents flowc writes, faithful to Argo's documented
semantics for the parts flowc uses, so a compiled flow's wiring can run on this machine.

* substitution: one pass over each string; ``{{tag}}`` (spaces trimmed) is replaced by its value
  and a replaced value is never scanned again; an unknown tag is an error, as Argo's validation
  makes it; the global pass over ``spec.arguments`` keeps unknown tags, as Argo's does;
* a DAG task is ready once every task its ``depends`` names has finished; ``X.Succeeded``,
  ``X.Skipped``, ``X.Failed``, ``X.Omitted`` test that task's phase, a bare ``X`` means
  ``X.Succeeded || X.Skipped || X.Daemoned``; a false ``depends`` omits the task; a false
  ``when`` skips it;
* ``withParam`` runs the template once per item of the JSON list, ``{{item}}`` the item; the
  task's output parameters are then the JSON list of each run's value (JSON values embedded);
  an empty list skips the task;
* a container runs its ``command + args`` with its ``env``, after Kubernetes' ``$(VAR)``
  expansion; output parameters are read from ``valueFrom.path``, and the folders holding them
  are the pod's own (moved into a folder per pod); ``retryStrategy.limit`` retries with
  ``{{retries}}`` the attempt number; ``activeDeadlineSeconds`` is the process's time limit;
* a DAG fails when one of its tasks failed.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
import weakref
from dataclasses import dataclass, field
from typing import Any

_RESULTS = ("Succeeded", "Failed", "Errored", "Skipped", "Omitted", "Daemoned")


class ArgoError(Exception):
    pass


def substitute(text: str, scope: dict[str, str], allow_unresolved: bool = False) -> str:
    """Argo's single-pass ``{{...}}`` replacement."""
    out, pos = [], 0
    while True:
        start = text.find("{{", pos)
        if start < 0:
            out.append(text[pos:])
            return "".join(out)
        end = text.find("}}", start + 2)
        if end < 0:
            out.append(text[pos:])
            return "".join(out)
        out.append(text[pos:start])
        tag = text[start + 2 : end].strip()
        if tag in scope:
            out.append(scope[tag])
        elif allow_unresolved:
            out.append(text[start : end + 2])
        else:
            raise ArgoError(f"failed to resolve {{{{{tag}}}}}")
        pos = end + 2


def _subst_all(value: Any, scope: dict[str, str]) -> Any:
    if isinstance(value, str):
        return substitute(value, scope)
    if isinstance(value, list):
        return [_subst_all(v, scope) for v in value]
    if isinstance(value, dict):
        return {k: _subst_all(v, scope) for k, v in value.items()}
    return value


def k8s_expand(text: str, env: dict[str, str]) -> str:
    """Kubernetes' expansion of a container's command, args and env values: ``$(VAR)`` of a
    defined variable becomes its value, ``$$`` becomes ``$``, anything else stays."""
    out, i = [], 0
    while i < len(text):
        if text.startswith("$$", i):
            out.append("$")
            i += 2
        elif (
            text.startswith("$(", i) and (end := text.find(")", i)) > 0 and text[i + 2 : end] in env
        ):
            out.append(env[text[i + 2 : end]])
            i = end + 1
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def aggregate(values: list[str]) -> str:
    """Argo's aggregated output of a fanned-out task: JSON values embedded when all parse."""
    try:
        return json.dumps([json.loads(v) for v in values])
    except ValueError:
        return json.dumps(values)


@dataclass
class Node:
    phase: str
    outputs: dict[str, str] = field(default_factory=dict)


@dataclass
class Pod:
    """One container run, as recorded for the tests."""

    template: str
    argv: list[str]
    env: dict[str, str]
    attempt: int
    returncode: int


class Runner:
    def __init__(self, doc: dict[str, Any], workflow_name: str, parameters: dict | None = None):
        spec = doc["spec"]
        self.templates = {t["name"]: t for t in spec["templates"]}
        self.entry = spec["entrypoint"]
        self.on_exit = spec.get("onExit")
        self.globals = {"workflow.name": workflow_name, "workflow.namespace": "argo"}
        args = (spec.get("arguments") or {}).get("parameters") or []
        given = dict(parameters or {})
        for a in args:
            value = given.pop(a["name"], a.get("value"))
            if value is None:
                raise ArgoError(f"parameter {a['name']!r} has no value")
            # Argo substitutes the global variables into spec.arguments, keeping unknown tags
            self.globals[f"workflow.parameters.{a['name']}"] = substitute(
                value, self.globals, allow_unresolved=True
            )
        if given:
            raise ArgoError(f"unknown parameters {sorted(given)}")
        self.pods: list[Pod] = []
        self.nodes: dict[str, str] = {}  # display path -> phase, for assertions
        self.tmp = tempfile.mkdtemp(prefix="argo-pods-")
        weakref.finalize(self, shutil.rmtree, self.tmp, True)  # the pods' folders go with it

    def run(self) -> str:
        """The workflow's phase. Like Argo, the ``onExit`` template runs after the entry point
        whatever its phase (with ``workflow.status``), and a failed exit handler fails the
        workflow."""
        node = self._template(self.entry, {}, self.entry)
        if self.on_exit:
            self.globals["workflow.status"] = node.phase
            if self._template(self.on_exit, {}, self.on_exit).phase != "Succeeded":
                return "Failed"
        return node.phase

    def _template(self, name: str, inputs: dict[str, str], path: str) -> Node:
        t = self.templates[name]
        declared = {p["name"] for p in (t.get("inputs") or {}).get("parameters") or []}
        if declared != set(inputs):
            raise ArgoError(f"{name}: inputs {sorted(inputs)} != declared {sorted(declared)}")
        scope = {**self.globals, **{f"inputs.parameters.{k}": v for k, v in inputs.items()}}
        node = self._dag(t, scope, path) if "dag" in t else self._container(t, scope, path)
        self.nodes[path] = node.phase
        return node

    def _container(self, t: dict[str, Any], scope: dict[str, str], path: str) -> Node:
        retry = t.get("retryStrategy") or {}
        limit = int(retry.get("limit", 0))
        deadline = t.get("activeDeadlineSeconds")
        for attempt in range(limit + 1):
            s = dict(scope)
            if retry:
                s["retries"] = str(attempt)
            c = _subst_all(t["container"], s)
            pod = os.path.join(self.tmp, f"pod-{len(self.pods)}")
            os.makedirs(pod)
            outs_spec = (t.get("outputs") or {}).get("parameters") or []
            dirs = {os.path.dirname(o["valueFrom"]["path"]) for o in outs_spec}
            env: dict[str, str] = {}
            for e in c.get("env", []):  # each value sees the variables defined before it
                env[e["name"]] = k8s_expand(e["value"], env)
            argv = [
                _in_pod(pod, dirs, k8s_expand(a, env))
                for a in c.get("command", []) + c.get("args", [])
            ]
            try:
                rc = subprocess.run(
                    argv,
                    env={**os.environ, **env},
                    timeout=float(deadline) if deadline else None,
                    capture_output=True,
                    text=True,
                ).returncode
            except subprocess.TimeoutExpired:
                rc = -9
            self.pods.append(Pod(t["name"], argv, env, attempt, rc))
            if rc == 0:
                outs = {}
                for o in outs_spec:
                    with open(_in_pod(pod, dirs, o["valueFrom"]["path"])) as f:
                        outs[o["name"]] = f.read()
                return Node("Succeeded", outs)
        return Node("Failed")

    def _dag(self, t: dict[str, Any], scope: dict[str, str], path: str) -> Node:
        tasks = {x["name"]: x for x in t["dag"]["tasks"]}
        done: dict[str, Node] = {}
        while len(done) < len(tasks):
            ready = [n for n, x in tasks.items() if n not in done and _deps(x) <= set(done)]
            if not ready:
                raise ArgoError(f"{path}: no task can run: {sorted(set(tasks) - set(done))}")
            for n in ready:
                done[n] = self._task(tasks[n], done, scope, f"{path}/{n}")
        failed = any(x.phase in ("Failed", "Errored") for x in done.values())
        return Node("Failed" if failed else "Succeeded")

    def _task(self, x: dict, done: dict[str, Node], scope: dict[str, str], path: str) -> Node:
        if x.get("depends") and not _depends(x["depends"], done):
            self.nodes[path] = "Omitted"
            return Node("Omitted")
        s = dict(scope)
        for name, node in done.items():
            for k, v in node.outputs.items():
                s[f"tasks.{name}.outputs.parameters.{k}"] = v
        if x.get("when") and not _when(substitute(x["when"], s)):
            self.nodes[path] = "Skipped"
            return Node("Skipped")
        args = (x.get("arguments") or {}).get("parameters") or []
        if "withParam" not in x:
            inputs = {a["name"]: substitute(a["value"], s) for a in args}
            return self._template(x["template"], inputs, path)
        items = json.loads(substitute(x["withParam"], s))
        if not items:
            self.nodes[path] = "Skipped"
            return Node("Skipped")
        children = []
        for i, item in enumerate(items):
            si = {**s, "item": item if isinstance(item, str) else json.dumps(item)}
            inputs = {a["name"]: substitute(a["value"], si) for a in args}
            children.append(self._template(x["template"], inputs, f"{path}({i})"))
        failed = any(c.phase == "Failed" for c in children)
        names = sorted({k for c in children for k in c.outputs})
        outs = {k: aggregate([c.outputs[k] for c in children if k in c.outputs]) for k in names}
        return Node("Failed" if failed else "Succeeded", outs)


def _in_pod(pod: str, dirs: set[str], arg: str) -> str:
    """The pod's own copy of a folder its output parameters are read from."""
    inside = any(arg == d or arg.startswith(d + "/") for d in dirs)
    return pod + arg if inside else arg


_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]*(?:\.[A-Za-z]+)?")


def _deps(task: dict) -> set[str]:
    return {w.split(".")[0] for w in _WORD.findall(task.get("depends") or "")}


def _depends(expr: str, done: dict[str, Node]) -> bool:
    def phase(m: re.Match) -> str:
        name, _, result = m.group(0).partition(".")
        got = done[name].phase
        if not result:
            return str(got in ("Succeeded", "Skipped", "Daemoned"))
        if result not in _RESULTS:
            raise ArgoError(f"unknown result {result!r} in depends {expr!r}")
        return str(got == result)

    py = _WORD.sub(phase, expr).replace("&&", " and ").replace("||", " or ")
    py = re.sub(r"!(?!=)", " not ", py)
    return bool(eval(py, {"__builtins__": {}}, {"True": True, "False": False}))  # noqa: S307


def _when(expr: str) -> bool:
    """The comparisons flowc writes: ``'a' == 'b'`` / ``'a' != 'b'``."""
    m = re.fullmatch(r"\s*'([^']*)'\s*(==|!=)\s*'([^']*)'\s*", expr)
    if not m:
        raise ArgoError(f"when {expr!r}: not a comparison this harness evaluates")
    return (m.group(1) == m.group(3)) == (m.group(2) == "==")
