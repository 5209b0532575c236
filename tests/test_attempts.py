"""Every attempt of a task is reachable: `flowc logs --attempt N / --all-attempts`, and the
card server's task page (each attempt's logs and error, a caught exception marked). The card
server's live view of a foreach counts the tasks the split made, draws the fan-out, and an
unknown flow is refused as `flowc runs` refuses it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from flowc.cards.server import CardApp, route
from flowc.datastore import Datastore
from tests.conftest import run_flow, run_flowc

RETRY_FLOW = """
from flowc import FlowSpec, catch, current, retry, step


class AttemptFlow(FlowSpec):
    @retry(times=2, minutes_between_retries=0)
    @step
    def start(self):
        print("output of attempt", current.retry_count)
        if current.retry_count < 2:
            raise RuntimeError(f"flaky {current.retry_count}")
        self.next(self.risky)

    @catch(var="err")
    @step
    def risky(self):
        print("risky goes first")
        raise KeyError("boom")
        self.next(self.end)

    @step
    def end(self):
        pass
"""

WIDE_FLOW = """
import os, time
from flowc import FlowSpec, step


class WideFlow(FlowSpec):
    @step
    def start(self):
        self.items = list(range(6))
        self.next(self.body, foreach="items")

    @step
    def body(self):
        deadline = time.time() + 60
        while not os.path.exists(os.environ["RELEASE"]) and time.time() < deadline:
            time.sleep(0.05)
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass
"""


@pytest.fixture(scope="module")
def retried(tmp_path_factory):
    work = tmp_path_factory.mktemp("attempts")
    (work / "flow.py").write_text(RETRY_FLOW)
    proc, run_id = run_flow(work / "flow.py", cwd=work)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return work, run_id


def logs(work, *args):
    return run_flowc("logs", *args, "--datastore", str(work / "ds"), cwd=work)


def test_logs_of_one_attempt(retried):
    work, run_id = retried
    task = f"AttemptFlow/{run_id}/start/0"
    assert logs(work, task, "--stdout").stdout == "output of attempt 2\n"  # the one that counted
    first = logs(work, task, "--attempt", "0")
    assert first.returncode == 0
    assert first.stdout == "output of attempt 0\n" and "RuntimeError: flaky 0" in first.stderr
    missing = logs(work, task, "--attempt", "3")
    assert missing.returncode == 2
    said = f"flowc: error: task {task} has no attempt 3 (its attempts: 0, 1, 2)\n"
    assert missing.stderr == said
    both = logs(work, task, "--attempt", "1", "--all-attempts")
    assert both.returncode == 2 and "not both" in both.stderr


def test_logs_of_all_attempts_under_headers(retried):
    work, run_id = retried
    out = logs(work, f"AttemptFlow/{run_id}", "--all-attempts", "--stdout").stdout
    base = f"--- AttemptFlow/{run_id}"
    expected = [
        f"{base}/start/0 (attempt 0, failed: RuntimeError: flaky 0, stdout) ---",
        "output of attempt 0",
        f"{base}/start/0 (attempt 1, failed: RuntimeError: flaky 1, stdout) ---",
        "output of attempt 1",
        f"{base}/start/0 (attempt 2, succeeded, stdout) ---",
        "output of attempt 2",
    ]
    assert out.splitlines()[:6] == expected
    assert "risky/0 (attempt 0, succeeded, its exception caught by @catch" in out


def test_task_page_lists_every_attempt_with_its_logs(retried):
    work, run_id = retried
    app = CardApp(Datastore(str(work / "ds")), "AttemptFlow")
    page = route(app, f"/runs/{run_id}/start/0").body.decode()
    for n in (0, 1, 2):
        assert f'<tr data-attempt="{n}">' in page
    assert '<pre id="log-0-stdout">output of attempt 0\n</pre>' in page
    assert "RuntimeError: flaky 1" in page.split('id="log-1-stderr">')[1].split("</pre>")[0]
    assert '<pre id="log-stdout">output of attempt 2\n</pre>' in page  # the last one
    caught = route(app, f"/runs/{run_id}/risky/0").body.decode()
    assert 'class="status status-caught"' in caught
    assert 'class="status status-caught"' not in page


def test_live_foreach_counts_the_split_width_and_draws_the_fan_out(tmp_path):
    (tmp_path / "wide.py").write_text(WIDE_FLOW)
    release = tmp_path / "release"
    proc = subprocess.Popen(
        [sys.executable, "-m", "flowc", "run", "wide.py", "--datastore", "ds"]
        + ["--run-id-file", "run-id", "--max-workers", "2"],
        cwd=tmp_path,
        env={**os.environ, "RELEASE": str(release)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while not (tmp_path / "run-id").exists() or not (tmp_path / "run-id").read_text():
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.05)
        run_id = (tmp_path / "run-id").read_text()
        app = CardApp(Datastore(str(tmp_path / "ds")), "WideFlow")

        def steps():
            doc = json.loads(route(app, f"/api/runs/{run_id}/status").body)
            return {s["name"]: s for s in doc["steps"]}, doc

        while steps()[0]["start"]["state"] != "succeeded":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        (now, doc) = steps()
        assert now["body"]["state"] == "running"
        assert (now["body"]["done"], now["body"]["tasks"]) == (0, 6)  # not 2/2
        assert now["join"]["tasks"] == 0 and now["join"]["state"] == "pending"
        assert 'class="foreach-edge" data-foreach="items"' in doc["svg"]
        assert "foreach items</text>" in doc["svg"]
        page = route(app, f"/runs/{run_id}").body.decode()
        assert 'data-role="done">0/6<' in page
    finally:
        release.write_text("go")
        proc.wait(60)
    assert proc.returncode == 0
    done, _ = steps()
    assert (done["body"]["done"], done["body"]["tasks"]) == (6, 6)


def test_card_server_refuses_an_unknown_flow_like_runs(tmp_path):
    (tmp_path / "ds").mkdir()
    served = run_flowc(
        "card", "server", "NoSuchFlow", "--datastore", "ds", "--port", "0", cwd=tmp_path
    )
    listed = run_flowc("runs", "NoSuchFlow", "--datastore", "ds", cwd=tmp_path)
    assert served.returncode == listed.returncode == 2
    assert served.stderr == listed.stderr and "has never run" in served.stderr
