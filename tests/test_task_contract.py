"""The task contract through the real ``flowc task`` command, driven the way an orchestrator
drives it: one process per task, only ids on the command line, parameters from the run record,
the result as JSON on stdout's last line, failed attempts recorded but never committed."""

from __future__ import annotations

import json
from pathlib import Path

from flowc.datastore import Datastore
from tests.conftest import FLOWS, run_flowc

FOREACH = """
from flowc import FlowSpec, Parameter, step


class ContractFlow(FlowSpec):
    scale = Parameter("scale", default=1)

    @step
    def start(self):
        self.items = [1, 2, 3]
        self.next(self.body, foreach="items")

    @step
    def body(self):
        if self.input == FAIL_ON:
            raise RuntimeError(f"body cannot take {self.input}")
        self.y = self.input * 10
        self.scaled = self.y * self.scale
        self.next(self.join)

    @step
    def join(self, inputs):
        self.total = sum(i.y for i in inputs)
        self.scaled_total = sum(i.scaled for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        self.seen_scale = self.scale
"""

FLOW = "ContractFlow"


def write_flow(tmp_path: Path, fail_on=None) -> Path:
    path = tmp_path / "contract_flow.py"
    path.write_text(FOREACH.replace("FAIL_ON", repr(fail_on)))
    return path


def ds_path(tmp_path: Path) -> Path:
    return tmp_path / "ds"


def task(tmp_path: Path, flow: Path, step: str, *args: str):
    """``flowc task`` with the datastore in tmp_path; returns (process, parsed result or None)."""
    proc = run_flowc(
        "task", str(flow), step, *args, "--datastore", str(ds_path(tmp_path)), cwd=tmp_path
    )
    lines = proc.stdout.strip().splitlines()
    result = None
    if lines:
        try:
            result = json.loads(lines[-1])["flowc_result"]
        except (ValueError, KeyError, TypeError):
            result = None
    return proc, result


def artifact(tmp_path: Path, run_id: str, step: str, task_id: str, name: str, flow=FLOW):
    ds = Datastore(str(ds_path(tmp_path)))
    record = ds.task_record(flow, run_id, step, task_id)
    assert record is not None, f"{step}/{task_id} was not committed"
    return ds.get(record["artifacts"][name]["sha"])


def task_dir(tmp_path: Path, run_id: str, step: str, task_id: str, flow=FLOW) -> Path:
    return ds_path(tmp_path) / "runs" / flow / run_id / step / task_id


def assert_usage_error(proc, *words: str) -> None:
    """Exit 2, one line on stderr, no traceback, naming what was wrong."""
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert '"flowc_result"' not in proc.stdout
    for word in words:
        assert word in proc.stderr, proc.stderr


# --- a whole run, task by task --------------------------------------------------------------


def test_a_foreach_run_task_by_task(tmp_path):
    flow = write_flow(tmp_path)
    proc, result = task(tmp_path, flow, "start", "--run-id", "r1")
    assert proc.returncode == 0, proc.stderr
    assert result["status"] == "ok" and result["error"] is None
    assert result["foreach_num_splits"] == 3
    assert result["next_steps"] == ["body"]
    assert (result["flow"], result["run_id"], result["step"], result["task_id"]) == (
        FLOW,
        "r1",
        "start",
        "0",
    )
    for i in range(3):
        proc, result = task(tmp_path, flow, "body", "--run-id", "r1", "--index", str(i))
        assert proc.returncode == 0, proc.stderr
        assert result["status"] == "ok" and result["task_id"] == str(i)
        assert result["next_steps"] == ["join"]
        assert artifact(tmp_path, "r1", "body", str(i), "y") == (i + 1) * 10
    proc, result = task(tmp_path, flow, "join", "--run-id", "r1")
    assert proc.returncode == 0, proc.stderr
    assert result["status"] == "ok" and result["next_steps"] == ["end"]
    proc, result = task(tmp_path, flow, "end", "--run-id", "r1")
    assert proc.returncode == 0, proc.stderr
    assert result["status"] == "ok" and result["next_steps"] == []

    ds = Datastore(str(ds_path(tmp_path)))
    sha = ds.task_record(FLOW, "r1", "join", "0")["artifacts"]["total"]["sha"]
    assert ds.get(sha) == 60
    assert ds.tasks(FLOW, "r1", "body") == ["0", "1", "2"]
    assert ds.task_record(FLOW, "r1", "join", "0")["parents"] == ["body/0", "body/1", "body/2"]
    # the end task inherits what the join set
    assert artifact(tmp_path, "r1", "end", "0", "total") == 60


