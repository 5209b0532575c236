"""Module-level constants in Parameter defaults and decorator arguments: folded statically
(the file never runs), compiled to every target with their values; anything else is a located
diagnostic naming what could not be read."""

from __future__ import annotations

import textwrap

import pytest
import yaml

from flowc.analyzer import analyze_source
from tests.conftest import run_flowc

FLOW = textwrap.dedent(
    """
    from flowc import FlowSpec, Parameter, step, retry, timeout, resources

    DEFAULT_ALPHA = 0.125
    RETRIES = 2
    PREFIX = "exp"
    LABEL = f"{PREFIX}-{RETRIES + 1:03d}"
    MEMORY = 512 * 3


    class ConstFlow(FlowSpec):
        alpha = Parameter("alpha", default=DEFAULT_ALPHA * 2)
        label = Parameter("label", default=LABEL)
        grid = Parameter("grid", default={"alphas": [DEFAULT_ALPHA, DEFAULT_ALPHA * 4]})

        @retry(times=RETRIES + 1)
        @timeout(seconds=60 * 2 + 5)
        @resources(memory=MEMORY)
        @step
        def start(self):
            self.next(self.end)

        @step
        def end(self):
            pass
    """
)


def _ir(src: str):
    analysis = analyze_source(src, "flow.py")
    (ir,) = analysis.flows
    return ir


def _defaults(src: str) -> dict:
    return {p.attr: p.default for p in _ir(src).parameters}


def test_constants_fold_into_defaults_and_decorator_arguments():
    ir = _ir(FLOW)
    params = {p.attr: p for p in ir.parameters}
    assert params["alpha"].default.value == 0.25 and params["alpha"].type == "float"
    assert params["label"].default.value == "exp-003" and params["label"].type == "str"
    assert params["grid"].default.value == {"alphas": [0.125, 0.5]}
    assert params["alpha"].default.source == "DEFAULT_ALPHA * 2"  # the source is kept
    start = ir.step("start")
    args = {(d.name, a.name): a.value for d in start.decorators for a in d.args}
    assert args["retry", "times"].value == 3
    assert args["timeout", "seconds"].value == 125
    assert args["resources", "memory"].value == 1536


@pytest.mark.parametrize(
    ("prelude", "default", "unread"),
    [
        ("import os\nN = os.cpu_count()\n", "N", "N"),  # a call: not a constant
        ("N = 1\nN = 2\n", "N", "N"),  # bound twice
        ("N = 1\nN += 1\n", "N", "N"),
        ("if True:\n    N = 1\n", "N", "N"),  # conditional
        ("N = 1\ndef f():\n    global N\n    N = 5\n", "N", "N"),
        ("from config import N\n", "N", "N"),
        ("", "UNDEFINED + 1", "UNDEFINED"),
        ("", "make()", "make(...)"),
        ("N = [1]\n", "N * 10**9", None),  # too big to build
        ("N = 1\n", "N / 0", None),
    ],
)
def test_what_is_not_a_constant_stays_unread(prelude, default, unread):
    src = prelude + FLOW.replace("default=LABEL", f"default={default}")
    label = _defaults(src)["label"]
    assert not label.literal and label.value is None
    assert label.unread == unread


def test_constant_arithmetic_and_fstrings():
    src = FLOW.replace(
        "default=LABEL",
        'default=[PREFIX + "_" * 2, 7 // 2, 2 ** 10, -RETRIES, f"{DEFAULT_ALPHA!r:>8}", '
        "(PREFIX, 1.5e3), 10 % 4, 'a' 'b']",
    )
    assert _defaults(src)["label"].value == [
        "exp__",
        3,
        1024,
        -2,
        "   0.125",
        ["exp", 1500.0],
        2,
        "ab",
    ]


def test_unreadable_default_is_a_located_diagnostic_naming_it(tmp_path):
    flow = tmp_path / "flow.py"
    flow.write_text("import os\nCPU = os.cpu_count()\n" + FLOW.replace("=MEMORY", "=CPU"))
    proc = run_flowc("compile", str(flow), "--target", "airflow", "-o", str(tmp_path / "d"))
    assert proc.returncode == 2
    line = next(ln for ln in proc.stderr.splitlines() if "airflow-decorator-argument" in ln)
    at = 1 + flow.read_text().splitlines().index("    @resources(memory=CPU)")
    assert line.startswith(f"{flow}:{at}:5: error[")
    assert "'CPU' is not a module-level constant" in line


@pytest.mark.parametrize("target", ["airflow", "argo", "kfp"])
def test_folded_values_reach_every_target(tmp_path, target):
    flow = tmp_path / "const_flow.py"
    flow.write_text(FLOW)
    out = tmp_path / ("dags" if target == "airflow" else "flow.yaml")
    extra = [] if target == "airflow" else ["--image", "i:1", "--datastore", "s3://b/p"]
    proc = run_flowc("compile", str(flow), "--target", target, "-o", str(out), *extra)
    assert proc.returncode == 0, proc.stderr
    if target == "airflow":
        text = (out / "ConstFlow.py").read_text()
        for needle in ("0.25,", "'exp-003'", "{'alphas': [0.125, 0.5]}", "retries=3"):
            assert needle in text, needle
        assert "seconds=185.0" in text  # @timeout 125 s plus the 60 s backstop
        return
    doc = next(yaml.safe_load_all(out.read_text()))  # KFP: then its platform spec
    if target == "argo":
        params = {p["name"]: p["value"] for p in doc["spec"]["arguments"]["parameters"]}
        assert params["alpha"] == "0.25" and params["label"] == "exp-003"  # shown as typed
        assert params["grid"] == '{"alphas": [0.125, 0.5]}'
        (start,) = [t for t in doc["spec"]["templates"] if t["name"] == "step-start"]
        assert start["retryStrategy"]["limit"] == "3"
        assert start["activeDeadlineSeconds"] == "185"
        assert start["container"]["resources"]["requests"]["memory"] == "1536Mi"
        return
    inputs = doc["root"]["inputDefinitions"]["parameters"]
    assert inputs["alpha"]["defaultValue"] == 0.25
    assert inputs["label"]["defaultValue"] == "exp-003"
    assert inputs["grid"]["defaultValue"] == {"alphas": [0.125, 0.5]}
    text = out.read_text()
    assert "maxRetryCount: 3" in text and "resourceMemoryLimit: 1536Mi" in text
