"""The analyzer: flow file -> IR, read from source with libcst, never imported or run."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import subprocess
import sys
import textwrap

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flowc.analyzer import Analysis, analyze_file, analyze_source
from flowc.ir import FlowIR, NodeKind, ParameterKind, Step, TransitionKind
from tests.conftest import EXAMPLES, ROOT


def analyze(src: str, path: str = "flow.py", flow: str | None = None) -> Analysis:
    return analyze_source(textwrap.dedent(src), path, flow)


def one(src: str, **kw) -> FlowIR:
    a = analyze(src, **kw)
    assert len(a.flows) == 1, a.diagnostics
    return a.flows[0]


def line_of(src: str, needle: str) -> int:
    return next(i for i, t in enumerate(textwrap.dedent(src).splitlines(), 1) if needle in t)


def col_of(src: str, needle: str) -> int:
    text = textwrap.dedent(src).splitlines()[line_of(src, needle) - 1]
    return text.index(needle) + 1


def names(accesses) -> list[str]:
    return [a.name for a in accesses]


def flow_with(body: str, header: str = "from flowc import FlowSpec, step") -> str:
    """A flow class around ``body`` (methods indented by 4 spaces)."""
    return f"{header}\n\n\nclass F(FlowSpec):\n{textwrap.indent(textwrap.dedent(body), '    ')}"


# --- transitions and node kinds -------------------------------------------------------------

SHAPES = """
from flowc import FlowSpec, Parameter, step


