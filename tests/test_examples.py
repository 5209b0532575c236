"""The example flows: each compiles, importing one only defines its flow class (nothing heavy
is imported at the top of the file), the analyzer reads the graph each one means, and lint
finds nothing. (`test_examples_reference.py` has Metaflow itself run them.)"""

from __future__ import annotations

import ast
import json
import subprocess
import sys

import pytest

from flowc.analyzer import analyze_file, analyze_source
from flowc.ir import NodeKind, TransitionKind
from flowc.lint import lint
from tests.conftest import EXAMPLES, ROOT, run_python

# file -> (flow class, [(step, node kind, transition kind or None, next steps)])
EXPECTED = {
    "converge_flow.py": (
        "ConvergeFlow",
        [
            ("start", "start", "linear", ("train",)),
            ("train", "switch", "switch", ("train", "report")),
            ("report", "linear", "linear", ("end",)),
            ("end", "end", None, ()),
        ],
    ),
    "lr_flow.py": (
        "LRFlow",
        [
            ("start", "foreach", "foreach", ("train",)),
            ("train", "linear", "linear", ("choose",)),
            ("choose", "join", "linear", ("end",)),
            ("end", "end", None, ()),
        ],
    ),
    "branch_flow.py": (
        "BranchFlow",
        [
            ("start", "split", "split", ("total", "extremes")),
            ("total", "linear", "linear", ("join",)),
            ("extremes", "linear", "linear", ("join",)),
            ("join", "join", "linear", ("end",)),
            ("end", "end", None, ()),
        ],
    ),
    "foreach_flow.py": (
        "ForeachFlow",
        [
            ("start", "foreach", "foreach", ("square",)),
            ("square", "linear", "linear", ("join",)),
            ("join", "join", "linear", ("end",)),
            ("end", "end", None, ()),
        ],
    ),
    "nested_foreach_flow.py": (
        "NestedForeachFlow",
        [
            ("start", "foreach", "foreach", ("per_model",)),
            ("per_model", "foreach", "foreach", ("score",)),
            ("score", "linear", "linear", ("average",)),
            ("average", "join", "linear", ("compare",)),
            ("compare", "join", "linear", ("end",)),
            ("end", "end", None, ()),
        ],
    ),
    "switch_flow.py": (
        "SwitchFlow",
        [
            ("start", "switch", "switch", ("high", "low")),
            ("high", "linear", "linear", ("report",)),
            ("low", "linear", "linear", ("report",)),
            ("report", "linear", "linear", ("end",)),
            ("end", "end", None, ()),
        ],
    ),
}

# Importing a flow file may load flowc's authoring API and nothing else of note.
HEAVY = ("sklearn", "numpy", "scipy", "pandas", "metaflow", "libcst", "click", "jinja2")

IMPORT_PROBE = r"""
import importlib.util, json, sys
path, cls_name = sys.argv[1], sys.argv[2]
before = set(sys.modules)
spec = importlib.util.spec_from_file_location("_flowc_example_probe", path)
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
import flowc
cls = getattr(module, cls_name)
steps = sorted(n for n, f in vars(cls).items() if getattr(f, "is_step", False))
print(json.dumps({
    "new_modules": sorted(set(sys.modules) - before),
    "is_flow": isinstance(cls, type) and issubclass(cls, flowc.FlowSpec),
    "steps": steps,
}))
"""


def test_every_example_is_covered():
    assert sorted(p.name for p in EXAMPLES.glob("*.py")) == sorted(EXPECTED)


