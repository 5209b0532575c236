"""A small executor of compiled KFP pipelines, faithful to KFP v2's documented semantics.

Nothing here knows flowc: it walks a ``PipelineSpec`` document the way the KFP backend does and
runs each container's command and arguments on this machine (the image is not needed: the
command is the task contract). It implements only what the documents use, and fails loudly on
anything else (an unknown placeholder, input kind or condition form):

* a DAG's tasks run in ``dependentTasks`` order; every producer a task reads from must be one of
  its ``dependentTasks`` (KFP schedules on them);
* ``parameterIterator`` runs the task's component once per item of the upstream list, with the
  item bound to ``itemInput``;
* ``triggerPolicy.condition`` (CEL: ``inputs.parameter_values['x'] == 'v'``, ``!``, ``&&``,
  ``||``) skips the task, and everything inside it, when false;
* ``valueFromOneof`` takes the output of whichever selected subtask ran;
* placeholders: ``{{$.pipeline_job_uuid}}`` -> the job id, ``{{$.inputs.parameters['x']}}``
  -> the value rendered as KFP renders it (strings raw, numbers, booleans ``true``/``false``,
  lists and structs as JSON), ``{{$.outputs.parameters['x'].output_file}}`` -> a fresh file
  whose content becomes the output (LIST and STRUCT parsed as JSON);
* ``retryPolicy.maxRetryCount`` re-runs a failed container that many more times;
* after a failure nothing more runs, except a task whose ``triggerPolicy.strategy`` is
  ``ALL_UPSTREAM_TASKS_COMPLETED`` (what ``dsl.ExitHandler`` compiles to): it runs anyway.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
from dataclasses import dataclass, field
from typing import Any

_INPUT = re.compile(r"\{\{\$\.inputs\.parameters\['([^']+)'\]\}\}")
_OUTPUT = re.compile(r"\{\{\$\.outputs\.parameters\['([^']+)'\]\.output_file\}\}")
_KNOWN = re.compile(f"{_INPUT.pattern}|{_OUTPUT.pattern}")
_ANY = re.compile(r"\{\{\$[^}]*\}\}")
_PARAM_REF = re.compile(r"inputs\.parameter_values\['([^']+)'\]")


class HarnessError(AssertionError):
    pass


@dataclass
class Execution:
    """One container run: its task path (loop items included), argv and exit code."""

    path: tuple[str, ...]
    argv: list[str]
    code: int
    attempts: int


@dataclass
class Job:
    doc: dict[str, Any]
    job_id: str
    cwd: str
    env: dict[str, str] = field(default_factory=dict)
    executions: list[Execution] = field(default_factory=list)
    skipped: list[tuple[str, ...]] = field(default_factory=list)
    failed: bool = False

    # --- the walk ---------------------------------------------------------------------------

    def run(self, arguments: dict[str, Any] | None = None) -> Job:
        root = self.doc["root"]
        scope = {}
        for name, spec in root.get("inputDefinitions", {}).get("parameters", {}).items():
            if "defaultValue" in spec:
                scope[name] = spec["defaultValue"]
        for name, value in (arguments or {}).items():
            if name not in scope and name not in root["inputDefinitions"]["parameters"]:
                raise HarnessError(f"the pipeline has no input {name!r}")
            scope[name] = value
        self._dag(root, scope, ())
        return self

    def _dag(self, comp: dict[str, Any], scope: dict[str, Any], path: tuple) -> dict[str, Any]:
        """Run a DAG component; returns its outputs (dag.outputs.parameters)."""
        tasks = comp["dag"].get("tasks", {})
        outputs: dict[str, dict[str, Any] | None] = {}  # task -> outputs; None: skipped
        for name in _topological(tasks):
            task = tasks[name]
            policy = task.get("triggerPolicy", {}).get("strategy")
            if self.failed and policy != "ALL_UPSTREAM_TASKS_COMPLETED":
                return {}
            deps = set(task.get("dependentTasks", []))
            inputs = {}
            for pname, p in task.get("inputs", {}).get("parameters", {}).items():
                inputs[pname] = self._input(p, scope, outputs, deps, f"{name}/{pname}")
            skipped_deps = [d for d in deps if outputs.get(d) is None]
            if skipped_deps:
                raise HarnessError(f"{path}/{name} waits on skipped tasks {skipped_deps}")
            cond = task.get("triggerPolicy", {}).get("condition")
            if cond and not _condition(cond, inputs):
                outputs[name] = None
                self.skipped.append((*path, name))
                continue
            child = self.doc["components"][task["componentRef"]["name"]]
            it = task.get("parameterIterator")
            if it is not None:
                items = inputs[it["items"]["inputParameter"]]
                if isinstance(items, str):
                    items = json.loads(items)
                for i, item in enumerate(items):
                    scope_i = {**inputs, it["itemInput"]: item}
                    self._component(child, scope_i, task, (*path, f"{name}[{i}]"))
                outputs[name] = {}
            else:
                outputs[name] = self._component(child, inputs, task, (*path, name))
        result = {}
        for oname, out in comp["dag"].get("outputs", {}).get("parameters", {}).items():
            if "valueFromOneof" in out:
                ran = [
                    outputs[s["producerSubtask"]][s["outputParameterKey"]]
                    for s in out["valueFromOneof"]["parameterSelectors"]
                    if outputs.get(s["producerSubtask"])
                    and s["outputParameterKey"] in outputs[s["producerSubtask"]]
                ]
                if len(ran) != 1:
                    raise HarnessError(f"{path}: OneOf {oname} has {len(ran)} values")
                result[oname] = ran[0]
            elif "valueFromParameter" in out:
                sel = out["valueFromParameter"]
                result[oname] = (outputs.get(sel["producerSubtask"]) or {}).get(
                    sel["outputParameterKey"]
                )
            else:
                raise HarnessError(f"{path}: output {oname} of unknown kind {out}")
        return result

    def _input(self, p: dict, scope: dict, outputs: dict, deps: set, where: str) -> Any:
        if "componentInputParameter" in p:
            key = p["componentInputParameter"]
            if key not in scope:
                raise HarnessError(f"{where}: no input {key!r} in scope {sorted(scope)}")
            return scope[key]
        if "taskOutputParameter" in p:
            ref = p["taskOutputParameter"]
            producer = ref["producerTask"]
            if producer not in deps:
                raise HarnessError(f"{where}: reads {producer} without depending on it")
            return outputs[producer][ref["outputParameterKey"]]
        if "runtimeValue" in p:
            value = p["runtimeValue"]["constant"]
            if isinstance(value, str):
                value = value.replace("{{$.pipeline_job_uuid}}", self.job_id)
                if _ANY.search(value):
                    raise HarnessError(f"{where}: unknown placeholder in {value!r}")
            return value
        raise HarnessError(f"{where}: unknown input kind {p}")

    def _component(self, comp: dict, inputs: dict, task: dict, path: tuple) -> dict[str, Any]:
        if "dag" in comp:
            return self._dag(comp, inputs, path)
        executor = self.doc["deploymentSpec"]["executors"][comp["executorLabel"]]
        container = executor["container"]
        out_types = {
            k: v["parameterType"]
            for k, v in comp.get("outputDefinitions", {}).get("parameters", {}).items()
        }
        retries = int(task.get("retryPolicy", {}).get("maxRetryCount", 0))
        with tempfile.TemporaryDirectory() as tmp:
            files = {k: os.path.join(tmp, "outputs", k) for k in out_types}

            def render(arg: str) -> str:
                """One pass over the template: a value is never scanned for placeholders."""
                known = [m.group(0) for m in _KNOWN.finditer(arg)]
                if len(known) != len(_ANY.findall(arg)):
                    raise HarnessError(f"{path}: unknown placeholder in {arg!r}")

                def sub(m: re.Match) -> str:
                    if m.group(1) is not None:
                        return _render(inputs[m.group(1)])
                    return files[m.group(2)]

                return _KNOWN.sub(sub, arg)

            argv = [render(a) for a in container.get("command", []) + container.get("args", [])]
            env = {**os.environ, **self.env}
            for e in container.get("env", []):
                env[e["name"]] = e["value"]
            attempts = 0
            while True:
                attempts += 1
                proc = subprocess.run(argv, cwd=self.cwd, env=env, capture_output=True, text=True)
                if proc.returncode == 0 or attempts > retries:
                    break
            self.executions.append(Execution(path, argv, proc.returncode, attempts))
            if proc.returncode != 0:
                self.failed = True
                self.last_stderr = proc.stderr
                return {}
            out = {}
            for k, kind in out_types.items():
                with open(files[k]) as f:
                    text = f.read()
                out[k] = json.loads(text) if kind in ("LIST", "STRUCT") else text
            return out


def _render(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(int(value)) if float(value).is_integer() else repr(value)
    return json.dumps(value, separators=(",", ":"))


def _condition(cel: str, inputs: dict[str, Any]) -> bool:
    expr = _PARAM_REF.sub(lambda m: f"_v[{m.group(1)!r}]", cel)
    expr = expr.replace("&&", " and ").replace("||", " or ")
    expr = re.sub(r"!(?!=)", " not ", expr)
    if re.search(r"[^\w\s'\"()=!\[\]._-]", expr.replace(" and ", "").replace(" or ", "")):
        raise HarnessError(f"unsupported condition {cel!r}")
    return bool(eval(expr, {"__builtins__": {}}, {"_v": inputs}))  # noqa: S307


def _topological(tasks: dict[str, dict]) -> list[str]:
    done: list[str] = []
    left = dict(sorted(tasks.items()))
    while left:
        ready = [n for n, t in left.items() if set(t.get("dependentTasks", [])) <= set(done)]
        if not ready:
            raise HarnessError(f"dependency cycle or dangling dependency among {sorted(left)}")
        for n in ready:
            done.append(n)
            del left[n]
    return done