class ShapesFlow(FlowSpec):
    workers = Parameter("workers", default=3)

    @step
    def start(self):
        self.next(self.fan, self.other)

    @step
    def fan(self):
        self.items = [1, 2]
        self.next(self.each, foreach="items")

    @step
    def each(self):
        self.next(self.each_join)

    @step
    def each_join(self, inputs):
        self.next(self.gang)

    @step
    def gang(self):
        self.next(self.member, num_parallel=self.workers)

    @step
    def member(self):
        self.next(self.gang_join)

    @step
    def gang_join(self, inputs):
        self.route = "a"
        self.next({"a": self.left, "b": self.right, "c": self.left}, condition="route")

    @step
    def left(self):
        self.next(self.after)

    @step
    def right(self):
        self.next(self.after)

    @step
    def after(self):
        self.next(self.join)

    @step
    def other(self):
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass
"""


@pytest.fixture(scope="module")
def shapes() -> FlowIR:
    return one(SHAPES)


def test_node_kinds(shapes):
    assert {s.name: s.kind for s in shapes.steps} == {
        "start": NodeKind.SPLIT,  # a start that splits is a split, as in Metaflow
        "fan": NodeKind.FOREACH,
        "each": NodeKind.LINEAR,
        "each_join": NodeKind.JOIN,
        "gang": NodeKind.FOREACH,  # num_parallel is a foreach node
        "member": NodeKind.LINEAR,
        "gang_join": NodeKind.JOIN,  # a join first, even though it also switches
        "left": NodeKind.LINEAR,
        "right": NodeKind.LINEAR,
        "after": NodeKind.LINEAR,
        "other": NodeKind.LINEAR,
        "join": NodeKind.JOIN,
        "end": NodeKind.END,
    }


def test_split_transition(shapes):
    t = shapes.step("start").transition
    assert (t.kind, t.targets) == (TransitionKind.SPLIT, ("fan", "other"))
    assert (t.foreach, t.num_parallel, t.condition, t.cases) == (None, None, None, ())
    assert t.span.line == line_of(SHAPES, "self.next(self.fan, self.other)")


def test_linear_transition(shapes):
    t = shapes.step("each").transition
    assert (t.kind, t.targets) == (TransitionKind.LINEAR, ("each_join",))


def test_foreach_transition(shapes):
    t = shapes.step("fan").transition
    assert (t.kind, t.targets, t.foreach) == (TransitionKind.FOREACH, ("each",), "items")


def test_num_parallel_transition(shapes):
    t = shapes.step("gang").transition
    assert (t.kind, t.targets) == (TransitionKind.PARALLEL, ("member",))
    assert (t.num_parallel.source, t.num_parallel.literal) == ("self.workers", False)
    assert shapes.step("member").foreach_depth == 1
    # num_parallel=self.workers reads the parameter; the target self.member is not a read
    assert names(shapes.step("gang").reads) == ["workers"]


def test_switch_transition_and_cases(shapes):
    step = shapes.step("gang_join")
    t = step.transition
    assert (t.kind, t.condition) == (TransitionKind.SWITCH, "route")
    assert t.cases == (("a", "left"), ("b", "right"), ("c", "left"))
    assert t.targets == ("left", "right")  # distinct, in order
    (call,) = step.next_calls
    assert call.targets == ()
    assert [(c.key.value, c.target.step, c.target.source) for c in call.cases] == [
        ("a", "left", "self.left"),
        ("b", "right", "self.right"),
        ("c", "left", "self.left"),
    ]
    assert [(k.name, k.value.value) for k in call.keywords] == [("condition", "route")]
    assert step.matching_join == "after"  # where the switch's branches meet


def test_graph_annotations(shapes):
    s = shapes.step_map()
    assert s["join"].in_steps == ("after", "other")
    assert s["start"].matching_join == "join"
    assert s["fan"].matching_join == "each_join"
    assert s["gang"].matching_join == "gang_join"
    assert s["each"].split_parents == ("start", "fan")
    assert s["each"].foreach_depth == 1
    assert s["left"].split_parents == ("start",)  # a switch opens no split (as in Metaflow)
    assert s["end"].split_parents == () and s["end"].foreach_depth == 0


NESTED = (EXAMPLES / "nested_foreach_flow.py").read_text()


def test_nested_foreach_depth_split_parents_and_matching_joins():
    ir = analyze_source(NESTED, "nested_foreach_flow.py").flows[0]
    s = ir.step_map()
    assert s["score"].foreach_depth == 2
    assert s["score"].split_parents == ("start", "per_model")
    assert s["per_model"].foreach_depth == 1 and s["per_model"].split_parents == ("start",)
    assert s["average"].foreach_depth == 1
    assert s["compare"].foreach_depth == 0
    assert s["start"].matching_join == "compare"
    assert s["per_model"].matching_join == "average"
    assert s["average"].in_steps == ("score",)
    assert names(s["score"].reads) == ["foreach_stack"]
    assert names(s["per_model"].reads) == ["input"]


def test_join_arguments():
    ir = one(
        flow_with(
            """
            @step
            def start(self):
                self.next(self.a, self.b)

            @step
            def a(self):
                self.next(self.join)

            @step
            def b(self):
                self.next(self.join)

            @step
            def join(self, inputs):
                self.next(self.end)

            @step
            def end(self):
                pass
            """
        )
    )
    join = ir.step("join")
    assert (join.kind, join.args) == (NodeKind.JOIN, ("inputs",))
    assert ir.step("a").args == ()
    assert join.in_steps == ("a", "b")


def test_start_kinds_without_a_split():
    ir = one(
        flow_with(
            """
            @step
            def start(self):
                self.next(self.middle)

            @step
            def middle(self):
                print("no transition")

            @step
            def end(self):
                pass
            """
        )
    )
    assert ir.step("start").kind is NodeKind.START
    assert ir.step("middle").kind is NodeKind.LINEAR and ir.step("middle").transition is None
    assert ir.step("middle").next_calls == ()


def test_start_without_transition_is_still_start():
    ir = one(flow_with("@step\ndef start(self):\n    pass\n"))
    assert ir.step("start").kind is NodeKind.START and ir.step("start").transition is None


MALFORMED = flow_with(
    """
    @step
    def start(self):
        self.next(self.a, foreach=items)

    @step
    def a(self):
        if self.x:
            self.next(self.b)
        print("after")

    @step
    def b(self):
        self.next(self.c, self.c)

    @step
    def c(self):
        self.next(target)

    @step
    def d(self):
        self.next({"k": self.e, 1: self.end}, condition="k")

    @step
    def e(self):
        self.next(self.end, foreach="xs", num_parallel=2)

    @step
    def f(self):
        self.next({"k": self.e}, self.end)

    @step
    def g(self):
        self.next(self.a)
        self.next(self.end)

    @step
    def h(self):
        self.next(*self.steps)

    @step
    def end(self):
        pass
    """
)


@pytest.fixture(scope="module")
def malformed() -> FlowIR:
    return one(MALFORMED)


def test_malformed_foreach_is_recorded_without_transition(malformed):
    start = malformed.step("start")
    assert start.transition is None and start.kind is NodeKind.START
    (call,) = start.next_calls
    assert call.is_tail
    assert [(t.step, t.source) for t in call.targets] == [("a", "self.a")]
    (kw,) = call.keywords
    assert (kw.name, kw.value.source, kw.value.literal) == ("foreach", "items", False)


def test_next_that_is_not_the_last_statement(malformed):
    a = malformed.step("a")
    assert a.transition is None and a.kind is NodeKind.LINEAR
    (call,) = a.next_calls
    assert not call.is_tail
    assert call.span.line == line_of(MALFORMED, "self.next(self.b)")


def test_repeated_targets_and_non_step_targets(malformed):
    assert malformed.step("b").transition is None
    assert [t.step for t in malformed.step("b").next_calls[0].targets] == ["c", "c"]
    (target,) = malformed.step("c").next_calls[0].targets
    assert (target.step, target.source) == (None, "target")
    assert malformed.step("c").transition is None
    (star,) = malformed.step("h").next_calls[0].targets
    assert (star.step, star.source) == (None, "*self.steps")


def test_malformed_switch_and_keywords(malformed):
    d = malformed.step("d")
    assert d.transition is None and d.kind is NodeKind.LINEAR
    assert [(c.key.value, c.target.step) for c in d.next_calls[0].cases] == [("k", "e"), (1, "end")]
    assert malformed.step("e").transition is None
    assert [k.name for k in malformed.step("e").next_calls[0].keywords] == [
        "foreach",
        "num_parallel",
    ]
    # a dict next to another positional argument is not a switch: both are plain targets
    f = malformed.step("f").next_calls[0]
    assert f.cases is None
    assert [(t.step, t.source) for t in f.targets] == [(None, '{"k": self.e}'), ("end", "self.end")]


def test_every_next_call_is_recorded(malformed):
    g = malformed.step("g")
    assert [(c.is_tail, c.targets[0].step) for c in g.next_calls] == [(False, "a"), (True, "end")]
    assert g.transition.targets == ("end",)  # the tail call decides


# --- imports, aliases, decorators ---------------------------------------------------------------

ALIASED = """
import metaflow as mf
from metaflow import step as s, retry as again


@mf.schedule(hourly=True)
class A(mf.FlowSpec):
    @again(times=1)
    @mf.card
    @s
    def start(self):
        self.next(self.end)

    @mf.step
    def end(self):
        pass