def top_level_imports(source: str) -> set[str]:
    """Top-level modules a file imports outside any function or class."""
    found = set()
    for node in ast.parse(source).body:
        if isinstance(node, ast.Import):
            found |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            found.add((node.module or "").split(".")[0])
    return found - {"__future__"}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_compiles_and_imports_only_flowc_at_top_level(name):
    path = EXAMPLES / name
    source = path.read_text()
    compile(source, str(path), "exec")
    assert top_level_imports(source) == {"flowc"}
    assert source.rstrip().endswith(f'if __name__ == "__main__":\n    {EXPECTED[name][0]}()')


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_importing_an_example_only_defines_the_flow(tmp_path, name):
    """Imported under another name than __main__ (so its `if __name__` block does not run),
    in a fresh interpreter: no output, no files written, no heavy module loaded."""
    cls_name, steps = EXPECTED[name]
    proc = subprocess.run(
        [sys.executable, "-B", "-c", IMPORT_PROBE, str(EXAMPLES / name), cls_name],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    out = json.loads(proc.stdout)  # the probe's line is all that was printed
    assert out["is_flow"]
    assert out["steps"] == sorted(s[0] for s in steps)
    loaded = [m for m in out["new_modules"] if m.split(".")[0] in HEAVY]
    assert loaded == []
    assert not [m for m in out["new_modules"] if m.startswith(("flowc.cli", "flowc.analyzer"))]
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_analyzer_reads_the_intended_graph(name):
    cls_name, steps = EXPECTED[name]
    analysis = analyze_file(str(EXAMPLES / name))
    assert analysis.diagnostics == ()
    assert analysis.main_flow == cls_name
    assert analysis.candidates == (cls_name,)
    (ir,) = analysis.flows
    assert ir.name == cls_name
    assert ir.doc
    got = [
        (
            s.name,
            s.kind.value,
            s.transition.kind.value if s.transition else None,
            s.transition.targets if s.transition else (),
        )
        for s in ir.steps
    ]
    assert got == steps
    assert all(s.doc for s in ir.steps), "every example step has a docstring"


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_examples_lint_clean(name):
    (ir,) = analyze_file(str(EXAMPLES / name)).flows
    assert lint(ir) == []


def test_lr_flow_parameters_and_decorators():
    (ir,) = analyze_file(str(EXAMPLES / "lr_flow.py")).flows
    params = {p.name: p for p in ir.parameters}
    assert params["alpha"].attr == "alpha"
    assert (params["alpha"].type, params["alpha"].default.value) == ("float", 0.01)
    assert params["max-iter"].attr == "max_iter"
    assert (params["max-iter"].type, params["max-iter"].default.value) == ("int", 1000)
    assert all(p.help for p in ir.parameters)
    steps = {s.name: s for s in ir.steps}
    assert steps["start"].transition.foreach == "l1_ratios"
    assert steps["start"].matching_join == "choose"
    assert steps["train"].foreach_depth == 1
    decorators = {s.name: {d.name for d in s.decorators} for s in ir.steps}
    assert decorators["train"] == {"retry", "resources"}
    assert decorators["choose"] == {"card"}
    # artifacts do not cross a join by themselves: the join merges the test set explicitly
    (merge,) = steps["choose"].merges
    assert merge.include is not None and merge.include.value == ["X_test", "y_test"]
    # the heavy imports live inside step bodies
    source = (EXAMPLES / "lr_flow.py").read_text()
    assert "from sklearn" in source
    assert top_level_imports(source) == {"flowc"}


def test_branch_flow_join_reads_branches_by_name_and_merges():
    (ir,) = analyze_file(str(EXAMPLES / "branch_flow.py")).flows
    join = next(s for s in ir.steps if s.name == "join")
    assert join.args == ("inputs",)
    assert join.merges and join.merges[0].exclude.value == ["result"]
    assert set(join.in_steps) == {"total", "extremes"}


def test_nested_foreach_depths_and_joins():
    (ir,) = analyze_file(str(EXAMPLES / "nested_foreach_flow.py")).flows
    steps = {s.name: s for s in ir.steps}
    assert steps["start"].matching_join == "compare"
    assert steps["per_model"].matching_join == "average"
    assert steps["per_model"].transition.foreach == "folds"
    assert steps["score"].foreach_depth == 2
    source = (EXAMPLES / "nested_foreach_flow.py").read_text()
    assert "self.input" in source and "self.foreach_stack()" in source


def test_switch_flow_cases_and_condition():
    (ir,) = analyze_file(str(EXAMPLES / "switch_flow.py")).flows
    steps = {s.name: s for s in ir.steps}
    t = steps["start"].transition
    assert t.kind is TransitionKind.SWITCH
    assert t.condition == "bucket"
    assert dict(t.cases) == {"high": "high", "low": "low"}
    assert "bucket" in {a.name for a in steps["start"].assigns}
    # the branches meet at an ordinary step, not a join
    assert steps["report"].kind is NodeKind.LINEAR
    assert set(steps["report"].in_steps) == {"high", "low"}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_runs_show_through_its_main_block(name):
    proc = run_python(str(EXAMPLES / name), "show", cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert EXPECTED[name][0] in proc.stdout


def test_bench_generator_is_deterministic_and_valid():
    from bench.genflow import generate

    src = generate(60)
    assert src == generate(60)
    compile(src, "big.py", "exec")
    assert generate(60, import_from="metaflow") == src.replace(
        "from flowc import", "from metaflow import"
    )
    analysis = analyze_source(src, "big.py")
    assert analysis.diagnostics == ()
    (ir,) = analysis.flows
    assert len(ir.steps) >= 60
    kinds = {s.kind for s in ir.steps}
    assert {NodeKind.SPLIT, NodeKind.FOREACH, NodeKind.JOIN} <= kinds
    assert lint(ir) == []
