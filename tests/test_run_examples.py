"""Every example runs under ``flowc run`` and stores the artifacts Metaflow would (the same
printed results that tests/test_examples_reference.py sees from Metaflow itself)."""

from __future__ import annotations

import pytest

from tests.conftest import EXAMPLES, artifacts, run_flow, run_python
from tests.test_examples_reference import EXPECTED


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_flowc_runs_the_example(tmp_path, name):
    proc, run_id = run_flow(EXAMPLES / name, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert EXPECTED[name] in proc.stdout
    assert "succeeded in" in proc.stdout and run_id in proc.stdout


def test_lr_flow_trains_and_stores_the_model(tmp_path):
    proc, run_id = run_flow(
        EXAMPLES / "lr_flow.py", "--alpha", "0.02", "--max-iter", "300", cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    choose = artifacts(tmp_path, "LRFlow", run_id, "choose")
    from sklearn.linear_model import ElasticNet

    assert isinstance(choose["model"], ElasticNet)
    assert choose["model"].alpha == 0.02 and choose["model"].max_iter == 300
    assert set(choose["scores"]) == {0.1, 0.5, 0.9}
    assert choose["l1_ratio"] == max(choose["scores"], key=choose["scores"].get)
    assert 0.3 < choose["metrics"]["r2"] < 0.6
    assert choose["metrics"]["mse"] > 0
    # the model predicts with what was stored: the artifact is the fitted estimator
    assert choose["model"].predict(choose["X_test"]).shape == choose["y_test"].shape
    train = artifacts(tmp_path, "LRFlow", run_id, "train", "2")
    assert train["l1_ratio"] == 0.9 and train["alpha"] == 0.02


def test_examples_foreach(tmp_path):
    _, run_id = run_flow(EXAMPLES / "foreach_flow.py", "--count", "4", cwd=tmp_path)
    assert artifacts(tmp_path, "ForeachFlow", run_id, "join")["squares"] == [1, 4, 9, 16]


def test_examples_nested_foreach(tmp_path):
    _, run_id = run_flow(EXAMPLES / "nested_foreach_flow.py", cwd=tmp_path)
    assert artifacts(tmp_path, "NestedForeachFlow", run_id, "score", "1.2")["where"] == (1, 2)
    means = artifacts(tmp_path, "NestedForeachFlow", run_id, "compare")["means"]
    assert means == pytest.approx({"ridge": 5.1, "lasso": 5.1})


def test_examples_branch_and_switch(tmp_path):
    _, run_id = run_flow(EXAMPLES / "branch_flow.py", cwd=tmp_path)
    join = artifacts(tmp_path, "BranchFlow", run_id, "join")
    assert (join["sum"], join["low"], join["high"]) == (31, 1, 9)
    _, run_id = run_flow(EXAMPLES / "switch_flow.py", "--value", "3", cwd=tmp_path)
    assert artifacts(tmp_path, "SwitchFlow", run_id, "report")["summary"] == "low: 3 is small"


def test_python_flow_file_run_is_the_same_entry_point(tmp_path):
    proc = run_python(
        str(EXAMPLES / "foreach_flow.py"),
        "run",
        "--count",
        "3",
        "--datastore",
        str(tmp_path / "ds"),
        "--run-id-file",
        str(tmp_path / "rid"),
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    run_id = (tmp_path / "rid").read_text()
    assert artifacts(tmp_path, "ForeachFlow", run_id, "join")["squares"] == [1, 4, 9]
