"""A run never corrupts what earlier tasks stored: a task killed mid-step, Ctrl-C, two runs
started together, values that cannot be stored, and misuse of the flow API inside a step."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import artifacts, run_flow

SLOW_FLOW = """
import os, time
from flowc import FlowSpec, step


class SlowFlow(FlowSpec):
    @step
    def start(self):
        self.kept = {"numbers": list(range(1000))}
        self.next(self.slow)

    @step
    def slow(self):
        self.partial = "never stored"
        with open(os.environ["PID_FILE"], "w") as f:
            f.write(str(os.getpid()))
        time.sleep(60)
        self.next(self.end)

    @step
    def end(self):
        pass
"""


def start_slow_run(tmp_path):
    flow = tmp_path / "slow.py"
    flow.write_text(SLOW_FLOW)
    pid_file = tmp_path / "pid"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "flowc",
            "run",
            str(flow),
            "--datastore",
            str(tmp_path / "ds"),
            "--run-id-file",
            str(tmp_path / "run-id"),
        ],
        cwd=tmp_path,
        env={**os.environ, "PID_FILE": str(pid_file)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # as from a terminal: a shell without job control (CI in the background) starts
        # commands with SIGINT ignored, and Python then never raises KeyboardInterrupt
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.time() + 60
    while not (pid_file.exists() and pid_file.read_text()):
        assert time.time() < deadline and proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    return proc, int(pid_file.read_text()), (tmp_path / "run-id").read_text()


def assert_failed_cleanly(tmp_path, run_id):
    ds = tmp_path / "ds"
    run_dir = ds / "runs" / "SlowFlow" / run_id
    status = json.loads((run_dir / "status.json").read_text())
    assert status["status"] == "failed"
    # what the earlier task stored is intact and readable
    assert artifacts(tmp_path, "SlowFlow", run_id, "start")["kept"] == {
        "numbers": list(range(1000))
    }
    # the killed task left no result: no task.json, no temporary files anywhere
    assert not (run_dir / "slow" / "0" / "task.json").exists()
    attempt = json.loads((run_dir / "slow" / "0" / "0.attempt.json").read_text())
    assert attempt["status"] == "failed"
    assert not [p for p in ds.rglob(".*") if p.is_file()]
    assert not (run_dir / "end").exists()
    return attempt


def test_sigkill_of_a_worker_fails_the_run_and_keeps_earlier_results(tmp_path):
    proc, pid, run_id = start_slow_run(tmp_path)
    os.kill(pid, signal.SIGKILL)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1, out + err
    assert "killed by SIGKILL" in out
    attempt = assert_failed_cleanly(tmp_path, run_id)
    assert "SIGKILL" in attempt["error"]


def test_ctrl_c_stops_workers_and_marks_the_run_failed(tmp_path):
    proc, pid, run_id = start_slow_run(tmp_path)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, out + err
    assert "interrupted" in out
    assert "Traceback" not in err
    assert_failed_cleanly(tmp_path, run_id)
    with pytest.raises(ProcessLookupError):  # the worker is gone too
        os.kill(pid, 0)


def test_two_runs_started_together_get_different_ids(tmp_path):
    flow = Path(__file__).parent / "flows" / "split_flow.py"
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "flowc",
                "run",
                str(flow),
                "--datastore",
                str(tmp_path / "ds"),
                "--run-id-file",
                str(tmp_path / f"id{i}"),
            ],
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(3)
    ]
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, out + err
    ids = [(tmp_path / f"id{i}").read_text() for i in range(3)]
    assert len(set(ids)) == 3
    for run_id in ids:
        assert artifacts(tmp_path, "SplitFlow", run_id, "end")["total"] == 33


def test_claimed_run_ids_never_collide(tmp_path):
    from flowc.datastore import Datastore
    from flowc.runtime.runs import _claim_run_id

    ds = Datastore(str(tmp_path / "ds"))
    ids = [_claim_run_id(ds, "F") for _ in range(200)]
    assert len(set(ids)) == 200


def write_flow(tmp_path, body: str, name="misuse.py"):
    flow = tmp_path / name
    flow.write_text(
        "import threading\nfrom flowc import FlowSpec, step\n\nclass MisuseFlow(FlowSpec):\n" + body
    )
    return flow


def test_unpicklable_artifact_names_the_artifact_and_its_type(tmp_path):
    flow = write_flow(
        tmp_path,
        "    @step\n    def start(self):\n        self.lock = threading.Lock()\n"
        "        self.next(self.end)\n\n    @step\n    def end(self):\n        pass\n",
    )
    proc, _ = run_flow(flow, cwd=tmp_path)
    assert proc.returncode == 1
    assert "artifact 'lock' of type _thread.lock cannot be stored" in proc.stdout


def test_empty_foreach_fails_clearly(tmp_path):
    flow = write_flow(
        tmp_path,
        "    @step\n    def start(self):\n        self.items = []\n"
        "        self.next(self.body, foreach='items')\n\n"
        "    @step\n    def body(self):\n        self.next(self.join)\n\n"
        "    @step\n    def join(self, inputs):\n        self.next(self.end)\n\n"
        "    @step\n    def end(self):\n        pass\n",
    )
    proc, _ = run_flow(flow, cwd=tmp_path)
    assert proc.returncode == 1
    assert "foreach over self.items has no items" in proc.stdout


def test_runs_on_an_fsspec_url(tmp_path):
    flow = Path(__file__).parent / "flows" / "nested_flow.py"
    url = f"file://{tmp_path}/remote"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "flowc",
            "run",
            str(flow),
            "--datastore",
            url,
            "--run-id-file",
            str(tmp_path / "rid"),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    from flowc.datastore import Datastore

    ds = Datastore(url)
    run_id = (tmp_path / "rid").read_text()
    record = ds.task_record("NestedFlow", run_id, "join_all", "0")
    assert ds.get(record["artifacts"]["side_value"]["sha"]) == 7
    assert type(ds.storage).__name__ == "FsspecStorage"


BIG_FLOW = """
import numpy as np
from flowc import FlowSpec, step


