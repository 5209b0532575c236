"""The local executor reproduces Metaflow's semantics: artifacts along every edge, joins with
``inputs``, foreach and nested foreach, switches, merge_artifacts, parameters, ``current`` and
the step decorators. Each flow runs for real through ``flowc run``."""

from __future__ import annotations

import pytest

from tests.conftest import FLOWS, artifacts, run_flow


def ok_run(flow, tmp_path, *args):
    proc, run_id = run_flow(flow, *args, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert run_id
    return proc, run_id


def test_linear_flow_parameters_and_current(tmp_path):
    proc, run_id = ok_run(FLOWS / "linear_flow.py", tmp_path, "--greeting", "yo", "--count", "3")
    start = artifacts(tmp_path, "LinearFlow", run_id, "start")
    assert start["info"] == {
        "flow": "LinearFlow",
        "run": run_id,
        "task": "0",
        "running": True,
        "params": ["count", "greeting"],
        "retry": 0,
        "tempdir": True,
    }
    assert "read-only" in start["readonly_error"]
    assert start["greeting"] == "yo"  # parameters are artifacts of every task
    end = artifacts(tmp_path, "LinearFlow", run_id, "end")
    assert end["message"] == "yoyoyo"
    assert end["seen"] == ["start", "middle", "end"]
    assert end["count"] == 3
    assert f"[{run_id}/end/0] message: yoyoyo" in proc.stdout


def test_static_split_join(tmp_path):
    _, run_id = ok_run(FLOWS / "split_flow.py", tmp_path)
    join = artifacts(tmp_path, "SplitFlow", run_id, "join")
    assert join["n_inputs"] == 2
    assert (join["from_a"], join["from_b"]) == (11, 12)
    assert join["xs"] == [11, 12]
    assert join["shared"] == "same" and join["base"] == 10  # merged: the inputs agree
    assert "x" not in join and "who" not in join  # excluded
    assert artifacts(tmp_path, "SplitFlow", run_id, "end")["total"] == 33


def test_nested_foreach_inside_a_static_branch(tmp_path):
    _, run_id = ok_run(FLOWS / "nested_flow.py", tmp_path)
    inner = artifacts(tmp_path, "NestedFlow", run_id, "inner", "1.2")
    assert inner["label"] == "b3"
    assert inner["position"] == 2
    assert inner["stack"] == [(1, 2, "b"), (2, 3, 3)]
    letter_b = artifacts(tmp_path, "NestedFlow", run_id, "join_numbers", "1")
    assert letter_b["labels"] == ["b1", "b2", "b3"]
    assert letter_b["letter"] == "b"
    end = artifacts(tmp_path, "NestedFlow", run_id, "join_all")
    assert end["all_labels"] == ["a1", "a2", "a3", "b1", "b2", "b3"]
    assert end["side_value"] == 7


@pytest.mark.parametrize("level", ["high", "low"])
def test_switch_takes_one_branch(tmp_path, level):
    _, run_id = ok_run(FLOWS / "switch_flow.py", tmp_path, "--level", level)
    assert artifacts(tmp_path, "SwitchFlow", run_id, "after")["seen"] == level
    other = "low" if level == "high" else "high"
    from flowc.datastore import Datastore

    ds = Datastore(str(tmp_path / "ds"))
    assert ds.tasks("SwitchFlow", run_id, other) == []
    assert ds.tasks("SwitchFlow", run_id, level) == ["0"]


def test_switch_on_an_unknown_value_fails_clearly(tmp_path):
    proc, _ = run_flow(FLOWS / "switch_flow.py", "--level", "medium", cwd=tmp_path)
    assert proc.returncode == 1
    assert "condition self.choice is 'medium', which is none of the cases" in proc.stdout


def test_retry_catch_timeout_environment(tmp_path):
    proc, run_id = ok_run(FLOWS / "decorated_flow.py", tmp_path, "--max-workers", "4")
    join = artifacts(tmp_path, "DecoratedFlow", run_id, "join")
    assert join["attempts"] == 3  # two failures, then success on the third attempt
    assert join["env"] == "from-env"
    assert join["broken_error"] == "ValueError: this step always fails"
    assert join["half_done"] is True  # kept: set before the raise, as Metaflow keeps it
    assert "timed out after 1 s" in join["slow_error"]
    assert join["flaky_error"] == "unset"
    assert "retrying" in proc.stdout
    from flowc.datastore import Datastore

    ds = Datastore(str(tmp_path / "ds"))
    record = ds.task_record("DecoratedFlow", run_id, "flaky", "0")
    assert record["attempt"] == 2
    first = ds.read_json(f"runs/DecoratedFlow/{run_id}/flaky/0/0.attempt.json")
    assert first["status"] == "failed" and "attempt 0 fails" in first["error"]


FOREACH_FLOW = """
from metaflow import FlowSpec, step, Parameter


class FanFlow(FlowSpec):
    n = Parameter("n", default=5)

    @step
    def start(self):
        self.items = [i * i for i in range(self.n)]
        self.next(self.body, foreach="items")

    @step
    def body(self):
        self.y = self.input + self.index
        self.next(self.join)

    @step
    def join(self, inputs):
        self.ys = [i.y for i in inputs]
        self.count = len(inputs)
        self.next(self.end)

    @step
    def end(self):
        print("ys", self.ys)


if __name__ == "__main__":
    FanFlow()
"""


def test_foreach_written_against_metaflow_runs_under_flowc(tmp_path):
    flow = tmp_path / "fan.py"
    flow.write_text(FOREACH_FLOW)
    proc, run_id = ok_run(flow, tmp_path, "--n", "6")
    join = artifacts(tmp_path, "FanFlow", run_id, "join")
    assert join["ys"] == [i * i + i for i in range(6)]
    assert join["count"] == 6
    assert artifacts(tmp_path, "FanFlow", run_id, "body", "4")["y"] == 20


MERGE_CONFLICT = """
from flowc import FlowSpec, step


class ConflictFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.a, self.b)

    @step
    def a(self):
        self.value = 1
        self.next(self.join)

    @step
    def b(self):
        self.value = 2
        self.next(self.join)

    @step
    def join(self, inputs):
        self.merge_artifacts(inputs)
        self.next(self.end)

    @step
    def end(self):
        pass
"""


def test_merge_conflict_is_a_clear_error(tmp_path):
    flow = tmp_path / "conflict.py"
    flow.write_text(MERGE_CONFLICT)
    proc, run_id = run_flow(flow, cwd=tmp_path)
    assert proc.returncode == 1
    assert "cannot merge artifacts whose values differ across its inputs: value" in proc.stdout
    assert "Traceback" not in proc.stderr


def test_with_attaches_a_decorator_to_every_step(tmp_path):
    flow = tmp_path / "flaky.py"
    flow.write_text(
        "from flowc import FlowSpec, current, step\n\n"
        "class FlakyFlow(FlowSpec):\n"
        "    @step\n"
        "    def start(self):\n"
        "        if current.retry_count == 0:\n"
        "            raise RuntimeError('first attempt fails')\n"
        "        self.tries = current.retry_count\n"
        "        self.next(self.end)\n\n"
        "    @step\n"
        "    def end(self):\n"
        "        pass\n"
    )
    proc, _ = run_flow(flow, cwd=tmp_path)
    assert proc.returncode == 1 and "first attempt fails" in proc.stdout
    proc, run_id = ok_run(flow, tmp_path, "--with", "retry:times=1,minutes_between_retries=0")
    assert artifacts(tmp_path, "FlakyFlow", run_id, "start")["tries"] == 1


def test_flow_file_without_a_main_guard(tmp_path):
    flow = tmp_path / "noguard.py"
    flow.write_text(
        "from flowc import FlowSpec, step\n\n"
        "class NoGuardFlow(FlowSpec):\n"
        "    @step\n    def start(self):\n        self.x = 1\n        self.next(self.end)\n\n"
        "    @step\n    def end(self):\n        print('x is', self.x)\n\n"
        "NoGuardFlow()\n"
    )
    proc, run_id = ok_run(flow, tmp_path)
    assert f"[{run_id}/end/0] x is 1" in proc.stdout
