"""The S3 datastore on moto's server, side by side with references, in one invocation.

    .venv/bin/python bench/bench_s3.py [--width 100] [--repeat 5] [--mib 512] [--json]

1. ``flowc run`` of a ``--width``-way foreach with ``--datastore s3://...`` against the same
   run on a local folder.
2. ``flowc task`` of one foreach task (not the start task), wall time of the whole command,
   median of ``--repeat``: S3 against a local folder. Target on S3: at most 0.5 s.
3. A ``--mib`` MiB artifact (a numpy array of random bytes) stored and loaded back through
   flowc's datastore (``Datastore.put`` then ``Datastore.get``), against boto3's own
   ``upload_file`` / ``download_file`` of the same bytes. Target: at most 1.3x.

Starts its own moto server (``tests/services/s3_server.py``) and stops it at the end.
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
sys.path.insert(0, str(HERE.parent))

FLOW = """
from flowc import FlowSpec, Parameter, step


class WideFlow(FlowSpec):
    width = Parameter("width", default=100)

    @step
    def start(self):
        self.items = list(range(self.width))
        self.next(self.work, foreach="items")

    @step
    def work(self):
        self.square = self.input * self.input
        self.next(self.join)

    @step
    def join(self, inputs):
        self.total = sum(i.square for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        print(self.total)
"""


def flowc(*args: str, env: dict, cwd: Path) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "flowc", *args],
        cwd=cwd,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
    )
    took = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"flowc {' '.join(args)} failed:\n{proc.stdout}{proc.stderr}")
    return took


def bench_run(flow: Path, width: int, s3_url: str, local: str, env: dict, cwd: Path) -> dict:
    out = {}
    for name, url in (("local", local), ("s3", s3_url)):
        out[name] = flowc(
            "run", str(flow), "--datastore", url, "--width", str(width), env=env, cwd=cwd
        )
    return out


def bench_task(flow: Path, repeat: int, s3_url: str, local: str, env: dict, cwd: Path) -> dict:
    out = {}
    for name, url in (("local", local), ("s3", s3_url)):
        run_id = f"bench-task-{name}"
        flowc("task", str(flow), "start", "--run-id", run_id, "--datastore", url, env=env, cwd=cwd)
        times = [
            flowc(
                "task",
                str(flow),
                "work",
                "--run-id",
                run_id,
                "--index",
                str(i % 100),
                "--datastore",
                url,
                env=env,
                cwd=cwd,
            )  # fmt: skip
            for i in range(repeat + 1)
        ][1:]  # the first fills the analysis cache
        out[name] = statistics.median(times)
    return out


def bench_big(mib: int, server, bucket: str, tmp: Path) -> dict:
    import boto3
    import numpy

    from flowc.datastore import Datastore

    value = numpy.frombuffer(os.urandom(mib * 1024 * 1024), dtype=numpy.uint8)
    ds = Datastore(f"s3://{bucket}/big")
    t0 = time.perf_counter()
    ref = ds.put("big", value)
    t1 = time.perf_counter()
    back = ds.get(ref["sha"])
    t2 = time.perf_counter()
    assert numpy.array_equal(back, value)
    del back
    path, again = tmp / "big.bin", tmp / "big.back"
    value.tofile(path)
    client = boto3.client("s3", endpoint_url=server.endpoint)
    t3 = time.perf_counter()
    client.upload_file(str(path), bucket, "boto3/big.bin")
    t4 = time.perf_counter()
    client.download_file(bucket, "boto3/big.bin", str(again))
    t5 = time.perf_counter()
    return {
        "flowc_write": t1 - t0,
        "flowc_read": t2 - t1,
        "boto3_upload": t4 - t3,
        "boto3_download": t5 - t4,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--width", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--mib", type=int, default=512)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    from tests.services.s3_server import start_server, stop_server

    with tempfile.TemporaryDirectory(prefix="bench-s3-") as d:
        tmp = Path(d)
        server = start_server(tmp)
        try:
            for k, v in server.env.items():
                os.environ[k] = v
            bucket = server.bucket()
            flow = tmp / "wide_flow.py"
            flow.write_text(FLOW)
            env = {"FLOWC_CACHE_DIR": str(tmp / "cache")}
            s3_url, local = f"s3://{bucket}/flowc", str(tmp / "ds")
            results = {
                "run": bench_run(flow, args.width, s3_url, local, env, tmp),
                "task": bench_task(flow, args.repeat, s3_url, local, env, tmp),
                "big": bench_big(args.mib, server, bucket, tmp),
            }
        finally:
            stop_server(server.process)
    r, t, b = results["run"], results["task"], results["big"]
    flowc_total = b["flowc_write"] + b["flowc_read"]
    boto_total = b["boto3_upload"] + b["boto3_download"]
    results["ratios"] = {
        "run_s3_over_local": r["s3"] / r["local"],
        "task_s3_over_local": t["s3"] / t["local"],
        "big_flowc_over_boto3": flowc_total / boto_total,
    }
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print(
        f"{args.width}-way foreach run:  local {r['local']:.2f} s   s3 {r['s3']:.2f} s   "
        f"ratio {r['s3'] / r['local']:.2f}x"
    )
    print(
        f"flowc task (median of {args.repeat}):  local {t['local']:.3f} s   s3 {t['s3']:.3f} s"
        f"   (target on s3 <= 0.5 s)"
    )
    print(
        f"{args.mib} MiB artifact:  flowc write {b['flowc_write']:.2f} s + read "
        f"{b['flowc_read']:.2f} s = {flowc_total:.2f} s;  boto3 upload_file "
        f"{b['boto3_upload']:.2f} s + download_file {b['boto3_download']:.2f} s = "
        f"{boto_total:.2f} s;  ratio {flowc_total / boto_total:.2f}x (target <= 1.3x)"
    )


if __name__ == "__main__":
    main()
