from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest_plugins = ["tests.services.s3_server"]  # the `s3` fixture: moto's S3 server

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Each test gets its own IR cache, so no test sees another's cached analysis."""
    monkeypatch.setenv("FLOWC_CACHE_DIR", str(tmp_path_factory.mktemp("flowc-cache")))
    monkeypatch.delenv("FLOWC_NO_CACHE", raising=False)
    monkeypatch.delenv("FLOWC_DEBUG", raising=False)


def run_flowc(*args: str, cwd: str | os.PathLike | None = None, env: dict | None = None):
    """The real command, in its own process, as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "flowc", *args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
    )


def run_python(*args: str, cwd: str | os.PathLike | None = None):
    return subprocess.run(
        [sys.executable, *args], cwd=cwd, capture_output=True, text=True, timeout=120
    )


FLOWS = Path(__file__).resolve().parent / "flows"


def run_flow(flow_file, *args: str, cwd, env: dict | None = None):
    """``flowc run`` with its datastore and run id file in ``cwd``; returns (process, run id)."""
    id_file = Path(cwd) / "run-id"
    if id_file.exists():
        id_file.unlink()
    proc = run_flowc(
        "run",
        str(flow_file),
        "--datastore",
        str(Path(cwd) / "ds"),
        "--run-id-file",
        str(id_file),
        *args,
        cwd=cwd,
        env=env,
    )
    run_id = id_file.read_text() if id_file.exists() else None
    return proc, run_id


def artifacts(cwd, flow: str, run_id: str, step: str, task: str = "0") -> dict:
    """Every artifact of a committed task, loaded from the datastore the run wrote."""
    from flowc.datastore import Datastore

    ds = Datastore(str(Path(cwd) / "ds"))
    record = ds.task_record(flow, run_id, step, task)
    assert record is not None, f"{flow}/{run_id}/{step}/{task} has no task.json"
    return {name: ds.get(ref["sha"]) for name, ref in record["artifacts"].items()}


from tests.services.airflow_deployment import airflow_deployment  # noqa: E402, F401 - session fixture
