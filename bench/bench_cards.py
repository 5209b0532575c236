"""The cost of a default card for a task holding 200 artifacts, side by side with the same run
without the card, in one invocation.

    .venv/bin/python bench/bench_cards.py [--artifacts 200] [--repeat 5] [--json]

1. In process: ``render_page`` of the default card for that task (parameters, 200 artifacts,
   the graph), median of ``--repeat`` renders after one warm-up, against rendering a blank
   card with one Markdown component (the page shell alone).
2. Whole runs: ``flowc run`` of a flow whose middle step sets ``--artifacts`` artifacts (ints,
   strings, lists, a 1 MiB bytes value), once with ``@card`` on that step and once without;
   the difference is what the card costs a run.
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
sys.path.insert(0, str(HERE.parent))

FLOW = """
from flowc import FlowSpec, Parameter, card, step


class ManyFlow(FlowSpec):
    size = Parameter("size", default={n})

    @step
    def start(self):
        self.next(self.make)

    {deco}
    @step
    def make(self):
        for i in range(self.size):
            kind = i % 4
            value = i if kind == 0 else f"value {{i}}" if kind == 1 else list(range(i % 50))
            setattr(self, f"a{{i:03d}}", value if kind != 3 else bytes(1024 * 1024))
        self.next(self.end)

    @step
    def end(self):
        pass
"""


def bench_render(n: int, repeat: int) -> dict:
    from flowc.cards.components import Markdown
    from flowc.cards.graph_svg import graph_svg
    from flowc.cards.render import CardSpec, TaskView, render_page
    from flowc.check import check_file
    from flowc.datastore import Datastore

    work = Path(tempfile.mkdtemp())
    try:
        flow = work / "many.py"
        flow.write_text(FLOW.format(n=n, deco=""))
        ir = check_file(str(flow), None).chosen_flow()
        ds = Datastore(str(work / "ds"))
        refs = {}
        for i in range(n):
            kind = i % 4
            value = i if kind == 0 else f"value {i}" if kind == 1 else list(range(i % 50))
            refs[f"a{i:03d}"] = ds.put(f"a{i:03d}", value if kind != 3 else bytes(2**20))
        view = TaskView(
            "ManyFlow", "1", "make", "0", 0, "ok", time.time() - 1, time.time(), {"size": n}, refs
        )
        view.graph_svg = graph_svg(ir, highlight="make")

        def timed(call) -> float:
            call()
            times = []
            for _ in range(repeat):
                t0 = time.perf_counter()
                call()
                times.append(time.perf_counter() - t0)
            return statistics.median(times)

        default = timed(lambda: render_page(CardSpec(), view, []))
        shell = timed(lambda: render_page(CardSpec("blank"), view, [Markdown("hello")]))
        size = len(render_page(CardSpec(), view, []).encode())
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return {"default_s": default, "shell_s": shell, "bytes": size, "pass": default < 0.5}


def bench_runs(n: int, repeat: int) -> dict:
    work = Path(tempfile.mkdtemp())
    env = {**os.environ, "FLOWC_CACHE_DIR": str(work / "cache")}
    out = {}
    try:
        for case, deco in (("without", ""), ("with", "@card")):
            flow = work / f"{case}.py"
            flow.write_text(FLOW.format(n=n, deco=deco))
            times = []
            for i in range(repeat + 1):
                ds = work / f"ds-{case}-{i}"
                t0 = time.perf_counter()
                proc = subprocess.run(
                    [sys.executable, "-m", "flowc", "run", str(flow), "--datastore", str(ds)],
                    env=env,
                    capture_output=True,
                    text=True,
                )
                elapsed = time.perf_counter() - t0
                if proc.returncode != 0:
                    sys.exit(f"flowc run {case} card failed:\n{proc.stdout}{proc.stderr}")
                if i:  # the first run warms the analysis cache
                    times.append(elapsed)
            out[case] = statistics.median(times)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    out["difference_s"] = out["with"] - out["without"]
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--artifacts", type=int, default=200)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    render = bench_render(args.artifacts, args.repeat)
    runs = bench_runs(args.artifacts, max(1, args.repeat // 2))
    if args.json:
        print(json.dumps({"render": render, "runs": runs}, indent=2))
    else:
        n = args.artifacts
        print("| case | median | reference | ratio |")
        print("| --- | --- | --- | --- |")
        print(
            f"| default card, {n} artifacts ({render['bytes'] / 1024:.0f} KiB page) | "
            f"{render['default_s'] * 1000:.1f} ms | {render['shell_s'] * 1000:.1f} ms (blank "
            f"card, one Markdown) | {render['default_s'] / render['shell_s']:.1f}x |"
        )
        print(
            f"| flowc run, {n} artifacts, @card on that step | {runs['with']:.3f} s | "
            f"{runs['without']:.3f} s (no card) | +{runs['difference_s'] * 1000:.0f} ms |"
        )
    return 0 if render["pass"] else 1


if __name__ == "__main__":
    sys.exit(main())
