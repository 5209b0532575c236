"""`flowc resume`: finished tasks before the failed (or named) step are cloned by reference, the
rest runs again with the origin run's parameters. Everything through the real CLI."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from tests.conftest import FLOWS, artifacts, run_flow, run_flowc, run_python

FLOW = FLOWS / "resume_flow.py"


@pytest.fixture
def env(tmp_path, monkeypatch):
    """The flow's side channels: a start log (did start run?) and a failure marker."""
    values = {
        "START_LOG": str(tmp_path / "start.log"),
        "FAIL_MARKER": str(tmp_path / "fail"),
        "FLOWC_USER": "tester",
    }
    for k, v in values.items():
        monkeypatch.setenv(k, v)
    return values


def starts(env) -> list[str]:
    path = Path(env["START_LOG"])
    return path.read_text().split() if path.exists() else []


def resume(tmp_path, *args, flow=FLOW):
    return run_flowc(
        "resume",
        str(flow),
        "--datastore",
        str(tmp_path / "ds"),
        "--run-id-file",
        str(tmp_path / "resumed-id"),
        *args,
        cwd=tmp_path,
    )


def record(tmp_path, run_id, step, task="0", flow="ResumeFlow"):
    path = tmp_path / "ds" / "runs" / flow / run_id / step / task / "task.json"
    return json.loads(path.read_text())


