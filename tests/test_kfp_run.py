"""Compiled KFP pipelines executed by :mod:`tests.kfp_harness` (KFP's DAG, loop, condition and
placeholder semantics, running each container's command here), each run compared with
``flowc run`` of the same flow: every task of every step must have stored the same artifacts.

kfp.local cannot be the evidence: it rejects container components and mis-wires nested loops.
"""

from __future__ import annotations

import json
import sys
import uuid
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES, run_flow, run_flowc

import kfp  # noqa: E402,F401 - in the test extra: a missing SDK must fail, not skip

from flowc.backends.kfp_validate import validate_file  # noqa: E402
from tests.kfp_harness import Job  # noqa: E402

# the same flows and helpers the Airflow run tests use (importing them needs no Airflow)
from tests.test_airflow_run import (  # noqa: E402
    HOSTILE,
    NESTED_IN_BRANCH,
    PACKAGED,
    RETRY_ONCE,
    hostile_flow,
    stored,
    value,
)


def compile_and_run(tmp: Path, flow_file: Path, arguments=None, compile_args=()) -> Job:
    out = tmp / "pipeline.yaml"
    proc = run_flowc(
        "compile",
        str(flow_file),
        "--target",
        "kfp",
        "-o",
        str(out),
        "--python",
        sys.executable,
        "--datastore",
        f"file://{tmp / 'ds'}",  # the harness's pods share this machine's folder
        "--image",
        "flowc:test",
        *compile_args,
    )
    assert proc.returncode == 0, proc.stderr
    doc = validate_file(str(out))
    job = Job(doc, f"kfp-{uuid.uuid4()}", str(tmp)).run(arguments)
    assert not job.failed, getattr(job, "last_stderr", "")
    return job


def assert_same_as_local(tmp: Path, flow_file: Path, flow: str, job: Job, *run_args: str) -> dict:
    proc, local_id = run_flow(flow_file, *run_args, cwd=tmp)
    assert proc.returncode == 0, proc.stderr
    on_kfp = stored(tmp / "ds", flow, job.job_id)
    local = stored(tmp / "ds", flow, local_id)
    assert on_kfp.keys() == local.keys()
    assert on_kfp == local
    status = json.loads((tmp / "ds" / "runs" / flow / job.job_id / "status.json").read_text())
    assert status["status"] == "succeeded"
    return on_kfp


def steps_run(job: Job) -> list[str]:
    return [e.argv[e.argv.index("--step") + 1] for e in job.executions if "--step" in e.argv]


def test_lr_flow_runs_like_locally(tmp_path):
    flow = EXAMPLES / "lr_flow.py"
    job = compile_and_run(tmp_path, flow)
    got = assert_same_as_local(tmp_path, flow, "LRFlow", job)
    assert {t for s, t in got if s == "train"} == {"0", "1", "2"}
    metrics = value(tmp_path / "ds", "LRFlow", job.job_id, "choose", "0", "metrics")
    assert set(metrics) == {"r2", "mse"}


def test_a_failed_run_is_recorded_failed_by_the_exit_handler(tmp_path):
    """The lifecycle, run by the simulator in tests/kfp_harness.py: the ``dsl.ExitHandler``
    task runs after the failure and records the run failed, naming the task; the run also
    records its deployer and target."""
    from tests.conftest import FLOWS

    out = tmp_path / "pipeline.yaml"
    proc = run_flowc(
        "compile",
        str(FLOWS / "gate_flow.py"),
        "--target",
        "kfp",
        "-o",
        str(out),
        "--python",
        sys.executable,
        "--image",
        "flowc:test",
        "--datastore",
        f"file://{tmp_path / 'ds'}",
        env={"FLOWC_USER": "deployer"},
    )
    assert proc.returncode == 0, proc.stderr
    job = Job(validate_file(str(out)), f"kfp-{uuid.uuid4()}", str(tmp_path))
    job.run({"gate": str(tmp_path / "closed")})
    assert job.failed
    ran = {e.path[-1]: e.code for e in job.executions}
    assert ran == {"step-start": 0, "step-check": 1, "flowc-finalize": 1}
    run_dir = tmp_path / "ds" / "runs" / "GateFlow" / job.job_id
    status = json.loads((run_dir / "status.json").read_text())
    assert status["status"] == "failed" and status["failed_task"] == "check/0"
    record = json.loads((run_dir / "run.json").read_text())
    assert record["user"] == "deployer" and "flowc:target=kfp" in record["tags"]


def test_static_branch(tmp_path):
    flow = EXAMPLES / "branch_flow.py"
    job = compile_and_run(tmp_path, flow)
    assert [e.code for e in job.executions if e.path[-1] == "flowc-finalize"] == [0]
    got = assert_same_as_local(tmp_path, flow, "BranchFlow", job)
    assert {s for s, _ in got} == {"start", "total", "extremes", "join", "end"}
    assert value(tmp_path / "ds", "BranchFlow", job.job_id, "join", "0", "sum") == 31


