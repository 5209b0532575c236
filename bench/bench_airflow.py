"""How fast the Airflow backend compiles, and how fast Airflow parses what it writes.

* compile: ``AirflowEmitter.emit`` on the IR of a generated 1,000-step flow (in-process, the
  IR already analysed), and the whole ``flowc compile`` process on it with a warm and a cold
  analysis cache. Target: under 1 s.
* parse: ``DagBag`` on the emitted DAG of examples/lr_flow.py and of a generated 200-step flow,
  after Airflow is imported (what the scheduler's DAG processor pays every few seconds).

    .venv/bin/python bench/bench_airflow.py [--repeat N] [--json]

Needs the ``airflow`` extra. Exits 1 when a target is missed.
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
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))

from genflow import generate  # noqa: E402

COMPILE_TARGET_S = 1.0


def timed(fn, repeat: int) -> dict:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return {"median_s": statistics.median(times), "min_s": min(times), "runs": repeat}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="flowc-bench-airflow-"))
    cache = work / "cache"
    env = {**os.environ, "FLOWC_CACHE_DIR": str(cache)}
    big = work / "big1000.py"
    big.write_text(generate(1000))
    mid = work / "big200.py"
    mid.write_text(generate(200))
    flowc = [sys.executable, "-m", "flowc"]
    results: dict[str, dict] = {}

    # --- compile ---------------------------------------------------------------------------
    os.environ["FLOWC_CACHE_DIR"] = str(cache)
    from flowc.backends.base import EmitOptions, get_emitter
    from flowc.check import check_file

    ir = check_file(str(big)).chosen_flow()
    emitter = get_emitter("airflow")
    options = EmitOptions(extra={"flow_path": "/opt/flows/big.py"})
    emitter.emit(ir, options)  # warm-up: template compiled once per process
    results["emit 1,000 steps (in-process)"] = timed(lambda: emitter.emit(ir, options), args.repeat)

    def cli(path: Path, out: Path, cold: bool) -> None:
        if cold:
            subprocess.run(["rm", "-rf", str(cache)], check=True)
        subprocess.run(
            [*flowc, "compile", str(path), "--target", "airflow", "-o", str(out)],
            env=env,
            check=True,
            capture_output=True,
        )

    out_dir = work / "out"
    cli(big, out_dir, cold=False)
    results["flowc compile 1,000 steps (process, warm cache)"] = timed(
        lambda: cli(big, out_dir, cold=False), args.repeat
    )
    results["flowc compile 1,000 steps (process, cold cache)"] = timed(
        lambda: cli(big, out_dir, cold=True), args.repeat
    )

    # --- parse -----------------------------------------------------------------------------
    home = work / "airflow"
    dags = home / "dags"
    dags.mkdir(parents=True)
    os.environ.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        }
    )
    lr_dag = dags / "lr"
    cli(ROOT / "examples" / "lr_flow.py", lr_dag, cold=False)
    mid_dag = dags / "mid"
    cli(mid, mid_dag, cold=False)
    t = time.perf_counter()
    from airflow.dag_processing.dagbag import DagBag

    results["import Airflow (once)"] = {"median_s": time.perf_counter() - t, "min_s": 0, "runs": 1}

    def parse(folder: Path, n_tasks: int) -> None:
        bag = DagBag(dag_folder=str(folder))
        assert not bag.import_errors, bag.import_errors
        (dag,) = bag.dags.values()
        assert len(dag.tasks) == n_tasks

    n_mid = len(DagBag(dag_folder=str(mid_dag)).dags["BigFlow"].tasks)
    results["DagBag parse lr_flow DAG"] = timed(lambda: parse(lr_dag, 5), args.repeat)
    results[f"DagBag parse 200-step DAG ({n_mid} tasks)"] = timed(
        lambda: parse(mid_dag, n_mid), args.repeat
    )

    ok = results["emit 1,000 steps (in-process)"]["median_s"] < COMPILE_TARGET_S
    ok &= results["flowc compile 1,000 steps (process, warm cache)"]["median_s"] < COMPILE_TARGET_S
    if args.json:
        print(json.dumps({"results": results, "ok": ok}, indent=2))
    else:
        for name, r in results.items():
            print(
                f"{name:<52} median {r['median_s'] * 1000:8.1f} ms   min {r['min_s'] * 1000:8.1f} ms"
            )
        print(f"compile target < {COMPILE_TARGET_S:g} s: {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