"""


def test_aliases_resolve_to_canonical_names():
    ir = one(ALIASED)
    assert [x.name for x in ir.steps] == ["start", "end"]
    assert [(d.name, d.known) for d in ir.step("start").decorators] == [
        ("retry", True),
        ("card", True),
    ]
    assert ir.step("start").decorator("retry").get("times") == 1
    assert [(d.name, d.known, d.get("hourly")) for d in ir.decorators] == [("schedule", True, True)]
    assert ir.step("end").decorators == ()


def test_star_import_and_module_import():
    ir = one(
        """
        from flowc import *
        import flowc


        class A(FlowSpec):
            @retry
            @timing
            @step
            def start(self):
                self.next(self.end)

            @flowc.step
            def end(self):
                pass
        """
    )
    assert [s.name for s in ir.steps] == ["start", "end"]
    assert [(d.name, d.known) for d in ir.step("start").decorators] == [
        ("retry", True),
        ("timing", False),  # not a flowc decorator, whatever the star import holds
    ]


def test_user_decorators_are_kept_but_not_known():
    ir = one(
        """
        from flowc import FlowSpec, step
        from mylib import timing
        import mylib


        class A(FlowSpec):
            @timing(unit="s")
            @mylib.tracing
            @step
            def start(self):
                self.next(self.end)

            @step
            def end(self):
                pass
        """
    )
    timing, tracing = ir.step("start").decorators
    assert (timing.name, timing.known, timing.get("unit")) == ("timing", False, "s")
    assert (tracing.name, tracing.known, tracing.args) == ("tracing", False, ())


def test_decorator_arguments_literal_and_not():
    src = """
    from metaflow import FlowSpec, step, retry, resources, environment, catch, project

    N = 3


    @project(name="demo")
    class A(FlowSpec):
        @retry
        @resources(memory=4096, cpu=-2, gpu=N)
        @environment(vars={"A": "1", "B": f"{N}"})
        @catch(var="err", print_exception=False)
        @step
        def start(self):
            self.next(self.end)

        @step
        def end(self):
            pass
    """
    ir = one(src)
    retry, resources, env, catch = ir.step("start").decorators
    assert (retry.name, retry.args) == ("retry", ())
    kw = resources.kwargs()
    assert (kw["memory"].value, kw["cpu"].value) == (4096, -2)
    # a module-level constant is read as its value (tests/test_constants.py has the rest)
    assert (kw["gpu"].literal, kw["gpu"].source, kw["gpu"].value) == (True, "N", 3)
    assert env.kwargs()["vars"].value == {"A": "1", "B": "3"}  # f-string of a constant
    assert env.kwargs()["vars"].source == '{"A": "1", "B": f"{N}"}'
    assert catch.get("var") == "err" and catch.get("print_exception") is False
    assert ir.decorator("project").get("name") == "demo"
    assert retry.span.line == line_of(src, "@retry") and retry.span.col == 5
    assert ir.decorators[0].span.line == line_of(src, "@project")


def test_a_method_without_step_is_a_member_not_a_step():
    ir = one(
        """
        from flowc import FlowSpec, step
        from other import step as not_flowc_step


        class A(FlowSpec):
            @step
            def start(self):
                self.next(self.end)

            def end(self):
                pass

            @not_flowc_step
            def lookalike(self):
                pass
        """
    )
    assert [s.name for s in ir.steps] == ["start"]
    assert set(ir.members) == {"end", "lookalike"}


def test_conditional_imports_count():
    ir = one(
        """
        try:
            from metaflow import FlowSpec, step
        except ImportError:
            from flowc import FlowSpec, step
            step = None


        class A(FlowSpec):
            @step
            def start(self):
                self.next(self.end)

            @step
            def end(self):
                pass
        """
    )
    assert [s.name for s in ir.steps] == ["start", "end"]


def test_metaflow_and_flowc_imports_give_identical_ir():
    for example in sorted(EXAMPLES.glob("*.py")):
        src = example.read_text()
        assert "from flowc import" in src
        via_metaflow = src.replace("from flowc import", "from metaflow import")
        a = analyze_source(src, example.name)
        b = analyze_source(via_metaflow, example.name)
        assert a.candidates == b.candidates and a.main_flow == b.main_flow
        assert len(a.flows) == len(b.flows) == 1
        strip = lambda ir: {**ir.to_dict(), "sources": None}  # noqa: E731 - hashes differ
        assert strip(a.flows[0]) == strip(b.flows[0]), example.name
        assert a.flows[0].sources != b.flows[0].sources


# --- parameters --------------------------------------------------------------------------------

PARAMS = """
from flowc import FlowSpec, Parameter, IncludeFile, Config, JSONType, step


def compute():
    return 1


class P(FlowSpec):
    alpha = Parameter("alpha", help="Step " "size.", default=0.5)
    count = Parameter("count", default=3, required=True)
    neg = Parameter("neg", default=-2)
    flag = Parameter("flag", default=False)
    label = Parameter("label")
    nothing = Parameter("nothing", default=None)
    text = Parameter("text", default="hi")
    listy = Parameter("listy", default=[1, "a"])
    cfg = Parameter("cfg", type=JSONType, default='{"a": 1}')
    typed = Parameter("typed", type=int, help="Explicit type.")
    weird = Parameter("weird", type=MyType, default=1)
    when = Parameter("when", default=lambda ctx: 1)
    later = Parameter("later", default=compute)
    named = Parameter(name="kw-name", default=1.0, show_default=False)
    positional = Parameter("pos", 7, float, "Positional help.", True)
    computed_name = Parameter(NAME, default=1)
    annotated: float = Parameter("annotated", default=1.5)
    data = IncludeFile("data", default="data.csv", is_text=True, help="A file.")
    blob = IncludeFile("blob", is_text=False)
    conf = Config("conf", default_value={"k": [1, 2]})
    conf_file = Config("conf_file", default="conf.json")
    bare_conf = Config("bare_conf")

    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
