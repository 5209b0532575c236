"""The analyzer: flow file -> IR, read from source without running it."""

from __future__ import annotations

import dataclasses
import json
import textwrap

import pytest

from flowc.analyzer import Analysis, analyze_file, analyze_source
from flowc.ir import FlowIR, NodeKind, ParameterKind, TransitionKind
from tests.conftest import EXAMPLES


def analyze(src: str, path: str = "flow.py", flow: str | None = None) -> Analysis:
    return analyze_source(textwrap.dedent(src), path, flow)


def one(src: str, **kw) -> FlowIR:
    a = analyze(src, **kw)
    assert len(a.flows) == 1, a.diagnostics
    return a.flows[0]


def line_of(src: str, needle: str) -> int:
    return next(i for i, t in enumerate(textwrap.dedent(src).splitlines(), 1) if needle in t)


FULL = '''
from flowc import FlowSpec, Parameter, IncludeFile, Config, JSONType, step, retry, card, schedule
import flowc as fc


@schedule(daily=True)
class FullFlow(FlowSpec):
    """The flow's doc.

    Second paragraph.
    """

    alpha = Parameter("alpha", help="Step size.", default=0.5)
    count = Parameter("count", default=3, required=True)
    flag = Parameter("flag", default=False)
    name_ = Parameter("label")
    cfg = Parameter("cfg", type=JSONType, default='{"a": 1}')
    when = Parameter("when", default=lambda ctx: 1)
    typed = Parameter("typed", type=int, help="Explicit type.")
    data = IncludeFile("data", default="data.csv", is_text=True)
    conf = Config("conf", default_value={"k": [1, 2]})
    LIMIT = 10

    @step
    def start(self):
        """Fan out."""
        self.items = ["a", "b"]
        self.next(self.outer, foreach="items")

    @retry(times=3, minutes_between_retries=1)
    @card
    @step
    def outer(self):
        self.key = self.input
        self.inner_items = [1, 2, 3]
        self.next(self.inner, foreach="inner_items")

    @fc.step
    def inner(self):
        self.value = self.input * self.alpha
        self.next(self.inner_join)

    @step
    def inner_join(self, inputs):
        self.total = sum(i.value for i in inputs)
        self.merge_artifacts(inputs, include=["key"])
        self.next(self.outer_join)

    @step
    def outer_join(self, inputs):
        self.totals = {i.key: i.total for i in inputs}
        self.route = "big" if sum(self.totals.values()) > self.LIMIT else "small"
        self.next({"big": self.big, "small": self.small}, condition="route")

    @step
    def big(self):
        self.verdict = "big"
        self.next(self.branches)

    @step
    def small(self):
        self.verdict = "small"
        self.next(self.branches)

    @step
    def branches(self):
        self.next(self.left, self.right)

    @step
    def left(self):
        self.side = "l"
        self.next(self.meet)

    @step
    def right(self):
        self.side = "r"
        self.next(self.meet)

    @step
    def meet(self, inputs):
        self.sides = [i.side for i in inputs]
        self.next(self.end)

    @step
    def end(self):
        print(self.sides, self.verdict)

    def helper(self):
        return 1


if __name__ == "__main__":
    FullFlow()
'''


@pytest.fixture(scope="module")
def full() -> FlowIR:
    return one(FULL)


def test_kinds_and_transitions(full):
    kinds = {s.name: s.kind for s in full.steps}
    assert kinds == {
        "start": NodeKind.FOREACH,
        "outer": NodeKind.FOREACH,
        "inner": NodeKind.LINEAR,
        "inner_join": NodeKind.JOIN,
        "outer_join": NodeKind.JOIN,
        "big": NodeKind.LINEAR,
        "small": NodeKind.LINEAR,
        "branches": NodeKind.SPLIT,
        "left": NodeKind.LINEAR,
        "right": NodeKind.LINEAR,
        "meet": NodeKind.JOIN,
        "end": NodeKind.END,
    }
    start = full.step("start").transition
    assert start.kind is TransitionKind.FOREACH and start.foreach == "items"
    assert start.targets == ("outer",)
    switch = full.step("outer_join").transition
    assert switch.kind is TransitionKind.SWITCH and switch.condition == "route"
    assert switch.cases == (("big", "big"), ("small", "small"))
    assert full.step("branches").transition.targets == ("left", "right")
    assert full.step("inner_join").args == ("inputs",)
    assert full.step("end").transition is None


