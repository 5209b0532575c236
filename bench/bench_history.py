"""Run history figures: resume cost against artifact size, and finding a flow's latest run
among 10,000, each side by side with its reference in one invocation.

    .venv/bin/python bench/bench_history.py [--runs 10000] [--gib 1.0] [--repeat 5] [--json]

1. **Resume**: two flows fail in the step after ``start``; one's ``start`` stores a
   ``--gib`` GiB array of random float64, the other's stores nothing. After each fails (a
   marker file makes it fail), the marker is removed and ``flowc resume`` runs the rest, timed
   as a whole process. Target: resuming after the big step costs less than 0.5 s more than
   after the empty one (the clone copies references, never data). The datastore's size is
   measured before and after the resume to show no blob was copied.
2. **Latest run**: ``--runs`` runs of a small flow are recorded through the same functions
   ``flowc run`` uses (``start_run`` / ``finish_run``: run record, IR, index events), by
   several users. Then, in this process: ``Flow(name).latest_run`` with the index (the first
   call folds the events into a snapshot; later calls read it), against the reference that
   has no index: reading every run's record and picking the newest. Target: under 0.2 s.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

FLOW = """
import os
from flowc import FlowSpec, step


class {name}(FlowSpec):
    @step
    def start(self):
        {payload}
        self.next(self.fails)

    @step
    def fails(self):
        if os.path.exists(os.environ["BENCH_FAIL_MARKER"]):
            raise RuntimeError("planned failure")
        self.next(self.end)

    @step
    def end(self):
        pass