"""


@pytest.fixture(scope="module")
def params() -> dict:
    return {p.attr: p for p in one(PARAMS).parameters}


def test_parameter_order_kinds_and_owner(params):
    assert list(params)[:4] == ["alpha", "count", "neg", "flag"]
    assert params["data"].kind is ParameterKind.INCLUDE_FILE
    assert params["conf"].kind is ParameterKind.CONFIG
    assert params["alpha"].kind is ParameterKind.PARAMETER
    assert {p.defined_in for p in params.values()} == {"P"}
    assert {p.file for p in params.values()} == {"flow.py"}
    span = params["alpha"].span
    assert (span.line, span.col) == (line_of(PARAMS, 'alpha = Parameter("alpha"'), 5)


def test_parameter_types_inferred_from_defaults(params):
    inferred = {a: params[a].type for a in ("alpha", "count", "neg", "flag", "text", "listy")}
    assert inferred == {
        "alpha": "float",
        "count": "int",
        "neg": "int",
        "flag": "bool",  # bool before int
        "text": "str",
        "listy": "json",
    }
    assert params["label"].type == "str" and params["label"].default is None  # no default
    assert params["nothing"].type == "str" and params["nothing"].default.value is None
    assert params["neg"].default.value == -2


def test_parameter_explicit_types(params):
    assert params["cfg"].type == "json"
    assert params["typed"].type == "int"
    assert params["weird"].type is None  # a type flowc cannot know
    assert params["positional"].type == "float"


def test_parameter_non_literal_defaults(params):
    when = params["when"]
    assert when.type is None and not when.default.literal
    assert (when.default.source, when.default.value) == ("lambda ctx: 1", None)
    assert params["later"].type is None and params["later"].default.source == "compute"


def test_parameter_names_help_required_extra(params):
    assert (params["alpha"].help, params["alpha"].required) == ("Step size.", False)
    assert (params["count"].required, params["count"].help) == (True, None)
    assert params["named"].name == "kw-name"
    assert [(a.name, a.value.value) for a in params["named"].extra] == [("show_default", False)]
    pos = params["positional"]
    assert (pos.name, pos.default.value, pos.help, pos.required) == (
        "pos",
        7,
        "Positional help.",
        True,
    )
    assert params["computed_name"].name == "computed_name"  # not a literal: the attribute
    assert params["annotated"].default.value == 1.5


def test_include_file_and_config(params):
    data = params["data"]
    assert (data.name, data.type, data.default.value, data.help) == (
        "data",
        "str",
        "data.csv",
        "A file.",
    )
    assert [(a.name, a.value.value) for a in data.extra] == [("is_text", True)]
    blob = params["blob"]
    assert (blob.type, blob.default) == ("str", None)
    conf = params["conf"]
    assert (conf.default.value, conf.type, conf.extra) == ({"k": [1, 2]}, "json", ())
    assert params["conf_file"].default.value == "conf.json"
    assert params["bare_conf"].default is None


def test_parameters_are_neither_members_nor_steps():
    ir = one(PARAMS)
    assert "alpha" not in ir.members and "compute" not in ir.members
    assert [s.name for s in ir.steps] == ["start", "end"]


def test_shadowed_builtin_type_is_unknown():
    ir = one(
        """
        from flowc import FlowSpec, Parameter, step
        from numpy import int64 as int


        class A(FlowSpec):
            n = Parameter("n", type=int, default=1)

            @step
            def start(self):
                self.next(self.end)

            @step
            def end(self):
                pass
        """
    )
    assert ir.parameter("n").type is None


# --- values --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "expr,literal,value",
    [
        ("None", True, None),
        ("True", True, True),
        ("0x10", True, 16),
        ("1_000", True, 1000),
        ("-1.5", True, -1.5),
        ("+3", True, 3),
        ("'a' 'b'", True, "ab"),
        ('"x\\ty"', True, "x\ty"),
        ("f'plain {{braces}}'", True, "plain {braces}"),
        ("f'{x}'", False, None),
        ("b'bytes'", False, None),
        ("(1, [2, {'k': None}])", True, [1, [2, {"k": None}]]),
        ("{1: 2}", False, None),
        ("{**base}", False, None),
        ("[*xs]", False, None),
        ("{1, 2}", False, None),
        ("-True", False, None),
        ("1j", False, None),
        ("x", False, None),
        ("len(x)", False, None),
    ],
)
def test_literal_values(expr, literal, value):
    ir = one(
        flow_with(
            f"""
            @retry(v={expr})
            @step
            def start(self):
                pass
            """,
            header="from flowc import FlowSpec, step, retry",
        )
    )
    v = ir.step("start").decorators[0].kwargs()["v"]
    assert (v.source, v.literal, v.value) == (expr, literal, value)


# --- docstrings and spans ------------------------------------------------------------------------

DOCS = '''
from flowc import FlowSpec, step, retry, schedule


@schedule(daily=True)
class DocFlow(FlowSpec):
    """The flow's doc.

    Detail:
        indented more.
    """

    @retry(times=2)
    @step
    def start(self):
        """Fan out."""
        self.next(self.end)

    @step
    def end(self):
        f"""not a docstring"""
        pass
'''


def test_docstrings_are_cleaned():
    ir = one(DOCS)
    assert ir.doc == "The flow's doc.\n\nDetail:\n    indented more."
    assert ir.step("start").doc == "Fan out."
    assert ir.step("end").doc is None


def test_spans_are_1_based_and_skip_decorators():
    ir = one(DOCS)
    start = ir.step("start")
    assert (start.span.line, start.span.col) == (line_of(DOCS, "def start(self):"), 5)
    assert start.span.end_line == line_of(DOCS, "self.next(self.end)")
    assert start.decorators[0].span.line == line_of(DOCS, "@retry(times=2)")
    assert (ir.span.line, ir.span.col) == (line_of(DOCS, "class DocFlow"), 1)
    call = start.next_calls[0]
    assert (call.span.line, call.span.col) == (line_of(DOCS, "self.next(self.end)"), 9)
    assert call.span.end_col == 9 + len("self.next(self.end)")
    (target,) = call.targets
    assert (target.span.line, target.span.col) == (call.span.line, 19)


def test_positions_match_libcst_position_provider():
    import libcst as cst
    from libcst.metadata import MetadataWrapper, PositionProvider

    from flowc.analyzer.positions import positions

    tricky = (
        'from flowc import *\r\n@schedule(\r\n  daily=True)\r\nclass A(FlowSpec):\r\n\t"""d\r\n'
        "\tx\"\"\"\r\n\t@step\r\n\tdef start(self):  # c\r\n\t\ts = \"\u00e9\" + '''a\r\nb'''\r\n"
        "\t\tx = (1 +\r\n\t\t  2) \\\r\n\t\t  + 3\r\n\t\tself.next(self.end)\r\n\x0c\r\n"
    )
    sources = [tricky, tricky.replace("\r\n", "\n"), SHAPES, NESTED]
    for src in sources:
        module = cst.parse_module(src)
        expected = MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)
        got = positions(module)
        for node, r in expected.items():
            if node is not module:  # the module's own range is never used
                assert got[node] == (r.start.line, r.start.column, r.end.line, r.end.column)


