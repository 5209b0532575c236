"""Compiled Argo documents executed by :mod:`tests.argo_runner` (``depends``, ``withParam``,
``when``, nested DAG templates, output parameters, Argo's single-pass substitution), each run
compared with ``flowc run`` of the same flow: every task of every step must have stored the
same artifacts (the same content hashes) on both."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.argo_runner import Runner
from tests.conftest import EXAMPLES, run_flow, run_flowc
from tests.test_airflow_run import (
    HOSTILE,
    NESTED_IN_BRANCH,
    RETRY_ONCE,
    TIMES_OUT,
    stored,
    value,
)


@pytest.fixture()
def work(tmp_path: Path) -> Path:
    return tmp_path


def compile_doc(flow: Path, work: Path, *args: str) -> dict:
    out = work / "wf.yaml"
    proc = run_flowc(
        "compile",
        str(flow),
        "--target",
        "argo",
        "--image",
        "flowc:test",
        "--python",
        __import__("sys").executable,
        "--datastore",
        f"file://{work / 'ds'}",  # the runner's pods share this machine's folder
        "-o",
        str(out),
        *args,
    )
    assert proc.returncode == 0, proc.stderr
    return yaml.safe_load(out.read_text())


def run_argo(flow: Path, work: Path, name: str, params=None, compile_args=()) -> Runner:
    runner = Runner(compile_doc(flow, work, *compile_args), name, params)
    assert runner.run() == "Succeeded", [(p.template, p.argv, p.returncode) for p in runner.pods]
    return runner


def assert_same_as_local(work: Path, flow: Path, flow_name: str, run_id: str, *run_args: str):
    proc, local_id = run_flow(flow, *run_args, cwd=work)
    assert proc.returncode == 0, proc.stderr
    on_argo = stored(work / "ds", flow_name, run_id)
    local = stored(work / "ds", flow_name, local_id)
    assert on_argo.keys() == local.keys()
    assert on_argo == local
    status = json.loads((work / "ds" / "runs" / flow_name / run_id / "status.json").read_text())
    assert status["status"] == "succeeded"
    return on_argo


def test_lr_flow_runs_like_locally(work):
    flow = EXAMPLES / "lr_flow.py"
    run_argo(flow, work, "lrflow-a1b2c")
    got = assert_same_as_local(work, flow, "LRFlow", "lrflow-a1b2c")
    assert {t for s, t in got if s == "train"} == {"0", "1", "2"}


def test_static_branch(work):
    flow = EXAMPLES / "branch_flow.py"
    runner = run_argo(flow, work, "branch-1")
    assert runner.nodes["flowc-finalize"] == "Succeeded"  # onExit, in the simulator
    got = assert_same_as_local(work, flow, "BranchFlow", "branch-1")
    assert {s for s, _ in got} == {"start", "total", "extremes", "join", "end"}
    assert value(work / "ds", "BranchFlow", "branch-1", "join", "0", "sum") == 31


def test_foreach_with_a_parameter_given_at_submit_time(work):
    flow = EXAMPLES / "foreach_flow.py"
    runner = run_argo(flow, work, "foreach-1", params={"count": "3"})
    got = assert_same_as_local(work, flow, "ForeachFlow", "foreach-1", "--count", "3")
    assert sorted(t for s, t in got if s == "square") == ["0", "1", "2"]
    assert value(work / "ds", "ForeachFlow", "foreach-1", "join", "0", "squares") == [1, 4, 9]
    # one fanned-out body run per index path the split wrote
    bodies = [n for n in runner.nodes if n.startswith("main/start-body(")]
    assert len([n for n in bodies if n.endswith(")")]) == 3


def test_nested_foreach_through_nested_dag_templates(work):
    flow = EXAMPLES / "nested_foreach_flow.py"
    runner = run_argo(flow, work, "nested-1")
    got = assert_same_as_local(work, flow, "NestedForeachFlow", "nested-1")
    assert sorted(t for s, t in got if s == "score") == [
        f"{i}.{j}" for i in (0, 1) for j in (0, 1, 2)
    ]
    score_args = sorted(p.argv[-1] for p in runner.pods if p.template == "step-score")
    assert score_args == [f"{i}.{j}" for i in (0, 1) for j in (0, 1, 2)]


def test_nested_foreach_inside_a_static_branch(work):
    flow = work / "nested_in_branch.py"
    flow.write_text(NESTED_IN_BRANCH)
    run_argo(flow, work, "nib-1")
    assert_same_as_local(work, flow, "NestedInBranchFlow", "nib-1")
    table = value(work / "ds", "NestedInBranchFlow", "nib-1", "join", "0", "table")
    assert table == [[110, 111, 112], [210, 211, 212]]


@pytest.mark.parametrize("given, taken, skipped", [("3", "low", "high"), ("30", "high", "low")])
def test_switch_takes_one_branch_and_still_reaches_the_end(work, given, taken, skipped):
    flow = EXAMPLES / "switch_flow.py"
    runner = run_argo(flow, work, "switch-1", params={"value": given})
    got = assert_same_as_local(work, flow, "SwitchFlow", "switch-1", "--value", given)
    assert runner.nodes[f"main/{taken}"] == "Succeeded"
    assert runner.nodes[f"main/{skipped}"] == "Skipped"
    assert runner.nodes["main/end"] == "Succeeded"
    assert (skipped, "0") not in got
    summary = value(work / "ds", "SwitchFlow", "switch-1", "report", "0", "summary")
    assert summary.startswith(f"{taken}: {given} is")


def test_a_step_that_fails_once_is_retried_with_the_attempt_number(work):
    flow = work / "retry_once.py"
    flow.write_text(RETRY_ONCE)
    runner = run_argo(flow, work, "retry-1")
    assert_same_as_local(work, flow, "RetryOnceFlow", "retry-1")
    flaky = [(p.attempt, p.returncode) for p in runner.pods if p.template == "step-flaky"]
    assert flaky[0] == (0, 1) and flaky[1] == (1, 0)
    task_dir = work / "ds" / "runs" / "RetryOnceFlow" / "retry-1" / "flaky" / "0"
    assert (task_dir / "0.attempt.json").exists()


LONG_BRANCH = """
from flowc import FlowSpec, Parameter, step


