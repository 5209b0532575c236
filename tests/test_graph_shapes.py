"""The graph shapes Metaflow 2.19 accepts beyond plain splits: a recursive switch (a case that
goes back to its own step: each visit is a task), also inside a foreach and resumed; a switch
inside a static branch; a switch inside a foreach whose cases go to the join. Each runs for
real through ``flowc run`` / ``flowc task`` / ``flowc resume``; the targets that cannot repeat
a step say so, located."""

from __future__ import annotations

import json

import pytest

from flowc.analyzer import analyze_source
from flowc.lint import lint
from tests.conftest import EXAMPLES, artifacts, run_flow, run_flowc

LOOP_IN_FOREACH = """
import os

from metaflow import FlowSpec, step


class LoopInForeach(FlowSpec):
    @step
    def start(self):
        self.items = [3, 1, 2]
        self.next(self.prep, foreach="items")

    @step
    def prep(self):
        self.visits = 0
        self.next(self.loop)

    @step
    def loop(self):
        self.visits += 1
        if os.environ.get("FAIL_AT") == f"{self.index}/{self.visits}":
            raise RuntimeError("planned failure")
        self.seen = (self.input, self.index, self.visits)
        self.more = "yes" if self.visits < self.input else "no"
        self.next({"yes": self.loop, "no": self.done}, condition="more")

    @step
    def done(self):
        self.result = f"{self.input}:{self.visits}"
        self.next(self.join)

    @step
    def join(self, inputs):
        self.results = [i.result for i in inputs]
        self.next(self.end)

    @step
    def end(self):
        print("results", self.results)
"""

SWITCHES = """
from metaflow import FlowSpec, step


class Switches(FlowSpec):
    @step
    def start(self):
        self.route = "c"
        self.next(self.a, self.b)

    @step
    def a(self):
        self.next({"c": self.c, "d": self.d}, condition="route")

    @step
    def b(self):
        self.data = "b"
        self.next(self.join)

    @step
    def c(self):
        self.data = "c"
        self.next(self.join)

    @step
    def d(self):
        self.data = "d"
        self.next(self.join)

    @step
    def join(self, inputs):
        self.branches = sorted(i.data for i in inputs)
        self.next(self.fan)

    @step
    def fan(self):
        self.items = [1, 2, 3]
        self.next(self.pick, foreach="items")

    @step
    def pick(self):
        self.kind = "odd" if self.input % 2 else "even"
        self.next({"odd": self.odd, "even": self.even}, condition="kind")

    @step
    def odd(self):
        self.out = f"odd{self.input}"
        self.next(self.gather)

    @step
    def even(self):
        self.out = f"even{self.input}"
        self.next(self.gather)

    @step
    def gather(self, inputs):
        self.outs = [i.out for i in inputs]
        self.next(self.end)

    @step
    def end(self):
        pass
"""


# the static-branch half of SWITCHES, which Airflow runs too (tests/test_airflow_run.py)
SWITCH_IN_BRANCH = (
    SWITCHES.split("    @step\n    def fan(self)")[0].replace(
        "self.next(self.fan)", "self.next(self.end)"
    )
    + "    @step\n    def end(self):\n        pass\n"
)


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


def task_ids(tmp_path, flow, run_id, step):
    return sorted((tmp_path / "ds" / "runs" / flow / run_id / step).iterdir())


def test_lint_accepts_metaflows_shapes_and_still_rejects_other_loops():
    for src in (LOOP_IN_FOREACH, SWITCHES, (EXAMPLES / "converge_flow.py").read_text()):
        (ir,) = analyze_source(src, "f.py").flows
        assert [d.format() for d in lint(ir)] == []
    loop = ir.step("train")
    assert loop.in_steps == ("start",)  # the loop edge is the runtime's, not a graph edge
    two_step_loop = LOOP_IN_FOREACH.replace('"yes": self.loop', '"yes": self.prep')
    (ir,) = analyze_source(two_step_loop, "f.py").flows
    assert "cycle" in {d.rule for d in lint(ir)}