# --- reads and assigns ---------------------------------------------------------------------------

ACCESS = flow_with(
    """
    @step
    def start(self):
        self.a, (self.b, *self.c) = 1, (2, 3, 4)
        self.d: int = 5
        self.e += 1
        self.f[0] = 1
        self.g.attr = self.h
        for self.i in range(2):
            pass
        with open("x") as self.j, open("y") as k:
            pass
        squares = [self.k * n for self.n in self.items]
        def inner():
            self.m = self.o
        fn = lambda: self.p
        self.q = self.r if self.s else self.t
        print(self.input, self.index, self.foreach_stack())
        self.merge_artifacts(inputs)
        self.next(self.end)

    @step
    def end(self):
        pass
    """
)


def test_assigns_in_source_order():
    s = one(ACCESS).step("start")
    assert names(s.assigns) == ["a", "b", "c", "d", "e", "i", "j", "n", "m", "q"]


def test_reads_in_source_order():
    s = one(ACCESS).step("start")
    assert names(s.reads) == [
        "e",  # self.e += 1 reads and assigns
        "f",  # self.f[0] = 1 reads f
        "g",  # so does self.g.attr = ...
        "h",
        "k",
        "items",
        "o",
        "p",
        "r",
        "s",
        "t",
        "input",
        "index",
        "foreach_stack",
    ]
    # neither the self.next / self.merge_artifacts callees nor the step targets are reads
    assert not {"next", "merge_artifacts", "end"} & set(names(s.reads))


def test_access_spans():
    s = one(ACCESS).step("start")
    e_read = next(r for r in s.reads if r.name == "e")
    e_assign = next(a for a in s.assigns if a.name == "e")
    assert e_read.span == e_assign.span
    assert (e_read.span.line, e_read.span.col) == (line_of(ACCESS, "self.e += 1"), 9)
    c = next(a for a in s.assigns if a.name == "c")
    assert c.span.col == col_of(ACCESS, "self.c")


def test_self_can_have_another_name():
    ir = one(
        flow_with(
            """
            @step
            def start(me):
                me.x = 1
                me.next(me.end)

            @step
            def end(me):
                print(me.x)
            """
        )
    )
    assert names(ir.step("start").assigns) == ["x"]
    assert ir.step("start").transition.targets == ("end",)
    assert names(ir.step("end").reads) == ["x"]


def test_merges():
    src = flow_with(
        """
        @step
        def join(self, inputs):
            self.merge_artifacts(inputs, include=["a", "b"])
            self.merge_artifacts(inputs, exclude=self.skip)
            self.merge_artifacts(inputs, ["c"])
            self.merge_artifacts(inputs)
            self.next(self.end)
        """
    )
    join = one(src).step("join")
    m1, m2, m3, m4 = join.merges
    assert (m1.include.value, m1.exclude) == (["a", "b"], None)
    assert (m2.include, m2.exclude.source, m2.exclude.literal) == (None, "self.skip", False)
    assert (m3.include, m3.exclude.value) == (None, ["c"])  # exclude is the second parameter
    assert (m4.include, m4.exclude) == (None, None)
    assert (m1.span.line, m1.span.col) == (line_of(src, 'include=["a", "b"]'), 9)
    assert names(join.reads) == ["skip"]


# --- members and inheritance ---------------------------------------------------------------------


def test_members():
    ir = one(
        """
        from flowc import FlowSpec, Parameter, step


        class A(FlowSpec):
            LIMIT = 10
            X, Y = 1, 2
            counter = 0
            counter += 1
            declared_only: int
            alpha = Parameter("alpha", default=1)

            class Settings:
                pass

            @property
            def derived(self):
                return 1

            @staticmethod
            def helper():
                return 2

            @step
            def start(self):
                self.next(self.end)

            @step
            def end(self):
                pass
        """
    )
    assert ir.members == ("LIMIT", "Settings", "X", "Y", "counter", "derived", "helper")


BASE = '''
from flowc import FlowSpec, Parameter, step


class Mixin:
    TIMEOUT = 5

    def helper(self):
        return 1


class BaseFlow(FlowSpec):
    """Base doc."""

    size = Parameter("size", default=2)
    mode = Parameter("mode", default="fast")

    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        """Inherited end."""
        print(self.x)

    def shared(self):
        pass
'''

CHILD = """
{import_line}
from flowc import Parameter, step


class ChildFlow({bases}):
    size = Parameter("size", default=5)
    shared = 3

    @step
    def start(self):
        self.x = self.size
        self.next(self.end)
"""