"""

BIG = "import numpy; self.big = numpy.random.default_rng(0).random(int({n}))"
EMPTY = "pass"


def _du(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def _flowc(*args: str, cwd: Path, env: dict) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "flowc", *args], cwd=cwd, env=env, capture_output=True, text=True
    )
    elapsed = time.perf_counter() - t0
    expect_fail = args[0] == "run"
    if (proc.returncode != 0) != expect_fail:
        sys.exit(f"flowc {' '.join(args)} exited {proc.returncode}:\n{proc.stdout}{proc.stderr}")
    return elapsed


def bench_resume(work: Path, gib: float, repeat: int) -> dict:
    n = gib * 2**30 / 8
    out = {}
    for case, payload in (("empty", EMPTY), ("big", BIG.format(n=n))):
        name = f"Resume{case.title()}Flow"
        flow = work / f"{case}.py"
        flow.write_text(FLOW.format(name=name, payload=payload))
        times, added = [], []
        for _ in range(repeat):
            ds = work / f"ds-{case}"
            shutil.rmtree(ds, ignore_errors=True)
            marker = work / "fail"
            marker.touch()
            env = {**os.environ, "BENCH_FAIL_MARKER": str(marker), "FLOWC_DATASTORE": str(ds)}
            _flowc("run", str(flow), cwd=work, env=env)
            marker.unlink()
            before = _du(ds)
            times.append(_flowc("resume", str(flow), cwd=work, env=env))
            added.append(_du(ds) - before)
        out[case] = {"median_s": statistics.median(times), "times": times, "bytes_added": added}
    out["difference_s"] = out["big"]["median_s"] - out["empty"]["median_s"]
    out["pass"] = out["difference_s"] < 0.5
    return out


def record_runs(ds_path: Path, count: int) -> str:
    from flowc.check import check_file
    from flowc.datastore import Datastore
    from flowc.runtime.runs import RunInfo, finish_run, start_run

    flow_file = ROOT / "tests" / "flows" / "linear_flow.py"
    ir = check_file(str(flow_file), None).chosen_flow()
    ds = Datastore(str(ds_path))
    users = ("alice", "bob", "carol")
    for i in range(count):
        os.environ["FLOWC_USER"] = users[i % len(users)]
        run = start_run(ds, ir, str(flow_file), {"greeting": "hi", "count": i}, {}, ("bench",))
        finish_run(ds, run, "failed" if i % 7 == 0 else "succeeded")
    assert isinstance(run, RunInfo)
    return ir.name


def bench_latest(work: Path, count: int, repeat: int) -> dict:
    from flowc.client import Flow, namespace
    from flowc.datastore import Datastore

    ds_path = work / "ds-many"
    t0 = time.perf_counter()
    flow = record_runs(ds_path, count)
    recorded = time.perf_counter() - t0
    os.environ["FLOWC_DATASTORE"] = str(ds_path)
    namespace(None)
    newest = sorted(os.listdir(ds_path / "runs" / flow))[-1]

    def with_index() -> str:
        return Flow(flow).latest_run.id

    def without_index() -> str:  # the reference: read every run's record
        ds = Datastore(str(ds_path))
        best = max(
            (ds.run_record(flow, r)["created_at"], r) for r in ds.storage.listdir(f"runs/{flow}")
        )
        return best[1]

    t0 = time.perf_counter()
    first = with_index()
    first_s = time.perf_counter() - t0
    assert first == newest, (first, newest)
    time.sleep(1.1)  # the folders are quiet: the next reader records their versions
    with_index()
    timings = {"index": [], "scan": []}
    for _ in range(repeat):
        for name, call in (("index", with_index), ("scan", without_index)):
            t0 = time.perf_counter()
            assert call() == newest
            timings[name].append(time.perf_counter() - t0)
    # a run recorded just now: the index must see it at once (the slow path: one new event)
    from flowc.check import check_file
    from flowc.runtime.runs import start_run

    flow_file = ROOT / "tests" / "flows" / "linear_flow.py"
    ir = check_file(str(flow_file), None).chosen_flow()
    fresh = start_run(Datastore(str(ds_path)), ir, str(flow_file), {}, {}, ())
    t0 = time.perf_counter()
    assert with_index() == fresh.run_id
    fresh_s = time.perf_counter() - t0
    namespace("user:bob")
    t0 = time.perf_counter()
    bob = Flow(flow).latest_run
    bob_s = time.perf_counter() - t0
    assert bob is not None and bob.user == "bob"
    index_s = statistics.median(timings["index"])
    scan_s = statistics.median(timings["scan"])
    return {
        "runs": count,
        "record_s": recorded,
        "first_call_s": first_s,
        "index_median_s": index_s,
        "scan_median_s": scan_s,
        "speedup": scan_s / index_s,
        "namespace_user_s": bob_s,
        "after_new_run_s": fresh_s,
        "pass": max(index_s, fresh_s) < 0.2,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=10_000)
    ap.add_argument("--gib", type=float, default=1.0)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--skip-resume", action="store_true")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="flowc-bench-history-"))
    os.environ["FLOWC_CACHE_DIR"] = str(work / "cache")
    try:
        results = {}
        if not args.skip_resume:
            results["resume"] = bench_resume(work, args.gib, args.repeat)
        results["latest_run"] = bench_latest(work, args.runs, max(args.repeat, 5))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        _report(results, args)
    return 0 if all(r["pass"] for r in results.values()) else 1


def _report(results: dict, args: argparse.Namespace) -> None:
    ok = {True: "PASS", False: "FAIL"}
    print("| case | median | reference | ratio | target |")
    print("| --- | --- | --- | --- | --- |")
    if "resume" in results:
        r = results["resume"]
        big, empty = r["big"], r["empty"]
        print(
            f"| resume after a {args.gib:g} GiB step | {big['median_s']:.3f} s | "
            f"{empty['median_s']:.3f} s (after an empty step) | "
            f"{big['median_s'] / empty['median_s']:.2f}x, +{r['difference_s']:.3f} s | "
            f"< +0.5 s: {ok[r['pass']]} |"
        )
        print(
            f"| bytes the resume added to the datastore | {max(big['bytes_added']):,} | "
            f"{max(empty['bytes_added']):,} | | |"
        )
    r = results["latest_run"]
    print(
        f"| Flow.latest_run, {r['runs']:,} runs | {r['index_median_s'] * 1000:.1f} ms | "
        f"{r['scan_median_s'] * 1000:.1f} ms (read every run record) | "
        f"{r['speedup']:.0f}x faster | < 0.2 s: {ok[r['pass']]} |"
    )
    print(
        f"| first call (folds {r['runs'] * 2:,} index events into a snapshot) | "
        f"{r['first_call_s'] * 1000:.1f} ms | | | once |"
    )
    print(
        f"| Flow.latest_run right after a new run started | {r['after_new_run_s'] * 1000:.1f} ms"
        " | | | < 0.2 s |"
    )
    print(f"| latest run of one user (namespace) | {r['namespace_user_s'] * 1000:.1f} ms | | | |")
    print(f"\n(recording {r['runs']:,} runs took {r['record_s']:.1f} s, untimed above)")


if __name__ == "__main__":
    sys.exit(main())
