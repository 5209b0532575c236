"""Flows on a real Airflow 3.3.2 deployment (scheduler + dag-processor + api-server, the
session fixture in ``tests/services/airflow_deployment.py``), compiled exactly as the README's
"Deploy to Airflow" section says: ``flowc compile FLOW --target airflow -o dags/`` with no
options. Every DAG run is triggered over the REST API (one through ``flowc trigger --wait``)
before any is waited for, so they run together; each ends in flowc's records as on Airflow, and
every task stored the same artifacts (content hashes) as ``flowc run`` of the same flow and
parameters.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES, FLOWS
from tests.test_airflow_run import stored

HOSTILE = 'it\'s "quoted"\nsecond line {{ ds }} {% raw %} $(touch /tmp/flowc-pwned) `id` \\ ;|&'

# name -> (flow file, flow/DAG id, conf, the same parameters for flowc run)
RUNS = {
    "lr": (
        EXAMPLES / "lr_flow.py",
        "LRFlow",
        {"alpha": 0.02, "seed": 7},
        ["--alpha", "0.02", "--seed", "7"],
    ),
    "foreach": (EXAMPLES / "foreach_flow.py", "ForeachFlow", {"count": 4}, ["--count", "4"]),
    "nested": (EXAMPLES / "nested_foreach_flow.py", "NestedForeachFlow", {}, []),
    "switch_high": (EXAMPLES / "switch_flow.py", "SwitchFlow", {"value": 50}, ["--value", "50"]),
    "switch_low": (EXAMPLES / "switch_flow.py", "SwitchFlow", {"value": 3}, ["--value", "3"]),
    "decorated": (FLOWS / "decorated_flow.py", "DecoratedFlow", {}, []),
    "output": (FLOWS / "output_flow.py", "OutputFlow", {"text": HOSTILE}, ["--text", HOSTILE]),
}
DEPLOYER = "alice-deployer"  # OutputFlow is compiled as this user


class Deployed:
    """What the module triggered: run ids by case, the `flowc trigger --wait` process, and the
    local reference runs."""

    def __init__(self, dep, tmp: Path):
        self.dep = dep
        self.tmp = tmp
        self.run_ids: dict[str, str] = {}
        self.local: dict[str, subprocess.Popen] = {}
        self.trigger: subprocess.Popen | None = None
        self.states: dict[str, str] = {}

    @property
    def ds(self) -> Path:
        return self.dep.work / ".flowc"  # the default datastore, where the DAGs were compiled

    def state(self, case: str) -> str:
        if case not in self.states:
            dag_id = RUNS[case][1] if case in RUNS else "GateFlow"
            self.states[case] = self.dep.wait_for_run(dag_id, self.run_ids[case])
        return self.states[case]

    def local_run(self, case: str) -> str:
        proc = self.local[case]
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        return (self.tmp / case / "run-id").read_text()


def flowc(*args: str, cwd=None, env=None, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "flowc", *args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=300,
        **kw,
    )


@pytest.fixture(scope="module")
def deployed(airflow_deployment, tmp_path_factory):
    dep = airflow_deployment
    tmp = tmp_path_factory.mktemp("deployed")
    d = Deployed(dep, tmp)
    files = {flow: path for path, flow, _, _ in RUNS.values()}
    files["GateFlow"] = FLOWS / "gate_flow.py"
    for flow, path in sorted(files.items()):
        env = {"FLOWC_USER": DEPLOYER} if flow == "OutputFlow" else None
        dep.compile(path, env=env)  # no options: the defaults must work
    dep.wait_for_dags(sorted(files))
    for case, (_, flow, conf, _) in RUNS.items():
        d.run_ids[case] = dep.api.trigger(flow, conf)
    d.gate = tmp / "gate-open"
    d.run_ids["gate"] = dep.api.trigger("GateFlow", {"gate": str(d.gate)})
    d.trigger_id_file = tmp / "trigger-run-id"
    d.trigger = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "flowc",
            "trigger",
            str(EXAMPLES / "foreach_flow.py"),
            "--target",
            "airflow",
            "--url",
            dep.url,
            "--count",
            "3",
            "--wait",
            "--run-id-file",
            str(d.trigger_id_file),
        ],
        env={**os.environ, "AIRFLOW_USERNAME": "admin", "AIRFLOW_PASSWORD": dep.password},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    for case, (path, _, _, args) in RUNS.items():  # the reference: flowc run, meanwhile
        (tmp / case).mkdir()
        d.local[case] = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "flowc",
                "run",
                str(path),
                "--datastore",
                str(tmp / case / "ds"),
                "--run-id-file",
                str(tmp / case / "run-id"),
                "--max-workers",
                "2",
                *args,
            ],
            cwd=tmp / case,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
    yield d
    if d.trigger.poll() is None:
        d.trigger.kill()
    for p in d.local.values():
        if p.poll() is None:
            p.kill()


def assert_like_local(d: Deployed, case: str) -> dict:
    """Succeeded on Airflow, recorded succeeded by the finaliser, and every task's artifacts
    have the content hashes of `flowc run` of the same flow and parameters."""
    flow = RUNS[case][1]
    run_id = d.run_ids[case]
    assert d.state(case) == "success", d.dep.task_states(flow, run_id)
    local_id = d.local_run(case)
    on_airflow = stored(d.ds, flow, run_id)
    local = stored(d.tmp / case / "ds", flow, local_id)
    assert on_airflow == local
    status = json.loads((d.ds / "runs" / flow / run_id / "status.json").read_text())
    assert status["status"] == "succeeded"
    return on_airflow


@pytest.mark.parametrize("case", ["lr", "nested", "switch_high", "switch_low", "decorated"])
def test_runs_like_flowc_run(deployed, case):
    got = assert_like_local(deployed, case)
    if case.startswith("switch"):
        taken, other = ("high", "low") if case == "switch_high" else ("low", "high")
        assert ("end", "0") in got and (taken, "0") in got and (other, "0") not in got
    if case == "decorated":  # @retry fired, @catch and @timeout caught, the user decorator ran
        flow, run_id = "DecoratedFlow", deployed.run_ids[case]
        tis = {t["task_id"]: t for t in deployed.dep.task_states(flow, run_id)}
        assert tis["flaky"]["try_number"] == 3
        from flowc.client import Flow

        os.environ["FLOWC_DATASTORE"] = str(deployed.ds)
        try:
            data = Flow(flow)[run_id]["join"].task.data
            assert data.attempts == 3 and "always fails" in data.broken_error
            assert "timed out" in data.slow_error
            # a user step decorator compiles (no Airflow equivalent needed) and runs in the task
            assert Flow(flow)[run_id]["start"].task.data.stamp == "before start and after"
        finally:
            del os.environ["FLOWC_DATASTORE"]


def test_foreach_tasks_overlap_in_time(deployed):
    assert_like_local(deployed, "foreach")
    tis = [
        t
        for t in deployed.dep.task_states("ForeachFlow", deployed.run_ids["foreach"])
        if t["task_id"] == "square"
    ]
    assert len(tis) == 4
    spans = [(_t(t["start_date"]), _t(t["end_date"])) for t in tis]
    # every other DAG run of the module runs meanwhile (8 task slots on 2 cores): at least two
    # items of this foreach ran at the same time
    starts = sorted(s for s, _ in spans)
    most = max(sum(s <= at < e for s, e in spans) for at in starts)
    assert most >= 2, spans


def _t(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def test_output_without_newlines_and_hostile_parameters(deployed):
    got = assert_like_local(deployed, "output")
    from flowc.datastore import Datastore

    ds = Datastore(str(deployed.ds))
    run_id = deployed.run_ids["output"]
    rec = ds.task_record("OutputFlow", run_id, "end", "0")
    assert ds.get(rec["artifacts"]["echo"]["sha"]) == HOSTILE
    assert ("body", "2") in got and ("body", "3") not in got  # not the fake result's 99
    assert not os.path.exists("/tmp/flowc-pwned")
    # the deployer, not the worker, is the run's user, and the run names its target
    run = ds.run_record("OutputFlow", run_id)
    assert run["user"] == DEPLOYER and "flowc:target=airflow" in run["tags"]
    proc = flowc(
        "runs", "OutputFlow", "--json", cwd=deployed.dep.work, env={"FLOWC_USER": DEPLOYER}
    )
    rows = json.loads(proc.stdout)
    assert [r["status"] for r in rows if r["run_id"] == run_id] == ["succeeded"], proc.stdout


def test_flowc_trigger_wait_follows_the_run(deployed):
    proc = deployed.trigger
    out, err = proc.communicate(timeout=420)
    assert proc.returncode == 0, (out, err)
    run_id = deployed.trigger_id_file.read_text()
    assert f"Triggered ForeachFlow/{run_id}" in out
    assert f"Run ForeachFlow/{run_id} succeeded" in out
    assert f"[{run_id}/square/2] done in" in out
    from flowc.datastore import Datastore

    ds = Datastore(str(deployed.ds))
    rec = ds.task_record("ForeachFlow", run_id, "start", "0")
    assert ds.get(rec["artifacts"]["count"]["sha"]) == 3  # typed as flowc run types it


def test_a_failed_run_is_recorded_failed_then_cleared_and_rerun_to_success(deployed):
    d = deployed
    run_id = d.run_ids["gate"]
    assert d.state("gate") == "failed"
    status = json.loads((d.ds / "runs" / "GateFlow" / run_id / "status.json").read_text())
    assert status["status"] == "failed" and status["failed_task"] == "check/0"
    assert "gate" in status["error"] and "is closed" in status["error"]
    proc = flowc("runs", "GateFlow", "--json", cwd=d.dep.work)
    assert [r["status"] for r in json.loads(proc.stdout) if r["run_id"] == run_id] == ["failed"]
    probe = (
        "from flowc.client import Flow\n"
        f"r = Flow('GateFlow')[{run_id!r}]\n"
        "print(r.status, r.successful, 'flowc:target=airflow' in r.tags)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", probe], cwd=d.dep.work, capture_output=True, text=True
    )
    assert proc.stdout.split() == ["failed", "False", "True"], proc.stderr
    status, error = _card_server_status(d, run_id)
    assert status == "failed" and "is closed" in error
    # fixed: clear the failed tasks; Airflow re-runs them in the same DAG run
    d.gate.write_text("open")
    d.dep.api.clear_failed("GateFlow", run_id)
    assert d.dep.wait_for_run("GateFlow", run_id) == "success"
    proc = flowc("runs", "GateFlow", "--json", cwd=d.dep.work)
    assert [r["status"] for r in json.loads(proc.stdout) if r["run_id"] == run_id] == ["succeeded"]
    assert _card_server_status(d, run_id)[0] == "succeeded"


def _card_server_status(d: Deployed, run_id: str) -> tuple[str, str]:
    """What the card server's run page polls (its route, in-process)."""
    from urllib.parse import quote

    from flowc.cards.server import CardApp, route
    from flowc.datastore import Datastore

    resp = route(
        CardApp(Datastore(str(d.ds)), "GateFlow"), f"/api/runs/{quote(run_id, safe='')}/status"
    )
    assert resp.status == 200, resp.body
    doc = json.loads(resp.body)
    return doc["status"], doc.get("error") or ""