def test_inheritance_in_the_same_file():
    a = analyze(BASE + CHILD.format(import_line="", bases="Mixin, BaseFlow"))
    assert a.candidates == ("ChildFlow",)  # BaseFlow is used as a base: not a leaf
    ir = a.flows[0]
    assert ir.bases == ("Mixin", "BaseFlow")
    assert ir.doc is None
    # inherited first; the override takes the subclass's place
    assert [(s.name, s.defined_in) for s in ir.steps] == [
        ("end", "BaseFlow"),
        ("start", "ChildFlow"),
    ]
    assert ir.step("end").doc == "Inherited end."
    assert [(p.attr, p.default.value, p.defined_in) for p in ir.parameters] == [
        ("mode", "fast", "BaseFlow"),
        ("size", 5, "ChildFlow"),
    ]
    assert ir.members == ("TIMEOUT", "helper", "shared")
    assert ir.step("start").in_steps == () and ir.step("end").in_steps == ("start",)


def test_non_leaf_flow_can_be_selected():
    a = analyze(BASE + CHILD.format(import_line="", bases="BaseFlow"), flow="BaseFlow")
    assert [f.name for f in a.flows] == ["BaseFlow"]
    assert [s.name for s in a.flows[0].steps] == ["start", "end"]
    assert a.flows[0].doc == "Base doc."


def test_method_resolution_order_of_a_diamond():
    ir = one(
        """
        from flowc import FlowSpec, step


        class Root(FlowSpec):
            @step
            def start(self):
                self.next(self.end)

            @step
            def end(self):
                pass


        class Left(Root):
            @step
            def end(self):
                "left"


        class Right(Root):
            @step
            def start(self):
                self.next(self.end)

            @step
            def end(self):
                "right"


        class Leaf(Left, Right):
            pass
        """
    )
    # Python's MRO is Leaf, Left, Right, Root: Left's end wins over Right's, Right's start
    # over Root's
    assert {s.name: s.defined_in for s in ir.steps} == {"start": "Right", "end": "Left"}


def test_overriding_a_step_with_a_plain_method_removes_it():
    ir = one(
        """
        from flowc import FlowSpec, step


        class Base(FlowSpec):
            @step
            def start(self):
                self.next(self.end)

            @step
            def extra(self):
                self.next(self.end)

            @step
            def end(self):
                pass


        class Child(Base):
            def extra(self):
                pass
        """
    )
    assert [s.name for s in ir.steps] == ["start", "end"]
    assert ir.members == ("extra",)


def _write_child(folder, import_line: str, bases: str = "BaseFlow") -> str:
    child = folder / "child.py"
    child.write_text(CHILD.format(import_line=import_line, bases=bases))
    return str(child)


@pytest.mark.parametrize(
    "layout,import_line,bases",
    [
        ("flat", "from base import BaseFlow", "BaseFlow"),
        ("flat", "import base", "base.BaseFlow"),
        ("flat", "from . import base", "base.BaseFlow"),
        ("flat", "from .base import BaseFlow", "BaseFlow"),
        ("flat", "from base import BaseFlow as Renamed", "Renamed"),
        ("flat", "import base as b\nAlias = b.BaseFlow", "Alias"),
        ("package", "from lib.base import BaseFlow", "BaseFlow"),
        ("package", "from lib import BaseFlow", "BaseFlow"),  # re-exported by __init__.py
        ("package", "import lib.base", "lib.base.BaseFlow"),
    ],
)
def test_inheritance_from_a_local_module(tmp_path, layout, import_line, bases):
    if layout == "package":
        (tmp_path / "lib").mkdir()
        (tmp_path / "lib" / "__init__.py").write_text("from .base import *\n")
        base_file = tmp_path / "lib" / "base.py"
    else:
        base_file = tmp_path / "base.py"
    base_file.write_text(BASE)
    child = _write_child(tmp_path, import_line, bases)
    a = analyze_file(child)
    assert not a.diagnostics, a.diagnostics
    (ir,) = a.flows
    assert [s.name for s in ir.steps] == ["end", "start"]
    end = ir.step("end")
    assert end.file == str(base_file) and end.defined_in == "BaseFlow"
    assert ir.step("start").file == child
    assert ir.parameter("mode").file == str(base_file)
    assert ir.members == ("shared",)
    digest = hashlib.sha256(base_file.read_bytes()).hexdigest()
    assert (str(base_file), digest) in a.sources
    assert a.sources[0] == (child, hashlib.sha256((tmp_path / "child.py").read_bytes()).hexdigest())
    assert ir.sources == a.sources


def test_module_paths_are_shown_relative_to_the_path_given(tmp_path, monkeypatch):
    (tmp_path / "base.py").write_text(BASE)
    _write_child(tmp_path, "from base import BaseFlow")
    monkeypatch.chdir(tmp_path.parent)
    a = analyze_file(os.path.join(tmp_path.name, "child.py"))
    ir = a.flows[0]
    assert ir.file == os.path.join(tmp_path.name, "child.py")
    assert ir.step("end").file == os.path.join(tmp_path.name, "base.py")
    assert all(os.path.isabs(p) for p, _ in a.sources)


def test_unresolved_base_from_an_installed_package():
    src = """
    from flowc import step
    from some_installed_package import SharedFlow


    class MyFlow(SharedFlow):
        @step
        def start(self):
            self.next(self.end)
    """
    a = analyze(src)
    assert [f.name for f in a.flows] == ["MyFlow"]
    (d,) = a.diagnostics
    assert (d.rule, d.is_error, d.path) == ("unresolved-base", False, "flow.py")
    assert (d.line, d.col) == (line_of(src, "class MyFlow"), col_of(src, "SharedFlow)"))
    assert "some_installed_package" in d.message and "SharedFlow" in d.message


def test_a_class_without_steps_on_an_unknown_base_is_not_a_flow():
    a = analyze("from pandas import DataFrame\n\nclass Frame(DataFrame):\n    pass\n")
    assert [d.rule for d in a.diagnostics] == ["no-flow"]