class LongBranchFlow(FlowSpec):
    n = Parameter("n", default=1)

    @step
    def start(self):
        self.side = "big" if self.n > 5 else "small"
        self.next({"big": self.big, "small": self.small}, condition="side")

    @step
    def big(self):
        self.path = ["big"]
        self.next(self.big2)

    @step
    def big2(self):
        self.path = self.path + ["big2"]
        self.next(self.merge)

    @step
    def small(self):
        self.path = ["small"]
        self.next(self.merge)

    @step
    def merge(self):
        self.result = self.path
        self.next(self.end)

    @step
    def end(self):
        pass
"""


def test_every_step_of_a_skipped_branch_is_omitted(work):
    flow = work / "long_branch.py"
    flow.write_text(LONG_BRANCH)
    runner = run_argo(flow, work, "long-1")
    assert_same_as_local(work, flow, "LongBranchFlow", "long-1")
    assert runner.nodes["main/big"] == "Skipped" and runner.nodes["main/big2"] == "Omitted"
    assert runner.nodes["main/merge"] == "Succeeded"
    assert value(work / "ds", "LongBranchFlow", "long-1", "merge", "0", "result") == ["small"]


def test_a_step_over_its_timeout_fails_the_run(work):
    flow = work / "times_out.py"
    flow.write_text(TIMES_OUT)
    doc = compile_doc(flow, work)
    slow = next(t for t in doc["spec"]["templates"] if t["name"] == "step-slow")
    assert slow["activeDeadlineSeconds"] == "62"
    runner = Runner(doc, "timeout-1")
    assert runner.run() == "Failed"
    assert runner.nodes["main/slow"] == "Failed" and runner.nodes["main/end"] == "Omitted"
    record = work / "ds" / "runs" / "TimesOutFlow" / "timeout-1" / "slow" / "0" / "0.attempt.json"
    assert "timed out after 2 s" in json.loads(record.read_text())["error"]
    # the run's lifecycle (run by the simulator in tests/argo_runner.py, as Argo runs onExit):
    # the exit handler ran anyway and recorded the run failed, naming the task
    assert doc["spec"]["onExit"] == "flowc-finalize"
    assert runner.nodes["flowc-finalize"] == "Failed"  # it fails as the run did
    status = json.loads(
        (work / "ds" / "runs" / "TimesOutFlow" / "timeout-1" / "status.json").read_text()
    )
    assert status["status"] == "failed" and status["failed_task"] == "slow/0"
    assert "timed out" in status["error"]
    run = json.loads((work / "ds" / "runs" / "TimesOutFlow" / "timeout-1" / "run.json").read_text())
    assert "flowc:target=argo" in run["tags"]


HOSTILE_ARGO = HOSTILE + " {{workflow.name}} {{inputs.parameters.x}} {{=1+1}} $(FLOWC_DATASTORE) $$"


def test_hostile_values_reach_the_step_unchanged(work):
    flow = work / "hostile.py"
    flow.write_text(
        "import os\n\n"
        "from flowc import FlowSpec, Parameter, environment, step\n\n\n"
        "class HostileFlow(FlowSpec):\n"
        f"    {HOSTILE_ARGO!r}\n\n"
        f"    text = Parameter('text', default={HOSTILE_ARGO!r}, help={HOSTILE_ARGO!r})\n"
        "    cfg = Parameter('cfg', default={'k': ['{{workflow.name}}', {'n': 1}]})\n\n"
        f"    @environment(vars={{'HOSTILE_ENV': {HOSTILE_ARGO!r}, 'PLAIN': 'x $(PATH) $$'}})\n"
        "    @step\n"
        "    def start(self):\n"
        "        self.seen = self.text\n"
        "        self.cfg_seen = self.cfg\n"
        "        self.env_seen = os.environ['HOSTILE_ENV']\n"
        "        self.plain_seen = os.environ['PLAIN']\n"
        "        self.next(self.end)\n\n"
        "    @step\n"
        "    def end(self):\n"
        "        pass\n"
    )
    doc = compile_doc(flow, work)
    assert doc["metadata"]["annotations"]["workflows.argoproj.io/description"] == HOSTILE_ARGO
    runner = Runner(doc, "hostile-1")
    assert runner.run() == "Succeeded", [(p.argv, p.returncode) for p in runner.pods]
    ds = work / "ds"
    assert value(ds, "HostileFlow", "hostile-1", "start", "0", "seen") == HOSTILE_ARGO
    assert value(ds, "HostileFlow", "hostile-1", "start", "0", "env_seen") == HOSTILE_ARGO
    cfg = value(ds, "HostileFlow", "hostile-1", "start", "0", "cfg_seen")
    assert cfg == {"k": ["{{workflow.name}}", {"n": 1}]}
    start = next(p for p in runner.pods if p.template == "step-start")
    assert start.env["PLAIN"] == "x $(PATH) $$"  # in the pod spec too, not expanded
    assert value(ds, "HostileFlow", "hostile-1", "start", "0", "plain_seen") == "x $(PATH) $$"
    # a value given at submit time is not substituted into the template either (Argo itself
    # replaces global variables such as {{workflow.name}} in submitted arguments)
    other = "{{inputs.parameters.x}} {{tasks.a.outputs.parameters.b}} {{item}} $(id)"
    runner = Runner(doc, "hostile-2", {"text": json.dumps(other)})
    assert runner.run() == "Succeeded"
    assert value(ds, "HostileFlow", "hostile-2", "start", "0", "seen") == other
    # text that looks like a number stays the text a str parameter was given
    assert Runner(doc, "hostile-3", {"text": "1.50"}).run() == "Succeeded"
    assert value(ds, "HostileFlow", "hostile-3", "start", "0", "seen") == "1.50"


def test_code_package_is_unpacked_in_the_pod(work):
    src = work / "src"
    src.mkdir()
    (src / "helpers.py").write_text("def double(x):\n    return 2 * x\n")
    flow = src / "packaged.py"
    flow.write_text(
        "from flowc import FlowSpec, step\n\nfrom helpers import double\n\n\n"
        "class PackagedFlow(FlowSpec):\n"
        "    @step\n"
        "    def start(self):\n"
        "        self.x = double(21)\n"
        "        self.next(self.end)\n\n"
        "    @step\n"
        "    def end(self):\n"
        "        pass\n"
    )
    doc = compile_doc(flow, work, "--package")
    args = doc["spec"]["templates"][1]["container"]["args"]
    assert "--package" in args and str(flow) not in args  # the file's name inside the package
    flow.rename(src / "moved.py")  # the pods must not need the source tree
    (src / "helpers.py").unlink()
    runner = Runner(doc, "pkg-1")
    assert runner.run() == "Succeeded", [(p.argv, p.returncode) for p in runner.pods]
    assert value(work / "ds", "PackagedFlow", "pkg-1", "start", "0", "x") == 42


def test_the_harness_substitutes_once_and_follows_argo_depends_semantics():
    from tests.argo_runner import ArgoError, Node, _depends, aggregate, k8s_expand, substitute

    assert substitute("a {{ x }} b", {"x": "{{y}}", "y": "no"}) == "a {{y}} b"
    with pytest.raises(ArgoError, match="failed to resolve"):
        substitute("{{inputs.parameters.nope}}", {})
    assert substitute("{{nope}}", {}, allow_unresolved=True) == "{{nope}}"
    done = {"a": Node("Skipped"), "b": Node("Succeeded"), "c": Node("Omitted")}
    assert _depends("a", done) and not _depends("a.Succeeded", done)
    assert _depends("a.Succeeded || b.Succeeded", done)
    assert not _depends("c || a.Succeeded", done)
    assert aggregate(['["0.0"]', '["1.0"]']) == '[["0.0"], ["1.0"]]'
    assert aggregate(["x", "1"]) == '["x", "1"]'
    assert k8s_expand("$(A) $$(A) $(B) $", {"A": "1"}) == "1 $(A) $(B) $"
