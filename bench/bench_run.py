"""Whole `run`s of the same flow files under flowc and under Metaflow 2.19.39, side by side in
one invocation, reported as medians, ratios and PASS/FAIL against targets.

    .venv/bin/python bench/bench_run.py [--cases hello,linear10] [--repeat 1] [--warmup 1]
        [--metaflow-repeat N] [--skip-metaflow] [--skip-flowc] [--json] [--workdir D] [--keep]

The flows are written into a temporary directory as files that import from ``metaflow``, so
the very same file runs under both tools:

- Metaflow: ``<bench/.venv-metaflow>/bin/python flow.py run --max-num-splits 1000`` (its
  defaults otherwise: local datastore and metadata, 16 workers), with an empty temporary
  ``METAFLOW_HOME`` and ``USERNAME`` set;
- flowc: ``<this interpreter> -m flowc run flow.py`` (flowc stands in for ``metaflow`` inside its
  own process; defaults: ``.flowc/`` datastore in the working directory, one worker per core),
  with an empty temporary ``FLOWC_CACHE_DIR`` (no analysis cached from an earlier run).

Every run is a fresh process in a fresh, empty working directory, timed with
time.perf_counter() around the whole command (interpreter start-up and imports count), with a
time limit; each case and tool first gets an untimed warm-up run (--warmup), because the
first process to touch a lot of memory after an idle moment can be several times slower (on a
VM whose balloon driver hands freed memory back to the host, numpy_save_load took 2.7 s
instead of 0.55 s, nearly all of it system time). A non-zero exit, a run past its limit, or a run whose output lacks the flow's
result fails that case; the bench then exits 1, as it does when a target is missed.

Cases: hello (start -> end, prints), linear10 (10 steps in a line, each sets an int
artifact), foreach100 and foreach500 (a trivial body step per item, a join that sums them),
bigarray (a step stores a 512 MiB array of random float64, the next sums it), and
numpy_save_load (the same array through numpy.save + numpy.load, in a subprocess of this
interpreter). Derived: per-task overhead, ``(foreach500 - foreach100) / 400``, and how many
bytes a second bigarray run adds to the same ``.flowc/`` datastore (the array is content
addressed: a second copy must not be stored). Metaflow ships in bench/.venv-metaflow (created
on first use, with numpy for bigarray).
"""

from __future__ import annotations

import argparse
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
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from bench.bench_cli import METAFLOW_VERSION, metaflow_python  # noqa: E402

MiB = 2**20
ARRAY_LEN = 512 * MiB // 8  # 512 MiB of float64
ARRAY_SUM = ARRAY_LEN / 2  # the expected sum of uniform [0, 1) floats, give or take ~2,400

# Targets. The foreach ratio is Metaflow's median over flowc's.
HELLO_MAX_S = 0.5
FOREACH500_MIN_RATIO = 30.0
PER_TASK_MAX_MS = 15.0
BIGARRAY_MAX_VS_NUMPY = 1.4
DEDUP_MAX_BYTES = 1 * MiB

HELLO = """\
from metaflow import FlowSpec, step


class HelloFlow(FlowSpec):
    @step
    def start(self):
        print("hello from start")
        self.next(self.end)

    @step
    def end(self):
        print("hello from end")


if __name__ == "__main__":
    HelloFlow()
"""

FOREACH = """\
from metaflow import FlowSpec, step


class ForeachFlow(FlowSpec):
    @step
    def start(self):
        self.items = list(range({n}))
        self.next(self.body, foreach="items")

    @step
    def body(self):
        self.x = self.input * 2
        self.next(self.join)

    @step
    def join(self, inputs):
        self.total = sum([i.x for i in inputs])
        assert self.total == {n} * ({n} - 1), self.total
        self.next(self.end)

    @step
    def end(self):
        print("total", self.total)


if __name__ == "__main__":
    ForeachFlow()
"""

BIGARRAY = f"""\
import numpy
from metaflow import FlowSpec, step


class BigArrayFlow(FlowSpec):
    @step
    def start(self):
        self.a = numpy.random.default_rng(0).random(512 * 2**20 // 8)
        self.next(self.end)

    @step
    def end(self):
        self.s = float(self.a.sum())
        assert self.a.size == {ARRAY_LEN}, self.a.size
        print("sum", self.s)


if __name__ == "__main__":
    BigArrayFlow()
"""

NUMPY_SAVE_LOAD = """\
import numpy

a = numpy.random.default_rng(0).random(512 * 2**20 // 8)
numpy.save("a.npy", a)
del a
print("sum", float(numpy.load("a.npy").sum()))
"""


