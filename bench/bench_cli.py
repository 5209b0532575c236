"""Whole-process timings of `flowc show` / `flowc validate` side by side with Metaflow's own
`python flow.py show` on the same flow, reported as medians, minimums and ratios.

    .venv/bin/python bench/bench_cli.py [--repeat 7] [--json] [--skip-metaflow-big]

Cases: flowc show of examples/lr_flow.py with an empty IR cache (cold) and with a populated
one (warm), Metaflow's show of the same flow, and the same three for a generated 1,000-step
flow (bench/genflow.py) with `flowc validate`. Every command is a fresh process, timed with
time.perf_counter() around subprocess.run, so interpreter start-up and imports count.

Metaflow 2.19.39 is installed into its own virtual environment (bench/.venv-metaflow) on the
first run and reused after. Metaflow executes the flow file, so it gets a copy whose
`from flowc import` line reads `from metaflow import`; the flow is otherwise identical.
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
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from bench.genflow import generate  # noqa: E402

METAFLOW_VERSION = "2.19.39"
METAFLOW_VENV = HERE / ".venv-metaflow"
BIG_STEPS = 1000

# case id -> (label, target in seconds or None, id of the Metaflow case on the same file)
CASES = {
    "show_cold": ("flowc show lr_flow, first (cold cache)", 0.5, "mf_show"),
    "show_warm": ("flowc show lr_flow, repeated (warm cache)", 0.15, "mf_show"),
    "mf_show": ("metaflow: python lr_flow.py show", None, None),
    "validate_cold": ("flowc validate 1,000 steps, first (cold cache)", 2.0, "mf_big"),
    "validate_warm": ("flowc validate 1,000 steps, repeated (warm cache)", 0.15, "mf_big"),
    "mf_big": ("metaflow: python big.py show (1,000 steps)", None, None),
}
# a repeated run of an unchanged file must also beat Metaflow's show of lr_flow (its fastest)
MUST_BEAT_METAFLOW = ("show_warm", "validate_warm")


class CommandFailed(SystemExit):
    pass


def metaflow_python() -> Path:
    """The interpreter of bench/.venv-metaflow, creating it (and installing Metaflow) first
    when it is missing or holds another Metaflow version."""
    py = METAFLOW_VENV / "bin" / "python"
    probe = [str(py), "-c", "import metaflow, sys; sys.stdout.write(metaflow.__version__)"]
    if py.exists():
        found = subprocess.run(probe, capture_output=True, text=True)
        if found.returncode == 0 and found.stdout == METAFLOW_VERSION:
            return py
    print(f"installing metaflow=={METAFLOW_VERSION} into {METAFLOW_VENV} ...", file=sys.stderr)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(METAFLOW_VENV)], check=True)
    subprocess.run(
        [str(py), "-m", "pip", "install", "-q", f"metaflow=={METAFLOW_VERSION}"], check=True
    )
    return py


def run_once(cmd: list[str], cwd: Path, env: dict[str, str], limit: float) -> float:
    """Wall time of one whole process; ``inf`` when it is still running after ``limit``
    seconds. A non-zero exit stops the benchmark: a failed command is not a timing."""
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=limit)
    except subprocess.TimeoutExpired:
        return float("inf")
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        raise CommandFailed(
            f"benchmark command failed (exit {proc.returncode}): {' '.join(cmd)}\n"
            f"{(proc.stdout + proc.stderr)[-3000:]}"
        )
    return elapsed


def measure(
    cmd: list[str],
    cwd: Path,
    env: dict[str, str],
    repeat: int,
    before: Callable[[], None] | None = None,
    limit: float = 120.0,
) -> dict:
    times: list[float] = []
    for _ in range(repeat):
        if before:
            before()  # not timed
        times.append(run_once(cmd, cwd, env, limit))
        if times[-1] == float("inf"):
            break  # it will not finish the next time either
    return {
        "command": " ".join(Path(c).name if i == 0 else c for i, c in enumerate(cmd)),
        "median": statistics.median(times),
        "min": min(times),
        "runs": len(times),
        "times": times,
        "limit": limit,
        "finished": all(t != float("inf") for t in times),
    }


def fmt_ratio(case: dict, base: dict | None) -> str:
    if base is None:
        return "n/a"
    if not base["finished"]:
        return f"<{case['median'] / base['limit']:.3f}x"  # Metaflow took longer than its limit
    return f"{case['median'] / base['median']:.2f}x"


def finite(obj):  # noqa: ANN001, ANN201
    """``obj`` with every infinite time (a run past its limit) as null, for strict JSON."""
    if isinstance(obj, float) and obj == float("inf"):
        return None
    if isinstance(obj, dict):
        return {k: finite(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [finite(v) for v in obj]
    return obj


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--repeat", type=int, default=7, help="runs per case (default 7)")
    ap.add_argument("--json", action="store_true", help="print the results as JSON")
    ap.add_argument(
        "--skip-metaflow-big", action="store_true", help="skip Metaflow on the 1,000-step flow"
    )
    ap.add_argument(
        "--metaflow-limit",
        type=float,
        default=60,
        help="seconds before Metaflow's show of the 1,000-step flow counts as not finishing "
        "(default 60)",
    )
    args = ap.parse_args()
    if args.repeat < 1:
        ap.error("--repeat must be at least 1")

    flowc = Path(sys.executable).with_name("flowc")
    if not flowc.exists():
        raise SystemExit(f"no flowc console script next to {sys.executable}: pip install -e .")
    mf_python = metaflow_python()

    work = Path(tempfile.mkdtemp(prefix="flowc-bench-"))
    cache = work / "flowc-cache"
    lr_src = (ROOT / "examples" / "lr_flow.py").read_text()
    if "from flowc import" not in lr_src:
        raise SystemExit("examples/lr_flow.py no longer imports `from flowc import`")
    (work / "lr_flow.py").write_text(lr_src)
    (work / "lr_flow_mf.py").write_text(lr_src.replace("from flowc import", "from metaflow import"))
    (work / "big.py").write_text(generate(BIG_STEPS))
    (work / "big_mf.py").write_text(generate(BIG_STEPS, import_from="metaflow"))

    env = {**os.environ, "FLOWC_CACHE_DIR": str(cache)}
    env.pop("FLOWC_NO_CACHE", None)
    mf_env = {
        **os.environ,
        "METAFLOW_DEFAULT_DATASTORE": "local",
        "METAFLOW_DEFAULT_METADATA": "local",
        "METAFLOW_HOME": str(work / "metaflow-home"),
        "USERNAME": os.environ.get("USERNAME") or os.environ.get("USER") or "bench",
    }

    def clear_cache() -> None:
        shutil.rmtree(cache, ignore_errors=True)

    r = args.repeat
    results: dict[str, dict] = {}
    try:
        results["show_cold"] = measure(
            [str(flowc), "show", "lr_flow.py"], work, env, r, clear_cache
        )
        results["show_warm"] = measure([str(flowc), "show", "lr_flow.py"], work, env, r)
        results["mf_show"] = measure([str(mf_python), "lr_flow_mf.py", "show"], work, mf_env, r)
        results["validate_cold"] = measure(
            [str(flowc), "validate", "big.py"], work, env, r, clear_cache
        )
        results["validate_warm"] = measure([str(flowc), "validate", "big.py"], work, env, r)
        if not args.skip_metaflow_big:
            results["mf_big"] = measure(
                [str(mf_python), "big_mf.py", "show"],
                work,
                mf_env,
                max(1, min(r, 3)),
                limit=args.metaflow_limit,
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)

    mf_show = results["mf_show"]["median"]
    for cid, res in results.items():
        label, target, base = CASES[cid]
        res["case"] = label
        res["vs_metaflow"] = fmt_ratio(res, results.get(base)) if base else None
        if target is not None:
            res["target"] = target
            res["meets_target"] = res["median"] < target
        if cid in MUST_BEAT_METAFLOW:
            res["vs_metaflow_show_lr_flow"] = res["median"] / mf_show
            res["faster_than_metaflow_show"] = res["median"] < mf_show
    checks = [r_["meets_target"] for r_ in results.values() if "meets_target" in r_]
    checks += [results[c]["faster_than_metaflow_show"] for c in MUST_BEAT_METAFLOW]
    summary = {
        "python": sys.version.split()[0],
        "metaflow": METAFLOW_VERSION,
        "repeat": r,
        "note": "Metaflow ran a copy of each flow with `from flowc import` rewritten to "
        "`from metaflow import`; otherwise the same file.",
        "results": results,
        "all_pass": all(checks),
    }
    if args.json:
        print(json.dumps(finite(summary), indent=2))
    else:
        print_table(summary, args)
    sys.exit(0 if summary["all_pass"] else 1)


def print_table(summary: dict, args: argparse.Namespace) -> None:
    results = summary["results"]
    print(
        f"python {summary['python']}, metaflow {summary['metaflow']}, "
        f"{summary['repeat']} runs per case (whole process, wall time)"
    )
    print(summary["note"])
    print()
    print(f"{'case':<50} {'median':>8} {'min':>8} {'vs metaflow':>12}  target")
    for res in results.values():
        if not res["finished"]:
            print(f"{res['case']:<50} did not finish within {res['limit']:.0f} s")
            continue
        ratio = res["vs_metaflow"] or ""
        target = ""
        if "target" in res:
            target = f"< {res['target']:.2f} s {'PASS' if res['meets_target'] else 'FAIL'}"
        print(f"{res['case']:<50} {res['median']:>7.3f}s {res['min']:>7.3f}s {ratio:>12}  {target}")
    if "mf_big" not in results:
        print("(Metaflow on the 1,000-step flow skipped: --skip-metaflow-big)")
    print()
    print("vs metaflow: flowc's median / Metaflow's median show of the same flow")
    for cid in MUST_BEAT_METAFLOW:
        res = results[cid]
        verdict = "PASS" if res["faster_than_metaflow_show"] else "FAIL"
        print(
            f"{res['case']} faster than metaflow show of lr_flow: {verdict} "
            f"({res['vs_metaflow_show_lr_flow']:.2f}x)"
        )
    print(f"all targets: {'PASS' if summary['all_pass'] else 'FAIL'}")


if __name__ == "__main__":
    main()