def test_a_broken_local_base_module_is_reported_where_it_is_broken(tmp_path):
    (tmp_path / "base.py").write_text("class BaseFlow(:\n    pass\n")
    child = _write_child(tmp_path, "from base import BaseFlow")
    a = analyze_file(child)
    (d,) = a.diagnostics
    assert (d.rule, d.path, d.line) == ("syntax-error", str(tmp_path / "base.py"), 1)
    assert [f.name for f in a.flows] == ["ChildFlow"]
    # the broken file was read, so a cache must notice when it is fixed
    assert str(tmp_path / "base.py") in dict(a.sources)


def test_import_cycles_between_local_modules_terminate(tmp_path):
    (tmp_path / "a.py").write_text("from b import BaseFlow\n")
    (tmp_path / "b.py").write_text("from a import BaseFlow\n")
    child = _write_child(tmp_path, "from a import BaseFlow")
    a = analyze_file(child)
    assert [f.name for f in a.flows] == ["ChildFlow"]
    assert [d.rule for d in a.diagnostics] == ["unresolved-base"]


def test_class_cycles_terminate():
    a = analyze(
        """
        from flowc import FlowSpec, step

        class A(B):
            pass

        class B(A, FlowSpec):
            @step
            def start(self):
                pass
        """
    )
    # each is the other's base; only a class defined earlier can really be one, so B is the leaf
    assert a.candidates == ("B",)
    assert [s.name for s in a.flows[0].steps] == ["start"]
    a = analyze("from flowc import FlowSpec\nclass A(A, FlowSpec):\n    pass\n")
    assert a.candidates == ("A",) and a.flows[0].steps == ()


# --- several flows, selection, main --------------------------------------------------------------

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


def test_unknown_flow_lists_the_flows():
    a = analyze(TWO, flow="CFlow")
    assert a.flows == () and a.candidates == ("AFlow", "BFlow")
    (d,) = a.diagnostics
    assert (d.rule, d.is_error, d.line, d.col) == ("unknown-flow", True, 1, 1)
    assert "CFlow" in d.message and "AFlow, BFlow" in d.message
    assert "--flow" in d.fix


def test_main_flow():
    main = analyze(TWO + '\nif __name__ == "__main__":\n    print("go")\n    BFlow()\n')
    assert main.main_flow == "BFlow"
    reversed_test = analyze(TWO + "\nif '__main__' == __name__:\n    AFlow()\n")
    assert reversed_test.main_flow == "AFlow"
    not_a_flow = analyze(TWO + '\nif __name__ == "__main__":\n    print("x")\n')
    assert not_a_flow.main_flow is None


def test_later_class_of_the_same_name_wins():
    a = analyze(TWO + "\nclass AFlow:\n    pass\n")
    assert a.candidates == ("BFlow",)


# --- diagnostics ---------------------------------------------------------------------------------


def test_syntax_error_position():
    src = "from flowc import FlowSpec\n\nclass A(FlowSpec):\n    def start(self)\n        pass\n"
    a = analyze_source(src, "bad.py")
    assert a.flows == () and a.candidates == ()
    (d,) = a.diagnostics
    assert (d.rule, d.is_error, d.path, d.line, d.col) == ("syntax-error", True, "bad.py", 4, 20)
    assert "expected ':'" in d.message
    assert d.format().startswith("bad.py:4:20: error[syntax-error]: ")
    assert a.sources == ((os.path.abspath("bad.py"), hashlib.sha256(src.encode()).hexdigest()),)


@pytest.mark.parametrize(
    "src,line,words",
    [
        ("x = 1\ny = 'open\n", 2, "unterminated string"),
        ("def f():\nreturn 1\n", 2, "indented block"),
        ("x = (1,\ny = 2\n", 1, "never closed"),
        ("class A:\n  def f(self):\n     pass\n   x = 1\n", 4, "unindent"),
    ],
)
def test_syntax_error_messages(src, line, words):
    (d,) = analyze_source(src, "bad.py").diagnostics
    assert (d.rule, d.line) == ("syntax-error", line)
    assert words in d.message


@pytest.mark.parametrize("depth", [300, 1500, 20000])
def test_deep_nesting_is_a_located_error_not_a_crash(depth):
    # libcst's native parser segfaults on ~1500 nested parentheses; CPython refuses them first
    a = analyze_source("x = " + "(" * depth + ")" * depth + "\n", "deep.py")
    (d,) = a.diagnostics
    assert (d.rule, d.line) == ("syntax-error", 1) and "nested" in d.message


def test_deep_but_valid_expression_is_a_located_error_not_a_crash():
    a = analyze_source(flow_with("X = " + "+".join(["1"] * 2000)), "deep.py")
    assert a.flows or [(d.rule, d.line, d.col) for d in a.diagnostics] == [("syntax-error", 1, 1)]


@pytest.mark.parametrize(
    "blob,why",
    [(b"\x00\x01\x02binary", "NUL"), (b"x = '\xff\xfe\xfa'\n", "UTF-8"), ("a\0b", "NUL")],
)
def test_binary_input(blob, why):
    a = analyze_source(blob, "blob.py")
    (d,) = a.diagnostics
    assert (d.rule, d.line, d.col, d.is_error) == ("not-python", 1, 1, True)
    assert why in d.message


def test_declared_encodings_and_bom_are_honoured():
    src = "# -*- coding: latin-1 -*-\n" + TWO.replace("pass", "print('caf\xe9')", 1)
    a = analyze_source(src.encode("latin-1"), "latin.py")
    assert a.candidates == ("AFlow", "BFlow") and not a.diagnostics
    b = analyze_source(b"\xef\xbb\xbf" + TWO.encode(), "bom.py")
    assert b.candidates == ("AFlow", "BFlow") and not b.diagnostics


