"""SIGTERM and SIGHUP stop `flowc run` as Ctrl-C does, and no worker outlives its executor,
even one killed with SIGKILL; such a run shows as died, and resume finishes it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

FLOW = """
import os, time
from flowc import FlowSpec, step


class SigFlow(FlowSpec):
    @step
    def start(self):
        self.kept = 41
        self.next(self.slow)

    @step
    def slow(self):
        if not os.environ.get("FAST"):
            with open(os.environ["PID_FILE"], "w") as f:
                f.write(str(os.getpid()))
            time.sleep(60)
        self.total = self.kept + 1
        self.next(self.end)

    @step
    def end(self):
        print("total", self.total)
"""


def flowc(*args, **kw):
    return [sys.executable, "-m", "flowc", *args]


def start(tmp_path):
    flow = tmp_path / "sig.py"
    flow.write_text(FLOW)
    pid_file = tmp_path / "pid"
    proc = subprocess.Popen(
        flowc("run", str(flow), "--datastore", "ds", "--run-id-file", "run-id"),
        cwd=tmp_path,
        env={**os.environ, "PID_FILE": str(pid_file)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.time() + 60
    while not (pid_file.exists() and pid_file.read_text()):
        assert time.time() < deadline and proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    return proc, int(pid_file.read_text()), (tmp_path / "run-id").read_text()


def gone(pid: int, within: float) -> bool:
    deadline = time.time() + within
    while time.time() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


def resume(tmp_path, run_id):
    done = subprocess.run(
        flowc("resume", "sig.py", "--origin-run-id", run_id, "--datastore", "ds"),
        cwd=tmp_path,
        env={**os.environ, "FAST": "1"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "total 42" in done.stdout
    return done


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_sigterm_and_sighup_stop_the_run_like_ctrl_c(tmp_path, sig):
    proc, worker, run_id = start(tmp_path)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + sig, out + err
    assert f"stopped by {signal.Signals(sig).name}; marked failed" in out
    assert "Traceback" not in err
    assert gone(worker, 1.0)
    run_dir = tmp_path / "ds" / "runs" / "SigFlow" / run_id
    status = json.loads((run_dir / "status.json").read_text())
    assert status["status"] == "failed"
    attempt = json.loads((run_dir / "slow" / "0" / "0.attempt.json").read_text())
    assert signal.Signals(sig).name in attempt["error"]
    assert "cloned" in resume(tmp_path, run_id).stdout


def test_workers_die_with_a_sigkilled_executor_and_the_run_can_be_resumed(tmp_path):
    proc, worker, run_id = start(tmp_path)
    proc.kill()
    proc.communicate(timeout=60)
    assert gone(worker, 3.0), "the worker outlived its executor"
    runs = subprocess.run(
        flowc("runs", "SigFlow", "--datastore", "ds", "--json"),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert runs.returncode == 0, runs.stderr
    assert json.loads(runs.stdout)[0]["status"] == "died"
    from flowc.cards.server import CardApp, route
    from flowc.datastore import Datastore

    app = CardApp(Datastore(str(tmp_path / "ds")), "SigFlow")
    doc = json.loads(route(app, f"/api/runs/{run_id}/status").body)
    assert (doc["status"], doc["live"]) == ("died", False)  # the page stops polling
    assert json.loads(route(app, "/api/runs").body)[0]["status"] == "died"
    done = resume(tmp_path, run_id)
    assert f"Resuming SigFlow/{run_id}" in done.stdout