def test_nested_foreach_depth_and_matching_joins(full):
    s = {x.name: x for x in full.steps}
    assert s["start"].matching_join == "outer_join"
    assert s["outer"].matching_join == "inner_join"
    assert s["branches"].matching_join == "meet"
    assert s["outer_join"].matching_join == "branches"  # where the switch's branches meet
    assert s["inner"].foreach_depth == 2
    assert s["inner"].split_parents == ("start", "outer")
    assert s["inner_join"].foreach_depth == 1
    assert s["outer_join"].foreach_depth == 0
    assert s["left"].split_parents == ("branches",)
    assert s["big"].split_parents == ("outer_join",)
    assert s["branches"].split_parents == ()
    assert s["meet"].in_steps == ("left", "right")
    assert s["end"].foreach_depth == 0


def test_parameters(full):
    p = {x.attr: x for x in full.parameters}
    assert [x.attr for x in full.parameters][:3] == ["alpha", "count", "flag"]
    assert (p["alpha"].type, p["alpha"].default.value, p["alpha"].help) == (
        "float",
        0.5,
        "Step size.",
    )
    assert (p["count"].type, p["count"].required) == ("int", True)
    assert p["flag"].type == "bool"
    assert (p["name_"].name, p["name_"].type, p["name_"].default) == ("label", "str", None)
    assert p["cfg"].type == "json"
    assert p["when"].type is None and not p["when"].default.literal
    assert p["when"].default.source == "lambda ctx: 1"
    assert p["typed"].type == "int"
    assert p["data"].kind is ParameterKind.INCLUDE_FILE
    assert [(a.name, a.value.value) for a in p["data"].extra] == [("is_text", True)]
    assert p["conf"].kind is ParameterKind.CONFIG and p["conf"].default.value == {"k": [1, 2]}
    assert p["alpha"].span.line == line_of(FULL, 'alpha = Parameter("alpha"')


def test_decorators_docs_and_spans(full):
    assert full.doc == "The flow's doc.\n\nSecond paragraph."
    assert full.step("start").doc == "Fan out."
    assert full.step("inner").doc is None
    assert [d.name for d in full.decorators] == ["schedule"]
    assert full.decorators[0].get("daily") is True
    outer = full.step("outer")
    assert [d.name for d in outer.decorators] == ["retry", "card"]
    assert outer.decorator("retry").get("times") == 3
    assert all(d.known for d in outer.decorators)
    # a step's span is its `def` line, not its first decorator's
    assert outer.span.line == line_of(FULL, "def outer(self):")
    assert outer.decorators[0].span.line == line_of(FULL, "@retry(times=3")
    nxt = full.step("start").next_calls[0]
    assert nxt.is_tail and nxt.span.line == line_of(FULL, 'self.next(self.outer, foreach="items")')
    assert nxt.span.col == 9
    assert full.span.line == line_of(FULL, "class FullFlow")


def test_members_are_not_steps(full):
    assert set(full.members) == {"LIMIT", "helper"}


def test_reads_assigns_and_merges(full):
    inner = full.step("inner")
    assert [a.name for a in inner.assigns] == ["value"]
    assert [r.name for r in inner.reads] == ["input", "alpha"]
    join = full.step("inner_join")
    assert [m.include.value for m in join.merges] == [["key"]]
    # step references inside self.next are not artifact reads
    assert "outer" not in [r.name for r in full.step("start").reads]


def test_assignment_forms():
    ir = one(
        """
        from flowc import FlowSpec, step

        class A(FlowSpec):
            @step
            def start(self):
                self.a, (self.b, *self.c) = 1, (2, 3, 4)
                self.d: int = 5
                self.e += 1
                self.f[0] = 1
                for self.g in range(2):
                    pass
                with open("x") as self.h:
                    pass
                def inner():
                    self.i = self.j
                self.next(self.end)

            @step
            def end(self):
                pass
        """
    )
    s = ir.step("start")
    assert [a.name for a in s.assigns] == ["a", "b", "c", "d", "e", "g", "h", "i"]
    assert [r.name for r in s.reads] == ["e", "f", "j"]


