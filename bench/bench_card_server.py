"""Card server response times for a flow with 1,000 runs, side by side with a static file of the
same bytes served by Python's own ``http.server``, in one invocation.

    .venv/bin/python bench/bench_card_server.py [--runs 1000] [--repeat 50] [--json]

``--runs`` runs of ``tests/flows/cardserver_flow.py`` are recorded through the functions
``flowc run`` uses (``start_run`` / ``finish_run``: run record, IR, index events; three users,
every seventh run failed), then one real ``flowc run`` of it adds a run with tasks, and a card
is written beside its ``end`` task. ``flowc card server`` then serves the datastore from its own
process. Each page is fetched once (its body saved as a file), and ``python -m http.server``
serves those files from another process: the reference is the same bytes with no work behind
them. Every request opens a new connection (both servers speak HTTP/1.0); each case is warmed
up with 3 requests, then timed ``--repeat`` times; the median and the 95th percentile are shown
and the ratio of the medians. The first request after the server starts (it folds the index
events into a snapshot) is reported on its own.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

FLOW_FILE = ROOT / "tests" / "flows" / "cardserver_flow.py"
FLOW = "CardServerFlow"
CARD = (
    "<!doctype html><html><body><h1>Metrics</h1><table>"
    + "".join(f"<tr><td>m{i}</td><td>{i * 0.5}</td></tr>" for i in range(200))
    + "</table></body></html>"
)
TARGETS_MS = {"runs page": 50.0, "runs JSON": 100.0, "run page": 50.0, "task page": 50.0}


def record_runs(ds_path: Path, count: int) -> None:
    from flowc.check import check_file
    from flowc.datastore import Datastore
    from flowc.runtime.runs import finish_run, start_run

    ir = check_file(str(FLOW_FILE), None).chosen_flow()
    ds = Datastore(str(ds_path))
    users = ("alice", "bob", "carol")
    for i in range(count):
        os.environ["FLOWC_USER"] = users[i % len(users)]
        run = start_run(ds, ir, str(FLOW_FILE), {"fail": False, "wait_for": ""}, {}, ("bench",))
        finish_run(ds, run, "failed" if i % 7 == 0 else "succeeded")


def real_run(work: Path, ds_path: Path) -> str:
    id_file = work / "run-id"
    proc = subprocess.run(
        [sys.executable, "-m", "flowc", "run", str(FLOW_FILE), "--datastore", str(ds_path)]
        + ["--run-id-file", str(id_file)],
        cwd=work,
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        sys.exit(f"flowc run failed:\n{proc.stdout}{proc.stderr}")
    run_id = id_file.read_text()
    from flowc.cards.store import write_card
    from flowc.datastore import Datastore

    meta = {"key": "default-0", "type": "default", "id": None, "n": 0, "attempt": 0, "error": None}
    write_card(Datastore(str(ds_path)), (FLOW, run_id, "end", "0"), meta, CARD)
    return run_id


def start(cmd: list[str], cwd: Path, pattern: str) -> tuple[subprocess.Popen, int]:
    """A server process and the port it printed (both print it on start-up)."""
    proc = subprocess.Popen(
        cmd,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    line = proc.stdout.readline()
    match = re.search(pattern, line)
    if not match:
        proc.kill()
        sys.exit(f"{cmd[2:5]} did not start: {line!r}")
    return proc, int(match.group(1))


def fetch(port: int, path: str) -> tuple[float, bytes]:
    t0 = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request("GET", path)
    resp = conn.getresponse()
    body = resp.read()
    conn.close()
    elapsed = time.perf_counter() - t0
    if resp.status != 200:
        sys.exit(f"GET {path} -> {resp.status}")
    return elapsed, body


def timed(port: int, path: str, repeat: int) -> list[float]:
    for _ in range(3):
        fetch(port, path)
    return [fetch(port, path)[0] for _ in range(repeat)]


def p95(xs: list[float]) -> float:
    return sorted(xs)[max(0, int(round(0.95 * len(xs))) - 1)]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=50)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="flowc-bench-cards-"))
    os.environ["FLOWC_CACHE_DIR"] = str(work / "cache")
    ds_path, static = work / "ds", work / "static"
    static.mkdir()
    procs = []
    try:
        t0 = time.perf_counter()
        record_runs(ds_path, args.runs)
        run_id = real_run(work, ds_path)
        setup_s = time.perf_counter() - t0
        time.sleep(1.1)  # the index folders are quiet, as they are between runs
        server, port = start(
            [sys.executable, "-m", "flowc", "card", "server", FLOW, "--port", "0"]
            + ["--datastore", str(ds_path)],
            work,
            r"http://127\.0\.0\.1:(\d+)/",
        )
        procs.append(server)
        first_s, _ = fetch(port, "/")
        cases = {
            "runs page": "/",
            "runs JSON": "/api/runs",
            "run page": f"/runs/{run_id}",
            "run status JSON": f"/api/runs/{run_id}/status",
            "task page": f"/runs/{run_id}/end/0",
            "card": f"/cards/{run_id}/end/0/default-0",
        }
        for i, path in enumerate(cases.values()):
            (static / f"{i}.html").write_bytes(fetch(port, path)[1])
        ref, ref_port = start(
            [sys.executable, "-m", "http.server", "0", "--bind", "127.0.0.1"]
            + ["--directory", str(static)],
            work,
            r"port (\d+)",
        )
        procs.append(ref)
        results = {"runs": args.runs + 1, "setup_s": setup_s, "first_request_s": first_s}
        for i, (name, path) in enumerate(cases.items()):
            size = (static / f"{i}.html").stat().st_size
            mine = timed(port, path, args.repeat)
            theirs = timed(ref_port, f"/{i}.html", args.repeat)
            med, ref_med = statistics.median(mine), statistics.median(theirs)
            target = TARGETS_MS.get(name)
            results[name] = {
                "path": path,
                "bytes": size,
                "median_ms": med * 1000,
                "p95_ms": p95(mine) * 1000,
                "static_median_ms": ref_med * 1000,
                "static_p95_ms": p95(theirs) * 1000,
                "ratio": med / ref_med,
                "target_ms": target,
                "pass": target is None or med * 1000 < target,
            }
    finally:
        for p in procs:
            p.send_signal(signal.SIGINT)
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(work, ignore_errors=True)
    ok = all(r["pass"] for r in results.values() if isinstance(r, dict))
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        report(results, args)
    return 0 if ok else 1


def report(results: dict, args: argparse.Namespace) -> None:
    print(f"Card server, {results['runs']:,} runs of {FLOW}, {args.repeat} requests per case\n")
    print("| case | bytes | median | p95 | static file (http.server) | ratio | target |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for name, r in results.items():
        if not isinstance(r, dict):
            continue
        target = (
            f"< {r['target_ms']:.0f} ms: {'PASS' if r['pass'] else 'FAIL'}"
            if r["target_ms"]
            else ""
        )
        print(
            f"| {name} `{r['path'][:28]}` | {r['bytes']:,} | {r['median_ms']:.1f} ms | "
            f"{r['p95_ms']:.1f} ms | {r['static_median_ms']:.1f} ms (p95 "
            f"{r['static_p95_ms']:.1f}) | {r['ratio']:.1f}x | {target} |"
        )
    print(
        f"\nfirst request after start-up (folds the run index into a snapshot): "
        f"{results['first_request_s'] * 1000:.0f} ms; recording the runs took "
        f"{results['setup_s']:.1f} s (untimed)"
    )


if __name__ == "__main__":
    sys.exit(main())