class BigFlow(FlowSpec):
    @step
    def start(self):
        self.a = np.random.default_rng(0).random(4 * 2**20)  # 32 MiB, incompressible
        self.next(self.end)

    @step
    def end(self):
        self.total = float(self.a.sum())
        self.a[0] = -1.0  # mutating a loaded artifact stores the new value
"""


def test_same_array_in_two_runs_is_stored_once(tmp_path):
    flow = tmp_path / "big.py"
    flow.write_text(BIG_FLOW)
    proc, first = run_flow(flow, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr

    def blob_bytes():
        return sum(p.stat().st_size for p in (tmp_path / "ds" / "blobs").rglob("*"))

    size = blob_bytes()
    assert 2 * 32 * 2**20 <= size < 2 * 33 * 2**20  # the array, and its mutated copy
    proc, second = run_flow(flow, cwd=tmp_path)
    assert proc.returncode == 0
    assert blob_bytes() - size < 64 * 1024  # nothing big stored again
    start = artifacts(tmp_path, "BigFlow", second, "start")
    end = artifacts(tmp_path, "BigFlow", second, "end")
    assert start["a"][0] != -1.0 and end["a"][0] == -1.0
    assert end["total"] == pytest.approx(float(start["a"].sum()))


def test_a_step_that_ignores_its_timeout_is_killed(tmp_path):
    """@timeout interrupts Python code with a signal; code that blocks the signal (as C code
    can) is killed from outside a few seconds later, and counts as failed."""
    flow = write_flow(
        tmp_path,
        "    @step\n    def start(self):\n        self.next(self.stuck)\n\n"
        "    @timeout(seconds=1)\n    @step\n    def stuck(self):\n"
        "        import signal, time\n"
        "        signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGALRM])\n"
        "        time.sleep(60)\n        self.next(self.end)\n\n"
        "    @step\n    def end(self):\n        pass\n",
    )
    flow.write_text(
        flow.read_text().replace("import FlowSpec, step", "import FlowSpec, step, timeout")
    )
    started = time.time()
    proc, run_id = run_flow(flow, cwd=tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert time.time() - started < 30
    assert "timed out after 1 s (@timeout); the task was killed" in proc.stdout
    assert not (
        tmp_path / "ds" / "runs" / "MisuseFlow" / run_id / "stuck" / "0" / "task.json"
    ).exists()
