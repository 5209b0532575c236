"""The Kubeflow Pipelines backend: a flow's IR -> a KFP v2 pipeline (IR YAML, and the module).

flowc writes a readable pipeline module (kfp DSL) and compiles *that* module with the kfp SDK,
so the YAML and the module (``--python-module``) can never disagree. Each step is a container
component running :mod:`flowc.backends.kfp_task` (the task contract plus KFP's outputs); a
foreach body is a ``dsl.ParallelFor`` over the index paths its split task outputs (whole paths,
so nested loops never need their outer item); a join waits on the loop with ``.after``; a
switch is ``dsl.If/Elif/Else`` on the branch the switch task outputs, and the step where the
branches meet takes ``dsl.OneOf`` of their results. The plan comes from
:mod:`flowc.backends.graphplan`; the kfp SDK is imported only here.

Options (``EmitOptions.extra``): ``python`` (the interpreter in the image), ``flow_path``,
``package``, ``enable_caching``, ``parallelism``, ``python_module`` (also return the module).
"""

from __future__ import annotations

import importlib.util
import os
import re
import tempfile
from dataclasses import dataclass, field
from typing import Any

from flowc.backends.base import EmitOptions, EmitResult, Emitter
from flowc.backends.graphplan import Plan, StepPlan, plan
from flowc.backends.datastore_env import secret_keys, secret_name
from flowc.backends.k8s import (
    FlowPodOptions,
    PodSettings,
    merged_resources,
    pod_settings,
    unsupported,
)
from flowc.backends.params import DefaultError, param_default, param_type, parameter_name
from flowc.backends.literals import LiteralError, pyrepr
from flowc.backends.deployment import (
    FINALIZE_NODE,
    USER_VAR,
    container_problems,
    deployer,
    target_tag,
)
from flowc.diagnostics import Diagnostic, error, warning
from flowc.graph import is_foreach, is_switch
from flowc.ir import FlowIR

# what KFP cannot say about a pod, and where the setting goes instead
_POD_FIXES = {
    "service_account": "KFP sets the service account per run: pass service_account= to "
    "kfp.Client().create_run_from_pipeline_package (or the run's settings in the UI)",
    "secrets": "KFP takes chosen keys of a secret only: write "
    "secrets={'secret-name': {'key': 'ENV_VAR'}}",
}
_FLOW_FIXES = {
    "service_account": _POD_FIXES["service_account"],
    "pod_gc": "KFP's pods are cleaned up by the cluster's KFP settings; use --ttl for the run",
}
_CRON_PRESETS = {"@hourly": "0 0 * * * *", "@daily": "0 0 0 * * *", "@weekly": "0 0 0 * * 0"}


def pipeline_name(flow: str) -> str:
    """KFP wants ``[a-z0-9][a-z0-9-]*``."""
    return re.sub(r"[^a-z0-9-]+", "-", flow.lower()).strip("-")[:128] or "flow"


def recurring_run_settings(schedule: str | None, flow: str) -> dict[str, Any] | None:
    """What ``kfp.Client().create_recurring_run`` needs for the flow's @schedule (6-field cron)."""
    if schedule is None:
        return None
    cron = _CRON_PRESETS.get(schedule) or f"0 {schedule}"
    return {
        "job_name": pipeline_name(flow),
        "cron_expression": cron,
        "max_concurrency": 1,
        "no_catchup": True,
    }