def linear(n: int) -> str:
    """A flow of ``n`` steps in a line; step i sets ``self.v<i> = self.v<i-1> + 1``, so the
    last one (printed by ``end``) is n - 1 only if every artifact reached the next step."""
    names = ["start", *[f"s{i}" for i in range(1, n - 1)], "end"]
    lines = ["from metaflow import FlowSpec, step", "", "", "class LinearFlow(FlowSpec):"]
    for i, name in enumerate(names):
        value = "0" if i == 0 else f"self.v{i - 1} + 1"
        lines += ["    @step", f"    def {name}(self):", f"        self.v{i} = {value}"]
        if name == "end":
            lines.append(f'        print("last", self.v{i})')
        else:
            lines.append(f"        self.next(self.{names[i + 1]})")
        lines.append("")
    lines += ["", 'if __name__ == "__main__":', "    LinearFlow()", ""]
    return "\n".join(lines)


@dataclass(frozen=True)
class Case:
    source: str  # the flow file (or, for numpy_save_load, the script)
    expect: str  # a regular expression the run's output must match
    flowc_limit: float  # seconds before a run counts as failed
    metaflow_limit: float


_SUM = r"sum (\S+)"
CASES = {
    "hello": Case(HELLO, r"hello from end", 60, 120),
    "linear10": Case(linear(10), r"last 9\b", 120, 300),
    "foreach100": Case(FOREACH.replace("{n}", "100"), rf"total {100 * 99}\b", 300, 600),
    "foreach500": Case(FOREACH.replace("{n}", "500"), rf"total {500 * 499}\b", 600, 900),
    "bigarray": Case(BIGARRAY, _SUM, 600, 900),
    "numpy_save_load": Case(NUMPY_SAVE_LOAD, _SUM, 600, 0),  # this interpreter only
}


@dataclass
class Outcome:
    seconds: float | None  # None: failed
    error: str = ""


