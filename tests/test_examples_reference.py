"""The examples are real Metaflow flows: Metaflow 2.19.39 itself runs each one to the end,
with its `from flowc import` line read as `from metaflow import`. This keeps them honest as
the reference flows flowc's own executor and backends must reproduce."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import EXAMPLES

EXPECTED = {
    "converge_flow.py": "10 epochs: y = 2.895x + 2.117",
    "lr_flow.py": "test R^2=",
    "branch_flow.py": "8 numbers: total 31, range 1..9",
    "foreach_flow.py": "[1, 4, 9, 16, 25]",
    "nested_foreach_flow.py": "'ridge': 5.1",
    "switch_flow.py": "high: 42 is large",
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_metaflow_runs_the_example(tmp_path, name):
    src = (EXAMPLES / name).read_text()
    assert "from flowc import" in src
    flow = tmp_path / name
    flow.write_text(src.replace("from flowc import", "from metaflow import"))
    env = {
        **os.environ,
        "METAFLOW_DEFAULT_DATASTORE": "local",
        "METAFLOW_DEFAULT_METADATA": "local",
        "USERNAME": "tester",
        "METAFLOW_HOME": str(tmp_path / "home"),
    }
    proc = subprocess.run(
        [sys.executable, str(flow), "--no-pylint", "run"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    assert EXPECTED[name] in out