class KfpEmitter(Emitter):
    name = "kfp"

    def emit(self, ir: FlowIR, options: EmitOptions) -> EmitResult:
        p = plan(ir, "kfp")
        pods, pod_problems = pod_settings(ir, options.extra, "kfp")
        problems = list(p.diagnostics) + pod_problems
        problems += unsupported(
            ir, pods, "kfp", _POD_FIXES, FlowPodOptions.from_extra(options.extra), _FLOW_FIXES
        )
        problems += _notes(ir, p, options)
        if importlib.util.find_spec("kfp") is None:
            problems.append(
                error(
                    "kfp-sdk",
                    "the kfp SDK is not installed; flowc compiles KFP pipelines with it",
                    "pip install 'flowc[kfp]' (kfp==2.17.3)",
                    ir.file,
                    ir.span.line,
                    ir.span.col,
                )
            )
        if any(d.is_error for d in problems):
            return EmitResult({}, tuple(problems))
        try:
            module = _Writer(ir, p, options, pods).module()
        except (LiteralError, DefaultError, _Unsupported) as e:
            value = isinstance(e, (LiteralError, DefaultError))
            d = error(
                "kfp-value" if value else "kfp-graph",
                f"cannot write the pipeline: {e}",
                "use JSON-like literal values" if value else e.fix,
                ir.file,
                getattr(e, "line", ir.span.line),
                getattr(e, "col", ir.span.col),
            )
            return EmitResult({}, (*problems, d))
        if "from kfp import kubernetes" in module and not _has_kfp_kubernetes():
            d = error(
                "kfp-sdk",
                "the pods' settings (the datastore's secret, @kubernetes, pod options) need "
                "kfp-kubernetes",
                "pip install 'flowc[kfp]' (kfp-kubernetes==2.17.3)",
                ir.file,
                ir.span.line,
                ir.span.col,
            )
            return EmitResult({}, (*problems, d))
        name = pipeline_name(ir.name)
        files = {f"{name}.yaml": compile_module(module)}
        if options.extra.get("python_module"):
            files[f"{name}_pipeline.py"] = module
        return EmitResult(files, tuple(problems))


def _has_kfp_kubernetes() -> bool:
    try:
        return importlib.util.find_spec("kfp.kubernetes") is not None
    except ImportError:
        return False


class _Unsupported(Exception):
    def __init__(self, message: str, fix: str, line: int, col: int):
        super().__init__(message)
        self.fix, self.line, self.col = fix, line, col


def compile_module(module: str) -> str:
    """Run the generated module's ``compile`` into YAML text (the module is ours, not the user's)."""
    namespace: dict[str, Any] = {"__name__": "flowc_kfp_pipeline"}
    exec(compile(module, "<flowc kfp pipeline>", "exec", dont_inherit=True), namespace)  # noqa: S102
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "pipeline.yaml")
        namespace["compile_to"](out)
        with open(out, encoding="utf-8") as f:
            return f.read()


def _notes(ir: FlowIR, p: Plan, options: EmitOptions) -> list[Diagnostic]:
    """Warnings for what KFP runs differently, and errors for options it cannot take."""

    def at(rule: str, message: str, fix: str, line: int, col: int, is_error: bool = False):
        make = error if is_error else warning
        return make(f"kfp-{rule}", message, fix, ir.file, line, col)

    out = []
    line, col = ir.span.line, ir.span.col
    out += container_problems(ir, "kfp", options.image, options.datastore, "KFP")
    package = options.extra.get("package")
    if package is not None and not re.fullmatch(r"[0-9a-f]{64}", str(package)):
        out.append(at("package", f"{package!r} is not a code package id", "", line, col, True))
    par = options.extra.get("parallelism")
    if par is not None and (not isinstance(par, int) or par < 1):
        out.append(at("parallelism", f"--parallelism {par!r}", "use 1 or more", line, col, True))
    if not options.extra.get("flow_path") and not package:
        out.append(
            at(
                "flow-path",
                f"the pods run the flow file from this machine's path {os.path.abspath(ir.file)!r}",
                "pass --flow-path PATH (where the image holds the flow file), or --package to "
                "ship the code through the datastore",
                line,
                col,
            )
        )
    for x in p.params:
        if not x.has_default and not x.required:
            out.append(
                at(
                    "parameter-default",
                    f"parameter {x.name!r} has no default: KFP has no empty value for a typed "
                    "input, so the pipeline requires it at run time (flowc run passes None)",
                    "give the parameter a default, or always pass it when starting a run",
                    line,
                    col,
                )
            )
    steps = ir.step_map()
    pods = pod_settings(ir, options.extra, "kfp")[0]
    for s in p.steps:
        if merged_resources(s.resources, pods[s.name]).get("disk") is not None:
            out.append(
                at(
                    "resources-disk",
                    f"@resources(disk=...) on {s.name!r}: KFP tasks have no disk request",
                    "give the pods ephemeral storage through a cluster default (LimitRange) or "
                    "mount a volume with the kfp-kubernetes extension",
                    line,
                    col,
                )
            )
        if s.timeout:
            span = next((d.span for d in steps[s.name].decorators if d.name == "timeout"), None)
            out.append(
                at(
                    "timeout",
                    f"@timeout on {s.name!r}: KFP has no per-task timeout; the task contract "
                    "still stops the step after its limit inside the pod",
                    "to bound the pod itself, set a run timeout on the KFP side (the run's or "
                    "the recurring run's settings, or the cluster's activeDeadlineSeconds policy)",
                    span.line if span else line,
                    span.col if span else col,
                )
            )
    if p.schedule:
        d = ir.decorator("schedule")
        cron = recurring_run_settings(p.schedule, ir.name)["cron_expression"]  # type: ignore[index]
        out.append(
            at(
                "schedule",
                f"@schedule ({p.schedule}) is not part of a KFP pipeline: schedules are recurring "
                "runs created on the server",
                f"create a recurring run with cron {cron!r} (6 fields): kfp.Client()."
                "create_recurring_run(..., cron_expression=...); `flowc compile --target kfp "
                "--schedule-spec` prints the settings",
                d.span.line if d else line,
                d.span.col if d else col,
            )
        )
    return out