class Runner:
    """Runs commands, each in a fresh directory under ``work``, and keeps the failures."""

    def __init__(self, work: Path, mf_python: Path | None, keep_failed: bool) -> None:
        self.work = work
        self.flows = work / "flows"
        self.flows.mkdir()
        self.mf_python = mf_python
        self.failures: list[dict] = []
        self.keep_failed = keep_failed
        self._n = 0

    def fresh_dir(self, label: str) -> Path:
        self._n += 1
        d = self.work / "runs" / f"{self._n:03d}-{label}"
        d.mkdir(parents=True)
        return d

    def flow_file(self, case: str) -> Path:
        path = self.flows / f"{case}.py"
        if not path.exists():
            path.write_text(CASES[case].source)
        return path

    def command(self, side: str, case: str) -> list[str]:
        path = str(self.flow_file(case))
        if side == "flowc":
            return [sys.executable, "-m", "flowc", "run", path]
        if side == "metaflow":
            # Metaflow refuses a foreach of more than 100 items unless told otherwise
            return [str(self.mf_python), path, "run", "--max-num-splits", "1000"]
        return [sys.executable, path]  # numpy_save_load

    @staticmethod
    def env(side: str, run_dir: Path) -> dict[str, str]:
        env = {**os.environ, "USERNAME": "bench"}
        if side == "metaflow":
            home = run_dir / "metaflow-home"
            home.mkdir(exist_ok=True)
            env.update(
                METAFLOW_HOME=str(home),
                METAFLOW_DEFAULT_DATASTORE="local",
                METAFLOW_DEFAULT_METADATA="local",
            )
        elif side == "flowc":
            for var in ("FLOWC_DATASTORE", "FLOWC_NO_CACHE"):
                env.pop(var, None)
            env["FLOWC_CACHE_DIR"] = str(run_dir / "flowc-cache")
        return env

    def run(self, side: str, case: str, cwd: Path, env: dict[str, str]) -> Outcome:
        """One timed run of ``case`` under ``side`` in ``cwd``; a failure is recorded."""
        cmd = self.command(side, case)
        c = CASES[case]
        limit = c.metaflow_limit if side == "metaflow" else c.flowc_limit
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            cmd,
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            errors="replace",
            start_new_session=True,  # so that a timeout can stop its workers too
        )
        try:
            out, err = proc.communicate(timeout=limit)
            elapsed = time.perf_counter() - t0
        except BaseException as exc:  # a timeout, or ^C: stop the run and all it started
            os.killpg(proc.pid, signal.SIGKILL)
            out, err = proc.communicate()
            if not isinstance(exc, subprocess.TimeoutExpired):
                raise
            return self.fail(side, case, cmd, cwd, f"still running after {limit:.0f} s", out, err)
        if proc.returncode != 0:
            return self.fail(side, case, cmd, cwd, f"exit {proc.returncode}", out, err)
        problem = check_output(case, out + err)
        if problem:
            return self.fail(side, case, cmd, cwd, problem, out, err)
        return Outcome(elapsed)

    def fail(self, side: str, case: str, cmd: list[str], cwd: Path, why: str, out: str, err: str):
        record = {"side": side, "case": case, "command": cmd, "cwd": str(cwd), "why": why}
        record["stderr_tail"] = tail(err, 40)
        record["stdout_tail"] = tail(out, 15)
        self.failures.append(record)
        kept = "" if self.keep_failed else " (removed; --keep keeps it)"
        print(
            f"FAILED: {side} {case}: {why}\n{describe(record)}\n  in {cwd}{kept}", file=sys.stderr
        )
        return Outcome(None, why)

    def remove(self, run_dir: Path, outcome: Outcome) -> None:
        """Delete a run's directory right away (bigarray leaves 512 MiB), unless it failed
        and --keep asks for it."""
        if outcome.seconds is not None or not self.keep_failed:
            shutil.rmtree(run_dir, ignore_errors=True)

    def measure(self, side: str, case: str, repeat: int, warmup: int) -> dict:
        """``warmup`` untimed runs, then ``repeat`` timed ones, each in a fresh working
        directory removed right after; stops at the first failure."""
        times: list[float] = []
        error = ""
        for i in range(warmup + repeat):
            run_dir = self.fresh_dir(f"{side}-{case}")
            cwd = run_dir / "cwd"
            cwd.mkdir()
            outcome = self.run(side, case, cwd, self.env(side, run_dir))
            self.remove(run_dir, outcome)
            if outcome.seconds is None:
                error = outcome.error
                break
            what = "warm-up" if i < warmup else f"run {i - warmup + 1}/{repeat}"
            print(f"  {side:<8} {case:<16} {what}: {outcome.seconds:.2f} s", file=sys.stderr)
            if i >= warmup:
                times.append(outcome.seconds)
        return {
            "command": " ".join(shown(self.command(side, case))),
            "seconds": statistics.median(times) if not error else None,
            "min": min(times) if not error else None,
            "times": times,
            **({"error": error} if error else {}),
        }

    def dedup(self) -> dict:
        """bigarray twice under flowc in one working directory (one datastore): how many
        bytes the second run adds to ``.flowc/``."""
        run_dir = self.fresh_dir("flowc-bigarray-dedup")
        cwd = run_dir / "cwd"
        cwd.mkdir()
        env = self.env("flowc", run_dir)
        first = self.run("flowc", "bigarray", cwd, env)
        before = tree_bytes(cwd / ".flowc")
        second = self.run("flowc", "bigarray", cwd, env) if first.seconds else first
        after = tree_bytes(cwd / ".flowc")
        self.remove(run_dir, second)
        if second.seconds is None:
            return {"error": second.error}
        print(f"  flowc    bigarray twice   grew by {after - before:,} bytes", file=sys.stderr)
        return {
            "first_run_seconds": first.seconds,
            "second_run_seconds": second.seconds,
            "bytes_after_first_run": before,
            "bytes_after_second_run": after,
            "second_run_added_bytes": after - before,
        }


def tail(text: str, lines: int) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:])


def describe(failure: dict) -> str:
    """The command of a failed run and the ends of its stderr and stdout, indented."""
    parts = [f"$ {' '.join(failure['command'])}"]
    for stream in ("stderr", "stdout"):
        if failure[f"{stream}_tail"]:
            parts += [f"--- {stream} (last lines)", failure[f"{stream}_tail"]]
    return "  " + "\n".join(parts).replace("\n", "\n  ")


def check_output(case: str, text: str) -> str:
    """What is wrong with a successful run's output, or '' when it shows the flow's result."""
    m = re.search(CASES[case].expect, text)
    if not m:
        return f"output does not match {CASES[case].expect!r}"
    if CASES[case].expect == _SUM:
        try:
            total = float(m.group(1))
        except ValueError:
            return f"unexpected sum {m.group(1)!r}"
        if abs(total - ARRAY_SUM) > 50_000:  # 20 standard deviations
            return f"sum of the array is {total}, expected about {ARRAY_SUM:.0f}"
    return ""