def test_foreach_with_a_pipeline_argument(tmp_path):
    flow = EXAMPLES / "foreach_flow.py"
    job = compile_and_run(tmp_path, flow, {"count": 3})
    got = assert_same_as_local(tmp_path, flow, "ForeachFlow", job, "--count", "3")
    assert sorted(t for s, t in got if s == "square") == ["0", "1", "2"]
    squares = value(tmp_path / "ds", "ForeachFlow", job.job_id, "join", "0", "squares")
    assert squares == [1, 4, 9]
    # the loop expanded three times, each iteration given its index path as the loop item
    square = [e for e in job.executions if "square" in e.argv]
    assert [e.argv[e.argv.index("--index") + 1] for e in square] == ["0", "1", "2"]


def test_nested_foreach(tmp_path):
    flow = EXAMPLES / "nested_foreach_flow.py"
    job = compile_and_run(tmp_path, flow)
    got = assert_same_as_local(tmp_path, flow, "NestedForeachFlow", job)
    assert sorted(t for s, t in got if s == "score") == [
        f"{i}.{j}" for i in (0, 1) for j in (0, 1, 2)
    ]
    # nested ParallelFor: the score tasks sit two loops deep in the walked DAG
    scores = [e.path for e in job.executions if "score" in e.argv]
    assert len(scores) == 6 and all(sum("[" in p for p in path) == 2 for path in scores)


def test_nested_foreach_inside_a_static_branch(tmp_path):
    flow = tmp_path / "nested_in_branch.py"
    flow.write_text(NESTED_IN_BRANCH)
    job = compile_and_run(tmp_path, flow)
    assert_same_as_local(tmp_path, flow, "NestedInBranchFlow", job)
    table = value(tmp_path / "ds", "NestedInBranchFlow", job.job_id, "join", "0", "table")
    assert table == [[110, 111, 112], [210, 211, 212]]
    where = value(tmp_path / "ds", "NestedInBranchFlow", job.job_id, "cell", "1.2", "where")
    assert where == (1, 2)


@pytest.mark.parametrize(("arg", "taken", "skipped"), [(3, "low", "high"), (30, "high", "low")])
def test_switch_takes_one_branch_and_reaches_the_end(tmp_path, arg, taken, skipped):
    flow = EXAMPLES / "switch_flow.py"
    job = compile_and_run(tmp_path, flow, {"value": arg})
    got = assert_same_as_local(tmp_path, flow, "SwitchFlow", job, "--value", str(arg))
    assert taken in steps_run(job) and skipped not in steps_run(job)
    assert steps_run(job)[-2:] == ["report", "end"]
    assert (skipped, "0") not in got
    summary = value(tmp_path / "ds", "SwitchFlow", job.job_id, "report", "0", "summary")
    assert summary.startswith(f"{taken}: {arg} is ")


def test_a_step_that_fails_once_is_retried(tmp_path):
    flow = tmp_path / "retry_once.py"
    flow.write_text(RETRY_ONCE)
    job = compile_and_run(tmp_path, flow)
    assert_same_as_local(tmp_path, flow, "RetryOnceFlow", job)
    flaky = next(e for e in job.executions if "flaky" in e.argv)
    assert flaky.attempts == 2
    task_dir = tmp_path / "ds" / "runs" / "RetryOnceFlow" / job.job_id / "flaky" / "0"
    assert (task_dir / "0.attempt.json").exists()  # attempt 0 failed, attempt 1 committed
    assert "first attempt fails" in (task_dir / "0.stderr").read_text()


def test_a_code_package_runs_the_flow_from_the_datastore(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "helpers.py").write_text("def double(x):\n    return 2 * x\n")
    (src / "packaged.py").write_text(PACKAGED)
    work = tmp_path / "work"
    work.mkdir()
    job = compile_and_run(work, src / "packaged.py", compile_args=("--package",))
    # the command names the package and the file inside it, not the source folder
    argv = job.executions[0].argv
    assert "--package" in argv and str(src) not in " ".join(argv)
    assert value(work / "ds", "PackagedFlow", job.job_id, "start", "0", "x") == 42


def test_hostile_values_come_through_unchanged(tmp_path):
    flow = hostile_flow(tmp_path)
    job = compile_and_run(tmp_path, flow)
    ds = tmp_path / "ds"
    assert value(ds, "HostileFlow", job.job_id, "start", "0", "seen") == HOSTILE
    assert value(ds, "HostileFlow", job.job_id, "start", "0", "env_seen") == HOSTILE
    # a value given as the run's argument reaches the step unchanged too
    other = HOSTILE.replace("run_id", "ds")
    job2 = compile_and_run(tmp_path, flow, {"text": other})
    assert value(ds, "HostileFlow", job2.job_id, "start", "0", "seen") == other