def test_the_result_file_holds_the_same_json_as_the_last_stdout_line(tmp_path):
    flow = write_flow(tmp_path)
    out = tmp_path / "start-result.json"
    proc, result = task(tmp_path, flow, "start", "--run-id", "r1", "--result-file", str(out))
    assert proc.returncode == 0, proc.stderr
    assert json.loads(out.read_text()) == result
    assert result["foreach_num_splits"] == 3
    out = tmp_path / "body-result.json"
    proc, result = task(
        tmp_path, flow, "body", "--run-id", "r1", "--index", "2", "--result-file", str(out)
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(out.read_text()) == result and result["task_id"] == "2"


def test_a_failed_task_also_writes_its_result_file(tmp_path):
    flow = write_flow(tmp_path, fail_on=1)
    task(tmp_path, flow, "start", "--run-id", "r1")
    out = tmp_path / "fail.json"
    proc, result = task(
        tmp_path, flow, "body", "--run-id", "r1", "--index", "0", "--result-file", str(out)
    )
    assert proc.returncode == 1
    assert json.loads(out.read_text()) == result and result["status"] == "failed"


# --- parameters -----------------------------------------------------------------------------


def test_start_parameters_are_recorded_and_seen_by_later_tasks(tmp_path):
    flow = write_flow(tmp_path)
    proc, _ = task(tmp_path, flow, "start", "--run-id", "p1", "--scale", "7")
    assert proc.returncode == 0, proc.stderr
    ds = Datastore(str(ds_path(tmp_path)))
    record = ds.run_record(FLOW, "p1")
    assert record is not None
    assert ds.get(record["parameters"]["scale"]["sha"]) == 7
    for i in range(3):
        proc, _ = task(tmp_path, flow, "body", "--run-id", "p1", "--index", str(i))
        assert proc.returncode == 0, proc.stderr
        assert artifact(tmp_path, "p1", "body", str(i), "scaled") == (i + 1) * 10 * 7
    proc, _ = task(tmp_path, flow, "join", "--run-id", "p1")
    assert proc.returncode == 0, proc.stderr
    assert artifact(tmp_path, "p1", "join", "0", "scaled_total") == 420
    proc, _ = task(tmp_path, flow, "end", "--run-id", "p1")
    assert proc.returncode == 0, proc.stderr
    assert artifact(tmp_path, "p1", "end", "0", "seen_scale") == 7


def test_parameters_passed_to_a_later_task_exit_2(tmp_path):
    flow = write_flow(tmp_path)
    task(tmp_path, flow, "start", "--run-id", "p2", "--scale", "3")
    proc, _ = task(tmp_path, flow, "body", "--run-id", "p2", "--index", "0", "--scale", "5")
    assert_usage_error(proc, "already exists")
    assert not task_dir(tmp_path, "p2", "body", "0").exists()
    # the record still holds the value the start task was given
    ds = Datastore(str(ds_path(tmp_path)))
    assert ds.get(ds.run_record(FLOW, "p2")["parameters"]["scale"]["sha"]) == 3


# --- bad input ------------------------------------------------------------------------------


def test_a_task_of_a_run_that_does_not_exist_exits_2(tmp_path):
    flow = write_flow(tmp_path)
    proc, _ = task(tmp_path, flow, "body", "--run-id", "ghost", "--index", "0")
    assert_usage_error(proc, "ghost", "not in the datastore")
    proc, _ = task(tmp_path, flow, "end", "--run-id", "ghost")
    assert_usage_error(proc, "ghost")
    assert not (ds_path(tmp_path) / "runs" / FLOW / "ghost").exists()


def test_an_unknown_step_exits_2(tmp_path):
    flow = write_flow(tmp_path)
    proc, _ = task(tmp_path, flow, "no_such_step", "--run-id", "r1")
    assert_usage_error(proc, "no_such_step")
    assert not (ds_path(tmp_path) / "runs").exists()


def test_bad_indexes_exit_2(tmp_path):
    flow = write_flow(tmp_path)
    proc, _ = task(tmp_path, flow, "start", "--run-id", "i1", "--index", "1")
    assert_usage_error(proc, "--index")
    assert not (ds_path(tmp_path) / "runs" / FLOW / "i1").exists()  # checked before writing
    task(tmp_path, flow, "start", "--run-id", "i2")
    for bad in ("x", "0.0", "-1", ""):
        proc, _ = task(tmp_path, flow, "body", "--run-id", "i2", "--index", bad)
        assert_usage_error(proc, "--index")
    proc, _ = task(tmp_path, flow, "body", "--run-id", "i2")  # no index at all
    assert_usage_error(proc, "--index")
    proc, _ = task(tmp_path, flow, "join", "--run-id", "i2", "--index", "1")  # outside any foreach
    assert_usage_error(proc, "--index")
    assert not (ds_path(tmp_path) / "runs" / FLOW / "i2" / "body").exists()


def test_an_index_inside_two_foreach_levels_needs_two_parts(tmp_path):
    proc, _ = task(tmp_path, FLOWS / "nested_flow.py", "inner", "--run-id", "n1", "--index", "1")
    assert_usage_error(proc, "--index", "2 foreach level")


def test_an_index_beyond_the_foreach_is_refused(tmp_path):
    # start produced 3 items; there is no body task 5. Accepting it either blames the user's
    # code (self.input raises IndexError) or, for a body that never reads self.input, commits
    # a task no join will ever read.
    flow = write_flow(tmp_path)
    task(tmp_path, flow, "start", "--run-id", "o1")
    proc, result = task(tmp_path, flow, "body", "--run-id", "o1", "--index", "5")
    assert proc.returncode == 2, (proc.returncode, result, proc.stderr)
    assert "Traceback" not in proc.stderr
    assert not task_dir(tmp_path, "o1", "body", "5").exists()


def test_a_run_id_cannot_leave_the_datastore(tmp_path):
    # run ids become folder names: one with path separators or ".." must be refused, not
    # resolved to a folder outside the datastore (or a run written into runs/<Flow>/ itself)
    flow = write_flow(tmp_path)
    for run_id in ("../../../escaped", "a/b", ""):
        proc, _ = task(tmp_path, flow, "start", "--run-id", run_id)
        assert proc.returncode == 2, (run_id, proc.stdout, proc.stderr)
    assert not (tmp_path / "escaped").exists()
    assert not (ds_path(tmp_path) / "runs" / FLOW / "run.json").exists()


# --- failures -------------------------------------------------------------------------------


def test_a_failing_task_records_its_attempt_and_never_commits(tmp_path):
    flow = write_flow(tmp_path, fail_on=2)
    proc, _ = task(tmp_path, flow, "start", "--run-id", "f1")
    assert proc.returncode == 0, proc.stderr
    where = task_dir(tmp_path, "f1", "body", "1")
    for attempt in (0, 1):
        args = ["--index", "1"] + (["--attempt", str(attempt)] if attempt else [])
        proc, result = task(tmp_path, flow, "body", "--run-id", "f1", *args)
        assert proc.returncode == 1, proc.stderr
        assert result is not None, proc.stdout
        assert result["status"] == "failed" and result["attempt"] == attempt
        assert "RuntimeError" in result["error"] and "body cannot take 2" in result["error"]
        assert result["next_steps"] == []
        record = json.loads((where / f"{attempt}.attempt.json").read_text())
        assert record["status"] == "failed" and record["attempt"] == attempt
        assert "body cannot take 2" in record["error"]
        log = (where / f"{attempt}.stderr").read_text()
        assert "RuntimeError: body cannot take 2" in log
        assert "contract_flow.py" in log  # the user's frame is in the traceback
        assert not (where / "task.json").exists()
    assert (where / "0.attempt.json").exists()  # the retry did not erase the first attempt
    assert Datastore(str(ds_path(tmp_path))).tasks(FLOW, "f1", "body") == []


def test_a_join_before_all_its_inputs_finished_names_the_missing_one(tmp_path):
    flow = write_flow(tmp_path)
    task(tmp_path, flow, "start", "--run-id", "j1")
    for i in (0, 2):
        proc, _ = task(tmp_path, flow, "body", "--run-id", "j1", "--index", str(i))
        assert proc.returncode == 0, proc.stderr
    proc, result = task(tmp_path, flow, "join", "--run-id", "j1")
    assert proc.returncode == 1
    assert result["status"] == "failed"
    assert "body/1" in result["error"] and "missing" in result["error"]
    assert "body/1" in proc.stderr
    assert not task_dir(tmp_path, "j1", "join", "0").joinpath("task.json").exists()
    # once the missing input is there, the same join succeeds
    task(tmp_path, flow, "body", "--run-id", "j1", "--index", "1")
    proc, result = task(tmp_path, flow, "join", "--run-id", "j1")
    assert proc.returncode == 0, proc.stderr
    assert artifact(tmp_path, "j1", "join", "0", "total") == 60


def test_a_static_join_before_its_inputs_finished_fails(tmp_path):
    flow = FLOWS / "split_flow.py"
    task(tmp_path, flow, "start", "--run-id", "sj")
    task(tmp_path, flow, "a", "--run-id", "sj")
    proc, result = task(tmp_path, flow, "join", "--run-id", "sj")
    assert proc.returncode == 1
    assert result["status"] == "failed" and "join" in result["error"]
    assert "found 1" in result["error"] and "expected 2" in result["error"]


# --- switch ---------------------------------------------------------------------------------


def test_the_switch_flow_task_by_task_reports_the_branch(tmp_path):
    flow = FLOWS / "switch_flow.py"
    proc, result = task(tmp_path, flow, "start", "--run-id", "s1", "--level", "low")
    assert proc.returncode == 0, proc.stderr
    assert result["branch"] == "low" and result["next_steps"] == ["low"]
    assert result["foreach_num_splits"] is None
    for step in ("low", "after", "end"):
        proc, result = task(tmp_path, flow, step, "--run-id", "s1")
        assert proc.returncode == 0, (step, proc.stderr)
        assert result["status"] == "ok"
    assert artifact(tmp_path, "s1", "after", "0", "seen", flow="SwitchFlow") == "low"


def test_the_step_after_a_switch_reads_the_branch_the_switch_took(tmp_path):
    # the switch chose "low"; a stray task of the other branch (a mistaken or duplicated call)
    # must not become the input of the step where the branches meet
    flow = FLOWS / "switch_flow.py"
    task(tmp_path, flow, "start", "--run-id", "s2", "--level", "low")
    task(tmp_path, flow, "low", "--run-id", "s2")
    task(tmp_path, flow, "high", "--run-id", "s2")
    proc, _ = task(tmp_path, flow, "after", "--run-id", "s2")
    assert proc.returncode == 0, proc.stderr
    assert artifact(tmp_path, "s2", "after", "0", "seen", flow="SwitchFlow") == "low"
