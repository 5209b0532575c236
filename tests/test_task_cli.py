"""``flowc task``, the task contract as an orchestrator calls it: one task per process, ids on
the command line, parameters from the run record, the result as JSON on stdout's last line."""

from __future__ import annotations

import json

from tests.conftest import FLOWS, run_flowc

FAN = """
from flowc import FlowSpec, Parameter, step


class FanFlow(FlowSpec):
    scale = Parameter("scale", default=10)

    @step
    def start(self):
        self.items = [1, 2, 3]
        self.next(self.body, foreach="items")

    @step
    def body(self):
        if self.input == 99:
            raise ValueError("never")
        print("body got", self.input)
        self.y = self.input * self.scale
        self.next(self.join)

    @step
    def join(self, inputs):
        self.total = sum(i.y for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        pass
"""


def task(tmp_path, flow, *args):
    proc = run_flowc("task", str(flow), *args, "--datastore", str(tmp_path / "ds"), cwd=tmp_path)
    result = None
    lines = proc.stdout.strip().splitlines()
    if lines and lines[-1].startswith('{"flowc_result"'):
        result = json.loads(lines[-1])["flowc_result"]
    return proc, result


def value(tmp_path, flow_name, run_id, step, task_id, name):
    from flowc.datastore import Datastore

    ds = Datastore(str(tmp_path / "ds"))
    record = ds.task_record(flow_name, run_id, step, task_id)
    return ds.get(record["artifacts"][name]["sha"])


def test_a_foreach_run_task_by_task(tmp_path):
    flow = tmp_path / "fan.py"
    flow.write_text(FAN)
    proc, result = task(tmp_path, flow, "start", "--run-id", "r1", "--scale", "100")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert result["status"] == "ok" and result["foreach_num_splits"] == 3
    assert result["next_steps"] == ["body"] and result["task_id"] == "0"
    for i in range(3):
        proc, result = task(
            tmp_path,
            flow,
            "body",
            "--run-id",
            "r1",
            "--index",
            str(i),
            "--result-file",
            str(tmp_path / f"r{i}.json"),
        )
        assert proc.returncode == 0, proc.stderr
        assert f"body got {i + 1}" in proc.stdout  # the step's own output is passed through
        assert json.loads((tmp_path / f"r{i}.json").read_text()) == result
    proc, result = task(tmp_path, flow, "join", "--run-id", "r1")
    assert proc.returncode == 0, proc.stderr
    assert value(tmp_path, "FanFlow", "r1", "join", "0", "total") == 600  # scale from the record
    proc, result = task(tmp_path, flow, "end", "--run-id", "r1")
    assert result["status"] == "ok" and result["next_steps"] == []
    status = json.loads((tmp_path / "ds" / "runs" / "FanFlow" / "r1" / "status.json").read_text())
    assert status["status"] == "succeeded"  # the end task closes an orchestrated run


def test_start_takes_parameters_as_json_and_a_retried_start_keeps_its_record(tmp_path):
    flow = tmp_path / "fan.py"
    flow.write_text(FAN)
    doc = '{"scale": 7, "not-a-parameter": 1}'  # an orchestrator's conf may hold other keys
    proc, result = task(tmp_path, flow, "start", "--run-id", "j1", "--params-json", doc)
    assert proc.returncode == 0, proc.stderr
    assert value(tmp_path, "FanFlow", "j1", "start", "0", "scale") == 7
    retry = ["start", "--run-id", "j1", "--attempt", "1", "--params-json", '{"scale": 8}']
    proc, result = task(tmp_path, flow, *retry)
    assert proc.returncode == 0, proc.stderr
    assert value(tmp_path, "FanFlow", "j1", "start", "0", "scale") == 7  # the record stands
    proc, _ = task(tmp_path, flow, "start", "--run-id", "j2", "--params-json", '{"scale": null}')
    assert proc.returncode == 0 and value(tmp_path, "FanFlow", "j2", "start", "0", "scale") == 10
    for doc, message in [("[1]", "expected a JSON object"), ('{"scale": "x"}', "--scale")]:
        proc, _ = task(tmp_path, flow, "start", "--run-id", "j3", "--params-json", doc)
        assert proc.returncode == 2 and message in proc.stderr, proc.stderr


def test_a_join_before_its_inputs_fails_naming_the_missing_one(tmp_path):
    flow = tmp_path / "fan.py"
    flow.write_text(FAN)
    task(tmp_path, flow, "start", "--run-id", "r2")
    task(tmp_path, flow, "body", "--run-id", "r2", "--index", "0")
    proc, result = task(tmp_path, flow, "join", "--run-id", "r2")
    assert proc.returncode == 1
    assert result["status"] == "failed"
    assert "missing its input body/1" in result["error"]


def test_a_failed_attempt_is_recorded_but_never_committed(tmp_path):
    flow = tmp_path / "fan.py"
    flow.write_text(FAN.replace("self.input == 99", "self.input == 2"))
    task(tmp_path, flow, "start", "--run-id", "r3")
    for attempt in (0, 1):
        proc, result = task(
            tmp_path, flow, "body", "--run-id", "r3", "--index", "1", "--attempt", str(attempt)
        )
        assert proc.returncode == 1
        assert result["status"] == "failed" and result["error"] == "ValueError: never"
        base = tmp_path / "ds" / "runs" / "FanFlow" / "r3" / "body" / "1"
        record = json.loads((base / f"{attempt}.attempt.json").read_text())
        assert record["status"] == "failed" and record["attempt"] == attempt
        assert "ValueError: never" in (base / f"{attempt}.stderr").read_text()
        assert not (base / "task.json").exists()


def test_switch_branch_is_reported(tmp_path):
    proc, result = task(
        tmp_path, FLOWS / "switch_flow.py", "start", "--run-id", "s", "--level", "low"
    )
    assert proc.returncode == 0, proc.stderr
    assert result["branch"] == "low" and result["next_steps"] == ["low"]


def test_bad_task_input_exits_2_with_one_line(tmp_path):
    flow = tmp_path / "fan.py"
    flow.write_text(FAN)
    cases = [
        (["body", "--run-id", "nope", "--index", "0"], "run FanFlow/nope is not in the datastore"),
        (["bogus", "--run-id", "r"], "FanFlow has no step 'bogus'"),
        (["start", "--run-id", "r4", "--index", "1"], "takes no index"),
        (["start", "--run-id", "r4", "--scale", "x"], "--scale: expected an integer"),
    ]
    for args, message in cases:
        proc, _ = task(tmp_path, flow, *args)
        assert proc.returncode == 2, (args, proc.stderr)
        assert message in proc.stderr and "Traceback" not in proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1
    task(tmp_path, flow, "start", "--run-id", "r5")
    for args, message in [
        (["body", "--run-id", "r5", "--index", "x"], "not a dotted list of integers"),
        (["body", "--run-id", "r5"], "pass --index like 0"),
        (["body", "--run-id", "r5", "--index", "0", "--scale", "3"], "already exists"),
    ]:
        proc, _ = task(tmp_path, flow, *args)
        assert proc.returncode == 2 and message in proc.stderr, (args, proc.stderr)