def shown(cmd: list[str]) -> list[str]:
    """A command for the report: interpreters and flow files by name, not by temp path."""
    out = []
    for i, part in enumerate(cmd):
        if i == 0 and Path(part).resolve() == Path(sys.executable).resolve():
            out.append("python")
        elif i == 0:
            out.append(str(Path(part).parent.parent.name) + "/bin/python")
        else:
            out.append(Path(part).name if part.endswith(".py") else part)
    return out


def tree_bytes(root: Path) -> int:
    """Apparent size of the files under ``root``, each inode counted once (hard links do not
    count twice); symbolic links are not followed."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            st = os.lstat(os.path.join(dirpath, name))
            if (st.st_dev, st.st_ino) not in seen:
                seen.add((st.st_dev, st.st_ino))
                total += st.st_size
    return total


def ensure_numpy(mf_python: Path) -> None:
    """numpy in the Metaflow environment, the same version as here when this one has it."""
    probe = [str(mf_python), "-c", "import numpy"]
    if subprocess.run(probe, capture_output=True).returncode == 0:
        return
    try:
        import numpy

        spec = f"numpy=={numpy.__version__}"
    except ImportError:
        spec = "numpy"
    print(f"installing {spec} into {mf_python.parent.parent} ...", file=sys.stderr)
    subprocess.run([str(mf_python), "-m", "pip", "install", "-q", spec], check=True)


def verdict(figure: float | None, ok: bool | None) -> str:
    if figure is None or ok is None:
        return "not measured"
    return "PASS" if ok else "FAIL"


def evaluate(results: dict, derived: dict) -> dict:
    """The targets, each with its figure and whether it is met (None: not measured)."""

    def secs(case: str, side: str) -> float | None:
        return results.get(case, {}).get(side, {}).get("seconds")

    def target(figure: float | None, text: str, ok) -> dict:  # noqa: ANN001
        return {"figure": figure, "target": text, "pass": None if figure is None else ok(figure)}

    ratio = results.get("foreach500", {}).get("metaflow_over_flowc")
    overhead = derived.get("per_task_overhead_ms", {}).get("flowc")
    vs_numpy = derived.get("bigarray_flowc_over_numpy")
    added = derived.get("dedup", {}).get("second_run_added_bytes")
    return {
        "hello_flowc_seconds": target(
            secs("hello", "flowc"), f"< {HELLO_MAX_S} s", lambda v: v < HELLO_MAX_S
        ),
        "foreach500_metaflow_over_flowc": target(
            ratio, f">= {FOREACH500_MIN_RATIO:.0f}x", lambda v: v >= FOREACH500_MIN_RATIO
        ),
        "per_task_overhead_ms": target(
            overhead, f"< {PER_TASK_MAX_MS:.0f} ms", lambda v: v < PER_TASK_MAX_MS
        ),
        "bigarray_flowc_over_numpy": target(
            vs_numpy, f"<= {BIGARRAY_MAX_VS_NUMPY}x", lambda v: v <= BIGARRAY_MAX_VS_NUMPY
        ),
        "dedup_second_run_added_bytes": target(
            added, f"< {DEDUP_MAX_BYTES:,} bytes (1 MiB)", lambda v: v < DEDUP_MAX_BYTES
        ),
    }


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--cases",
        default=",".join(CASES),
        help=f"comma-separated cases (default: all of {','.join(CASES)}); bigarray brings "
        "numpy_save_load along",
    )
    ap.add_argument("--repeat", type=int, default=1, help="runs per case and side (median)")
    ap.add_argument(
        "--metaflow-repeat",
        type=int,
        help="runs per case under Metaflow (default: --repeat); Metaflow's foreach500 alone "
        "takes minutes",
    )
    ap.add_argument(
        "--warmup",
        type=int,
        default=1,
        help="untimed runs of each case and tool before its timed ones (default 1)",
    )
    ap.add_argument("--skip-metaflow", action="store_true", help="flowc only; no ratios")
    ap.add_argument(
        "--skip-flowc", action="store_true", help="Metaflow (and numpy) only; no ratios"
    )
    ap.add_argument("--json", action="store_true", help="print the results as strict JSON")
    ap.add_argument(
        "--workdir",
        type=Path,
        help="where the temporary directories go (default: the system's temp dir); "
        "bigarray writes 512 MiB per run",
    )
    ap.add_argument(
        "--keep",
        action="store_true",
        help="keep the generated flows and the directories of failed runs (printed at the end)",
    )
    args = ap.parse_args()
    mf_repeat = args.repeat if args.metaflow_repeat is None else args.metaflow_repeat
    if args.repeat < 1 or mf_repeat < 1 or args.warmup < 0:
        ap.error("--repeat and --metaflow-repeat must be at least 1, --warmup at least 0")
    if args.skip_metaflow and args.skip_flowc:
        ap.error("--skip-metaflow and --skip-flowc leave nothing to compare")
    cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    unknown = [c for c in cases if c not in CASES]
    if unknown or not cases:
        ap.error(f"unknown cases: {', '.join(unknown)} (known: {', '.join(CASES)})")
    if "bigarray" in cases and "numpy_save_load" not in cases:
        cases.append("numpy_save_load")
    cases = [c for c in CASES if c in cases]  # in the usual order

    if not args.skip_flowc:
        probe = subprocess.run([sys.executable, "-c", "import flowc"], capture_output=True)
        if probe.returncode != 0:
            raise SystemExit(f"flowc is not importable by {sys.executable}: pip install -e .")
    mf_python = None
    if not args.skip_metaflow:
        mf_python = metaflow_python()
        if "bigarray" in cases:
            ensure_numpy(mf_python)

    sides = [s for s in ("flowc", "metaflow") if not getattr(args, f"skip_{s}")]
    if args.workdir:
        args.workdir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="flowc-bench-run-", dir=args.workdir))
    results: dict[str, dict] = {}
    derived: dict = {}
    reps = {  # (timed runs, warm-up runs) per tool
        "flowc": (args.repeat, args.warmup),
        "numpy": (args.repeat, args.warmup),
        "metaflow": (mf_repeat, args.warmup),
    }
    try:
        runner = Runner(work, mf_python, keep_failed=args.keep)
        for case in cases:
            if case == "numpy_save_load":
                if "numpy" not in results.get(case, {}):  # not measured beside bigarray
                    results[case] = {"numpy": runner.measure("numpy", case, *reps["numpy"])}
                continue
            row: dict = {}
            for side in sides:
                row[side] = runner.measure(side, case, *reps[side])
                if case == "bigarray" and side == "flowc":
                    # right after flowc's runs, while the machine is in the same state
                    if "numpy_save_load" in cases:
                        results["numpy_save_load"] = {
                            "numpy": runner.measure("numpy", "numpy_save_load", *reps["numpy"])
                        }
                    if row["flowc"]["seconds"] is not None:
                        derived["dedup"] = runner.dedup()
            fl, mf = row.get("flowc", {}).get("seconds"), row.get("metaflow", {}).get("seconds")
            if fl and mf:
                row["metaflow_over_flowc"] = mf / fl
            results[case] = row
        failures = runner.failures
        results = {c: results[c] for c in CASES if c in results}  # in the usual order
    finally:
        if args.keep:
            print(f"kept {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)

    if {"foreach100", "foreach500"} <= set(results):
        per_task = {}
        for side in sides:
            t100 = results["foreach100"][side]["seconds"]
            t500 = results["foreach500"][side]["seconds"]
            if t100 is not None and t500 is not None:
                per_task[side] = (t500 - t100) / 400 * 1000
        derived["per_task_overhead_ms"] = per_task
    if "bigarray" in results and "flowc" in sides:
        fl = results["bigarray"]["flowc"]["seconds"]
        nb = results["numpy_save_load"]["numpy"]["seconds"]
        if fl is not None and nb is not None:
            derived["bigarray_flowc_over_numpy"] = fl / nb
    targets = evaluate(results, derived)
    summary = {
        "python": sys.version.split()[0],
        "metaflow": METAFLOW_VERSION,
        "cpus": os.cpu_count(),
        "repeat": args.repeat,
        "metaflow_repeat": mf_repeat if mf_python else None,
        "warmup": args.warmup,
        "note": "seconds: median wall time of the whole command; metaflow_over_flowc: "
        "Metaflow's median / flowc's (how many times faster flowc is)",
        "cases": results,
        "derived": derived,
        "targets": targets,
        "failures": failures,
        "all_pass": not failures and all(t["pass"] is not False for t in targets.values()),
    }
    if args.json:
        print(json.dumps(summary, indent=2, allow_nan=False))
    else:
        print_table(summary)
    sys.exit(0 if summary["all_pass"] else 1)


TARGET_LABELS = {
    "hello_flowc_seconds": ("hello under flowc", "{:.2f} s"),
    "foreach500_metaflow_over_flowc": ("foreach500, Metaflow / flowc", "{:.1f}x"),
    "per_task_overhead_ms": ("flowc per-task overhead", "{:.1f} ms"),
    "bigarray_flowc_over_numpy": ("bigarray under flowc / numpy save+load", "{:.2f}x"),
    "dedup_second_run_added_bytes": ("bytes a 2nd bigarray run adds to .flowc/", "{:,}"),
}


def print_table(summary: dict) -> None:
    results, derived, targets = summary["cases"], summary["derived"], summary["targets"]
    mf_runs = summary["metaflow_repeat"]
    print(
        f"python {summary['python']}, metaflow {summary['metaflow']}, {summary['cpus']} CPUs; "
        f"median of {summary['repeat']} run(s) per case"
        + (f" ({mf_runs} under Metaflow)" if mf_runs and mf_runs != summary["repeat"] else "")
        + f" after {summary['warmup']} untimed warm-up run(s); whole command, wall time"
    )
    print()

    def sec(row: dict, side: str) -> str:
        if side not in row:
            return "-"
        s = row[side]["seconds"]
        return "FAILED" if s is None else f"{s:.2f}"

    def tgt(name: str) -> str:
        t = targets[name]
        return f"{t['target']}: {verdict(t['figure'], t['pass'])}"

    print(f"{'case':<16} {'flowc s':>9} {'metaflow s':>11} {'metaflow/flowc':>15}  target")
    for case, row in results.items():
        if case == "numpy_save_load":
            note = "plain numpy.save + numpy.load, same interpreter as flowc"
            print(f"{case:<16} {sec(row, 'numpy'):>9} {'':>11} {'':>15}  ({note})")
            continue
        ratio = row.get("metaflow_over_flowc")
        ratio_s = "-" if not ratio else f"{ratio:.1f}x faster" if ratio >= 1 else f"{ratio:.2f}x"
        note = ""
        if case == "hello":
            note = "flowc " + tgt("hello_flowc_seconds")
        elif case == "foreach500":
            note = tgt("foreach500_metaflow_over_flowc")
        elif case == "bigarray":
            note = "vs numpy_save_load " + tgt("bigarray_flowc_over_numpy")
        print(f"{case:<16} {sec(row, 'flowc'):>9} {sec(row, 'metaflow'):>11} {ratio_s:>15}  {note}")

    notes = []
    per_task = derived.get("per_task_overhead_ms")
    if per_task is not None:
        parts = ", ".join(f"{side} {ms:.1f} ms" for side, ms in per_task.items())
        notes.append(f"per-task overhead, (foreach500 - foreach100) / 400: {parts or 'n/a'}")
    if "bigarray_flowc_over_numpy" in derived:
        fl = results["bigarray"]["flowc"]["seconds"]
        nb = results["numpy_save_load"]["numpy"]["seconds"]
        ratio = derived["bigarray_flowc_over_numpy"]
        notes.append(f"bigarray, flowc / numpy save+load: {fl:.2f} s / {nb:.2f} s = {ratio:.2f}x")
    dedup = derived.get("dedup")
    if dedup is not None and "error" in dedup:
        notes.append(f"dedup (bigarray twice under flowc in one .flowc/): FAILED, {dedup['error']}")
    elif dedup is not None:
        notes.append(
            f"dedup: bigarray twice under flowc in one .flowc/: {dedup['bytes_after_first_run']:,}"
            f" bytes after the first run, {dedup['bytes_after_second_run']:,} after the second "
            f"(+{dedup['second_run_added_bytes']:,}); second run {dedup['second_run_seconds']:.2f} s"
        )
    if notes:
        print()
        print("\n".join(notes))

    print()
    print(f"{'target':<42} {'figure':>12}  {'wanted':<28} result")
    for name, t in targets.items():
        label, fmt = TARGET_LABELS[name]
        figure = "-" if t["figure"] is None else fmt.format(t["figure"])
        print(f"{label:<42} {figure:>12}  {t['target']:<28} {verdict(t['figure'], t['pass'])}")

    for f in summary["failures"]:
        print(f"\nFAILED {f['side']} {f['case']}: {f['why']}\n{describe(f)}")
    met = [t["pass"] for t in targets.values() if t["pass"] is not None]
    print(
        f"\ntargets met: {sum(met)} of {len(met)} measured"
        + (f"; {len(summary['failures'])} failed run(s)" if summary["failures"] else "")
        + f"; overall {'PASS' if summary['all_pass'] else 'FAIL'}"
    )


if __name__ == "__main__":
    main()