def test_no_flow():
    a = analyze_source("import os\n\nclass Helper:\n    pass\n", "plain.py")
    (d,) = a.diagnostics
    assert (d.rule, d.is_error, d.line, d.col) == ("no-flow", True, 1, 1)
    assert "FlowSpec" in d.message
    assert "class MyFlow(FlowSpec)" in d.fix
    assert "from flowc import FlowSpec, step" in d.fix and "metaflow" in d.fix


def test_unreadable_path_is_a_diagnostic(tmp_path):
    a = analyze_file(str(tmp_path / "missing.py"))
    assert [(d.rule, d.line, d.col) for d in a.diagnostics] == [("not-python", 1, 1)]
    assert analyze_file(str(tmp_path)).diagnostics[0].rule == "not-python"  # a folder


def test_analysis_never_runs_the_file(tmp_path):
    marker = tmp_path / "ran"
    base_marker = tmp_path / "base_ran"
    (tmp_path / "base.py").write_text(
        f"open({str(base_marker)!r}, 'w').close()\nimport sys\nsys.exit(3)\n" + BASE
    )
    flow = tmp_path / "f.py"
    flow.write_text(
        f"import sys\nopen({str(marker)!r}, 'w').close()\nsys.exit(1)\n"
        + CHILD.format(import_line="from base import BaseFlow", bases="BaseFlow")
    )
    a = analyze_file(str(flow))
    assert [f.name for f in a.flows] == ["ChildFlow"]
    assert [s.name for s in a.flows[0].steps] == ["end", "start"]
    assert not marker.exists() and not base_marker.exists()


# --- JSON --------------------------------------------------------------------------------------


def test_ir_and_analysis_round_trip_through_json(shapes):
    for ir in (shapes, one(PARAMS), one(ACCESS), one(MALFORMED)):
        assert FlowIR.from_json(ir.to_json()) == ir
    for a in (analyze(SHAPES), analyze(TWO, flow="nope"), analyze_source(b"\0", "x.py")):
        again = Analysis.from_dict(json.loads(json.dumps(a.to_dict())))
        assert again == a


def test_ir_is_frozen(shapes):
    with pytest.raises(dataclasses.FrozenInstanceError):
        shapes.name = "Other"  # type: ignore[misc]


# --- robustness --------------------------------------------------------------------------------

SEEDS = [
    SHAPES,
    MALFORMED,
    PARAMS,
    ACCESS,
    NESTED,
    BASE + CHILD.format(import_line="", bases="BaseFlow"),
]
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _check(source: str | bytes) -> None:
    a = analyze_source(source, "fuzz.py")
    n_lines = (source.count("\n") if isinstance(source, str) else source.count(b"\n")) + 1
    for d in a.diagnostics:
        assert d.path == "fuzz.py" and 1 <= d.line <= n_lines and d.col >= 1 and d.message
    for ir in a.flows:
        assert isinstance(ir.steps, tuple) and all(isinstance(s, Step) for s in ir.steps)
        assert FlowIR.from_json(ir.to_json()) == ir
    assert a.flows or any(d.is_error for d in a.diagnostics)


@FUZZ
@given(st.binary(max_size=400))
def test_random_bytes_never_raise(blob):
    _check(blob)


@FUZZ
@given(
    st.text(alphabet=st.sampled_from(list("()[]{}:.,=@ \n\t'\"#\\selfnxtdpa_019")), max_size=300)
)
def test_random_code_like_text_never_raises(text):
    _check("from flowc import FlowSpec, step\nclass F(FlowSpec):\n    @step\n" + text)


@FUZZ
@given(st.sampled_from(SEEDS), st.data())
def test_truncated_and_mangled_flows_never_raise(src, data):
    lines = src.splitlines(keepends=True)
    for _ in range(data.draw(st.integers(0, 4))):
        if lines:
            del lines[data.draw(st.integers(0, len(lines) - 1))]
    text = "".join(lines)
    cut = data.draw(st.integers(0, len(text)))
    _check(text[:cut])


# --- performance and laziness ---------------------------------------------------------------


def linear_flow(n: int) -> str:
    """A linear flow of ``n`` steps, seven lines each (about 7,000 lines for 1,000 steps)."""
    out = ["from metaflow import FlowSpec, step, Parameter", "", "class Big(FlowSpec):"]
    out += ["    alpha = Parameter('alpha', default=0.1)", ""]
    for i in range(n):
        name = "start" if i == 0 else ("end" if i == n - 1 else f"s{i}")
        nxt = "end" if i == n - 2 else f"s{i + 1}"
        out += ["    @step", f"    def {name}(self):", f'        """Step {i}."""']
        out += [f"        self.x{i} = {i}", f"        y = self.alpha * {i}"]
        out += [f"        self.next(self.{nxt})" if i < n - 1 else "        pass", ""]
    out += ["if __name__ == '__main__':", "    Big()"]
    return "\n".join(out)


def test_large_linear_flow_is_analyzed_in_a_fresh_process(tmp_path):
    """1,000 steps in a line (Metaflow's show hits RecursionError there). Its speed is measured
    by bench/bench_cli.py, not here."""
    path = tmp_path / "big.py"
    path.write_text(linear_flow(1000))
    script = (
        "from flowc.analyzer import analyze_file\n"
        f"a = analyze_file({str(path)!r})\n"
        "print(len(a.flows[0].steps), len(a.diagnostics), a.main_flow)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["1000", "0", "Big"]


def test_large_generated_flow_with_splits_and_foreaches():
    from bench.genflow import generate

    a = analyze_source(generate(1000), "big.py")
    assert not a.diagnostics
    ir = a.flows[0]
    assert len(ir.steps) >= 1000
    assert any(s.kind is NodeKind.FOREACH for s in ir.steps)
    assert max(s.foreach_depth for s in ir.steps) == 1


def test_importing_the_package_does_not_import_libcst():
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, flowc.analyzer, flowc.analyzer.result; print('libcst' in sys.modules)",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert out.stdout.strip() == "False", out.stderr