def test_the_harness_refuses_what_kfp_would_not_run(tmp_path):
    """The executor is evidence only if it fails on wiring KFP would reject or mis-run."""
    from tests.kfp_harness import HarnessError

    out = tmp_path / "p.yaml"
    flow = EXAMPLES / "foreach_flow.py"
    proc = run_flowc(
        "compile",
        str(flow),
        "--target",
        "kfp",
        "-o",
        str(out),
        "--python",
        sys.executable,
        "--image",
        "flowc:test",
        "--datastore",
        f"file://{tmp_path / 'ds'}",
    )
    assert proc.returncode == 0, proc.stderr
    doc = validate_file(str(out))
    # a loop reading start's output without waiting for start
    bad = json.loads(json.dumps(doc))
    body = bad["components"]["comp-exit-handler-1"]["dag"]["tasks"]  # inside the ExitHandler
    body[next(k for k in body if k.startswith("for-loop"))]["dependentTasks"] = []
    with pytest.raises(HarnessError, match="without depending"):
        Job(bad, "j", str(tmp_path)).run()
    # a placeholder KFP does not define
    bad = json.loads(json.dumps(doc))
    bad["deploymentSpec"]["executors"]["exec-step-start"]["container"]["args"].append(
        "{{$.pipeline_task_retry_count}}"
    )
    with pytest.raises(HarnessError, match="unknown placeholder"):
        Job(bad, "j", str(tmp_path)).run()
    # an argument the pipeline does not declare
    with pytest.raises(HarnessError, match="no input"):
        Job(doc, "j", str(tmp_path)).run({"nope": 1})


SHAPES = '''
from flowc import FlowSpec, Parameter, step


class ShapesFlow(FlowSpec):
    """A foreach inside a switch branch; a static split inside a foreach body."""

    n = Parameter("n", default=2)
    rate = Parameter("rate", default=0.5)
    flag = Parameter("flag", default=True)
    names = Parameter("names", default="x")

    @step
    def start(self):
        self.route = "many" if self.n > 1 else "one"
        self.next({"many": self.many, "one": self.one}, condition="route")

    @step
    def many(self):
        self.items = list(range(self.n))
        self.next(self.body, foreach="items")

    @step
    def body(self):
        self.v = self.input
        self.next(self.left, self.right)

    @step
    def left(self):
        self.l = self.v * 2
        self.next(self.bjoin)

    @step
    def right(self):
        self.r = self.v * self.rate
        self.next(self.bjoin)

    @step
    def bjoin(self, inputs):
        self.s = inputs.left.l + inputs.right.r
        self.next(self.fjoin)

    @step
    def fjoin(self, inputs):
        self.total = sum(i.s for i in inputs)
        self.next(self.merge)

    @step
    def one(self):
        self.total = -1 if self.flag else -2
        self.next(self.merge)

    @step
    def merge(self):
        self.out = (self.total, self.names)
        self.next(self.end)

    @step
    def end(self):
        pass
'''


def test_foreach_in_a_switch_branch_with_a_split_in_its_body_and_typed_arguments(tmp_path):
    flow = tmp_path / "shapes.py"
    flow.write_text(SHAPES)
    args = {"n": 3, "rate": 1.5, "flag": False, "names": "a b"}
    job = compile_and_run(tmp_path, flow, args)
    run_args = ("--n", "3", "--rate", "1.5", "--flag", "False", "--names", "a b")
    got = assert_same_as_local(tmp_path, flow, "ShapesFlow", job, *run_args)
    assert sorted(t for s, t in got if s == "bjoin") == ["0", "1", "2"] and ("one", "0") not in got
    # every body task ran inside the loop inside the taken condition (inside the ExitHandler)
    assert all(len(e.path) == 5 for e in job.executions if "body" in e.argv)
    assert value(tmp_path / "ds", "ShapesFlow", job.job_id, "merge", "0", "out") == (10.5, "a b")


NAMES = """
from flowc import FlowSpec, Parameter, step


class NamesFlow(FlowSpec):
    dsl = Parameter("dsl", default=1)
    result = Parameter("result", default="r")
    after = Parameter("after", default=2.5)
    t_start = Parameter("t-start", default=[1, 2])

    @step
    def start(self):
        self.got = (self.dsl, self.result, self.after, self.t_start)
        self.next(self.end)

    @step
    def end(self):
        pass
"""


def test_parameter_names_the_module_itself_uses_still_work(tmp_path):
    flow = tmp_path / "names.py"
    flow.write_text(NAMES)
    job = compile_and_run(tmp_path, flow, {"dsl_": 5, "result": "x", "t_start_": [3]})
    got = value(tmp_path / "ds", "NamesFlow", job.job_id, "start", "0", "got")
    assert got == (5, "x", 2.5, [3])
