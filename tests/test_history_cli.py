"""`flowc runs`, `flowc logs`, `flowc dump`, `flowc tag`: real runs, the real CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import FLOWS, run_flow, run_flowc

LINEAR = FLOWS / "linear_flow.py"
RESUME = FLOWS / "resume_flow.py"


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("history")
    env = {
        "FLOWC_USER": "alice",
        "FLOWC_CACHE_DIR": str(root / "cache"),
        "START_LOG": str(root / "start.log"),
        "FAIL_MARKER": str(root / "fail"),
    }
    ids = {}
    ids["first"] = run_flow(LINEAR, "--tag", "exp1", cwd=root, env=env)[1]
    ids["bob"] = run_flow(LINEAR, cwd=root, env={**env, "FLOWC_USER": "bob"})[1]
    ids["second"] = run_flow(LINEAR, "--greeting", "yo", cwd=root, env=env)[1]
    (root / "fail").touch()
    ids["failed"] = run_flow(RESUME, cwd=root, env=env)[1]
    return root, env, ids


def flowc(runs, *args):
    root, env, _ = runs
    return run_flowc(*args, "--datastore", str(root / "ds"), cwd=root, env=env)


def test_runs_lists_recent_runs_of_the_user(runs):
    _, _, ids = runs
    proc = flowc(runs, "runs", "LinearFlow")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].split() == ["RUN", "STATUS", "STARTED", "DURATION", "USER", "TAGS"]
    assert lines[1].split()[:2] == [ids["second"], "succeeded"]
    assert lines[2].split()[:2] == [ids["first"], "succeeded"]
    assert lines[2].rstrip().endswith("exp1")
    assert "1 run by other users not shown; --all shows them" in lines[3]
    every = flowc(runs, "runs", "LinearFlow", "--all", "--json")
    rows = json.loads(every.stdout)
    assert [r["run_id"] for r in rows] == [ids["second"], ids["bob"], ids["first"]]
    assert rows[1]["user"] == "bob" and rows[2]["tags"] == ["exp1"]
    assert all(r["duration"] > 0 for r in rows)
    by_file = flowc(runs, "runs", str(LINEAR), "-n", "1")
    assert by_file.returncode == 0
    assert ids["second"] in by_file.stdout and ids["first"] not in by_file.stdout


def test_logs_of_a_task_and_of_a_step(runs):
    _, _, ids = runs
    proc = flowc(runs, "logs", f"LinearFlow/{ids['second']}/end/0")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "message: yoyo\n"
    step = flowc(runs, "logs", f"ResumeFlow/{ids['failed']}/work")
    assert f"--- ResumeFlow/{ids['failed']}/work/1 (stderr) ---" in step.stdout
    assert "RuntimeError: planned failure" in step.stdout
    assert "working on 1" in step.stdout
    only_err = flowc(runs, "logs", f"ResumeFlow/{ids['failed']}/work/1", "--stderr")
    assert "planned failure" in only_err.stdout and "working on" not in only_err.stdout


def test_dump_shows_types_sizes_and_reprs(runs):
    _, _, ids = runs
    proc = flowc(runs, "dump", f"LinearFlow/{ids['second']}/middle/0")
    assert proc.returncode == 0, proc.stderr
    lines = {line.split()[0]: line for line in proc.stdout.splitlines()[1:]}
    assert "str" in lines["message"] and "'yoyo'" in lines["message"]
    assert "list" in lines["seen"] and "['start', 'middle']" in lines["seen"]
    doc = json.loads(flowc(runs, "dump", f"LinearFlow/{ids['second']}", "--json").stdout)
    assert [t["pathspec"].split("/")[2] for t in doc] == ["start", "middle", "end"]
    message = next(a for a in doc[2]["artifacts"] if a["name"] == "message")
    assert message["type"] == "str" and message["repr"] == "'yoyo'" and message["size"] > 0
    failed = flowc(runs, "dump", f"ResumeFlow/{ids['failed']}/work/1")
    assert "(failed: no artifacts)" in failed.stdout


def test_tag_add_remove_list(runs):
    _, _, ids = runs
    spec = f"LinearFlow/{ids['second']}"
    proc = flowc(runs, "tag", "add", spec, "prod", "v2")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["prod", "user:alice", "v2"]
    flowc(runs, "tag", "remove", spec, "v2")
    assert flowc(runs, "tag", "list", spec).stdout.split() == ["prod", "user:alice"]
    listed = json.loads(flowc(runs, "runs", "LinearFlow", "--json").stdout)
    assert listed[0]["tags"] == ["prod"]


@pytest.mark.parametrize(
    "args, message",
    [
        (["logs", "LinearFlow"], "is not a pathspec"),
        (["logs", "NoFlow/1/start/0"], "flow 'NoFlow' has never run"),
        (["dump", "LinearFlow/999/start"], "LinearFlow has no run '999'"),
        (["runs", "Linearflow"], "did you mean 'LinearFlow'"),
        (["tag", "add", "LinearFlow/999"], "needs at least one TAG"),
        (["tag", "add", "LinearFlow/999", "x"], "LinearFlow has no run '999'"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(runs, args, message):
    proc = flowc(runs, *args)
    assert proc.returncode == 2, proc.stdout
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_a_run_of_another_flow_and_a_missing_datastore(runs, tmp_path):
    _, _, ids = runs
    proc = flowc(runs, "dump", f"LinearFlow/{ids['failed']}")
    assert proc.returncode == 2
    assert f"run {ids['failed']} is a run of ResumeFlow, not of LinearFlow" in proc.stderr
    proc = run_flowc("runs", "LinearFlow", cwd=tmp_path)
    assert proc.returncode == 2
    assert "no datastore at .flowc" in proc.stderr


def test_a_damaged_run_record_is_skipped_in_runs_and_named_in_dump(runs, tmp_path):
    import shutil

    root, env, ids = runs
    copy = tmp_path / "ds"
    shutil.copytree(root / "ds", copy)
    (copy / "runs" / "LinearFlow" / ids["first"] / "run.json").write_text("]")
    shutil.rmtree(copy / "runs" / "LinearFlow" / ".index")
    shutil.rmtree(copy / "runs" / "LinearFlow" / ".snapshot", ignore_errors=True)
    proc = run_flowc("runs", "LinearFlow", "--all", "--datastore", str(copy), env=env)
    assert proc.returncode == 0, proc.stderr
    assert ids["second"] in proc.stdout and ids["bob"] in proc.stdout
    assert ids["first"] not in proc.stdout
    assert "has a damaged record" in proc.stderr and ids["first"] in proc.stderr
    dump = run_flowc("dump", f"LinearFlow/{ids['first']}", "--datastore", str(copy), env=env)
    assert dump.returncode == 2
    assert f"{Path(ids['first'])}/run.json is damaged" in dump.stderr