def test_metaflow_and_flowc_imports_analyse_identically():
    src = (EXAMPLES / "lr_flow.py").read_text()
    via_metaflow = src.replace("from flowc import", "from metaflow import")
    assert via_metaflow != src
    a = analyze_source(src, "lr_flow.py").flows[0]
    b = analyze_source(via_metaflow, "lr_flow.py").flows[0]
    strip = lambda ir: {**ir.to_dict(), "sources": None}  # noqa: E731 - file hashes differ
    assert strip(a) == strip(b)


def test_aliases_and_module_imports():
    ir = one(
        """
        import metaflow as mf
        from metaflow import step as s, retry as again

        class A(mf.FlowSpec):
            @again(times=1)
            @s
            def start(self):
                self.next(self.end)

            @mf.step
            def end(self):
                pass
        """
    )
    assert [x.name for x in ir.steps] == ["start", "end"]
    assert ir.step("start").decorators[0].name == "retry"


def test_unknown_decorators_are_kept_but_not_known():
    ir = one(
        """
        from flowc import FlowSpec, step
        from mylib import timing

        class A(FlowSpec):
            @timing(unit="s")
            @step
            def start(self):
                self.next(self.end)

            @step
            def end(self):
                pass
        """
    )
    d = ir.step("start").decorators[0]
    assert (d.name, d.known, d.get("unit")) == ("timing", False, "s")


def test_not_a_step_without_decorator():
    ir = one(
        """
        from flowc import FlowSpec, step

        class A(FlowSpec):
            @step
            def start(self):
                self.next(self.end)

            def end(self):
                pass
        """
    )
    assert [s.name for s in ir.steps] == ["start"]
    assert "end" in ir.members


def test_malformed_next_is_recorded_without_a_transition():
    ir = one(
        """
        from flowc import FlowSpec, step

        class A(FlowSpec):
            @step
            def start(self):
                self.next(self.a, foreach=items)

            @step
            def a(self):
                if True:
                    self.next(self.end)
                print("x")

            @step
            def end(self):
                pass
        """
    )
    start, a = ir.step("start"), ir.step("a")
    assert start.transition is None and start.next_calls[0].is_tail
    kw = start.next_calls[0].keywords[0]
    assert (kw.name, kw.value.literal, kw.value.source) == ("foreach", False, "items")
    assert a.transition is None and not a.next_calls[0].is_tail


def test_num_parallel_and_switch_forms():
    ir = one(
        """
        from metaflow import FlowSpec, step, parallel

        class A(FlowSpec):
            @step
            def start(self):
                self.n = 2
                self.next(self.train, num_parallel=4)

            @parallel
            @step
            def train(self):
                self.next(self.join)

            @step
            def join(self, inputs):
                self.next(self.end)

            @step
            def end(self):
                pass
        """
    )
    t = ir.step("start").transition
    assert t.kind is TransitionKind.PARALLEL and t.num_parallel.value == 4
    assert ir.step("start").kind is NodeKind.FOREACH
    assert ir.step("train").foreach_depth == 1


# --- inheritance and local modules -----------------------------------------------------------

BASE = '''
from flowc import FlowSpec, Parameter, step


class BaseFlow(FlowSpec):
    size = Parameter("size", default=2)

    @step
    def end(self):
        """Inherited end."""
        print(self.x)
'''

CHILD = """
{import_line}
from flowc import Parameter, step


class ChildFlow(BaseFlow):
    size = Parameter("size", default=5)

    @step
    def start(self):
        self.x = self.size
        self.next(self.end)
"""


def test_inheritance_in_the_same_file():
    src = BASE + CHILD.format(import_line="")
    a = analyze(src)
    assert a.candidates == ("ChildFlow",)
    ir = a.flows[0]
    assert [s.name for s in ir.steps] == ["end", "start"]
    assert ir.step("end").defined_in == "BaseFlow" and ir.step("end").doc == "Inherited end."
    assert [(p.attr, p.default.value, p.defined_in) for p in ir.parameters] == [
        ("size", 5, "ChildFlow")
    ]


