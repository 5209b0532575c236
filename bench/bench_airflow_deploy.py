"""Flows on a real Airflow 3.3.2 deployment beside ``flowc run`` of the same flows.

Starts the same deployment the test suite uses (scheduler + dag-processor + api-server,
LocalExecutor, SQLite, on 127.0.0.1; ``tests/services/airflow_deployment.py``), compiles each flow
with no options as the README says, and measures:

* trigger -> success: wall time from ``POST .../dagRuns`` until the DAG run is ``success``
  (polled every 0.2 s), beside the wall time of ``flowc run`` of the same flow and parameters;
* per-task overhead on Airflow: each step task's wall time in Airflow (its start to end) minus
  the time flowc's task contract spent on it (its attempt record: load inputs, run the step,
  store outputs), the median over the run's tasks.

Flows: examples/lr_flow.py and a generated 50-way foreach (each item a trivial step).

    .venv/bin/python bench/bench_airflow_deploy.py [--json]

Needs the ``airflow`` extra. Starting the deployment takes about a minute.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from tests.services.airflow_deployment import Deployment  # noqa: E402

WIDE = '''
from flowc import FlowSpec, step


class WideForeachFlow(FlowSpec):
    """A 50-way foreach of trivial steps: what each task costs."""

    @step
    def start(self):
        self.items = list(range(50))
        self.next(self.work, foreach="items")

    @step
    def work(self):
        self.value = self.input * 2
        self.next(self.join)

    @step
    def join(self, inputs):
        self.total = sum(i.value for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        pass
'''


def _t(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def wait(dep: Deployment, dag_id: str, run_id: str, timeout: float = 1200) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = dep.api.dag_run(dag_id, run_id)["state"]
        if state in ("success", "failed"):
            return state
        time.sleep(0.2)
    raise RuntimeError(f"{dag_id}/{run_id} did not finish in {timeout} s")


def overheads(dep: Deployment, dag_id: str, run_id: str) -> list[float]:
    """Airflow's wall time of each step task minus flowc's own time for it."""
    from flowc.datastore import Datastore
    from flowc.datastore.layout import attempt_key, task_record_key

    ds = Datastore(str(dep.work / ".flowc"))
    out = []
    for ti in dep.api.task_instances(dag_id, run_id):
        step = ti["task_id"]
        if "__" in step or not ti.get("start_date") or not ti.get("end_date"):
            continue  # helpers and the finaliser: not flow steps
        index = ti.get("map_index")
        tid = "0" if index is None or index < 0 else str(index)
        rec = ds.read_json(task_record_key(dag_id, run_id, step, tid))
        rec = rec or ds.read_json(attempt_key(dag_id, run_id, step, tid, 0, "attempt.json"))
        if rec is None:
            continue
        flowc_s = rec["finished_at"] - rec["started_at"]
        out.append((_t(ti["end_date"]) - _t(ti["start_date"])) - flowc_s)
    return out


def local_run(flow: Path, work: Path) -> float:
    t = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "flowc", "run", str(flow), "--datastore", str(work / "local")],
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - t


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="flowc-bench-deploy-"))
    wide = root / "wide_foreach_flow.py"
    wide.write_text(WIDE)
    flows = {"LRFlow": ROOT / "examples" / "lr_flow.py", "WideForeachFlow": wide}
    dep = Deployment(root)
    t = time.perf_counter()
    dep.start()
    for path in flows.values():
        dep.compile(path)
    dep.wait_for_dags(sorted(flows))
    startup = time.perf_counter() - t
    rows = {}
    try:
        for dag_id, path in flows.items():
            local_run(path, root)  # warm the analysis cache and imports, as a deployed flow has
            local_s = local_run(path, root)
            t = time.perf_counter()
            run_id = dep.api.trigger(dag_id, {})
            state = wait(dep, dag_id, run_id)
            airflow_s = time.perf_counter() - t
            over = overheads(dep, dag_id, run_id)
            rows[dag_id] = {
                "state": state,
                "airflow_trigger_to_success_s": round(airflow_s, 2),
                "flowc_run_s": round(local_s, 2),
                "ratio": round(airflow_s / local_s, 1),
                "tasks": len(over),
                "task_overhead_median_s": round(statistics.median(over), 2) if over else None,
                "task_overhead_max_s": round(max(over), 2) if over else None,
            }
    finally:
        dep.stop()
    report = {"deployment_start_s": round(startup, 1), "flows": rows}
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"deployment start (migrate + 3 services + DAGs parsed): {startup:.1f} s")
        print(
            f"{'flow':<18}{'airflow':>10}{'flowc run':>11}{'ratio':>7}{'tasks':>7}"
            f"{'overhead/task (median, max)':>30}"
        )
        for name, r in rows.items():
            print(
                f"{name:<18}{r['airflow_trigger_to_success_s']:>9.2f}s{r['flowc_run_s']:>10.2f}s"
                f"{r['ratio']:>6.1f}x{r['tasks']:>7}"
                f"{r['task_overhead_median_s']:>20.2f}s, {r['task_overhead_max_s']:.2f}s"
            )
    return 0 if all(r["state"] == "success" for r in rows.values()) else 1


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
