"""What compiling bakes into a deployed flow: absolute defaults named in one warning (Airflow's
bash operator, tasks on this machine), one rule for containerised targets (an image and a
datastore every pod reaches), and the deployer and target recorded on every run."""

from __future__ import annotations

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
    proc = run_flowc("compile", str(EXAMPLES / "branch_flow.py"), "--target", "kfp", "-o", str(tmp_path))
    assert proc.returncode == 2, proc.stderr
    assert "error[kfp-image]" in proc.stderr and "error[kfp-datastore]" in proc.stderr
    assert "Traceback" not in proc.stderr and not list(tmp_path.iterdir())


def test_airflow_defaults_are_absolute_and_named_in_one_warning(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    proc = run_flowc(
        "compile", str(EXAMPLES / "lr_flow.py"), "--target", "airflow", "-o", "dags/", cwd=work,
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
        "compile", str(EXAMPLES / "lr_flow.py"), "--target", "airflow", "-o", "d2/",
        "--datastore", "store", cwd=work,
    )
    assert repr(os.path.join(str(work), "store")) in (work / "d2" / "LRFlow.py").read_text()
