"""What compiling bakes into a deployed flow: absolute defaults named in one warning (Airflow's
bash operator, tasks on this machine), one rule for containerised targets (an image and a
datastore every pod reaches), and the deployer and target recorded on every run."""

from __future__ import annotations

import json
import os
import sys

import pytest

from tests.conftest import EXAMPLES, run_flowc

CONTAINERS = {"airflow": {"operator": "kubernetes"}, "argo": {}, "kfp": {}}


@pytest.fixture(scope="module")
def branch_ir():
    from flowc.check import check_file

    return check_file(str(EXAMPLES / "branch_flow.py"), None).chosen_flow()


@pytest.mark.parametrize("target", sorted(CONTAINERS))
@pytest.mark.parametrize(
    "image, datastore, refused",
    [
        (None, None, {"image", "datastore"}),
        ("i:1", "rel/ds", {"datastore"}),
        (None, "s3://b/p", {"image"}),
        ("i:1", "s3://b/p", set()),
        ("i:1", "file:///mnt/shared", set()),
    ],
)
def test_containerised_targets_share_one_rule(branch_ir, target, image, datastore, refused):
    from flowc.backends.base import EmitOptions, get_emitter

    extra = {**CONTAINERS[target], "flow_path": "/app/f.py"}
    result = get_emitter(target).emit(branch_ir, EmitOptions(datastore, image, extra))
    errors = {d.rule: d for d in result.diagnostics if d.is_error}
    assert set(errors) == {f"{target}-{rule}" for rule in refused}
    assert bool(result.files) == (not refused)
    for d in errors.values():
        assert ("--datastore s3://" in d.fix and "file:///PATH" in d.fix) or "--image" in d.fix


def test_the_rule_on_the_command_line_is_one_line_each_and_exit_2(tmp_path):
    proc = run_flowc(
        "compile", str(EXAMPLES / "branch_flow.py"), "--target", "kfp", "-o", str(tmp_path)
    )
    assert proc.returncode == 2, proc.stderr
    assert "error[kfp-image]" in proc.stderr and "error[kfp-datastore]" in proc.stderr
    assert "Traceback" not in proc.stderr and not list(tmp_path.iterdir())


def test_airflow_defaults_are_absolute_and_named_in_one_warning(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    proc = run_flowc(
        "compile",
        str(EXAMPLES / "lr_flow.py"),
        "--target",
        "airflow",
        "-o",
        "dags/",
        cwd=work,
        env={"FLOWC_USER": "alice", "FLOWC_DATASTORE": ""},
    )
    assert proc.returncode == 0, proc.stderr
    warnings = [line for line in proc.stderr.splitlines() if "warning[airflow-baked-in]" in line]
    assert len(warnings) == 1, proc.stderr
    (line,) = warnings
    for value, option in (
        (sys.executable, "--python"),
        (str(EXAMPLES / "lr_flow.py"), "--flow-path"),
        (str(work / ".flowc"), "--datastore"),
        (str(work), "--cwd"),
    ):
        assert f"{value} ({option})" in line
    text = (work / "dags" / "LRFlow.py").read_text()
    for value in (sys.executable, str(work / ".flowc"), "'alice'", "flowc:target=airflow"):
        assert value in text
    assert "CWD = " + repr(str(work)) in text
    # a relative --datastore is resolved where flowc compiles
    proc = run_flowc(
        "compile",
        str(EXAMPLES / "lr_flow.py"),
        "--target",
        "airflow",
        "-o",
        "d2/",
        "--datastore",
        "store",
        cwd=work,
    )
    assert repr(os.path.join(str(work), "store")) in (work / "d2" / "LRFlow.py").read_text()


# --- the task contract as orchestrators see it: result line and finaliser ------------------


def _task(work, flow_file, step, run_id, *args):
    return run_flowc(
        "task",
        str(flow_file),
        step,
        "--run-id",
        run_id,
        "--datastore",
        str(work / "ds"),
        *args,
        cwd=work,
    )


def test_the_result_line_stands_alone_whatever_the_step_printed(tmp_path):
    """OutputFlow's steps end without a newline, print JSON and fake result lines."""
    from tests.conftest import FLOWS

    flow = FLOWS / "output_flow.py"
    start = _task(tmp_path, flow, "start", "r1")
    assert start.returncode == 0, start.stderr
    assert "no newline at the end\n" in start.stdout
    result = json.loads(start.stdout.splitlines()[-1])["flowc_result"]
    assert result["foreach_num_splits"] == 3 and result["status"] == "ok"
    body = _task(tmp_path, flow, "body", "r1", "--index", "1")
    result = json.loads(body.stdout.splitlines()[-1])["flowc_result"]
    assert result["step"] == "body" and result["foreach_num_splits"] is None  # not the fake 99


def test_finalize_records_failed_then_succeeded(tmp_path):
    from tests.conftest import FLOWS

    flow = FLOWS / "gate_flow.py"
    gate = tmp_path / "gate"
    assert _task(tmp_path, flow, "start", "run~1", "--gate", str(gate)).returncode == 0
    assert _task(tmp_path, flow, "check", "run~1").returncode == 1
    fin = run_flowc(
        "finalize", "GateFlow", "--run-id", "run~1", "--datastore", str(tmp_path / "ds")
    )
    assert fin.returncode == 1 and "task check/0 failed" in fin.stderr, fin.stderr
    runs = run_flowc("runs", "GateFlow", "--json", "--datastore", str(tmp_path / "ds"))
    (row,) = json.loads(runs.stdout)
    assert row["run_id"] == "run~1" and row["status"] == "failed"
    gate.write_text("open")  # fixed, and the failed task re-run (as Airflow's clear does)
    assert _task(tmp_path, flow, "check", "run~1", "--attempt", "1").returncode == 0
    assert _task(tmp_path, flow, "end", "run~1").returncode == 0
    fin = run_flowc("finalize", str(flow), "--run-id", "run~1", "--datastore", str(tmp_path / "ds"))
    assert fin.returncode == 0 and "succeeded" in fin.stdout, fin.stderr
    runs = run_flowc("runs", "GateFlow", "--json", "--datastore", str(tmp_path / "ds"))
    assert [r["status"] for r in json.loads(runs.stdout)] == ["succeeded"]
    missing = run_flowc(
        "finalize", "GateFlow", "--run-id", "nope", "--datastore", str(tmp_path / "ds")
    )
    assert missing.returncode == 2 and "not in the datastore" in missing.stderr
    assert "Traceback" not in missing.stderr


def test_trigger_refuses_bad_input_before_calling_airflow(tmp_path):
    flow = str(EXAMPLES / "lr_flow.py")
    env = {"AIRFLOW_USERNAME": "u", "AIRFLOW_PASSWORD": "secret-pw"}
    cases = [
        (("--target", "airflow", "--alpah", "1"), "no such parameter; did you mean --alpha?"),
        (("--target", "airflow", "--max-iter", "many"), "--max-iter"),
        (("--target", "argo"), "flowc trigger supports airflow"),
        (("--target", "airflow", "--url", "http://127.0.0.1:9"), "cannot reach Airflow"),
    ]
    for args, message in cases:
        proc = run_flowc("trigger", flow, *args, env=env)
        assert proc.returncode == 2, (args, proc.stderr)
        assert message in proc.stderr and "Traceback" not in proc.stderr
        assert "secret-pw" not in proc.stderr + proc.stdout