# --- the pipeline module ---------------------------------------------------------------------


@dataclass
class _Group:
    """A `with` block of the pipeline function: a loop, one case of a switch, or the root."""

    kind: str  # root | loop | case
    key: tuple = ()
    first: int = 0
    children: list[Any] = field(default_factory=list)  # StepPlan | _Group | _Chain


@dataclass
class _Chain:
    """The If/Elif/Else cases of one switch, kept together in case order."""

    switch: str
    first: int
    cases: list[_Group] = field(default_factory=list)


def _var(step: str) -> str:
    return f"t_{step}"


class _Writer:
    """Writes the pipeline module: one component per step, then the pipeline function whose
    nested ``with`` blocks (loops, switch cases) follow the flow's nesting."""

    def __init__(self, ir: FlowIR, p: Plan, options: EmitOptions, pods: dict[str, PodSettings]):
        self.ir, self.p, self.options, self.pods = ir, p, options, pods
        self.flow_pod = FlowPodOptions.from_extra(options.extra)
        self.extra = options.extra
        self.steps = ir.step_map()
        self.pos = {s.name: i for i, s in enumerate(p.steps)}
        self.splits = {f.split for f in p.foreaches}
        self.switches = {s.split: s for s in p.switches}
        self.case_of = self._cases()
        self.params = self._params()

    # which switch case each step sits in (steps reachable from a case target before the merge)
    def _cases(self) -> dict[str, list[tuple[str, str]]]:
        out: dict[str, list[tuple[str, str]]] = {}
        succ = {s.name: s.out_steps for s in self.ir.steps}
        for sw in self.p.switches:
            targets = [t for _, t in sw.cases]
            reach = [self._reach(t, succ) for t in targets]
            common = set.intersection(*reach) if reach else set()
            for t, r in zip(targets, reach, strict=True):
                for name in r - common:
                    out.setdefault(name, []).append((sw.split, t))
        return out

    @staticmethod
    def _reach(start: str, succ: dict[str, tuple[str, ...]]) -> set[str]:
        seen, todo = set(), [start]
        while todo:
            n = todo.pop()
            if n not in seen:
                seen.add(n)
                todo.extend(succ.get(n, ()))
        return seen

    def _contexts(self, s: StepPlan) -> list[tuple]:
        st = self.steps[s.name]
        ctx = [
            ("loop", p)
            for p in st.split_parents
            if is_foreach(self.steps[p]) and self.steps[p].matching_join != s.name
        ]
        ctx += [("case", sw, t) for sw, t in self.case_of.get(s.name, [])]
        return sorted(ctx, key=lambda c: self.pos[c[1]])

    def _tree(self) -> _Group:
        root = _Group("root")
        groups: dict[tuple, _Group] = {(): root}
        chains: dict[tuple, _Chain] = {}
        for s in self.p.steps:
            path: tuple = ()
            for c in self._contexts(s):
                parent = groups[path]
                path = (*path, c)
                if path in groups:
                    continue
                g = _Group(c[0], c, self.pos[s.name])
                groups[path] = g
                if c[0] == "loop":
                    parent.children.append(g)
                    continue
                ckey = (*path[:-1], c[1])
                if ckey not in chains:
                    chains[ckey] = _Chain(c[1], self.pos[s.name])
                    parent.children.append(chains[ckey])
                chains[ckey].cases.append(g)
            groups[path].children.append(s)
        for chain in chains.values():
            order = [t for _, t in self.switches[chain.switch].cases]
            chain.cases.sort(key=lambda g: order.index(g.key[2]))
        return root

    def _params(self) -> list[tuple[str, str, str, Any, bool]]:
        """(flow name, python identifier, flowc type, default, has default) per parameter."""
        out, seen = [], set()
        for x in self.p.params:
            ident = parameter_name(x.name, "kfp")
            if ident in seen:
                span = self.ir.span
                raise _Unsupported(
                    f"parameters clash as KFP inputs ({ident!r})",
                    "rename one of them",
                    span.line,
                    span.col,
                )
            seen.add(ident)
            kind, default = param_type(x), param_default(x)
            if kind == "json" and isinstance(default, list):
                kind = "list"
            out.append((x.name, ident, kind, default, x.has_default))
        return out

    # --- rendering -------------------------------------------------------------------------

    def module(self) -> str:
        ir, extra = self.ir, self.extra
        flow_path = extra.get("flow_path") or os.path.abspath(ir.file)
        base = ["--flow-file", flow_path, "--flow", ir.name]
        if self.options.datastore:
            base += ["--datastore", self.options.datastore]
        if extra.get("package"):
            base += ["--package", str(extra["package"])]
        python = extra.get("python") or "python3"
        # kfp writes every number as a float (1000 -> 1000.0, also inside a dict): these
        # defaults are written back as they are
        exact = {i: d for _, i, k, d, has in self.params if has and k in ("int", "json", "list")}
        uses_k8s = any(self._k8s_calls(s, "t", "") for s in self.p.steps)
        lines = [
            '"""Kubeflow Pipelines pipeline generated by `flowc compile --target kfp`. Do not edit:',
            "compile again.",
            "",
            "Each task runs one task of the flow through flowc's task contract (in the image,",
            "`python -m flowc.backends.kfp_task`), which reads inputs from the flowc datastore and",
            "stores artifacts there; KFP passes only ids: the job id as the run id, the foreach",
            "index path as the loop item. `python THIS_FILE OUT.yaml` writes the pipeline YAML.",
            '"""',
            "",
            "import sys",
            "",
            "import yaml",
            "from kfp import compiler, dsl",
            *(["from kfp import kubernetes"] if uses_k8s else []),
            "",
            f"FLOW = {pyrepr(ir.name)}",
            f"IMAGE = {pyrepr(self.options.image)}",
            f"COMMAND = {pyrepr([python, '-m', 'flowc.backends.kfp_task'])}",
            f"BASE_ARGS = {pyrepr(base)}",
            f"CACHING = {pyrepr(bool(extra.get('enable_caching')))}",
            f"PARALLELISM = {pyrepr(int(extra.get('parallelism') or 0))}",
            f"DESCRIPTION = {pyrepr(ir.doc)}",
            f"USER = {pyrepr(extra.get('user') or deployer())}  # the runs' user: the deployer",
            f"FINALIZE_COMMAND = {pyrepr([python, '-m', 'flowc'])}",
            f"FINALIZE_ARGS = {pyrepr(self._finalize_args())}",
            f"DEFAULTS = {pyrepr(exact)}",
        ]
        for s in self.p.steps:
            lines += ["", ""] + self._component(s)
        lines += ["", ""] + self._finalizer()
        lines += ["", ""] + self._pipeline()
        lines += [
            "",
            "",
            "def compile_to(path):",
            '    """Compile to ``path``; kfp\'s header comment repeats the description and the',
            "    defaults unescaped, so a newline in one would end the comment and break the YAML:",
            '    every header line is made a comment again."""',
            "    compiler.Compiler().compile(pipeline, path)",
            "    with open(path, encoding='utf-8') as f:",
            "        text = f.read()",
            "    cut = text.rfind('\\ncomponents:\\n') + 1",
            "    header = [",
            "        line if line.startswith('#') else '#    ' + line",
            "        for line in text[:cut].splitlines()",
            "    ]",
            "    body = text[cut:]",
            "    if DEFAULTS:",
            "        docs = list(yaml.safe_load_all(body))",
            "        inputs = docs[0]['root']['inputDefinitions']['parameters']",
            "        for name, value in DEFAULTS.items():",
            "            inputs[name]['defaultValue'] = value",
            "            mark = f'#    {name}: '",
            "            header = [",
            "                line[: line.index(' [Default: ')] + f' [Default: {value}]'",
            "                if line.startswith(mark) and ' [Default: ' in line",
            "                else line",
            "                for line in header",
            "            ]",
            "        body = yaml.dump_all(docs, sort_keys=True)",
            "    with open(path, 'w', encoding='utf-8') as f:",
            "        f.write(''.join(line + '\\n' for line in header) + body)",
            "",
            "",
            'if __name__ == "__main__":',
            "    compile_to(sys.argv[1] if len(sys.argv) > 1 else FLOW + '.yaml')",
            "",
        ]
        return "\n".join(lines)

    def _finalize_args(self) -> list[str]:
        args = ["finalize", self.ir.name]
        if self.options.datastore:
            args += ["--datastore", self.options.datastore]
        return args

    def _finalizer(self) -> list[str]:
        """The exit task (``dsl.ExitHandler``): runs whatever happened and records the run as
        succeeded or failed (``flowc finalize``)."""
        return [
            "@dsl.container_component",
            f"def {FINALIZE_NODE}(run_id: str):",
            "    return dsl.ContainerSpec(",
            "        image=IMAGE,",
            "        command=FINALIZE_COMMAND,",
            "        args=[*FINALIZE_ARGS, '--run-id', run_id],",
            "    )",
        ]

    def _component(self, s: StepPlan) -> list[str]:
        inputs = ["run_id: str"]
        args = ["'--step'", pyrepr(s.name), "'--run-id'", "run_id"]
        if self._contexts_loops(s):
            inputs.append("index: str")
            args += ["'--index'", "index"]
        if s.name == "start":
            args += ["'--tag'", pyrepr(target_tag("kfp"))]
            for name, ident, kind, _, _ in self.params:
                inputs.append(f"param_{ident}: {_annotation(kind)}")
                args += ["'--param'", pyrepr(name), pyrepr(kind), f"param_{ident}"]
        if s.merge:
            inputs.append("after: str")
            args += ["'--after'", "after"]
        outputs = ["result: dsl.OutputPath(str)"]
        args += ["'--result'", "result"]
        if s.name in self.splits:
            outputs.append("index_paths: dsl.OutputPath(list)")
            args += ["'--index-paths'", "index_paths"]
        if s.name in self.switches:
            outputs.append("branch: dsl.OutputPath(str)")
            args += ["'--branch'", "branch"]
        sig = ", ".join(inputs + outputs)
        return [
            "@dsl.container_component",
            f"def step_{s.name}({sig}):",
            "    return dsl.ContainerSpec(",
            f"        image={self._image(s)},",
            "        command=COMMAND,",
            f"        args=[*BASE_ARGS, {', '.join(args)}],",
            "    )",
        ]

    def _image(self, s: StepPlan) -> str:
        own = self.pods[s.name].image
        return "IMAGE" if not own or own == self.options.image else pyrepr(own)

    def _contexts_loops(self, s: StepPlan) -> bool:
        return any(c[0] == "loop" for c in self._contexts(s))

    def _pipeline(self) -> list[str]:
        sig = []
        for _, ident, kind, default, has_default in self.params:
            text = f"{ident}: {_annotation(kind)}"
            if has_default:
                text += f" = {pyrepr(default)}"
            sig.append(text)
        # parameters without a default first, as Python requires
        sig.sort(key=lambda t: "=" in t)
        name = pipeline_name(self.ir.name)
        config = ""
        if self.flow_pod.ttl is not None:
            ttl = int(self.flow_pod.ttl)
            config = f", pipeline_config=dsl.PipelineConfig(ttl_seconds_after_finished={ttl})"
        out = [
            f"@dsl.pipeline(name={pyrepr(name)}, description=DESCRIPTION{config})",
            f"def pipeline({', '.join(sig)}):",
        ]
        body = self._render(self._tree(), 2, None)
        exit_task = [
            f"    exit_task = {FINALIZE_NODE}(run_id=dsl.PIPELINE_JOB_ID_PLACEHOLDER)",
            "    exit_task.set_display_name('finalize')",
            "    exit_task.set_caching_options(False)",
            f"    exit_task.set_env_variable({pyrepr(USER_VAR)}, USER)",
            *self._datastore_secret("exit_task", "    "),
            "    with dsl.ExitHandler(exit_task, name='flowc-run'):",
        ]
        return out + exit_task + (body or ["        pass"])

    def _render(self, node: Any, depth: int, item: str | None) -> list[str]:
        pad = "    " * depth
        out: list[str] = []
        if isinstance(node, StepPlan):
            return self._call(node, pad, item)
        if isinstance(node, _Chain):
            var = f"{_var(node.switch)}.outputs['branch']"
            for i, g in enumerate(node.cases):
                target = g.key[2]
                if len(node.cases) == 1:
                    head = f"with dsl.If({var} == {pyrepr(target)}):"
                elif i == 0:
                    head = f"with dsl.If({var} == {pyrepr(target)}):"
                elif i < len(node.cases) - 1:
                    head = f"with dsl.Elif({var} == {pyrepr(target)}):"
                else:
                    head = "with dsl.Else():"
                out.append(pad + head)
                out += self._render(g, depth + 1, item)
            return out
        for c in sorted(node.children, key=lambda c: _first_of(c, self.pos)):
            if isinstance(c, _Group) and c.kind == "loop":
                split = c.key[1]
                loop_item = f"item_{split}"
                par = ", parallelism=PARALLELISM" if self.extra.get("parallelism") else ""
                out.append(
                    f"{pad}with dsl.ParallelFor({_var(split)}.outputs['index_paths']{par}) "
                    f"as {loop_item}:"
                )
                out += self._render(c, depth + 1, loop_item)
            else:
                out += self._render(c, depth, item)
        return out

    def _call(self, s: StepPlan, pad: str, item: str | None) -> list[str]:
        kwargs = ["run_id=dsl.PIPELINE_JOB_ID_PLACEHOLDER"]
        if item is not None:
            kwargs.append(f"index={item}")
        if s.name == "start":
            kwargs += [f"param_{ident}={ident}" for _, ident, _, _, _ in self.params]
        st = self.steps[s.name]
        after = list(st.in_steps)
        if s.merge:
            feeding = [p for p in st.in_steps if p in self.case_of]
            if len(feeding) < 2:
                raise _Unsupported(
                    f"step {s.name!r} is where a switch's branches meet, but a case goes there "
                    "directly; KFP needs a task in every branch to pass dsl.OneOf",
                    "give every case at least one step of its own before the merge",
                    st.span.line,
                    st.span.col,
                )
            outs = ", ".join(f"{_var(p)}.outputs['result']" for p in feeding)
            kwargs.append(f"after=dsl.OneOf({outs})")
            after = [p for p in after if p not in feeding]
        lines = [f"{pad}{_var(s.name)} = step_{s.name}({', '.join(kwargs)})"]
        lines.append(f"{pad}{_var(s.name)}.set_display_name({pyrepr(s.name)})")
        lines.append(f"{pad}{_var(s.name)}.set_caching_options(CACHING)")
        deps = [p for p in after if not (is_switch(self.steps[p]) and s.name in self.case_of)]
        if deps:
            lines.append(f"{pad}{_var(s.name)}.after({', '.join(_var(p) for p in deps)})")
        lines += self._settings(s, pad)
        return lines

    def _settings(self, s: StepPlan, pad: str) -> list[str]:
        v = _var(s.name)
        out = []
        if s.retries:
            out.append(
                f"{pad}{v}.set_retry({s.retries}, backoff_duration="
                f"{pyrepr(f'{int(s.retry_delay)}s')}, backoff_factor=1.0)"
            )
        pod = self.pods[s.name]
        res = merged_resources(s.resources, pod)
        if res.get("cpu") is not None:
            cpu = pyrepr(str(res["cpu"]))
            out.append(f"{pad}{v}.set_cpu_request({cpu}).set_cpu_limit({cpu})")
        if res.get("memory") is not None:
            mem = pyrepr(f"{int(res['memory'])}Mi")  # MB as on the Airflow backend
            out.append(f"{pad}{v}.set_memory_request({mem}).set_memory_limit({mem})")
        if res.get("gpu"):
            out.append(
                f"{pad}{v}.set_accelerator_type({pyrepr(pod.gpu_resource)})"
                f".set_accelerator_limit({pyrepr(str(res['gpu']))})"
            )
        for key, value in s.env:
            out.append(f"{pad}{v}.set_env_variable({pyrepr(key)}, {pyrepr(value)})")
        out.append(f"{pad}{v}.set_env_variable({pyrepr(USER_VAR)}, USER)")
        return out + self._k8s_calls(s, v, pad)

    def _datastore_secret(self, v: str, pad: str) -> list[str]:
        """The datastore's settings from the ``flowc-datastore`` secret, key by key (each
        optional: a pod with another source of credentials runs without it)."""
        keys = secret_keys(self.options.datastore)
        if not keys:
            return []
        name = pyrepr(secret_name(self.options.datastore))
        return [f"{pad}kubernetes.use_secret_as_env({v}, {name}, {pyrepr(keys)}, optional=True)"]

    def _k8s_calls(self, s: StepPlan, v: str, pad: str) -> list[str]:
        """kfp-kubernetes calls for the pod settings the task's platform config holds."""
        pod = self.pods[s.name]
        k = f"{pad}kubernetes."
        out = self._datastore_secret(v, pad)
        if pod.image_pull_policy:
            out.append(f"{k}set_image_pull_policy({v}, {pyrepr(pod.image_pull_policy)})")
        if pod.image_pull_secrets:
            out.append(f"{k}set_image_pull_secrets({v}, {pyrepr(list(pod.image_pull_secrets))})")
        for key, value in pod.node_selector:
            out.append(f"{k}add_node_selector({v}, {pyrepr(key)}, {pyrepr(value)})")
        for t in pod.tolerations:
            kw = {"tolerationSeconds": "toleration_seconds"}
            args = ", ".join(f"{kw.get(a, a)}={pyrepr(b)}" for a, b in t)
            out.append(f"{k}add_toleration({v}, {args})")
        secrets: dict[str, dict[str, str]] = {}
        for name, key, var in pod.secret_keys:
            secrets.setdefault(name, {})[key] = var
        for name, keys in secrets.items():
            out.append(f"{k}use_secret_as_env({v}, {pyrepr(name)}, {pyrepr(keys)})")
        for key, value in pod.labels:
            out.append(f"{k}add_pod_label({v}, {pyrepr(key)}, {pyrepr(value)})")
        for key, value in pod.annotations:
            out.append(f"{k}add_pod_annotation({v}, {pyrepr(key)}, {pyrepr(value)})")
        return out


def _first_of(c: Any, pos: dict[str, int]) -> int:
    if isinstance(c, StepPlan):
        return pos[c.name]
    return c.first


def _annotation(kind: str) -> str:
    return {"json": "dict", "list": "list"}.get(kind, kind)


__all__ = ["KfpEmitter", "compile_module", "recurring_run_settings"]
