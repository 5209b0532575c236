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

pytest.importorskip("kfp", reason="the kfp extra is not installed (pip install -e '.[kfp]')")

from flowc.backends.kfp_validate import validate_file  # noqa: E402
from tests.kfp_harness import Job  # noqa: E402


def stored(ds: Path, flow: str, run_id: str) -> dict[tuple[str, str], dict[str, str]]:
    """(step, task id) -> {artifact: content hash} for every committed task of a run."""
    from flowc.datastore import Datastore

    store = Datastore(str(ds))
    out = {}
    for step in sorted(p.name for p in (ds / "runs" / flow / run_id).iterdir() if p.is_dir()):
        for task in store.tasks(flow, run_id, step):
            record = store.task_record(flow, run_id, step, task)
            out[(step, task)] = {n: r["sha"] for n, r in record["artifacts"].items()}
    return out


def value(ds: Path, flow: str, run_id: str, step: str, task: str, name: str):
    from flowc.datastore import Datastore

    store = Datastore(str(ds))
    record = store.task_record(flow, run_id, step, task)
    return store.get(record["artifacts"][name]["sha"])


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
        str(tmp / "ds"),
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
    return [e.argv[e.argv.index("--step") + 1] for e in job.executions]


NESTED_IN_BRANCH = (EXAMPLES.parent / "tests" / "test_airflow_run.py").read_text()
NESTED_IN_BRANCH = NESTED_IN_BRANCH.split("NESTED_IN_BRANCH = '''", 1)[1].split("'''", 1)[0]

RETRY_ONCE = """
from flowc import FlowSpec, current, retry, step


class RetryOnceFlow(FlowSpec):
    @step
    def start(self):
        self.x = 1
        self.next(self.flaky)

    @retry(times=1, minutes_between_retries=0)
    @step
    def flaky(self):
        if current.retry_count == 0:
            raise RuntimeError("first attempt fails")
        self.y = self.x + 1
        self.next(self.end)

    @step
    def end(self):
        pass
"""


def test_lr_flow_runs_like_locally(tmp_path):
    flow = EXAMPLES / "lr_flow.py"
    job = compile_and_run(tmp_path, flow)
    got = assert_same_as_local(tmp_path, flow, "LRFlow", job)
    assert {t for s, t in got if s == "train"} == {"0", "1", "2"}
    metrics = value(tmp_path / "ds", "LRFlow", job.job_id, "choose", "0", "metrics")
    assert set(metrics) == {"r2", "mse"}


def test_static_branch(tmp_path):
    flow = EXAMPLES / "branch_flow.py"
    job = compile_and_run(tmp_path, flow)
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


PACKAGED = """
from flowc import FlowSpec, step
from helpers import double


class PackagedFlow(FlowSpec):
    @step
    def start(self):
        self.x = double(21)
        self.next(self.end)

    @step
    def end(self):
        pass
"""


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
