"""``flowc compile --target airflow`` without running Airflow: golden DAG text, byte-identical
output, bad input, what the target cannot express, and the literal filters.

Refresh the goldens after an intended change with ``FLOWC_UPDATE_GOLDEN=1 pytest tests/...``.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES, run_flowc, run_python

GOLDEN = os.path.join(os.path.dirname(__file__), "golden")

# Options that make the output independent of the machine compiling it.
PORTABLE = ("--flow-path", "/opt/flows/lr_flow.py", "--datastore", "s3://bucket/flowc")
WORKER = ("--python", "/venv/bin/python", "--cwd", "/srv/flows")
CASES = {
    "airflow_lr_flow_bash.py": (EXAMPLES / "lr_flow.py", (*PORTABLE, *WORKER)),
    "airflow_lr_flow_kubernetes.py": (
        EXAMPLES / "lr_flow.py",
        (*PORTABLE, "--operator", "kubernetes", "--image", "registry.example/flows:1.2"),
    ),
    "airflow_switch_flow_bash.py": (
        EXAMPLES / "switch_flow.py",
        ("--flow-path", "/opt/flows/switch_flow.py", "--tag", "nightly", *WORKER)
        + ("--datastore", "/srv/flowc"),
    ),
    "airflow_nested_foreach_flow_bash.py": (
        EXAMPLES / "nested_foreach_flow.py",
        ("--flow-path", "/opt/flows/nested_foreach_flow.py", *WORKER, "--datastore", "/srv/ds"),
    ),
}


def compile_to(tmp_path, flow, *args):
    """Compiled as the user 'deployer' (baked into the DAG as the runs' user)."""
    out = tmp_path / "dag.py"
    proc = run_flowc(
        "compile",
        str(flow),
        "--target",
        "airflow",
        "-o",
        str(out),
        *args,
        env={"FLOWC_USER": "deployer"},
    )
    assert proc.returncode == 0, proc.stderr
    return out.read_text()


@pytest.mark.parametrize("golden", sorted(CASES))
def test_golden_dag_text(tmp_path, golden):
    flow, args = CASES[golden]
    text = compile_to(tmp_path, flow, *args)
    path = os.path.join(GOLDEN, golden)
    if os.environ.get("FLOWC_UPDATE_GOLDEN"):
        os.makedirs(GOLDEN, exist_ok=True)
        with open(path, "w") as f:
            f.write(text)
    with open(path) as f:
        assert text == f.read(), f"{golden} changed; FLOWC_UPDATE_GOLDEN=1 refreshes it"
    ast.parse(text)  # the DAG file is Python


def test_compiling_twice_gives_identical_bytes(tmp_path):
    first = compile_to(tmp_path, EXAMPLES / "lr_flow.py")
    (tmp_path / "dag.py").unlink()
    second = compile_to(tmp_path, EXAMPLES / "lr_flow.py")
    assert first.encode() == second.encode()


def test_output_folder_gets_one_file_named_by_dag_id(tmp_path):
    proc = run_flowc(
        "compile", str(EXAMPLES / "branch_flow.py"), "--target", "airflow", "-o", str(tmp_path)
    )
    assert proc.returncode == 0, proc.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["BranchFlow.py"]
    assert "wrote" in proc.stderr
    # the same verb through the flow file itself
    out = tmp_path / "again.py"
    proc = run_python(
        str(EXAMPLES / "branch_flow.py"), "compile", "--target", "airflow", "-o", str(out)
    )
    assert proc.returncode == 0, proc.stderr
    assert out.read_bytes() == (tmp_path / "BranchFlow.py").read_bytes()


def test_bad_input_is_one_line_and_exit_2(tmp_path):
    linty = tmp_path / "linty.py"
    linty.write_text(
        "from flowc import FlowSpec, step\n\n\nclass L(FlowSpec):\n    @step\n"
        "    def start(self):\n        self.next(self.nowhere)\n\n    @step\n"
        "    def end(self):\n        pass\n"
    )
    cases = [
        ([str(tmp_path / "missing.py"), "--target", "airflow"], "no such file"),
        ([str(EXAMPLES / "lr_flow.py"), "--target", "nope"], "unknown target 'nope'"),
        ([str(linty), "--target", "airflow"], "has 2 errors"),
    ]
    for args, message in cases:
        proc = run_flowc("compile", *args, "-o", str(tmp_path / "out"))
        assert proc.returncode == 2, (args, proc.stderr)
        last = proc.stderr.strip().splitlines()[-1]
        assert last.startswith("flowc: error:") and message in last, proc.stderr
        assert "Traceback" not in proc.stderr
    proc = run_flowc("compile", str(linty), "--target", "airflow", "-o", str(tmp_path / "o"))
    assert "linty.py:7:" in proc.stderr and "error[unknown-step]" in proc.stderr
    assert not (tmp_path / "out").exists() and not (tmp_path / "o").exists()


UNSUPPORTED = """
from flowc import FlowSpec, step, retry
from metaflow import batch


class U(FlowSpec):
    @step
    def start(self):
        self.items = [1, 2]
        self.next(self.body, foreach="items")

    @batch(cpu=2)
    @step
    def body(self):
        self.pick = "a"
        self.next({"a": self.a, "b": self.b}, condition="pick")

    @step
    def a(self):
        self.next(self.merge)

    @step
    def b(self):
        self.next(self.merge)

    @retry(times=N)
    @step
    def merge(self):
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass
"""


def test_unsupported_features_are_located_diagnostics(tmp_path):
    flow = tmp_path / "u.py"
    flow.write_text('N = int("2")\n' + UNSUPPORTED)
    proc = run_flowc("compile", str(flow), "--target", "airflow", "-o", str(tmp_path / "o"))
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    found = {line.split("[", 1)[1].split("]", 1)[0] for line in lines if "error[airflow-" in line}
    assert found == {
        "airflow-step-decorator",
        "airflow-switch-in-foreach",
        "airflow-decorator-argument",
    }
    assert any(line.startswith(f"{flow}:13:5: error[airflow-step-decorator]") for line in lines)
    assert "cannot express" in lines[-1] and not (tmp_path / "o").exists()


def test_kubernetes_needs_an_image(tmp_path):
    proc = run_flowc(
        "compile", str(EXAMPLES / "lr_flow.py"), "--target", "airflow", "--operator", "kubernetes"
    )
    assert proc.returncode == 2 and "error[airflow-image]" in proc.stderr


def test_schedule_tags_and_parameters_reach_the_dag(tmp_path):
    flow = tmp_path / "sched.py"
    flow.write_text(
        "from flowc import FlowSpec, JSONType, Parameter, environment, schedule, step, timeout\n\n\n"
        "@schedule(cron='0 3 * * *')\nclass S(FlowSpec):\n"
        "    n = Parameter('n', default=3)\n    flag = Parameter('flag', default=False)\n"
        "    cfg = Parameter('cfg', type=JSONType, default='{\"a\": [1]}')\n"
        "    need = Parameter('need', type=int, required=True)\n\n"
        "    @timeout(minutes=2)\n    @environment(vars={'K': 'v'})\n"
        "    @step\n    def start(self):\n        self.next(self.end)\n\n"
        "    @step\n    def end(self):\n        pass\n"
    )
    text = compile_to(tmp_path, flow, "--tag", "team-a", "--tag", "nightly")
    assert "schedule='0 3 * * *'," in text
    assert "execution_timeout=datetime.timedelta(seconds=180.0)," in text
    assert "env={**ENV, 'K': 'v', \"FLOWC_PARAMS\"" in text
    assert "tags=['flowc', 'nightly', 'team-a']," in text
    assert "'n': Param(\n            3,\n            type='integer'," in text
    assert "'flag': Param(\n            False,\n            type='boolean'," in text
    assert "'need': Param(\n            type='integer'," in text  # required: no default
    source = flow.read_text()
    for preset in ("hourly", "daily", "weekly"):
        flow.write_text(source.replace("cron='0 3 * * *'", f"{preset}=True"))
        assert f"schedule='@{preset}'," in compile_to(tmp_path, flow)


def test_filters_make_literals_and_templates_that_render_to_themselves():
    import jinja2

    from flowc.backends.literals import LiteralError, jinja_escape, pyrepr

    hostile = ["{{ x }}", "{% if %}", "{#", "a.sh", "b.json", "trail\n", "'''\"\"\"\\$(x)", ""]
    for text in hostile:
        assert ast.literal_eval(pyrepr(text)) == text
        assert jinja2.Environment().from_string(jinja_escape(text)).render(x="BAD") == text
    value = {"a": [1, 2.5, None, True], "b": {"c": "d"}}
    assert ast.literal_eval(pyrepr(value)) == value
    for bad in (float("nan"), object(), {1: 2}):
        with pytest.raises(LiteralError):
            pyrepr(bad)


def test_the_cli_does_not_import_the_backends_until_compile_runs():
    probe = (
        "import sys, flowc.cli\n"
        "bad = [m for m in ('jinja2', 'flowc.backends', 'airflow') if m in sys.modules]\n"
        "print(bad)\n"
    )
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert proc.stdout.strip() == "[]", proc.stderr


def _plan(path):
    from flowc.backends.graphplan import plan
    from flowc.check import check_file

    return plan(check_file(str(path)).chosen_flow(), "any")


def test_graph_plan_flattens_nested_foreach_and_marks_branch_points():
    p = _plan(EXAMPLES / "nested_foreach_flow.py")
    steps = {s.name: s for s in p.steps}
    assert [(f.split, f.node, f.depth) for f in p.foreaches] == [
        ("start", "start__indices", 0),
        ("per_model", "per_model__indices", 1),
    ]
    # each step maps over the index paths of its innermost foreach; a join is outside it
    assert {n: s.fan_over for n, s in steps.items()} == {
        "start": None,
        "per_model": "start",
        "score": "per_model",
        "average": "start",
        "compare": None,
        "end": None,
    }
    assert steps["score"].upstream == ("per_model__indices",)
    p = _plan(EXAMPLES / "switch_flow.py")
    steps = {s.name: s for s in p.steps}
    assert [(s.split, s.node) for s in p.switches] == [("start", "start__branch")]
    assert steps["high"].upstream == ("start__branch",) and steps["report"].merge
    assert not steps["end"].merge


def test_graph_plan_reads_decorators_as_numbers():
    p = _plan(EXAMPLES / "lr_flow.py")
    train = next(s for s in p.steps if s.name == "train")
    assert (train.retries, train.retry_delay) == (2, 120.0)
    assert dict(train.resources) == {"cpu": 1, "memory": 2048}
    assert [(x.name, x.type, x.default) for x in p.params][:2] == [
        ("alpha", "float", 0.01),
        ("max-iter", "int", 1000),
    ]


def test_code_package_is_content_addressed_and_unpacks_to_the_same_files(tmp_path):
    from flowc.backends.package import PackageError, build, store, unpack
    from flowc.datastore import Datastore

    src = tmp_path / "src"
    (src / "lib").mkdir(parents=True)
    (src / "flow.py").write_text("import lib.util\n")
    (src / "lib" / "util.py").write_text("X = 1\n")
    (src / "notes.txt").write_text("not code\n")
    first = build(str(src / "flow.py"))
    os.utime(src / "flow.py", (0, 12345))  # times and owners are not part of the package
    assert build(str(src / "flow.py")) == first
    package_id, blob, name = first
    assert name == "flow.py" and len(package_id) == 64
    ds = Datastore(str(tmp_path / "ds"))
    store(ds, package_id, blob)
    folder = unpack(ds, package_id, str(tmp_path / "cache"))
    assert sorted(p.relative_to(folder).as_posix() for p in Path(folder).rglob("*.py")) == [
        "flow.py",
        "lib/util.py",
    ]
    (src / "lib" / "util.py").write_text("X = 2\n")
    assert build(str(src / "flow.py"))[0] != package_id  # new code, new id
    with pytest.raises(PackageError, match="outside the flow's folder"):
        build(str(src / "flow.py"), [str(tmp_path / "elsewhere.py")])
    with pytest.raises(PackageError, match="not in the datastore"):
        unpack(ds, "0" * 64, str(tmp_path / "cache"))