@pytest.mark.parametrize(
    "layout,import_line",
    [
        ("flat", "from base import BaseFlow"),
        ("flat", "import base as b\nBaseFlow = b.BaseFlow"),
        ("package", "from .base import BaseFlow"),
        ("package", "from lib.base import BaseFlow"),
    ],
)
def test_inheritance_from_a_local_module(tmp_path, layout, import_line):
    if layout == "package" and import_line.startswith("from lib"):
        (tmp_path / "lib").mkdir()
        (tmp_path / "lib" / "__init__.py").write_text("")
        base_file = tmp_path / "lib" / "base.py"
    else:
        base_file = tmp_path / "base.py"
    base_file.write_text(BASE)
    if "import base as b" in import_line:
        child_src = CHILD.format(import_line="import base as b").replace(
            "(BaseFlow)", "(b.BaseFlow)"
        )
    else:
        child_src = CHILD.format(import_line=import_line)
    child = tmp_path / "child.py"
    child.write_text(child_src)
    a = analyze_file(str(child))
    assert not a.diagnostics, a.diagnostics
    ir = a.flows[0]
    assert {s.name for s in ir.steps} == {"start", "end"}
    end = ir.step("end")
    assert end.file.endswith("base.py") and end.defined_in == "BaseFlow"
    assert str(base_file.resolve()) in {p for p, _ in a.sources}


def test_unresolved_base_from_an_installed_package():
    a = analyze(
        """
        from flowc import step
        from some_installed_package import SharedFlow

        class MyFlow(SharedFlow):
            @step
            def start(self):
                self.next(self.end)
        """
    )
    assert [f.name for f in a.flows] == ["MyFlow"]
    d = next(d for d in a.diagnostics if d.rule == "unresolved-base")
    assert d.line == 5 and not d.is_error


# --- several flows, selection, main ----------------------------------------------------------

TWO = """
from flowc import FlowSpec, step

class AFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass

class BFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
"""


def test_several_flows_candidates_and_selection():
    a = analyze(TWO)
    assert a.candidates == ("AFlow", "BFlow") and a.main_flow is None
    assert [f.name for f in a.flows] == ["AFlow", "BFlow"]
    assert [f.name for f in analyze(TWO, flow="BFlow").flows] == ["BFlow"]
    missing = analyze(TWO, flow="CFlow")
    assert not missing.flows
    d = missing.diagnostics[0]
    assert d.rule == "unknown-flow" and "AFlow, BFlow" in d.message
    main = analyze(TWO + '\nif __name__ == "__main__":\n    BFlow()\n')
    assert main.main_flow == "BFlow"


# --- bad input ---------------------------------------------------------------------------------


def test_syntax_error_position():
    src = "from flowc import FlowSpec\n\nclass A(FlowSpec):\n    def start(self)\n        pass\n"
    a = analyze_source(src, "bad.py")
    assert not a.flows
    (d,) = a.diagnostics
    assert (d.rule, d.line, d.path) == ("syntax-error", 4, "bad.py")
    assert d.col == 20 and "expected ':'" in d.message


@pytest.mark.parametrize("blob", [b"\x00\x01\x02binary", b"\xff\xfe\xfa not utf8"])
def test_binary_input(blob):
    a = analyze_source(blob, "blob.py")
    assert [(d.rule, d.line, d.col) for d in a.diagnostics] == [("not-python", 1, 1)]


def test_no_flow():
    a = analyze_source("x = 1\n", "plain.py")
    assert [d.rule for d in a.diagnostics] == ["no-flow"]
    assert "FlowSpec" in a.diagnostics[0].fix


def test_analysis_never_runs_the_file(tmp_path):
    marker = tmp_path / "ran"
    flow = tmp_path / "f.py"
    flow.write_text(f"import sys\nopen({str(marker)!r}, 'w').close()\nsys.exit(1)\n" + TWO)
    a = analyze_file(str(flow))
    assert [f.name for f in a.flows] == ["AFlow", "BFlow"]
    assert not marker.exists()


# --- JSON ----------------------------------------------------------------------------------


def test_ir_and_analysis_round_trip_through_json(full):
    assert FlowIR.from_json(full.to_json()) == full
    a = analyze(FULL)
    again = Analysis.from_dict(json.loads(json.dumps(a.to_dict())))
    assert again == a


def test_ir_schema_version_is_checked(full):
    data = full.to_dict()
    data["schema_version"] = 999
    with pytest.raises(ValueError, match="schema version 999"):
        FlowIR.from_dict(data)


def test_ir_is_frozen(full):
    with pytest.raises(dataclasses.FrozenInstanceError):
        full.name = "Other"  # type: ignore[misc]


def test_large_flow():
    from bench.genflow import generate

    a = analyze_source(generate(1000), "big.py")
    assert not a.diagnostics
    assert len(a.flows[0].steps) >= 1000