def failed_run(tmp_path, env):
    Path(env["FAIL_MARKER"]).touch()
    proc, run_id = run_flow(FLOW, cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    Path(env["FAIL_MARKER"]).unlink()
    return run_id


def test_resume_after_a_failure_clones_start_and_succeeds(tmp_path, env):
    origin = failed_run(tmp_path, env)
    assert starts(env) == [origin]
    payload_ref = record(tmp_path, origin, "start")["artifacts"]["payload"]
    blob = tmp_path / "ds" / "blobs" / payload_ref["sha"][:2] / payload_ref["sha"][2:]
    before = blob.stat()

    proc = resume(tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    new = (tmp_path / "resumed-id").read_text()
    assert new != origin
    assert f"Resuming ResumeFlow/{origin}" in proc.stdout
    base = tmp_path / "ds" / "runs" / "ResumeFlow" / origin / "work"
    done = [i for i in range(3) if (base / str(i) / "task.json").exists()]
    assert f"{1 + len(done)} cloned" in proc.stdout  # start, and the items that succeeded
    # start did not run again; its artifacts are the same references, the blob untouched
    assert starts(env) == [origin]
    cloned = record(tmp_path, new, "start")
    assert cloned["artifacts"] == record(tmp_path, origin, "start")["artifacts"]
    assert cloned["origin_pathspec"] == f"ResumeFlow/{origin}/start/0"
    after = blob.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    # the failed item and what follows ran again, in the new run; items of the failed
    # foreach step that had succeeded were cloned by index (as Metaflow's resume does)
    for i in range(3):
        origin_of = record(tmp_path, new, "work", str(i)).get("origin_pathspec")
        assert origin_of == (f"ResumeFlow/{origin}/work/{i}" if i in done else None)
    assert 1 not in done
    end = artifacts(tmp_path, "ResumeFlow", new, "end")
    assert end["total"] == 0 + 1 + 4
    assert end["payload"] == artifacts(tmp_path, "ResumeFlow", origin, "start")["payload"]
    assert end["origin"] == origin  # current.origin_run_id
    run_record = json.loads(
        (tmp_path / "ds" / "runs" / "ResumeFlow" / new / "run.json").read_text()
    )
    assert run_record["origin_run_id"] == origin


def test_resume_a_step_reruns_from_it_and_matches_foreach_tasks_by_index(tmp_path, env):
    proc, origin = run_flow(FLOW, "--size", "4", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    proc = resume(tmp_path, "join", "--origin-run-id", origin)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    new = (tmp_path / "resumed-id").read_text()
    assert starts(env) == [origin]  # start was cloned, not run
    for i in range(4):
        rec = record(tmp_path, new, "work", str(i))
        assert rec["origin_pathspec"] == f"ResumeFlow/{origin}/work/{i}"
        assert rec["index"] == [i]
        assert artifacts(tmp_path, "ResumeFlow", new, "work", str(i))["square"] == i * i
    assert "origin_pathspec" not in record(tmp_path, new, "join")
    assert artifacts(tmp_path, "ResumeFlow", new, "end")["total"] == sum(i * i for i in range(4))
    assert artifacts(tmp_path, "ResumeFlow", new, "end")["size"] == 4  # the origin's parameter

    # resume from the first step re-runs everything
    proc = resume(tmp_path, "start", "--origin-run-id", origin)
    assert proc.returncode == 0, proc.stderr
    assert len(starts(env)) == 2


def test_resume_keeps_failing_when_the_bug_is_still_there(tmp_path, env):
    origin = failed_run(tmp_path, env)
    Path(env["FAIL_MARKER"]).touch()
    proc = resume(tmp_path)
    assert proc.returncode == 1
    new = (tmp_path / "resumed-id").read_text()
    # a second resume starts from the latest run (the failed resume), cloning start again
    Path(env["FAIL_MARKER"]).unlink()
    proc = resume(tmp_path)
    assert proc.returncode == 0, proc.stderr
    third = (tmp_path / "resumed-id").read_text()
    assert record(tmp_path, third, "start")["origin_pathspec"] == f"ResumeFlow/{new}/start/0"
    assert starts(env) == [origin]


def test_python_flow_resume(tmp_path, env):
    origin = failed_run(tmp_path, env)
    proc = run_python(str(FLOW), "resume", "--datastore", str(tmp_path / "ds"), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert f"Resuming ResumeFlow/{origin}" in proc.stdout
    assert starts(env) == [origin]


def test_resuming_a_succeeded_run_says_there_is_nothing_to_resume(tmp_path, env):
    proc, origin = run_flow(FLOW, cwd=tmp_path)
    assert proc.returncode == 0
    proc = resume(tmp_path)
    assert proc.returncode == 2
    assert f"run ResumeFlow/{origin} succeeded: there is nothing to resume" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_parameters_cannot_be_changed_on_resume(tmp_path, env):
    failed_run(tmp_path, env)
    proc = resume(tmp_path, "--size", "5")
    assert proc.returncode == 2
    assert "resume takes the parameters of the run it resumes" in proc.stderr
    assert "--size" in proc.stderr


@pytest.mark.parametrize(
    "args, message",
    [
        (["--origin-run-id", "123"], "ResumeFlow has no run '123'"),
        (["nosuchstep"], "ResumeFlow has no step 'nosuchstep'"),
        (["--origin-run-id", "../x"], "cannot name a folder"),
    ],
)
def test_bad_resume_input_is_one_line_exit_2(tmp_path, env, args, message):
    failed_run(tmp_path, env)
    proc = resume(tmp_path, *args)
    assert proc.returncode == 2, proc.stdout
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_flow_that_never_ran_or_another_users_runs(tmp_path, env):
    proc = resume(tmp_path)
    assert proc.returncode == 2
    assert "ResumeFlow has no run by tester" in proc.stderr
    failed_run(tmp_path, env)
    other = run_flowc(
        "resume", str(FLOW), "--datastore", str(tmp_path / "ds"), env={"FLOWC_USER": "someone"}
    )
    assert other.returncode == 2
    assert "has no run by someone" in other.stderr


def test_a_run_id_of_another_flow_is_named(tmp_path, env):
    proc, linear = run_flow(FLOWS / "linear_flow.py", cwd=tmp_path)
    assert proc.returncode == 0
    proc = resume(tmp_path, "--origin-run-id", linear)
    assert proc.returncode == 2
    assert f"run {linear} is a run of LinearFlow, not of ResumeFlow" in proc.stderr


def test_a_changed_graph_cannot_be_resumed(tmp_path, env):
    flow = tmp_path / "flow.py"
    shutil.copy(FLOW, flow)
    Path(env["FAIL_MARKER"]).touch()
    proc, origin = run_flow(flow, cwd=tmp_path)
    assert proc.returncode == 1
    src = flow.read_text()
    src = src.replace(
        "self.next(self.end)\n\n    @step\n    def end",
        "self.next(self.extra)\n\n"
        "    @step\n    def extra(self):\n        self.next(self.end)\n\n"
        "    @step\n    def end",
    )
    flow.write_text(src)
    proc = resume(tmp_path, flow=flow)
    assert proc.returncode == 2, proc.stdout
    assert "the flow's graph changed since that run (step 'extra' was added)" in proc.stderr
    # changing code inside a step is what resume is for
    flow.write_text(FLOW.read_text().replace("planned failure", "still failing"))
    proc = resume(tmp_path, flow=flow)
    assert proc.returncode == 1  # the marker is still there: it ran, and failed again
    assert "still failing" in proc.stdout + proc.stderr


def test_a_damaged_origin_record_is_reported(tmp_path, env):
    origin = failed_run(tmp_path, env)
    (tmp_path / "ds" / "runs" / "ResumeFlow" / origin / "run.json").write_text("{not json")
    proc = resume(tmp_path, "--origin-run-id", origin)
    assert proc.returncode == 2
    assert "damaged" in proc.stderr and origin in proc.stderr
    assert "Traceback" not in proc.stderr
    assert os.path.exists(tmp_path / "ds")
