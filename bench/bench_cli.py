"""Whole-process timings of `flowc show` / `flowc validate` side by side with Metaflow's own
`python flow.py show` on the same flow, reported as medians and ratios.

    .venv/bin/python bench/bench_cli.py [--repeat 7] [--json] [--skip-metaflow-big]

Metaflow 2.19.39 is installed into its own virtual environment (bench/.venv-metaflow) on the
first run. It runs the flow file, so it gets a copy whose `from flowc import` line reads
`from metaflow import`; the flow is otherwise byte-identical.
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

from bench.genflow import generate  # noqa: E402

METAFLOW_VERSION = "2.19.39"
METAFLOW_VENV = HERE / ".venv-metaflow"

TARGETS = {
    "show lr_flow, first (cold cache)": 0.5,
    "show lr_flow, repeated (warm cache)": 0.15,
    "validate 1,000 steps, repeated (warm cache)": 0.15,
    "validate 1,000 steps, first (cold cache)": 2.0,
}


def metaflow_python() -> Path:
    py = METAFLOW_VENV / "bin" / "python"
    check = [str(py), "-c", "import metaflow, sys; sys.stdout.write(metaflow.__version__)"]
    if (
        py.exists()
        and subprocess.run(check, capture_output=True, text=True).stdout == METAFLOW_VERSION
    ):
        return py
    print(f"installing metaflow=={METAFLOW_VERSION} into {METAFLOW_VENV} ...", file=sys.stderr)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(METAFLOW_VENV)], check=True)
    subprocess.run(
        [str(py), "-m", "pip", "install", "-q", f"metaflow=={METAFLOW_VERSION}"], check=True
    )
    return py


def timed(cmd: list[str], cwd: Path, env: dict[str, str], before=None, limit: float = 120) -> float:  # noqa: ANN001
    """Wall time of one whole process; inf when it runs past ``limit`` seconds."""
    if before:
        before()
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=limit)
    except subprocess.TimeoutExpired:
        return float("inf")
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(
            f"benchmark command failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stderr[-2000:]}"
        )
    return elapsed


def measure(
    name: str,
    cmd: list[str],
    cwd: Path,
    env: dict[str, str],
    repeat: int,
    before=None,
    limit: float = 120,
) -> dict:  # noqa: ANN001
    times = []
    for _ in range(repeat):
        times.append(timed(cmd, cwd, env, before, limit))
        if times[-1] == float("inf"):
            break  # no point waiting out the limit again
    return {
        "case": name,
        "median": statistics.median(times),
        "min": min(times),
        "runs": len(times),
        "limit": limit,
    }


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--json", action="store_true", help="print the results as JSON")
    ap.add_argument(
        "--skip-metaflow-big", action="store_true", help="skip Metaflow on the 1,000-step flow"
    )
    ap.add_argument(
        "--metaflow-limit",
        type=float,
        default=60,
        help="seconds before Metaflow's show of the 1,000-step flow counts as not finishing",
    )
    args = ap.parse_args()

    flowc = Path(sys.executable).with_name("flowc")
    mf_python = metaflow_python()
    work = Path(tempfile.mkdtemp(prefix="flowc-bench-"))
    cache = work / "cache"
    lr_src = (ROOT / "examples" / "lr_flow.py").read_text()
    (work / "lr_flow.py").write_text(lr_src)
    (work / "lr_flow_mf.py").write_text(lr_src.replace("from flowc import", "from metaflow import"))
    (work / "big.py").write_text(generate(1000))
    (work / "big_mf.py").write_text(generate(1000, import_from="metaflow"))

    env = {**os.environ, "FLOWC_CACHE_DIR": str(cache)}
    env.pop("FLOWC_NO_CACHE", None)
    mf_env = {
        **os.environ,
        "METAFLOW_DEFAULT_DATASTORE": "local",
        "METAFLOW_DEFAULT_METADATA": "local",
        "USERNAME": os.environ.get("USERNAME") or os.environ.get("USER") or "bench",
    }

    def clear_cache() -> None:
        shutil.rmtree(cache, ignore_errors=True)

    r = args.repeat
    results = [
        measure(
            "show lr_flow, first (cold cache)",
            [str(flowc), "show", "lr_flow.py"],
            work,
            env,
            r,
            clear_cache,
        ),
        measure(
            "show lr_flow, repeated (warm cache)", [str(flowc), "show", "lr_flow.py"], work, env, r
        ),
        measure(
            "metaflow: python lr_flow.py show",
            [str(mf_python), "lr_flow_mf.py", "show"],
            work,
            mf_env,
            r,
        ),
        measure(
            "validate 1,000 steps, first (cold cache)",
            [str(flowc), "validate", "big.py"],
            work,
            env,
            r,
            clear_cache,
        ),
        measure(
            "validate 1,000 steps, repeated (warm cache)",
            [str(flowc), "validate", "big.py"],
            work,
            env,
            r,
        ),
    ]
    if not args.skip_metaflow_big:
        results.append(
            measure(
                "metaflow: python big.py show (1,000 steps)",
                [str(mf_python), "big_mf.py", "show"],
                work,
                mf_env,
                max(3, r // 2),
                limit=args.metaflow_limit,
            )
        )
    by_case = {x["case"]: x for x in results}
    mf_show = by_case["metaflow: python lr_flow.py show"]["median"]
    for x in results:
        x["vs_metaflow_show"] = x["median"] / mf_show
        if x["case"] in TARGETS:
            x["target"] = TARGETS[x["case"]]
            x["ok"] = x["median"] < TARGETS[x["case"]]
    warm = by_case["show lr_flow, repeated (warm cache)"]["median"]
    summary = {
        "python": sys.version.split()[0],
        "metaflow": METAFLOW_VERSION,
        "results": results,
        "warm_show_faster_than_metaflow": warm < mf_show,
    }
    shutil.rmtree(work, ignore_errors=True)
    if args.json:
        print(json.dumps(summary, indent=2, default=str))
        return
    print(f"{'case':<46} {'median':>8} {'min':>8} {'x metaflow':>11}  target")
    for x in results:
        target = f"< {x['target']:.2f}s {'PASS' if x['ok'] else 'FAIL'}" if "target" in x else ""
        if x["median"] == float("inf"):
            print(f"{x['case']:<46} did not finish within {x['limit']:.0f}s")
            continue
        print(
            f"{x['case']:<46} {x['median']:>7.3f}s {x['min']:>7.3f}s {x['vs_metaflow_show']:>10.2f}x  {target}"
        )
    verdict = "PASS" if summary["warm_show_faster_than_metaflow"] else "FAIL"
    print(f"repeated flowc show faster than metaflow show: {verdict} ({warm / mf_show:.2f}x)")


if __name__ == "__main__":
    main()