def test_recursive_switch_inside_a_foreach_runs_each_visit_as_a_task(tmp_path, monkeypatch):
    from flowc import Flow, namespace
    from flowc.client import scope

    flow = write(tmp_path, "loop.py", LOOP_IN_FOREACH)
    proc, run_id = run_flow(flow, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    ids = [p.name for p in task_ids(tmp_path, "LoopInForeach", run_id, "loop")]
    assert ids == ["0.0", "0.1", "0.2", "1.0", "2.0", "2.1"]  # item, then visit
    # a visit sees the foreach item and index of its item, and the previous visit's artifacts
    assert artifacts(tmp_path, "LoopInForeach", run_id, "loop", "0.2")["seen"] == (3, 0, 3)
    assert artifacts(tmp_path, "LoopInForeach", run_id, "loop", "2.1")["seen"] == (2, 2, 2)
    assert artifacts(tmp_path, "LoopInForeach", run_id, "join")["results"] == ["3:3", "1:1", "2:2"]
    done = json.loads(
        (tmp_path / "ds/runs/LoopInForeach" / run_id / "done/0/task.json").read_text()
    )
    assert done["parents"] == ["loop/0.2"]  # the last visit
    # the client lists every visit
    monkeypatch.setenv("FLOWC_DATASTORE", str(tmp_path / "ds"))
    monkeypatch.setattr(scope, "_current", scope._current)  # restored after the test
    namespace(None)
    run = Flow("LoopInForeach")[run_id]
    assert len(list(run["loop"])) == 6
    assert sorted(t.data.visits for t in run["loop"]) == [1, 1, 1, 2, 2, 3]


def test_switch_inside_a_branch_and_inside_a_foreach(tmp_path):
    flow = write(tmp_path, "sw.py", SWITCHES)
    proc, run_id = run_flow(flow, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert artifacts(tmp_path, "Switches", run_id, "join")["branches"] == ["b", "c"]
    assert artifacts(tmp_path, "Switches", run_id, "gather")["outs"] == ["odd1", "even2", "odd3"]
    assert not (tmp_path / "ds/runs/Switches" / run_id / "d").exists()
    assert [p.name for p in task_ids(tmp_path, "Switches", run_id, "odd")] == ["0", "2"]


def test_the_task_contract_runs_visits_and_finds_the_last_one(tmp_path):
    flow = EXAMPLES / "converge_flow.py"
    ds = str(tmp_path / "ds")

    def task(step, *args):
        proc = run_flowc("task", str(flow), step, "--run-id", "r", "--datastore", ds, *args)
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout.strip().splitlines()[-1])["flowc_result"]

    task("start", "--max-epochs", "3")
    assert task("train", "--index", "0")["branch"] == "train"
    assert task("train", "--index", "1")["branch"] == "train"
    last = task("train", "--index", "2")
    assert last["branch"] == "report" and last["task_id"] == "2"
    task("report")
    assert artifacts(tmp_path, "ConvergeFlow", "r", "report")["epochs"] == 3
    proc = run_flowc("task", str(flow), "train", "--run-id", "r", "--datastore", ds)
    assert proc.returncode == 2 and "--index" in proc.stderr


def test_resume_clones_the_visits_that_finished(tmp_path):
    flow = write(tmp_path, "loop.py", LOOP_IN_FOREACH)
    proc, origin = run_flow(flow, cwd=tmp_path, env={"FAIL_AT": "0/3"})
    assert proc.returncode == 1, proc.stdout + proc.stderr
    proc = run_flowc(
        "resume", str(flow), "--datastore", str(tmp_path / "ds"),
        "--run-id-file", str(tmp_path / "resumed"), cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    new = (tmp_path / "resumed").read_text()
    base = tmp_path / "ds/runs/LoopInForeach" / new / "loop"
    cloned = {p.name for p in base.iterdir() if "origin_pathspec" in (p / "task.json").read_text()}
    assert {"0.0", "0.1"} <= cloned and "0.2" not in cloned
    assert artifacts(tmp_path, "LoopInForeach", new, "join")["results"] == ["3:3", "1:1", "2:2"]


@pytest.mark.parametrize("target", ["airflow", "kfp"])
def test_targets_without_loops_give_a_located_error(tmp_path, target):
    flow = EXAMPLES / "converge_flow.py"
    proc = run_flowc(
        "compile", str(flow), "--target", target, "--image", "python:3.12",
        "--datastore", "s3://b/p", "-o", str(tmp_path / "out"),
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    line = next(x for x in proc.stdout.splitlines() + proc.stderr.splitlines() if "error[" in x)
    src = flow.read_text().splitlines()
    at = next(i for i, t in enumerate(src, 1) if '"again": self.train' in t)
    assert line.startswith(f"{flow}:{at}:")
    assert f"error[{target}-recursive-switch]" in line and "'train' loops back" in line
    assert not (tmp_path / "out").exists()


def test_argo_runs_switches_inside_a_branch_and_a_foreach(tmp_path):
    """Compiled, checked with the official Argo models and hera (extra=forbid), then run by
    tests/argo_runner.py (a simulator of Argo's DAG semantics: there is no cluster here) and
    compared with a local run, artifact for artifact."""
    from tests.test_argo_compile import compile_text, validate_all
    from tests.test_argo_run import assert_same_as_local, run_argo

    flow = write(tmp_path, "sw.py", SWITCHES)
    (doc,) = validate_all(compile_text(flow, tmp_path))
    tasks = {
        t["name"]: t
        for tpl in doc["spec"]["templates"]
        for t in tpl.get("dag", {}).get("tasks", [])
    }
    assert tasks["join"]["depends"] == "(c.Succeeded || d.Succeeded) && b.Succeeded"
    runner = run_argo(flow, tmp_path, "sw-1")
    got = assert_same_as_local(tmp_path, flow, "Switches", "sw-1")
    assert ("d", "0") not in got and ("even", "1") in got and ("odd", "2") in got
    assert runner.nodes["main/join"] == "Succeeded"


def test_kfp_runs_switches_inside_a_branch_and_a_foreach(tmp_path):
    """dsl.If inside dsl.ParallelFor: compiled with the kfp SDK, checked against KFP's protobuf
    schema, run by tests/kfp_harness.py and compared with a local run."""
    from tests.test_kfp_run import assert_same_as_local, compile_and_run

    flow = write(tmp_path, "sw.py", SWITCHES)
    job = compile_and_run(tmp_path, flow)
    got = assert_same_as_local(tmp_path, flow, "Switches", job)
    assert ("d", "0") not in got and ("even", "1") in got and ("odd", "2") in got


def test_argo_runs_a_recursive_switch_as_a_recursive_template(tmp_path):
    """The loop is a DAG template that runs one visit and, when the visit loops, itself for the
    next one (as Metaflow's Argo backend does). Checked with the official models and hera, run
    by tests/argo_runner.py (a simulator: no cluster here), compared with a local run."""
    from tests.test_argo_compile import compile_text, validate_all
    from tests.test_argo_run import assert_same_as_local, run_argo

    flow = write(tmp_path, "loop.py", LOOP_IN_FOREACH)
    (doc,) = validate_all(compile_text(flow, tmp_path))
    loop = next(t for t in doc["spec"]["templates"] if t["name"] == "loop-loop")
    again = loop["dag"]["tasks"][1]
    assert again["template"] == "loop-loop" and "== 'loop'" in again["when"]
    runner = run_argo(flow, tmp_path, "loop-1")
    got = assert_same_as_local(tmp_path, flow, "LoopInForeach", "loop-1")
    assert sorted(t for s, t in got if s == "loop") == ["0.0", "0.1", "0.2", "1.0", "2.0", "2.1"]
    visits = [p.argv[-1] for p in runner.pods if p.template == "step-loop"]
    assert sorted(visits) == ["0.0", "0.1", "0.2", "1.0", "2.0", "2.1"]
    assert value_of(tmp_path, "loop-1") == ["3:3", "1:1", "2:2"]


def value_of(tmp_path, run_id):
    return artifacts(tmp_path, "LoopInForeach", run_id, "join")["results"]


def test_argo_compiles_the_converge_example_and_refuses_a_loop_with_two_exits(tmp_path):
    from tests.test_argo_compile import compile_text, validate_all

    (doc,) = validate_all(compile_text(EXAMPLES / "converge_flow.py", tmp_path))
    assert any(t["name"] == "loop-train" for t in doc["spec"]["templates"])
    two = LOOP_IN_FOREACH.replace('"no": self.done}', '"no": self.done, "skip": self.other}')
    two = two.replace(
        "    @step\n    def join",
        "    @step\n    def other(self):\n        self.result = 'x'\n        self.next(self.join)\n\n"
        "    @step\n    def join",
    )
    flow = write(tmp_path, "two.py", two)
    proc = run_flowc(
        "compile", str(flow), "--target", "argo", "--image", "i", "-o", str(tmp_path / "o")
    )
    assert proc.returncode == 2
    at = next(i for i, t in enumerate(two.splitlines(), 1) if '"skip": self.other' in t)
    assert f"{flow}:{at}:" in proc.stderr and "error[argo-recursive-switch-exits]" in proc.stderr


def test_an_immutable_artifact_changed_after_being_read_is_stored(tmp_path):
    """`self.n += 1` reads n, then sets a new int: the new value must be stored (a loop's
    counter depends on it), while an artifact only read keeps its reference."""
    flow = write(
        tmp_path,
        "inc.py",
        "from metaflow import FlowSpec, step\n\n\n"
        "class Inc(FlowSpec):\n"
        "    @step\n    def start(self):\n"
        "        self.n, self.s, self.kept = 1, 'a', 'same'\n        self.next(self.more)\n\n"
        "    @step\n    def more(self):\n"
        "        self.n += 1\n        self.s += 'b'\n        print(self.kept)\n"
        "        self.next(self.end)\n\n"
        "    @step\n    def end(self):\n        pass\n",
    )
    proc, run_id = run_flow(flow, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    end = artifacts(tmp_path, "Inc", run_id, "end")
    assert (end["n"], end["s"], end["kept"]) == (2, "ab", "same")
